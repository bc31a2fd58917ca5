"""The collector stack's Grafana part (collector/grafana): data source provisioning, the dashboard
provider and the dashboards, checked against each other and against the series that exist.

There is no Grafana here, so nothing is rendered: every dashboard query is parsed as PromQL and
each metric it names must be one that tradetel's SDK really emits (``prom_names``), a recording
rule or alert series of the shipped rules, one of the alert service's own series (scraped from a
running service), or one of the few series the stack itself produces (``STACK_SERIES``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from prom_names import ANY, SCRAPE_LABELS, Emitted, alert_service_series, sdk_series
from tradetel.alerts._otlp_names import Kind, label_name, metric_name

ROOT = Path(__file__).parents[1]
GRAFANA = ROOT / "collector" / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "datasources.yaml"
PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "dashboards.yaml"
RULES = ROOT / "collector" / "rules" / "trading.rules.yml"
COLLECTOR_CONFIG = ROOT / "collector" / "otelcol-config.yaml"
PROMETHEUS_CONFIG = ROOT / "collector" / "prometheus" / "prometheus.yml"

TITLES = {
    "order-latency.json": "Order latency",
    "order-flow.json": "Order flow",
    "strategy-performance.json": "Strategy performance",
    "system-health.json": "System health",
    "alerts.json": "Alerts",
}
DATASOURCE_UIDS = {"prometheus": "prometheus", "tempo": "tempo", "loki": "loki"}  # uid -> type

#: Grafana's own variables, as a query would see them over the last hour.
GRAFANA_VARIABLES = {
    "__rate_interval": "5m",
    "__interval": "1m",
    "__range": "1h",
    "__range_s": "3600",
    "__interval_ms": "60000",
}
#: What a dashboard variable becomes in a checked query: its value is chosen at view time, so
#: only the label it filters on is checked, not the value.
VARIABLE_VALUE = "__dashboard_variable__"
_VARIABLE = re.compile(r"\$\{(\w+)(?::[\w-]+)?\}|\$(\w+)|\[\[(\w+)\]\]")

# -- the series that the stack itself produces (not tradetel's SDK) ---------------------------
# Each entry: (OTel metric name, unit, type, labels that queries may use -> known values or ANY).
# The Prometheus names are made by tradetel's translation (the one Prometheus' OTLP receiver and
# the collector's Prometheus exporter both follow), never written with their suffixes by hand.
_COLLECTOR_SIGNALS = (
    ("spans", "{spans}"),
    ("metric_points", "{datapoints}"),
    ("log_records", "{records}"),
)
_STATUS_CODES = {"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"}
_SPAN_KINDS = {f"SPAN_KIND_{k}" for k in ("INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")}


def _span_metrics_connectors() -> dict[Path, dict[str, Any]]:
    """The span_metrics connector's settings in each collector config of collector/."""
    found: dict[Path, dict[str, Any]] = {}
    for path in sorted((ROOT / "collector").rglob("*.y*ml")):
        if {"rules", "grafana"} & set(path.relative_to(ROOT).parts):
            continue
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        connectors = (document or {}).get("connectors") if isinstance(document, dict) else None
        for name, settings in (connectors or {}).items():
            if name.split("/")[0] in ("span_metrics", "spanmetrics"):
                found[path] = settings or {}
    return found


def span_metrics_settings(settings: dict[str, Any]) -> tuple[str, str, tuple[str, ...]]:
    """Namespace, duration unit and added dimensions: what the connector's series names and
    labels depend on. Left out, they are the connector's defaults (`traces.span.metrics`, `ms`;
    spanmetricsconnector factory.go, and its feature gate for `s` is still alpha)."""
    namespace = settings.get("namespace", "traces.span.metrics")
    unit = (settings.get("histogram") or {}).get("unit", "ms")
    dimensions = tuple(d["name"] for d in settings.get("dimensions") or [])
    return namespace, unit, dimensions


#: The stack's connector (collector/otelcol-config.yaml), or the connector's defaults without it.
SPAN_METRICS_NAMESPACE, SPAN_METRICS_UNIT, SPAN_METRICS_DIMENSIONS = span_metrics_settings(
    _span_metrics_connectors().get(COLLECTOR_CONFIG, {})
)
_SPAN_METRIC_LABELS: dict[str, set[str]] = {
    "service_name": {ANY},
    "span_name": {ANY},
    "span_kind": _SPAN_KINDS,
    "status_code": _STATUS_CODES,
    "collector_instance_id": {ANY},  # feature gate includeCollectorInstanceID (beta: on)
    **{label_name(dimension): {ANY} for dimension in SPAN_METRICS_DIMENSIONS},
}
STACK_SERIES: list[tuple[str, str, Kind, dict[str, set[str]], str]] = [
    # Prometheus: one `up` series per scrape target.
    ("up", "", "gauge", {}, "Prometheus, for every scrape target"),
    # The collector's internal telemetry (service.telemetry.metrics, Prometheus pull exporter on
    # :8888, scraped by Prometheus): receiverhelper, exporterhelper and processorhelper metrics
    # as their generated documentation.md files list them (collector 0.159).
    *(
        (
            f"otelcol_receiver_{outcome}_{signal}",
            unit,
            "counter",
            {"receiver": {ANY}, "transport": {ANY}},
            "collector receiverhelper",
        )
        for signal, unit in _COLLECTOR_SIGNALS
        for outcome in ("accepted", "refused")
    ),
    *(
        (
            f"otelcol_exporter_{outcome}_{signal}",
            unit,
            "counter",
            {"exporter": {ANY}},
            "collector exporterhelper",
        )
        for signal, unit in _COLLECTOR_SIGNALS
        for outcome in ("sent", "send_failed")
    ),
    *(
        (
            f"otelcol_exporter_queue_{what}",
            "{batches}",
            "gauge",
            {"exporter": {ANY}},
            "collector exporterhelper (sending queue)",
        )
        for what in ("size", "capacity")
    ),
    *(
        (
            f"otelcol_processor_{direction}_items",
            "{items}",
            "counter",
            {"processor": {ANY}},
            "collector processorhelper",
        )
        for direction in ("incoming", "outgoing")
    ),
    # The collector's span_metrics connector (before tail sampling), pushed to Prometheus over
    # OTLP; `job`/`instance` come from the spans' resource.
    (
        f"{SPAN_METRICS_NAMESPACE}.calls",
        "",
        "counter",
        _SPAN_METRIC_LABELS,
        "collector span_metrics connector",
    ),
    (
        f"{SPAN_METRICS_NAMESPACE}.duration",
        SPAN_METRICS_UNIT,
        "histogram",
        _SPAN_METRIC_LABELS,
        "collector span_metrics connector",
    ),
]


def stack_series() -> Emitted:
    found: Emitted = {}
    for name, unit, kind, labels, _producer in STACK_SERIES:
        base = metric_name(name, unit, kind)
        names = [base + s for s in ("_bucket", "_sum", "_count")] if kind == "histogram" else [base]
        for series in names:
            found[series] = {key: set(values) for key, values in labels.items()}
            for key in SCRAPE_LABELS:
                found[series][key] = {ANY}
        if kind == "histogram":
            found[base + "_bucket"]["le"] = {ANY}
    return found


# -- the shipped rules' series ----------------------------------------------------------------
def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def _output_labels(expr: str, known: Emitted) -> dict[str, set[str]]:
    """The labels of a rule's result (a close superset): what its aggregations keep, or else
    the labels of the series it selects."""
    kept: set[str] = set()
    selected: dict[str, set[str]] = {}

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            kept.update(node.modifier.labels)
        elif isinstance(node, promql_parser.VectorSelector) and node.name in known:
            for key, values in known[node.name].items():
                selected.setdefault(key, set()).update(values)

    promql_parser.walk(promql_parser.parse(expr), visit)
    if kept:
        # `le` is kept only for histogram_quantile(), which drops it
        return {key: selected.get(key, {ANY}) for key in kept - {"le"}}
    return selected


def rule_series(sdk: Emitted) -> Emitted:
    """Recording rules, and ``ALERTS``/``ALERTS_FOR_STATE`` as Prometheus writes them."""
    known = dict(sdk)
    for rule in _rules():
        if "record" in rule:
            known[rule["record"]] = _output_labels(str(rule["expr"]), known)
    alerts: dict[str, set[str]] = {"alertname": set(), "severity": set()}
    for rule in _rules():
        if "alert" in rule:
            alerts["alertname"].add(rule["alert"])
            for key, value in (rule.get("labels") or {}).items():
                alerts.setdefault(key, set()).add(str(value))
            for key, values in _output_labels(str(rule["expr"]), known).items():
                alerts.setdefault(key, set()).update(values)
    found = {name: known[name] for name in known if name not in sdk}
    found["ALERTS_FOR_STATE"] = alerts
    found["ALERTS"] = {**alerts, "alertstate": {"pending", "firing"}}
    return found


def promoted_resource_attributes() -> list[str]:
    """Prometheus' ``otlp.promote_resource_attributes`` in the stack (none without its config)."""
    if not PROMETHEUS_CONFIG.exists():
        return []
    document = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    return list((document.get("otlp") or {}).get("promote_resource_attributes") or [])


@functools.cache
def _known() -> Emitted:
    sdk = sdk_series(promoted_resource_attributes())
    known: Emitted = {**sdk, **rule_series(sdk), **alert_service_series(), **stack_series()}
    return known


@pytest.fixture
def known() -> Emitted:
    """Every series a dashboard may query, with its labels and their values."""
    return _known()


# -- the query checker ------------------------------------------------------------------------
def substitute(query: str, defined: set[str]) -> tuple[str, list[str]]:
    """A dashboard query with Grafana's variables replaced; also the variables not defined."""
    undefined: list[str] = []

    def value(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        if name in GRAFANA_VARIABLES:
            return GRAFANA_VARIABLES[name]
        if name not in defined:
            undefined.append(name)
        return VARIABLE_VALUE

    return _VARIABLE.sub(value, query), undefined


def problems(expr: str, known: Emitted) -> list[str]:
    """What is wrong with a PromQL expression: not parsed, a series that does not exist, a label
    matched or grouped on that its series do not have, a matched value never seen."""
    try:
        tree = promql_parser.parse(expr)
    except ValueError as exc:
        return [f"{expr!r} does not parse: {exc}"]
    checker = _Checker(expr, known)
    promql_parser.walk(tree, checker.visit)
    return checker.found


class _Checker:
    def __init__(self, expr: str, known: Emitted) -> None:
        self.expr = expr
        self.known = known
        self.found: list[str] = []

    def visit(self, node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            self.selector(node)
        elif isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            self.grouping(node.modifier.labels, node.expr)
        elif isinstance(node, promql_parser.BinaryExpr) and node.modifier is not None:
            matching = node.modifier.matching
            if matching is not None and str(matching.type) == "LabelModifierType.Include":
                self.grouping(matching.labels, node.lhs, node.rhs)
            if node.modifier.group_labels:
                self.grouping(node.modifier.group_labels, node.lhs, node.rhs)

    def labels_under(self, node: promql_parser.Expr) -> set[str] | None:
        """The labels of the series selected under ``node``; None if one is unknown."""
        labels: set[str] = set()
        unknown: list[str] = []

        def visit(inner: promql_parser.Expr) -> None:
            if isinstance(inner, promql_parser.VectorSelector):
                if inner.name in self.known:
                    labels.update(self.known[inner.name])
                else:
                    unknown.append(str(inner))

        promql_parser.walk(node, visit)
        return None if unknown else labels

    def grouping(self, labels: list[str], *sides: promql_parser.Expr) -> None:
        for side in sides:
            available = self.labels_under(side)
            if available is None:
                continue  # reported as an unknown series
            missing = set(labels) - available - {"__name__"}
            if missing:
                self.found.append(
                    f"{self.expr!r} groups or matches on {sorted(missing)}, never on {side}"
                )

    def selector(self, selector: promql_parser.VectorSelector) -> None:
        name = selector.name
        if name is None:
            self.found.append(f"{self.expr!r} selects without a metric name")
        elif name not in self.known:
            self.found.append(f"{name} in {self.expr!r} is not a series that exists")
        else:
            for matcher in selector.matchers.matchers:
                if matcher.name != "__name__":
                    self.matcher(name, matcher)

    def matcher(self, name: str, matcher: promql_parser.Matcher) -> None:
        labels = self.known[name]
        if matcher.name not in labels:
            self.found.append(f"{name} has no label {matcher.name} ({self.expr!r})")
            return
        values = labels[matcher.name]
        if ANY in values or VARIABLE_VALUE in matcher.value:
            return
        op = str(matcher.op)
        if op == "MatchOp.Equal" and matcher.value not in values:
            self.found.append(
                f"{name}{{{matcher.name}}} is never {matcher.value!r}: {sorted(values)}"
            )
        elif op == "MatchOp.Re":
            pattern = re.compile(matcher.value)
            if not any(pattern.fullmatch(value) for value in values):
                self.found.append(
                    f"{name}{{{matcher.name}=~{matcher.value!r}}} matches none of {sorted(values)}"
                )


_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<selector>.+),\s*)?(?P<label>\w+)\s*\)\s*$")


def variable_problems(query: str, known: Emitted) -> list[str]:
    """A ``label_values([selector, ]label)`` variable query: its series and label exist."""
    match = _LABEL_VALUES.match(query)
    if match is None:
        return [f"variable query {query!r} is not label_values(...)"]
    label, selector = match["label"], match["selector"]
    if selector is None:
        if not any(label in labels for labels in known.values()):
            return [f"no series has the label {label} ({query!r})"]
        return []
    found = problems(selector, known)
    parsed = promql_parser.parse(selector)
    if (
        isinstance(parsed, promql_parser.VectorSelector)
        and parsed.name in known
        and label not in known[parsed.name]
    ):
        found.append(f"{parsed.name} has no label {label} ({query!r})")
    return found


# -- reading the dashboards ---------------------------------------------------------------------
def dashboards() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARDS.glob("*.json"))
    }


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # a collapsed row holds its panels


def prometheus_queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) of every panel target, annotation and query variable on Prometheus."""
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            if target.get("datasource", panel.get("datasource", {})).get("type") == "prometheus":
                yield f"panel {panel['title']!r} {target['refId']}", target["expr"]
    for annotation in dashboard["annotations"]["list"]:
        if annotation.get("datasource", {}).get("type") == "prometheus":
            yield f"annotation {annotation['name']!r}", annotation["expr"]


def variables(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return list(dashboard["templating"]["list"])


def walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in nested dicts and lists."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key, inner
            yield from walk(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from walk(inner)


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for inner in value.values():
            yield from strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from strings(inner)


def provisioned() -> dict[str, dict[str, Any]]:
    """The provisioned data sources by uid."""
    document = yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))
    return {source["uid"]: source for source in document["datasources"]}


def unescape(value: str) -> str:
    """A provisioning value as Grafana sees it once its env expansion has turned `$$` into `$`."""
    return value.replace("$$", "$")


# -- dashboards: files, uids, titles ------------------------------------------------------------
def test_the_five_dashboards_exist_with_their_titles() -> None:
    assert {name: board["title"] for name, board in dashboards().items()} == TITLES


def test_every_dashboard_has_a_fixed_unique_uid_and_a_schema_version_grafana_13_accepts() -> None:
    boards = dashboards()
    uids = [board["uid"] for board in boards.values()]
    assert len(set(uids)) == len(uids) == len(TITLES)
    for name, board in boards.items():
        assert re.fullmatch(r"tradetel-[a-z0-9-]{1,30}", board["uid"]), name
        assert 39 <= board["schemaVersion"] <= 42, name
        assert board.get("id") is None, f"{name}: a provisioned dashboard has no database id"


def test_panel_ids_are_unique_and_panels_fit_the_grid() -> None:
    for name, board in dashboards().items():
        ids = [panel["id"] for panel in panels(board)]
        assert len(set(ids)) == len(ids), name
        for panel in panels(board):
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, (name, panel["title"])


# -- data sources -------------------------------------------------------------------------------
def test_the_provisioned_datasources_have_the_fixed_uids_and_prometheus_is_the_default() -> None:
    sources = provisioned()
    assert {uid: source["type"] for uid, source in sources.items()} == DATASOURCE_UIDS
    assert [uid for uid, source in sources.items() if source.get("isDefault")] == ["prometheus"]
    assert sources["prometheus"]["url"] == "http://prometheus:9090"
    assert sources["tempo"]["url"] == "http://tempo:3200"
    assert sources["loki"]["url"] == "http://loki:3100"


def test_every_datasource_uid_in_provisioning_names_a_provisioned_datasource() -> None:
    document = yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))
    uids = [value for key, value in walk(document) if key == "datasourceUid"]
    assert len(uids) >= 6
    assert set(uids) <= set(DATASOURCE_UIDS)


def test_every_datasource_in_the_dashboards_is_a_provisioned_one_by_uid_and_type() -> None:
    for name, board in dashboards().items():
        refs = [value for key, value in walk(board) if key == "datasource"]
        assert refs, name
        for ref in refs:
            assert isinstance(ref, dict), f"{name}: datasource {ref!r} is not a {{type, uid}}"
            assert DATASOURCE_UIDS.get(ref["uid"]) == ref["type"], (name, ref)
        uids = [value for key, value in walk(board) if key == "datasourceUid"]
        assert set(uids) <= set(DATASOURCE_UIDS), name


def test_every_panel_with_queries_names_its_datasource_and_its_targets_use_it() -> None:
    for name, board in dashboards().items():
        for panel in panels(board):
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] in DATASOURCE_UIDS, (name, panel["title"])
            assert panel["targets"], (name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"] == panel["datasource"], (name, panel["title"])


def test_provisioning_writes_every_dollar_grafana_would_expand_as_double_dollar() -> None:
    for path in (DATASOURCES, PROVIDERS):
        for value in strings(yaml.safe_load(path.read_text(encoding="utf-8"))):
            assert "$" not in value.replace("$$", ""), f"{path.name}: {value!r}"
    dollars = [value for value in strings(yaml.safe_load(DATASOURCES.read_text())) if "$" in value]
    assert len(dollars) >= 6  # the link variables are there, escaped


# -- the correlations ---------------------------------------------------------------------------
def test_prometheus_exemplars_open_the_trace_in_tempo() -> None:
    destinations = provisioned()["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    by_name = {d["name"]: d["datasourceUid"] for d in destinations}
    assert by_name["trace_id"] == "tempo"  # the label Prometheus' OTLP receiver stores
    assert set(by_name.values()) == {"tempo"}


def test_tempo_links_a_span_to_its_logs_by_trace_id_structured_metadata() -> None:
    to_logs = provisioned()["tempo"]["jsonData"]["tracesToLogsV2"]
    assert to_logs["datasourceUid"] == "loki"
    assert to_logs["customQuery"] is True
    assert {"key": "service.name", "value": "service_name"} in to_logs["tags"]
    query = unescape(to_logs["query"])
    assert query == '{${__tags}} | trace_id = "${__trace.traceId}"'


def test_tempo_links_spans_to_span_metrics_and_the_service_map_to_prometheus() -> None:
    data = provisioned()["tempo"]["jsonData"]
    assert data["tracesToMetrics"]["datasourceUid"] == "prometheus"
    assert data["serviceMap"]["datasourceUid"] == "prometheus"
    assert data["nodeGraph"]["enabled"] is True


def test_tempo_trace_to_metrics_queries_name_the_span_metrics_series(known: Emitted) -> None:
    """As Grafana runs them: `$__tags` becomes the span's mapped tags, `${__span.name}` its name."""
    to_metrics = provisioned()["tempo"]["jsonData"]["tracesToMetrics"]
    tags = ", ".join(f'{tag.get("value") or tag["key"]}="x"' for tag in to_metrics["tags"])
    assert tags.startswith('service_name="x"')
    queries = [unescape(query["query"]) for query in to_metrics["queries"]]
    assert len(queries) >= 2
    for query in queries:
        expr = query.replace("$__tags", tags).replace("${__span.name}", "x")
        assert "$" not in expr, query
        assert problems(expr, known) == []
    duration = metric_name(f"{SPAN_METRICS_NAMESPACE}.duration", SPAN_METRICS_UNIT, "histogram")
    calls = metric_name(f"{SPAN_METRICS_NAMESPACE}.calls", "", "counter")
    assert any(f"{duration}_bucket{{" in query for query in queries)
    assert any(f"{calls}{{" in query for query in queries)


def test_loki_log_lines_link_their_trace_id_structured_metadata_to_tempo() -> None:
    fields = provisioned()["loki"]["jsonData"]["derivedFields"]
    assert [
        (f["matcherType"], f["matcherRegex"], f["datasourceUid"], unescape(f["url"]))
        for f in fields
    ] == [("label", "trace_id", "tempo", "${__value.raw}")]


def test_the_dashboard_provider_loads_the_dashboards_folder_into_tradetel() -> None:
    document = yaml.safe_load(PROVIDERS.read_text(encoding="utf-8"))
    assert document["apiVersion"] == 1
    [provider] = document["providers"]
    assert provider["type"] == "file"
    assert provider["folder"] == "tradetel"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


# -- the queries --------------------------------------------------------------------------------
def test_every_dashboard_query_parses_and_names_series_and_labels_that_exist(
    known: Emitted,
) -> None:
    found: list[str] = []
    used: set[str] = set()
    for name, board in dashboards().items():
        defined = {variable["name"] for variable in variables(board)}
        for where, query in prometheus_queries(board):
            expr, undefined = substitute(query, defined)
            found += [f"{name} {where}: ${var} is not a variable" for var in undefined]
            found += [f"{name} {where}: {problem}" for problem in problems(expr, known)]
            used |= _names(expr)
        for variable in variables(board):
            query, undefined = substitute(variable["query"], defined - {variable["name"]})
            found += [f"{name} ${variable['name']}: ${var} is not defined" for var in undefined]
            found += [f"{name} ${variable['name']}: {p}" for p in variable_problems(query, known)]
    assert found == []
    assert used >= {
        "trading_order_latency_seconds_bucket",
        "trading_order_duration_seconds_bucket",
        "trading_tick_to_trade_latency_seconds_bucket",
        "trading_order_events_total",
        "trading_venue:order_reject_ratio:rate5m",
        "trading_order_fill_ratio_bucket",
        "trading_order_slippage_bucket",
        "trading_orders_open",
        "trading_order_open_max_age_seconds",
        "trading_equity",
        "trading_drawdown_max_ratio",
        "trading_var_ratio",
        "trading_exposure_ratio",
        "trading_trades_total",
        "trading_strategy_duration_seconds_bucket",
        "trading_health_status_ratio",
        "trading_runtime_event_loop_lag_seconds_bucket",
        "tradetel_telemetry_dropped_total",
        "trading_exchange_request_duration_seconds_bucket",
        "trading_exchange_ratelimit_wait_seconds_bucket",
        "ALERTS",
        "ALERTS_FOR_STATE",
        "tradetel_alerts_evaluations_total",
        "otelcol_receiver_accepted_spans_total",
        "traces_span_metrics_calls_total",
    }


def _names(expr: str) -> set[str]:
    names: set[str] = set()

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


@pytest.mark.parametrize(
    ("expr", "wrong"),
    [
        # the unit is missing from the name
        (
            "histogram_quantile(0.99, sum by (le) (rate(trading_order_latency_bucket[5m])))",
            "trading_order_latency_bucket",
        ),
        # `_ratio` is for gauges with unit 1, not histograms
        (
            "sum(rate(trading_order_fill_ratio_ratio_count[5m]))",
            "trading_order_fill_ratio_ratio_count",
        ),
        # a label with a typo in a matcher, and in a grouping
        ('trading_drawdown_ratio{trading_strategy="x"}', "trading_strategy"),
        ("sum by (venue) (rate(trading_order_events_total[5m]))", "venue"),
        # a label value that is never emitted
        ('trading_order_events_total{trading_order_status="cancelled"}', "cancelled"),
        ('trading_order_latency_seconds_count{trading_order_stage=~"acked|canceled"}', "acked"),
        # a label of the span metrics that the connector does not make
        ("sum by (http_route) (rate(traces_span_metrics_calls_total[5m]))", "http_route"),
        ("sum(rate(tradetel_alerts_evaluation_total[5m]))", "tradetel_alerts_evaluation_total"),
        ("sum(", "does not parse"),
    ],
)
def test_the_checker_catches_a_wrong_name_label_or_value(
    known: Emitted, expr: str, wrong: str
) -> None:
    found = problems(expr, known)
    assert found, expr
    assert wrong in " ".join(found)


def test_the_checker_accepts_dashboard_variables_and_finds_undefined_ones() -> None:
    expr, undefined = substitute(
        'rate(x{a=~"$venue", b="${job}", c="[[strategy]]"}[$__rate_interval])', {"venue", "job"}
    )
    assert expr == (
        f'rate(x{{a=~"{VARIABLE_VALUE}", b="{VARIABLE_VALUE}", c="{VARIABLE_VALUE}"}}[5m])'
    )
    assert undefined == ["strategy"]


def test_the_stack_allowlist_is_short_and_holds_nothing_the_sdk_or_the_rules_make() -> None:
    allowed = stack_series()
    sdk = sdk_series()
    assert not set(allowed) & set(sdk)
    assert not set(allowed) & set(rule_series(sdk))
    assert len(STACK_SERIES) <= 20
    assert all(producer for *_, producer in STACK_SERIES)
    assert {
        "traces_span_metrics_calls_total",
        "otelcol_exporter_send_failed_spans_total",
        "otelcol_exporter_queue_size",
        "otelcol_processor_incoming_items_total",
        "up",
    } <= set(allowed)


def test_every_collector_config_makes_the_span_metrics_names_the_dashboards_query() -> None:
    """The vendor examples too: the dashboards and Tempo's links work with any of them."""
    connectors = _span_metrics_connectors()
    if COLLECTOR_CONFIG not in connectors:
        pytest.skip(f"{COLLECTOR_CONFIG.name} has no span_metrics connector yet")
    expected = span_metrics_settings(connectors[COLLECTOR_CONFIG])[:2]
    for path, settings in connectors.items():
        assert span_metrics_settings(settings)[:2] == expected, path


# -- what the dashboards show -------------------------------------------------------------------
def _panel(file: str, title: str) -> dict[str, Any]:
    [panel] = [p for p in panels(dashboards()[file]) if p["title"] == title]
    return panel


def test_the_order_latency_quantiles_show_exemplars_that_open_tempo() -> None:
    panel = _panel("order-latency.json", "Order latency p50 / p95 / p99 by venue and stage")
    assert panel["type"] == "timeseries"
    assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}
    assert len(panel["targets"]) == 3
    for target in panel["targets"]:
        assert target["exemplar"] is True
        assert target["expr"].startswith("histogram_quantile(")
        assert "sum by (le, trading_venue, trading_order_stage)" in target["expr"]
        assert "rate(trading_order_latency_seconds_bucket{" in target["expr"]
        assert "[$__rate_interval]" in target["expr"]
    heatmap = _panel("order-latency.json", "Order latency distribution")
    assert heatmap["type"] == "heatmap"
    assert heatmap["targets"][0]["format"] == "heatmap"


def test_the_dashboards_filter_by_venue_strategy_and_job_variables() -> None:
    boards = dashboards()
    venue = {v["name"]: v for v in variables(boards["order-latency.json"])}["venue"]
    assert venue["query"] == "label_values(trading_order_latency_seconds_count, trading_venue)"
    assert venue["datasource"]["uid"] == "prometheus"
    assert {v["name"] for v in variables(boards["order-flow.json"])} >= {"job", "venue"}
    assert {v["name"] for v in variables(boards["strategy-performance.json"])} >= {"strategy"}
    assert {v["name"] for v in variables(boards["system-health.json"])} == {"job"}


def test_panels_with_trace_and_log_queries_use_the_tempo_and_loki_uids() -> None:
    kinds: dict[str, int] = {"tempo": 0, "loki": 0}
    for board in dashboards().values():
        for panel in panels(board):
            uid = (panel.get("datasource") or {}).get("uid")
            for target in panel.get("targets", []):
                if "queryType" in target and target["queryType"] == "traceql":
                    assert uid == "tempo"
                    assert target["datasource"]["type"] == "tempo"
                    assert target["query"].startswith("{")
                    kinds["tempo"] += 1
                elif uid == "loki":
                    assert target["datasource"] == {"type": "loki", "uid": "loki"}
                    assert target["expr"].startswith("{")
                    kinds["loki"] += 1
    assert kinds["tempo"] >= 2
    assert kinds["loki"] >= 1


def test_the_alerts_dashboard_shows_firing_prometheus_alerts_and_the_alert_service() -> None:
    board = dashboards()["alerts.json"]
    exprs = [expr for _, expr in prometheus_queries(board)]
    assert 'ALERTS{alertstate="firing"}' in exprs
    types = {panel["type"] for panel in panels(board)}
    assert {"table", "state-timeline"} <= types
    assert sum("tradetel_alerts_" in expr for expr in exprs) >= 6
