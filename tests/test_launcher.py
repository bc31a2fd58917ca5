"""tradetel-run, tradetel run -- and opentelemetry-instrument, as a user runs them: real
processes, with what they write to the file exporter read back."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from telemetry_files import file_log_bodies, file_metrics, file_span_names, file_spans
from tradetel.auto._launcher import BOOTSTRAP

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # where pip put tradetel-run and opentelemetry-instrument


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TRADETEL_", "OTEL_")) and k != "PYTHONPATH"
    }
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        TRADETEL_DATA_DIR=str(data_dir),
        TRADETEL_SYSTEM_METRICS="0",
        TRADETEL_RAISE_INTERNAL_ERRORS="1",  # a bug in tradetel fails the program, and the test
    )
    env.update(extra)
    return env


def _run(
    *command: str | Path, data_dir: Path, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in command],
        env=_env(data_dir, **env),
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _script(tmp_path: Path, body: str, name: str = "prog.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def _trace_ids_of(data_dir: Path, name: str) -> set[bytes]:
    return {span.trace_id for _, span in file_spans(data_dir) if span.name == name}


def _all_files_text(data_dir: Path) -> str:
    return "".join(p.read_text() for p in data_dir.glob("*.jsonl"))


def test_tradetel_run_traces_an_undecorated_bot_with_no_code_change(tmp_path: Path) -> None:
    result = _run(
        "tradetel-run", "python", "examples/auto_bot.py", "--ticks", "40", data_dir=tmp_path
    )
    assert result.returncode == 0, result.stderr
    names = file_span_names(tmp_path)
    # declared in examples/tradetel.toml, next to the script
    assert "strategy momentum" in names
    assert "within_limits" in names
    # the ccxt instrumentation, the order tracker it feeds, and requests' transport spans
    for name in ("exchange create_order", "exchange cancel_order", "exchange fetch_balance"):
        assert name in names
    assert {"order acked", "order filled", "order canceled", "order rejected"} <= set(names)
    assert "POST" in names
    for metric in (
        "trading.order.latency",
        "trading.order.events",
        "trading.exchange.request.duration",
        "trading.exchange.ratelimit.wait",
        "trading.strategy.duration",
    ):
        assert file_metrics(tmp_path, metric), metric
    # the strategy's log lines carry the trace of the tick that logged them
    logs = file_log_bodies(tmp_path)
    assert any(str(body).startswith("signal buy") for body in logs)
    strategy_traces = _trace_ids_of(tmp_path, "strategy momentum")
    from tradetel.exporters._otlpjson import read_file

    requests, _ = read_file(tmp_path / "logs.jsonl", "logs")
    signal_traces = {
        record.trace_id
        for request in requests
        for rl in request.resource_logs
        for sl in rl.scope_logs
        for record in sl.log_records
        if record.body.string_value.startswith("signal")
    }
    assert signal_traces
    assert signal_traces <= strategy_traces
    # the API key and signatures went to the venue, never into the telemetry
    text = _all_files_text(tmp_path)
    assert "fake-binance-key" not in text
    assert "signature=" not in text
    assert "/api/v3/order" in text  # the URL is kept, without its query string


def test_opentelemetry_instrument_gives_the_same_telemetry(tmp_path: Path) -> None:
    result = _run(
        "opentelemetry-instrument", "python", "examples/auto_bot.py", "--ticks", "40",
        data_dir=tmp_path,
        OTEL_SERVICE_NAME="autobot-otel",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    spans = file_spans(tmp_path)
    names = {span.name for _, span in spans}
    assert {"strategy momentum", "exchange create_order", "order filled", "POST"} <= names
    assert {resource["service.name"] for resource, _ in spans} == {"autobot-otel"}
    assert file_metrics(tmp_path, "trading.order.latency")


def test_disabled_instrumentations_are_not_loaded(tmp_path: Path) -> None:
    result = _run(
        "tradetel-run", "python", "examples/auto_bot.py", "--ticks", "30",
        data_dir=tmp_path,
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="requests, tradetel",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    names = set(file_span_names(tmp_path))
    assert "exchange create_order" in names  # ccxt is still instrumented
    assert "POST" not in names  # requests is not
    assert "strategy momentum" not in names  # nor are the declarations


def test_tradetel_run_subcommand_runs_the_program_the_same_way(tmp_path: Path) -> None:
    prog = _script(
        tmp_path,
        """
        import sys
        import tradetel
        with tradetel.span("work"):
            print("args", sys.argv[1:])
        """,
    )
    data = tmp_path / "data"
    result = _run("tradetel", "run", "--", "python", prog, "-v", "x", data_dir=data)
    assert result.returncode == 0, result.stderr
    assert "args ['-v', 'x']" in result.stdout
    assert file_span_names(data) == ["work"]


def test_the_programs_own_sitecustomize_still_runs(tmp_path: Path) -> None:
    own = tmp_path / "own"
    own.mkdir()
    (own / "sitecustomize.py").write_text("MARK = 'the program runs its own sitecustomize'\n")
    prog = _script(
        tmp_path,
        """
        import sitecustomize
        from tradetel.auto import _start
        print(sitecustomize.MARK)
        print("tradetel", _start.state)
        """,
    )
    result = _run("tradetel-run", "python", prog, data_dir=tmp_path, PYTHONPATH=str(own))
    assert result.returncode == 0, result.stderr
    assert "the program runs its own sitecustomize" in result.stdout
    assert "tradetel running" in result.stdout


def test_subprocesses_are_instrumented_and_each_process_starts_once(tmp_path: Path) -> None:
    child = _script(
        tmp_path,
        """
        import os, sys, tradetel
        with tradetel.span("child work"):
            pass
        print("child path entries", os.environ["PYTHONPATH"].split(os.pathsep).count(sys.argv[1]))
        """,
        "child.py",
    )
    parent = _script(
        tmp_path,
        f"""
        import subprocess, sys, tradetel
        with tradetel.span("parent work"):
            subprocess.run([sys.executable, {str(child)!r}, {BOOTSTRAP!r}], check=True)
        """,
        "parent.py",
    )
    data = tmp_path / "data"
    # a launcher inside a launcher adds nothing the second time
    result = _run("tradetel-run", "tradetel-run", "python", parent, data_dir=data)
    assert result.returncode == 0, result.stderr
    assert "child path entries 1" in result.stdout
    spans = file_spans(data)
    assert sorted(span.name for _, span in spans) == ["child work", "parent work"]
    run_ids = {resource["trading.run.id"] for resource, _ in spans}
    instances = {resource["service.instance.id"] for resource, _ in spans}
    assert len(run_ids) == 1  # one run, two processes
    assert len(instances) == 2


def test_tradetel_disabled_runs_the_program_untouched(tmp_path: Path) -> None:
    prog = _script(
        tmp_path,
        """
        import os, sys
        print("hook loaded", "tradetel.auto._start" in sys.modules)
        print("path", os.environ.get("PYTHONPATH", ""))
        """,
    )
    data = tmp_path / "data"
    result = _run("tradetel-run", "python", prog, data_dir=data, TRADETEL_DISABLED="1")
    assert result.returncode == 0, result.stderr
    assert "hook loaded False" in result.stdout
    assert BOOTSTRAP not in result.stdout
    assert not data.exists()


def test_a_failure_at_start_up_is_logged_and_the_program_runs_uninstrumented(
    tmp_path: Path,
) -> None:
    prog = _script(tmp_path, "print('the bot ran')\n")
    data = tmp_path / "data"
    result = _run("tradetel-run", "python", prog, data_dir=data, TRADETEL_EXPORTER="kafka")
    assert result.returncode == 0
    assert "the bot ran" in result.stdout
    assert "could not start, the program runs uninstrumented" in result.stderr
    assert "kafka" in result.stderr
    assert not data.exists()


def test_a_malformed_declaration_stops_the_launcher_naming_the_entry(tmp_path: Path) -> None:
    prog = _script(tmp_path, "print('the bot ran')\n")
    result = _run(
        "tradetel-run", "python", prog,
        data_dir=tmp_path,
        TRADETEL_INSTRUMENT="bot.strategy:on_tick=strategy, bot.exec:place=ordr(venue=x)",
    )  # fmt: skip
    assert result.returncode == 2
    assert "the bot ran" not in result.stdout
    assert "TRADETEL_INSTRUMENT entry 2 'bot.exec:place=ordr(venue=x)'" in result.stderr
    assert "unknown kind 'ordr'" in result.stderr


def test_a_malformed_declaration_under_opentelemetry_instrument_is_logged(
    tmp_path: Path,
) -> None:
    prog = _script(tmp_path, "print('the bot ran')\n")
    result = _run(
        "opentelemetry-instrument", "python", prog,
        data_dir=tmp_path,
        TRADETEL_INSTRUMENT="bot.exec:place=ordr",
    )  # fmt: skip
    assert result.returncode == 0
    assert "the bot ran" in result.stdout
    assert "TRADETEL_INSTRUMENT entry 1 'bot.exec:place=ordr'" in result.stderr


def test_a_declared_module_that_does_not_exist_is_reported_at_start_up(tmp_path: Path) -> None:
    prog = _script(tmp_path, "print('the bot ran')\n")
    result = _run(
        "tradetel-run", "python", prog,
        data_dir=tmp_path,
        TRADETEL_INSTRUMENT="mybot.riks:*=instrument",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "the bot ran" in result.stdout
    assert "mybot.riks" in result.stderr


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        ([], 2, "usage: tradetel-run"),
        (["no-such-command-here"], 127, "command not found: no-such-command-here"),
    ],
)
def test_the_launcher_explains_a_bad_command_line(
    tmp_path: Path, args: list[str], status: int, message: str
) -> None:
    result = _run("tradetel-run", *args, data_dir=tmp_path)
    assert result.returncode == status
    assert message in result.stderr


def test_a_module_run_with_python_m_is_named_and_declared_like_a_script(tmp_path: Path) -> None:
    package = tmp_path / "mybot"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "risk.py").write_text("def check():\n    return True\n")
    (package / "__main__.py").write_text(
        "import tradetel\nfrom mybot.risk import check\nwith tradetel.span('work'):\n    check()\n"
    )
    data = tmp_path / "data"
    result = _run(
        "tradetel-run", "python", "-m", "mybot",
        data_dir=data, cwd=tmp_path, TRADETEL_INSTRUMENT="mybot.risk:*=instrument",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "no module named" not in result.stderr  # found in the working directory
    assert {resource["service.name"] for resource, _ in file_spans(data)} == {"mybot"}
    assert sorted(file_span_names(data)) == ["check", "work"]
