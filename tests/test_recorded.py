"""Recorded telemetry files: which files are read, in what order, and what is skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradetel.exporters._recorded import Recorded, find_files

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
SPAN = (
    '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"%s","spanId":"b7ad6b7169203331",'
    '"name":"%s","kind":3,"startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}'
)
METRIC = (
    '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"trading.equity",'
    '"gauge":{"dataPoints":[{"asDouble":1.5,"timeUnixNano":"5"}]}}]}]}]}'
)
LOG = '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"hi"}}]}]}]}'


def span_line(name: str = "order submit", trace_id: str = TRACE_ID) -> str:
    return SPAN % (trace_id, name)


def write(path: Path, *lines: str, end: str = "\n") -> Path:
    path.write_text("\n".join(lines) + end, encoding="utf-8")
    return path


def span_names(recorded: Recorded) -> list[str]:
    return [
        span.name
        for line in recorded.lines(["traces"])
        for rs in line.request.resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]


def test_a_folder_is_read_with_rotated_backups_oldest_first(tmp_path: Path) -> None:
    for name in ("traces.jsonl", "traces.1.jsonl", "traces.10.jsonl", "traces.2.jsonl"):
        write(tmp_path / name, span_line(name))
    write(tmp_path / "metrics.jsonl", METRIC)
    files = [path.name for path in find_files([tmp_path])]
    assert files == [
        "metrics.jsonl",
        "traces.10.jsonl",
        "traces.2.jsonl",
        "traces.1.jsonl",
        "traces.jsonl",
    ]
    names = span_names(Recorded.of([tmp_path]))
    assert names == ["traces.10.jsonl", "traces.2.jsonl", "traces.1.jsonl", "traces.jsonl"]


def test_one_file_may_mix_signals_whatever_its_name(tmp_path: Path) -> None:
    path = write(tmp_path / "collector-output.json", span_line(), METRIC, LOG)
    recorded = Recorded.of([path])
    lines = list(recorded.lines())
    assert [(line.signal, line.line) for line in lines] == [
        ("traces", 1),
        ("metrics", 2),
        ("logs", 3),
    ]
    assert recorded.lines_read == {"traces": 1, "metrics": 1, "logs": 1}
    assert recorded.malformed == 0


def test_span_ids_written_as_hex_come_back_as_their_bytes(tmp_path: Path) -> None:
    path = write(tmp_path / "traces.jsonl", span_line())
    (line,) = Recorded.of([path]).lines()
    span = line.request.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id.hex() == TRACE_ID
    assert span.span_id.hex() == "b7ad6b7169203331"


def test_lines_of_other_signals_are_left_out_without_counting_them_as_malformed(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "mixed.jsonl", span_line(), METRIC, LOG)
    recorded = Recorded.of([path])
    assert [line.signal for line in recorded.lines(["metrics"])] == ["metrics"]
    assert recorded.lines_read == {"metrics": 1}
    assert recorded.malformed == 0


def test_a_truncated_last_line_is_skipped_and_counted_with_its_place(tmp_path: Path) -> None:
    whole = span_line()
    path = write(tmp_path / "traces.jsonl", whole, whole[: len(whole) // 2], end="")
    recorded = Recorded.of([path])
    assert len(list(recorded.lines())) == 1
    assert recorded.malformed == 1
    (example,) = recorded.examples
    assert example.startswith(f"{path}:2: not valid JSON")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("[1, 2]", "expected a JSON object, found list"),
        ('"resourceSpans"', "expected a JSON object, found str"),
        ("42", "expected a JSON object, found int"),
        ('{"something": "else"}', "no resourceSpans, resourceMetrics, resourceLogs"),
        ('{"resourceSpans": 7}', "expected a JSON object, found int"),
        (span_line(trace_id="not-hex"), "traceId must be 32 hex digits"),
    ],
)
def test_a_line_that_is_not_an_otlp_request_is_skipped_with_the_reason(
    tmp_path: Path, line: str, reason: str
) -> None:
    path = write(tmp_path / "traces.jsonl", line, span_line())
    recorded = Recorded.of([path])
    assert [line.line for line in recorded.lines()] == [2]
    assert recorded.malformed == 1
    assert reason in recorded.examples[0]
    assert recorded.examples[0].startswith(f"{path}:1: ")


def test_bad_utf8_is_a_malformed_line_and_blank_lines_are_not_counted(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    path.write_bytes(b"\n   \n" + span_line().encode() + b"\n\xff\xfe{\n\n")
    recorded = Recorded.of([path])
    assert [line.line for line in recorded.lines()] == [3]
    assert recorded.malformed == 1
    assert recorded.examples[0].startswith(f"{path}:4: ")


def test_only_the_first_few_malformed_lines_are_kept_as_examples(tmp_path: Path) -> None:
    path = write(tmp_path / "traces.jsonl", *["{"] * 8)
    recorded = Recorded.of([path])
    assert list(recorded.lines()) == []
    assert recorded.malformed == 8
    assert len(recorded.examples) == 5


def test_a_missing_path_raises_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match=f"{missing}: no such file or folder"):
        Recorded.of([missing])


def test_a_folder_without_telemetry_files_raises_naming_it(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing here")
    (tmp_path / "a-folder.jsonl").mkdir()  # a folder is not a file, whatever its name
    with pytest.raises(FileNotFoundError, match=r"no telemetry files \(\*\.jsonl\)"):
        find_files([tmp_path])


def test_a_single_path_may_be_given_as_a_string(tmp_path: Path) -> None:
    write(tmp_path / "traces.jsonl", span_line())
    assert find_files(str(tmp_path)) == [tmp_path / "traces.jsonl"]


def test_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    path = write(tmp_path / "traces.jsonl", span_line())
    assert find_files([tmp_path, path, str(path)]) == [path]


def test_a_file_gone_before_it_is_read_is_reported_not_raised(tmp_path: Path) -> None:
    gone = write(tmp_path / "traces.1.jsonl", span_line("old"))
    write(tmp_path / "traces.jsonl", span_line("new"))
    recorded = Recorded.of([tmp_path])
    gone.unlink()  # rotated away between finding and reading
    assert span_names(recorded) == ["new"]
    (problem,) = recorded.unreadable
    assert problem.startswith(f"{gone}: cannot read it")
