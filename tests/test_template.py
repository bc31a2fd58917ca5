"""Alert templates render as Prometheus 2.42 renders them (ALERTING.md semantic 8).

Every expected string here is what ``promtool test rules`` 2.42 renders for the same template,
label set and value; the integration test at the end checks a corpus against the real promtool.
"""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import require_binary
from tradetel.alerts import _template
from tradetel.alerts._template import TemplateError, check, expand
from tradetel.alerts._template_nodes import Node
from tradetel.alerts._template_parse import parse

LABELS = {"job": "api", "instance": "host-1.example.com:9100", "severity": "critical"}


def render(text: str, value: float = 7.0, **labels: str) -> str:
    return expand(text, labels=labels or LABELS, value=value)


# -- values -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1.0, "1"),
        (0.5, "0.5"),
        (100000.0, "100000"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1 / 3, "0.3333333333333333"),
        (0.1 + 0.2, "0.30000000000000004"),
        (-1.5, "-1.5"),
        (0.0, "0"),
        (-0.0, "-0"),
        (1e21, "1e+21"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
    ],
)
def test_value_prints_as_go_prints_a_float64(value: float, shown: str) -> None:
    # Go's %v: the shortest round-trip digits, exponent form below 1e-4 and from 1e6 (eprec 6)
    assert render("{{ $value }}", value) == shown


def test_integer_constants_and_len_print_as_integers() -> None:
    assert render("{{ 42 }} {{ len $labels }} {{ 0x1F }} {{ 'a' }}") == "42 3 31 97"


def test_float_constants_print_as_float64() -> None:
    assert render("{{ 1.0 }} {{ 1e3 }} {{ .5 }}") == "1 1000 0.5"


def test_labels_print_as_a_go_map_with_sorted_keys() -> None:
    assert render("{{ $labels }}", b="2", a="1") == "map[a:1 b:2]"


def test_text_without_actions_is_returned_unchanged() -> None:
    assert render("Disk {almost} full") == "Disk {almost} full"


# -- data ---------------------------------------------------------------------------------------


def test_a_label_is_read_as_a_field_or_by_index() -> None:
    text = '{{ $labels.job }} {{ .Labels.job }} {{ index $labels "job" }} {{ $.Labels.job }}'
    assert render(text) == "api api api api"


def test_value_is_also_dot_value() -> None:
    assert render("{{ .Value }}", 2.5) == "2.5"


def test_a_missing_label_renders_as_an_empty_string() -> None:
    # Prometheus parses with missingkey=zero: the zero string, not Go's "<no value>"
    text = '[{{ $labels.nope }}|{{ .Labels.nope }}|{{ index $labels "nope" }}]'
    assert render(text) == "[||]"


def test_external_labels_and_url_are_available() -> None:
    rendered = expand(
        "{{ $externalLabels.region }} {{ .ExternalLabels.region }} {{ $externalURL }}",
        labels=LABELS,
        value=1.0,
        external_labels={"region": "eu"},
        external_url="https://prom.example.com",
    )
    assert rendered == "eu eu https://prom.example.com"


def test_external_labels_default_to_an_empty_map() -> None:
    assert render("{{ $externalLabels }}{{ $externalLabels.region }}") == "map[]"


def test_dot_prints_the_whole_template_data() -> None:
    assert render("{{ . }}", 1.5, a="b") == "{map[a:b] map[]  1.5}"


# -- functions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1234567.0, "1.235M"),
        (0.00123, "1.23m"),
        (1000.0, "1k"),
        (999.0, "999"),
        (-1234567.0, "-1.235M"),
        (0.0, "0"),
        (1e30, "1e+06Y"),
        (math.nan, "NaN"),
        (math.inf, "+Inf"),
    ],
)
def test_humanize_uses_si_prefixes_and_four_significant_digits(value: float, shown: str) -> None:
    assert render("{{ humanize $value }}", value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [(1048576.0, "1Mi"), (1536.0, "1.5ki"), (1024.0, "1ki"), (1.0, "1"), (0.5, "0.5")],
)
def test_humanize1024_uses_binary_prefixes(value: float, shown: str) -> None:
    assert render("{{ humanize1024 $value }}", value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (90061.0, "1d 1h 1m 1s"),
        (3600.0, "1h 0m 0s"),
        (-90.0, "-1m 30s"),
        (59.99, "59.99s"),
        (1.5, "1.5s"),
        (0.0015, "1.5ms"),
        (0.0, "0s"),
    ],
)
def test_humanize_duration_splits_seconds_into_days_to_seconds(value: float, shown: str) -> None:
    assert render("{{ humanizeDuration $value }}", value) == shown


@pytest.mark.parametrize(("value", "shown"), [(0.1234, "12.34%"), (1.0, "100%"), (0.5, "50%")])
def test_humanize_percentage_multiplies_by_100(value: float, shown: str) -> None:
    assert render("{{ humanizePercentage $value }}", value) == shown


def test_humanize_timestamp_prints_utc_at_millisecond_precision() -> None:
    rendered = render("{{ humanizeTimestamp $value }}", 1435065584.128)
    assert rendered == "2015-06-23 13:19:44.128 +0000 UTC"


def test_humanize_functions_accept_numeric_strings() -> None:
    text = '{{ humanize "1234" }} {{ humanizeDuration "3600" }} {{ humanize "0x1p3" }}'
    assert render(text) == "1.234k 1h 0m 0s 8"


def test_humanize_of_a_string_that_is_not_a_number_is_an_error() -> None:
    rendered = render('{{ humanize "abc" }}')
    assert rendered.startswith("<error expanding template: ")
    assert 'strconv.ParseFloat: parsing "abc": invalid syntax' in rendered


def test_to_time_gives_a_time_that_prints_in_utc() -> None:
    assert render("{{ toTime 5 }}") == "1970-01-01 00:00:05 +0000 UTC"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ('{{ printf "%.2f" $value }}', "3.14"),
        ('{{ printf "%s=%v" "v" $value }}', "v=3.14159"),
        ('{{ printf "%d items" 5 }}', "5 items"),
        ('{{ printf "%5.1f|%-6.1f|%06.2f" $value $value $value }}', "  3.1|3.1   |003.14"),
        ('{{ printf "%e %g %.3g" $value $value $value }}', "3.141590e+00 3.14159 3.14"),
        ('{{ printf "%q %x %X" "a\\"b" "hi" 255 }}', '"a\\"b" 6869 FF'),
        ('{{ printf "%5s|%-5s|%.2s" "ab" "ab" "abc" }}', "   ab|ab   |ab"),
        ('{{ printf "%v %t %T" true false $value }}', "true false float64"),
        ('{{ printf "100%%" }}', "100%"),
        ('{{ printf "%[2]s %[1]s" "a" "b" }}', "b a"),
    ],
)
def test_printf_formats_as_go_fmt(text: str, shown: str) -> None:
    assert render(text, 3.14159) == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ('{{ printf "%d" $value }}', "%!d(float64=1.5)"),
        ('{{ printf "%s" 5 }}', "%!s(int=5)"),
        ('{{ printf "%d %d" 1 }}', "1 %!d(MISSING)"),
        ('{{ printf "%d" 1 2 "x" }}', "1%!(EXTRA int=2, string=x)"),
    ],
)
def test_printf_marks_what_does_not_fit_as_go_does(text: str, shown: str) -> None:
    assert render(text, 1.5) == shown


def test_case_functions_map_each_letter_as_go_does() -> None:
    # Go maps rune by rune: ß has no single upper-case letter and stays
    text = '{{ toUpper "straße" }}|{{ toLower "ÉTÉ" }}|{{ title "hello wORLD-foo_bar" }}'
    assert render(text) == "STRAßE|été|Hello WORLD-Foo_bar"


def test_re_replace_all_expands_go_group_references() -> None:
    text = '{{ reReplaceAll "(a)(b)?" "[$1x|${1}x|$2|$$]" "ab a" }}'
    # $1x names a group called "1x", which does not exist
    assert render(text) == "[|ax|b|$] [|ax||$]"


def test_re_replace_all_skips_an_empty_match_right_after_a_match() -> None:
    assert render('{{ reReplaceAll "x*" "-" "abxd" }}') == "-a-b-d-"


def test_re_replace_all_takes_dollar_as_the_end_of_the_text() -> None:
    assert render('{{ reReplaceAll ":\\\\d+$" "" $labels.instance }}') == "host-1.example.com"


def test_match_searches_anywhere_in_the_text() -> None:
    assert render('{{ match "ap" "api" }} {{ match "^pi" "api" }}') == "true false"


def test_a_bad_regular_expression_is_an_error_when_rendered() -> None:
    assert render('{{ match "(" "x" }}').startswith("<error expanding template: ")


@pytest.mark.parametrize(
    ("address", "host"),
    [("host:9090", "host"), ("[::1]:80", "::1"), ("::1", "::1"), ("host", "host"), (":80", "")],
)
def test_strip_port_removes_the_port_when_there_is_one(address: str, host: str) -> None:
    assert render("{{ stripPort $labels.instance }}", instance=address) == host


def test_safe_html_and_html_escaping() -> None:
    assert render('{{ safeHtml "<b>" }} {{ html "<b>&" }}') == "<b> &lt;b&gt;&amp;"


def test_parse_duration_gives_seconds() -> None:
    assert render('{{ parseDuration "1h30m" }}') == "5400"


def test_graph_link_quotes_the_expression() -> None:
    assert render('{{ graphLink "up == 0" }}') == "/graph?g0.expr=up+%3D%3D+0&g0.tab=0"


def test_comparing_value_with_a_float_constant() -> None:
    text = "{{ gt $value 5.0 }} {{ le $value 5.0 }} {{ eq $value 7.0 }} {{ ne 1 2 }}"
    assert render(text) == "true false true true"


def test_comparing_value_with_an_int_constant_is_an_error_as_in_go() -> None:
    rendered = render("{{ if gt $value 5 }}high{{ end }}")
    assert rendered.startswith("<error expanding template: ")
    assert "incompatible types for comparison" in rendered


def test_and_or_return_the_deciding_operand() -> None:
    assert render('{{ or $labels.nope "default" }} {{ and $labels.job 2 }}') == "default 2"


# -- syntax -------------------------------------------------------------------------------------


def test_a_pipeline_passes_its_value_as_the_last_argument() -> None:
    assert render('{{ $value | printf "%.1f" }} {{ $labels.job | toUpper }}', 2.25) == "2.2 API"


def test_parenthesised_pipelines_are_arguments() -> None:
    text = '{{ printf "%s/%s" (index $labels "job" | toUpper) (toLower "X") }}'
    assert render(text) == "API/x"


def test_if_else_if_else_takes_the_first_true_branch() -> None:
    text = (
        '{{ if eq $labels.severity "page" }}p{{ else if gt $value 5.0 }}high{{ else }}low{{ end }}'
    )
    assert render(text, 7.0) == "high"
    assert render(text, 1.0) == "low"


def test_empty_values_are_false() -> None:
    text = '{{ if $labels.nope }}a{{ else if 0 }}b{{ else if "" }}c{{ else }}d{{ end }}'
    assert render(text) == "d"


def test_with_sets_dot_and_falls_back_to_else() -> None:
    text = "{{ with $labels.job }}job={{ . }}{{ end }} {{ with $labels.nope }}x{{ else }}-{{ end }}"
    assert render(text) == "job=api -"


def test_range_over_labels_visits_names_in_sorted_order() -> None:
    text = "{{ range $name, $value := $labels }}{{ $name }}={{ $value }};{{ end }}"
    assert render(text, b="2", a="1") == "a=1;b=2;"


def test_range_stops_at_break_and_skips_at_continue() -> None:
    text = (
        '{{ range $k, $v := $labels }}{{ if eq $k "b" }}{{ continue }}{{ end }}'
        '{{ if eq $k "d" }}{{ break }}{{ end }}{{ $k }}{{ end }}'
    )
    assert render(text, a="1", b="2", c="3", d="4", e="5") == "ac"


def test_variables_are_declared_then_assigned() -> None:
    text = '{{ $x := "a" }}{{ if true }}{{ $x = "b" }}{{ $y := "c" }}{{ end }}{{ $x }}'
    assert render(text) == "b"


def test_trim_markers_remove_the_whitespace_beside_them() -> None:
    assert render("a  {{- $labels.job -}}  \n b") == "aapib"


def test_trim_markers_need_a_space_after_the_dash() -> None:
    assert render("{{-3}} {{- 3 }}") == "-33"


def test_comments_render_nothing() -> None:
    assert render("a{{/* a comment */}}b {{- /* trimmed */ -}} c") == "abc"


def test_actions_may_span_lines() -> None:
    assert render('{{ printf\n  "%s"\n  $labels.job }}') == "api"


def test_string_literals_take_go_escapes_and_raw_strings_do_not() -> None:
    assert render('{{ "a\\tb\\u00e9\\x41" }}|{{ `a\\tb` }}') == "a\tbéA|a\\tb"


# -- errors -------------------------------------------------------------------------------------


def test_check_accepts_a_valid_template() -> None:
    check("{{ $labels.instance }} is down ({{ $value | humanize }})")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{{ $labels.job ", "line 1, column 16: unclosed action"),
        ("ok\n{{ if true }}x", "line 2, column 15: unexpected EOF"),
        ("{{ end }}", "unexpected {{end}}"),
        ("{{ else }}", "unexpected {{else}}"),
        ('{{ "abc }}', "unterminated quoted string"),
        ("{{ $nope }}", 'undefined variable "$nope"'),
        ("{{ 1 | 2 }}", "non executable command in pipeline stage 2"),
        ("{{ }}", "missing value for command"),
        ("{{ break }}", "{{break}} outside {{range}}"),
        ("{{ with $labels }}x{{ else if true }}y{{ end }}", "unexpected <if> in input"),
        ("{{ 08 }}", 'integer overflow: "08"'),
    ],
)
def test_check_rejects_what_prometheus_does_not_parse(text: str, reason: str) -> None:
    with pytest.raises(TemplateError, match=re.escape(reason)):
        check(text)


def test_check_reports_the_line_and_column() -> None:
    with pytest.raises(TemplateError) as caught:
        check("first line\n  {{ nope }}")
    assert (caught.value.line, caught.value.column) == (2, 6)
    assert str(caught.value) == 'line 2, column 6: function "nope" not defined'


def test_check_says_that_tradetel_does_not_support_query() -> None:
    with pytest.raises(TemplateError, match=r'function "query" not defined: .*cannot run PromQL'):
        check('{{ with query "up" }}{{ . | first | value }}{{ end }}')


def test_check_rejects_template_definitions() -> None:
    with pytest.raises(TemplateError, match="not supported by tradetel"):
        check('{{ define "x" }}y{{ end }}')


def test_a_template_error_is_a_value_error() -> None:
    assert issubclass(TemplateError, ValueError)


def test_expand_renders_a_parse_error_instead_of_raising() -> None:
    rendered = render("{{ nope }}")
    assert rendered == '<error expanding template: line 1, column 4: function "nope" not defined>'


def test_expand_renders_an_execution_error_naming_the_failing_call() -> None:
    rendered = render("x {{ toUpper $value }}")
    assert rendered == (
        "<error expanding template: line 1, column 6: executing <toUpper $value>: "
        "wrong type for value; expected string; got float64>"
    )


def test_an_execution_error_replaces_the_whole_output() -> None:
    assert render("before {{ index 5 0 }} after").startswith("<error expanding template: ")


def test_a_template_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def counting_parse(text: str) -> tuple[Node, ...]:
        calls.append(text)
        return parse(text)

    monkeypatch.setattr(_template, "parse", counting_parse)
    _template._compile.cache_clear()
    text = "{{ $labels.job }} parsed once {{ $value }}"
    for value in (1.0, 2.0, 3.0):
        render(text, value)
    check(text)
    assert calls == [text]


# -- against promtool ---------------------------------------------------------------------------

#: (template, value, labels): each rendered by promtool 2.42 and by tradetel
CORPUS_TEMPLATES = [
    "{{ $value }}|{{ humanize $value }}|{{ humanize1024 $value }}|{{ humanizeDuration $value }}",
    "{{ humanizePercentage $value }}|{{ .Value }}",
    '{{ printf "%.2f|%v|%g|%e|%8.3f|%-8.1e|%+.1f|%x|%08.3f" '
    "$value $value $value $value $value $value $value $value $value }}",
    '{{ printf "%d|%s|%5.1v|%T" $value $value $value $value }}',
    "{{ if gt $value 1000.0 }}big{{ else if lt $value 0.0 }}negative{{ else }}small{{ end }}",
    "{{ $labels }}|{{ $labels.job }}|{{ $labels.nope }}|{{ .Labels.instance }}|{{ . }}",
    "{{ range $k, $v := $labels }}{{ $k }}={{ $v | toUpper }};{{ end }}",
    "{{ $labels.instance | stripPort }}|{{ title $labels.job }}|{{ len $labels.instance }}",
    '{{ reReplaceAll "(\\\\w+)-(\\\\d+)" "$2_$1" $labels.instance }}|{{ match "^host" "host" }}',
    '{{ printf "%q|%x|%5s|%-5s|%05d|%+d|%c|%U" $labels.job "hi" "ab" "ab" 42 42 65 233 }}',
    "{{- $labels.job -}}  \n  {{- /* trimmed */ -}}  {{ 3 -}}  x",
    '{{ with $labels.nope }}x{{ else }}none{{ end }}|{{ or $labels.nope "dflt" }}',
    '{{ $x := 1 }}{{ $x = "two" }}{{ $x }}|{{ "\\u00e9\\x41\\101" }}|{{ `raw\\n` }}|{{ 0x1F }}',
    '{{ humanize "1_000" }}|{{ parseDuration "1y2w3d4h5m6s7ms" }}|{{ toTime "1e9" }}',
]
CORPUS_VALUES = [0.0, 1.0, 0.5, 1e6, 1234567.0, 0.00001, 1 / 3, -90061.0, 1435065584.128, 1e21]
CORPUS_VALUES += [math.inf, -math.inf, math.nan, 5e-324]
CORPUS = [(text, value) for text in CORPUS_TEMPLATES for value in CORPUS_VALUES]
# timestamps past the year 2262 do not fit Go's time.Time in nanoseconds: an error, not a time
CORPUS += [("{{ humanizeTimestamp $value }}", value) for value in CORPUS_VALUES if value != 1e21]
CORPUS_LABELS = {"job": "api-server", "instance": "host-12.example.com:9100"}


def _promql_number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    return repr(value)


@pytest.mark.integration
def test_promtool_renders_the_corpus_exactly_as_tradetel_does(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    version = subprocess.run(
        [promtool, "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    if "version 2.42." not in version.stdout + version.stderr:
        pytest.skip("the corpus is checked against promtool 2.42 only")
    rules, tests = [], []
    for n, (text, value) in enumerate(CORPUS):
        expr = f"vector({_promql_number(value)})"
        for name, label in CORPUS_LABELS.items():
            expr = f'label_replace({expr}, "{name}", "{label}", "", "")'
        rules.append({"alert": f"T{n}", "expr": expr, "annotations": {"x": text}})
        rendered = expand(text, labels=CORPUS_LABELS, value=value)
        assert not rendered.startswith("<error"), (text, value, rendered)
        tests.append(
            {
                "eval_time": "0s",
                "alertname": f"T{n}",
                "exp_alerts": [
                    {
                        "exp_labels": {**CORPUS_LABELS, "alertname": f"T{n}"},
                        "exp_annotations": {"x": rendered},
                    }
                ],
            }
        )
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": rules}]}))
    test_file = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": [], "alert_rule_test": tests}],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test_file))

    result = subprocess.run(
        [promtool, "test", "rules", "test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, (
        f"promtool renders differently (exp = tradetel, got = Prometheus):\n{result.stdout}"
        f"{result.stderr}"
    )
