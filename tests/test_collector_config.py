"""The collector configs: collector/otelcol-config.yaml and every collector/examples/*.yaml.

No collector binary runs here, so each config is checked statically for the mistakes that break
or quietly degrade a real collector (see the shared STACK.md): references to undefined components,
connectors wired the wrong way, memory_limiter not first, span metrics computed after sampling,
renamed component types, receivers bound to localhost, secrets written into the file. Each check
returns its problems, naming the file and the component; the last tests feed the checks broken
copies of the real config, so a check that can no longer fail does not pass unnoticed.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from yamllint import linter
from yamllint.config import YamlLintConfig

COLLECTOR = Path(__file__).parents[1] / "collector"
MAIN = COLLECTOR / "otelcol-config.yaml"
EXAMPLES = sorted((COLLECTOR / "examples").glob("*.yaml"))
CONFIGS = [MAIN, *EXAMPLES]
LINT_CONFIG = COLLECTOR / ".yamllint.yaml"

Config = dict[str, Any]
Check = Callable[[str, Config], list[str]]

SECTIONS = ("receivers", "processors", "exporters", "connectors", "extensions")
SIGNALS = ("traces", "metrics", "logs", "profiles")
#: old or removed type -> what to use at collector 0.159 (STACK.md)
RENAMED = {
    "exporters": {
        "otlp": "otlp_grpc",
        "otlphttp": "otlp_http",
        "loki": "otlp_http to Loki's /otlp",
        "logging": "debug",
    },
    "processors": {
        "resourcedetection": "resource_detection",
        "tailsampling": "tail_sampling",
        "memorylimiter": "memory_limiter",
        "spanmetrics": "the span_metrics connector",
    },
    "connectors": {"spanmetrics": "span_metrics"},
    "extensions": {"healthcheck": "health_check"},
    "receivers": {},
}
#: connector type -> (pipeline signal it exports from, pipeline signal it receives into);
#: None: the same signal on both sides
CONNECTOR_SIGNALS: dict[str, tuple[str, str] | None] = {
    "span_metrics": ("traces", "metrics"),
    "forward": None,
}
NETWORK_EXPORTERS = ("otlp_grpc", "otlp_http")
ENV_REF = re.compile(r"\$\{env:[A-Za-z_][A-Za-z0-9_]*\}")


# --- reading ---------------------------------------------------------------------------------


def load(path: Path) -> Config:
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(config, dict), f"{path.name}: not a YAML mapping"
    return config


def kind(component_id: str) -> str:
    """The type of a component or pipeline id: `otlp_http/loki` -> `otlp_http`."""
    return component_id.split("/", 1)[0]


def section(config: Config, name: str) -> dict[str, Any]:
    return config.get(name) or {}


def pipelines(config: Config) -> dict[str, dict[str, list[str]]]:
    return (config.get("service") or {}).get("pipelines") or {}


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (dotted key path, scalar value) below a node."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}[{index}]")
    else:
        yield path, node


def alerts_port() -> int:
    """The default port of `tradetel alerts serve --listen`."""
    from tradetel.cli._alerts import serve

    listen = next(param.default for param in serve.params if param.name == "listen")
    return int(str(listen).rsplit(":", 1)[1])


# --- the checks ------------------------------------------------------------------------------


def check_references(name: str, config: Config) -> list[str]:
    """Every component a pipeline names is defined, and every defined component is used."""
    problems = []
    connectors = set(section(config, "connectors"))
    used: set[str] = set()
    for pid, pipe in pipelines(config).items():
        if kind(pid) not in SIGNALS:
            problems.append(f"{name}: pipeline {pid!r} is not of a known signal type {SIGNALS}")
        for role, defined in (
            ("receivers", set(section(config, "receivers")) | connectors),
            ("processors", set(section(config, "processors"))),
            ("exporters", set(section(config, "exporters")) | connectors),
        ):
            for cid in pipe.get(role) or []:
                used.add(cid)
                if cid not in defined:
                    problems.append(
                        f"{name}: pipeline {pid!r} uses {role[:-1]} {cid!r}, not defined"
                    )
        if not pipe.get("receivers") or not pipe.get("exporters"):
            problems.append(f"{name}: pipeline {pid!r} needs receivers and exporters")
    for sect in ("receivers", "processors", "exporters", "connectors"):
        for cid in section(config, sect):
            if cid not in used:
                problems.append(f"{name}: {sect[:-1]} {cid!r} is defined but in no pipeline")
    return problems + extension_references(name, config)


def extension_references(name: str, config: Config) -> list[str]:
    listed = (config.get("service") or {}).get("extensions") or []
    defined = section(config, "extensions")
    return [
        f"{name}: extension {cid!r} is defined but not in service.extensions"
        for cid in defined
        if cid not in listed
    ] + [
        f"{name}: service.extensions lists {cid!r}, not defined"
        for cid in listed
        if cid not in defined
    ]


def check_connectors(name: str, config: Config) -> list[str]:
    """A connector is an exporter in exactly one pipeline and a receiver in another."""
    problems = []
    for cid in section(config, "connectors"):
        into = [pid for pid, p in pipelines(config).items() if cid in (p.get("exporters") or [])]
        out_of = [pid for pid, p in pipelines(config).items() if cid in (p.get("receivers") or [])]
        if len(into) != 1:
            problems.append(
                f"{name}: connector {cid!r} is an exporter in {len(into)} pipelines {into}, "
                "not exactly one"
            )
        if not out_of or set(out_of) & set(into):
            problems.append(
                f"{name}: connector {cid!r} must be a receiver in another pipeline than the one "
                f"it exports from (receiver in {out_of}, exporter in {into})"
            )
        problems += connector_signals(name, cid, into, out_of)
    return problems


def connector_signals(name: str, cid: str, into: list[str], out_of: list[str]) -> list[str]:
    """A connector joins pipelines of the signals it converts between."""
    if kind(cid) not in CONNECTOR_SIGNALS:
        return []
    signals = CONNECTOR_SIGNALS[kind(cid)]
    if signals is None:
        joined = sorted(into + out_of)
        if len({kind(pid) for pid in joined}) > 1:
            return [f"{name}: connector {cid!r} joins pipelines of different signals {joined}"]
        return []
    takes, emits = signals
    return [
        f"{name}: connector {cid!r} takes {takes}, not {kind(pid)} ({pid})"
        for pid in into
        if kind(pid) != takes
    ] + [
        f"{name}: connector {cid!r} emits {emits}, not {kind(pid)} ({pid})"
        for pid in out_of
        if kind(pid) != emits
    ]


def check_memory_limiter_first(name: str, config: Config) -> list[str]:
    problems = []
    for pid, pipe in pipelines(config).items():
        processors = pipe.get("processors") or []
        if not processors or kind(processors[0]) != "memory_limiter":
            problems.append(
                f"{name}: pipeline {pid!r} starts with {processors[:1] or 'no processor'}; "
                "memory_limiter must be its first processor"
            )
    return problems


def check_no_batch_processor(name: str, config: Config) -> list[str]:
    """Batching belongs in the exporters' sending queue; never before tail_sampling."""
    problems = []
    for pid, pipe in pipelines(config).items():
        processors = pipe.get("processors") or []
        types = [kind(p) for p in processors]
        for index, ptype in enumerate(types):
            if ptype != "batch":
                continue
            where = (
                "before tail_sampling (it splits traces)"
                if "tail_sampling" in types[index:]
                else ""
            )
            problems.append(
                f"{name}: pipeline {pid!r} has processor {processors[index]!r} {where}; "
                "batch in the exporters instead (sending_queue: {batch: {}})"
            )
    for cid in section(config, "processors"):
        if kind(cid) == "batch":
            problems.append(f"{name}: processor {cid!r} is defined; use exporter-side batching")
    return problems


def check_component_types(name: str, config: Config) -> list[str]:
    """No type names that collector 0.159 renamed or removed."""
    problems = []
    for sect in SECTIONS:
        for cid in section(config, sect):
            new = RENAMED[sect].get(kind(cid))
            if new:
                problems.append(f"{name}: {sect[:-1]} {cid!r} uses an old type name; use {new}")
            if not re.fullmatch(r"[a-z][a-z0-9_]*(/[A-Za-z0-9_.-]+)?", cid):
                problems.append(f"{name}: {sect[:-1]} id {cid!r} is not `type[/name]`")
    return problems


def host_of(endpoint: Any) -> str:
    return str(endpoint).rsplit(":", 1)[0] if ":" in str(endpoint) else str(endpoint)


def check_listen_on_all_interfaces(name: str, config: Config) -> list[str]:
    """Receivers, health_check and the self-metrics reader bind 0.0.0.0 (defaults are localhost)."""
    problems = []
    for cid, settings in section(config, "receivers").items():
        if kind(cid) == "otlp":
            for protocol in ("grpc", "http"):
                proto = ((settings or {}).get("protocols") or {}).get(protocol)
                if not (proto or {}).get("endpoint"):
                    problems.append(
                        f"{name}: receiver {cid!r} protocol {protocol} has no endpoint "
                        "(the default is localhost, unreachable in a container)"
                    )
        for path, value in walk(settings):
            if path.split(".")[-1] == "endpoint" and host_of(value) != "0.0.0.0":
                problems.append(f"{name}: receiver {cid!r} {path} = {value!r}, not 0.0.0.0")
    for cid, settings in section(config, "extensions").items():
        if kind(cid) == "health_check":
            endpoint = (settings or {}).get("endpoint")
            if endpoint != "0.0.0.0:13133":
                problems.append(
                    f"{name}: extension {cid!r} endpoint {endpoint!r}, not 0.0.0.0:13133"
                )
    return problems


def check_health_check(name: str, config: Config) -> list[str]:
    listed = (config.get("service") or {}).get("extensions") or []
    if not any(kind(cid) == "health_check" for cid in listed):
        return [f"{name}: no health_check extension in service.extensions (the compose probe)"]
    return []


def check_self_metrics(name: str, config: Config) -> list[str]:
    """The collector's own metrics: a pull reader on 0.0.0.0:8888 for Prometheus to scrape."""
    telemetry = (config.get("service") or {}).get("telemetry") or {}
    readers = (telemetry.get("metrics") or {}).get("readers") or []
    for reader in readers:
        exporter = ((reader or {}).get("pull") or {}).get("exporter") or {}
        prometheus = exporter.get("prometheus") or {}
        if prometheus.get("host") == "0.0.0.0" and prometheus.get("port") == 8888:
            return []
    return [
        f"{name}: service.telemetry.metrics.readers has no pull.exporter.prometheus "
        "on host 0.0.0.0, port 8888"
    ]


def check_tail_sampling_policies(name: str, config: Config) -> list[str]:
    """Errors, slow traces and a probabilistic baseline are kept; nothing else would be."""
    problems = []
    samplers = {
        cid: s for cid, s in section(config, "processors").items() if kind(cid) == "tail_sampling"
    }
    if not samplers:
        return [f"{name}: no tail_sampling processor"]
    for cid, settings in samplers.items():
        policies = (settings or {}).get("policies") or []
        by_type = {p.get("type"): p for p in policies}
        errors = (by_type.get("status_code") or {}).get("status_code") or {}
        if "ERROR" not in (errors.get("status_codes") or []):
            problems.append(f"{name}: processor {cid!r} has no status_code policy keeping ERROR")
        threshold = ((by_type.get("latency") or {}).get("latency") or {}).get("threshold_ms")
        if not isinstance(threshold, int) or threshold <= 0:
            problems.append(
                f"{name}: processor {cid!r} has no latency policy with threshold_ms > 0"
            )
        probabilistic = (by_type.get("probabilistic") or {}).get("probabilistic") or {}
        percentage = probabilistic.get("sampling_percentage")
        if not isinstance(percentage, (int, float)) or not 0 < percentage < 100:
            problems.append(
                f"{name}: processor {cid!r} has no probabilistic baseline "
                "(0 < sampling_percentage < 100)"
            )
        for pid, pipe in pipelines(config).items():
            if cid in (pipe.get("processors") or []) and kind(pid) != "traces":
                problems.append(f"{name}: processor {cid!r} is in {kind(pid)} pipeline {pid!r}")
    return problems


def sampled_pipelines(config: Config) -> set[str]:
    """Pipelines whose data has been through tail_sampling, in them or upstream of them."""
    pipes = pipelines(config)
    connectors = set(section(config, "connectors"))
    sampled = {
        pid
        for pid, pipe in pipes.items()
        if any(kind(p) == "tail_sampling" for p in pipe.get("processors") or [])
    }
    changed = True
    while changed:
        changed = False
        for pid, pipe in pipes.items():
            if pid in sampled:
                continue
            feeds = connectors & set(pipe.get("receivers") or [])
            if any(feeds & set(pipes[up].get("exporters") or []) for up in sampled):
                sampled.add(pid)
                changed = True
    return sampled


def check_span_metrics_before_sampling(name: str, config: Config) -> list[str]:
    """Span metrics are computed once, from every span; traces reach a backend only sampled."""
    problems = []
    span_metrics = [cid for cid in section(config, "connectors") if kind(cid) == "span_metrics"]
    if len(span_metrics) != 1:
        problems.append(f"{name}: {len(span_metrics)} span_metrics connectors, not exactly one")
    sampled = sampled_pipelines(config)
    for pid, pipe in pipelines(config).items():
        exporters = pipe.get("exporters") or []
        for cid in span_metrics:
            if cid in exporters and pid in sampled:
                problems.append(
                    f"{name}: connector {cid!r} is fed by pipeline {pid!r}, after tail_sampling; "
                    "span metrics must count every span, before sampling"
                )
        backends = [e for e in exporters if e not in section(config, "connectors")]
        if kind(pid) == "traces" and backends and pid not in sampled:
            problems.append(f"{name}: pipeline {pid!r} exports traces to {backends} unsampled")
    for cid in span_metrics:
        settings = section(config, "connectors")[cid] or {}
        if not (settings.get("exemplars") or {}).get("enabled"):
            problems.append(f"{name}: connector {cid!r} has exemplars off (metrics -> trace links)")
        if "DELTA" in str(settings.get("aggregation_temporality", "")):
            problems.append(f"{name}: connector {cid!r} is delta; Prometheus drops delta metrics")
    return problems


def check_exporter_queues(name: str, config: Config) -> list[str]:
    """Network exporters batch in their sending queue and retry on failure."""
    problems = []
    for cid, settings in section(config, "exporters").items():
        if kind(cid) not in NETWORK_EXPORTERS:
            continue
        queue = (settings or {}).get("sending_queue")
        if not isinstance(queue, dict) or queue.get("enabled") is False:
            problems.append(f"{name}: exporter {cid!r} has no enabled sending_queue")
        elif not isinstance(queue.get("batch"), dict):
            problems.append(f"{name}: exporter {cid!r} sending_queue has no batch: {{}}")
        retry = (settings or {}).get("retry_on_failure")
        if not isinstance(retry, dict) or retry.get("enabled") is False:
            problems.append(f"{name}: exporter {cid!r} has no retry_on_failure enabled")
        if not (settings or {}).get("endpoint"):
            problems.append(f"{name}: exporter {cid!r} has no endpoint")
    return problems


def check_no_literal_secrets(name: str, config: Config) -> list[str]:
    """Secrets only through `${env:NAME}`: header values, no credentials in URLs."""
    problems = []
    for path, value in walk(config):
        text = str(value)
        if "${" in text and "${" in ENV_REF.sub("", text):
            problems.append(
                f"{name}: {path} = {text!r}: write environment references as ${{env:NAME}}"
            )
        if re.match(r"[a-z][a-z0-9+.-]*://[^/@\s]+@", text):
            problems.append(f"{name}: {path} has credentials in a URL")
    for cid, settings in section(config, "exporters").items():
        for header, value in ((settings or {}).get("headers") or {}).items():
            rest = ENV_REF.sub("", str(value))
            if not ENV_REF.search(str(value)) or not re.fullmatch(r"\s*((Basic|Bearer)\s*)?", rest):
                problems.append(
                    f"{name}: exporter {cid!r} header {header!r} holds a literal value; "
                    "take it from the environment (${env:NAME})"
                )
    return problems


CHECKS: list[Check] = [
    check_references,
    check_connectors,
    check_memory_limiter_first,
    check_no_batch_processor,
    check_component_types,
    check_listen_on_all_interfaces,
    check_health_check,
    check_self_metrics,
    check_tail_sampling_policies,
    check_span_metrics_before_sampling,
    check_exporter_queues,
    check_no_literal_secrets,
]


def check_local_backends(name: str, config: Config) -> list[str]:
    """The main config exports to the compose services, at their ports."""
    expected = {
        "tempo:4317",
        "http://prometheus:9090/api/v1/otlp",
        "http://loki:3100/otlp",
        f"http://alerts:{alerts_port()}",
    }
    exporters = section(config, "exporters")
    endpoints = {str((s or {}).get("endpoint")) for s in exporters.values()}
    problems = [f"{name}: no exporter to {e}" for e in sorted(expected - endpoints)]
    problems += [
        f"{name}: exporter endpoint {e} is no compose service" for e in endpoints - expected
    ]
    for cid, settings in exporters.items():
        tempo = (settings or {}).get("endpoint") == "tempo:4317"
        insecure = ((settings or {}).get("tls") or {}).get("insecure")
        if tempo and (kind(cid) != "otlp_grpc" or not insecure):
            problems.append(f"{name}: exporter {cid!r} to Tempo must be otlp_grpc, tls insecure")
    return problems


def check_same_pipelines_as(main: Config) -> Check:
    """An example differs from the main config in its exporters only."""

    def check_same_pipelines(name: str, config: Config) -> list[str]:
        problems = [
            f"{name}: {key} differ from {MAIN.name}'s"
            for key in ("receivers", "processors", "connectors", "extensions")
            if section(config, key) != section(main, key)
        ]
        for key in ("extensions", "telemetry"):
            if (config.get("service") or {}).get(key) != main["service"].get(key):
                problems.append(f"{name}: service.{key} differs from {MAIN.name}'s")
        ours, theirs = pipelines(config), pipelines(main)
        if set(ours) != set(theirs):
            problems.append(f"{name}: pipelines {sorted(ours)}, not {sorted(theirs)}")
        connectors = set(section(main, "connectors"))
        for pid in set(ours) & set(theirs):
            for role in ("receivers", "processors"):
                if ours[pid].get(role) != theirs[pid].get(role):
                    problems.append(f"{name}: pipeline {pid!r} {role} differ from {MAIN.name}'s")
            ours_into = [e for e in ours[pid].get("exporters") or [] if e in connectors]
            theirs_into = [e for e in theirs[pid].get("exporters") or [] if e in connectors]
            if ours_into != theirs_into:
                problems.append(f"{name}: pipeline {pid!r} connector exporters differ")
        for cid in section(config, "exporters"):
            for backend in ("tempo:", "prometheus:", "loki:"):
                if backend in str(section(config, "exporters")[cid].get("endpoint")):
                    problems.append(f"{name}: exporter {cid!r} still points at the local {backend}")
        return problems

    return check_same_pipelines


def lint(name: str, text: str) -> list[str]:
    config = YamlLintConfig(file=str(LINT_CONFIG))
    return [f"{name}:{p.line}:{p.column}: {p.desc} ({p.rule})" for p in linter.run(text, config)]


def all_problems(name: str, config: Config) -> list[str]:
    return [problem for check in CHECKS for problem in check(name, config)]


# --- the real configs ------------------------------------------------------------------------


def test_there_are_vendor_examples() -> None:
    assert {p.name for p in EXAMPLES} >= {
        "grafana-cloud.yaml",
        "honeycomb.yaml",
        "otlp-vendor.yaml",
    }


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_is_a_yaml_mapping_with_a_service(path: Path) -> None:
    config = load(path)
    assert pipelines(config), f"{path.name}: no service.pipelines"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_passes_yamllint(path: Path) -> None:
    assert lint(path.name, path.read_text(encoding="utf-8")) == []


def test_yamllint_command_line_accepts_every_collector_config() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "yamllint", "--strict", "-c", str(LINT_CONFIG), *map(str, CONFIGS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_passes_check(path: Path, check: Check) -> None:
    assert check(path.name, load(path)) == []


def test_main_config_exports_to_the_compose_services() -> None:
    assert check_local_backends(MAIN.name, load(MAIN)) == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_differs_from_the_main_config_in_exporters_only(path: Path) -> None:
    assert check_same_pipelines_as(load(MAIN))(path.name, load(path)) == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_takes_every_header_from_the_environment(path: Path) -> None:
    headers = [
        value
        for settings in section(load(path), "exporters").values()
        for value in ((settings or {}).get("headers") or {}).values()
    ]
    assert headers, f"{path.name}: a vendor exporter without credentials"
    assert all(ENV_REF.search(str(value)) for value in headers)


# --- the checks catch real mistakes ----------------------------------------------------------


def _move_memory_limiter_second(c: Config) -> None:
    c["service"]["pipelines"]["traces/in"]["processors"] = ["resource_detection", "memory_limiter"]


def _reference_undefined_exporter(c: Config) -> None:
    c["service"]["pipelines"]["logs"]["exporters"].append("otlp_http/missing")


def _define_unused_exporter(c: Config) -> None:
    c["exporters"]["otlp_http/spare"] = {"endpoint": "http://spare:4318"}


def _batch_before_sampling(c: Config) -> None:
    c["processors"]["batch"] = {}
    c["service"]["pipelines"]["traces/sampled"]["processors"] = [
        "memory_limiter",
        "batch",
        "tail_sampling",
    ]


def _old_otlp_exporter_name(c: Config) -> None:
    c["exporters"]["otlp/tempo"] = c["exporters"].pop("otlp_grpc/tempo")
    c["service"]["pipelines"]["traces/sampled"]["exporters"] = ["otlp/tempo"]


def _old_span_metrics_name(c: Config) -> None:
    c["connectors"]["spanmetrics"] = c["connectors"].pop("span_metrics")
    for pipe in c["service"]["pipelines"].values():
        for role in ("receivers", "exporters"):
            pipe[role] = ["spanmetrics" if x == "span_metrics" else x for x in pipe[role]]


def _receiver_on_localhost(c: Config) -> None:
    c["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] = "localhost:4317"


def _receiver_on_default_endpoint(c: Config) -> None:
    c["receivers"]["otlp"]["protocols"]["http"] = {}


def _health_check_not_enabled(c: Config) -> None:
    c["service"]["extensions"] = []


def _self_metrics_on_localhost(c: Config) -> None:
    reader = c["service"]["telemetry"]["metrics"]["readers"][0]
    reader["pull"]["exporter"]["prometheus"]["host"] = "127.0.0.1"


def _drop_policy(policy_type: str) -> Callable[[Config], None]:
    def mutate(c: Config) -> None:
        policies = c["processors"]["tail_sampling"]["policies"]
        c["processors"]["tail_sampling"]["policies"] = [
            p for p in policies if p["type"] != policy_type
        ]

    return mutate


def _span_metrics_after_sampling(c: Config) -> None:
    pipes = c["service"]["pipelines"]
    pipes["traces/in"]["exporters"] = ["forward"]
    pipes["traces/sampled"]["exporters"].append("span_metrics")


def _traces_exported_unsampled(c: Config) -> None:
    c["service"]["pipelines"]["traces/in"]["exporters"].append("otlp_grpc/tempo")


def _connector_exported_twice(c: Config) -> None:
    c["service"]["pipelines"]["traces/sampled"]["exporters"].append("forward")


def _connector_never_received(c: Config) -> None:
    c["service"]["pipelines"]["metrics"]["receivers"] = ["otlp"]


def _connector_into_wrong_signal(c: Config) -> None:
    c["service"]["pipelines"]["metrics"]["receivers"].remove("span_metrics")
    c["service"]["pipelines"]["logs"]["receivers"].append("span_metrics")


def _forward_into_other_signal(c: Config) -> None:
    c["service"]["pipelines"]["logs"]["receivers"].append("forward")


def _exemplars_off(c: Config) -> None:
    c["connectors"]["span_metrics"]["exemplars"]["enabled"] = False


def _delta_span_metrics(c: Config) -> None:
    c["connectors"]["span_metrics"]["aggregation_temporality"] = "AGGREGATION_TEMPORALITY_DELTA"


def _no_exporter_batching(c: Config) -> None:
    del c["exporters"]["otlp_http/prometheus"]["sending_queue"]["batch"]


def _no_retry(c: Config) -> None:
    c["exporters"]["otlp_http/alerts"]["retry_on_failure"] = {"enabled": False}


def _literal_header(c: Config) -> None:
    c["exporters"]["otlp_http/loki"]["headers"] = {"Authorization": "Bearer s3cr3t-t0ken"}


def _bare_env_reference(c: Config) -> None:
    c["exporters"]["otlp_http/loki"]["headers"] = {"X-Scope-OrgID": "${LOKI_TENANT}"}


MUTATIONS: dict[str, tuple[Callable[[Config], None], str]] = {
    "memory_limiter second": (_move_memory_limiter_second, "memory_limiter must be its first"),
    "undefined exporter": (_reference_undefined_exporter, "'otlp_http/missing', not defined"),
    "unused exporter": (_define_unused_exporter, "'otlp_http/spare' is defined but in no pipeline"),
    "batch before sampling": (_batch_before_sampling, "'batch' before tail_sampling"),
    "otlp exporter alias": (_old_otlp_exporter_name, "'otlp/tempo' uses an old type name"),
    "spanmetrics alias": (_old_span_metrics_name, "'spanmetrics' uses an old type name"),
    "receiver on localhost": (_receiver_on_localhost, "'localhost:4317', not 0.0.0.0"),
    "receiver default endpoint": (_receiver_on_default_endpoint, "protocol http has no endpoint"),
    "health_check not listed": (_health_check_not_enabled, "'health_check' is defined but not"),
    "self metrics on localhost": (_self_metrics_on_localhost, "host 0.0.0.0, port 8888"),
    "no error policy": (_drop_policy("status_code"), "no status_code policy keeping ERROR"),
    "no latency policy": (_drop_policy("latency"), "no latency policy"),
    "no baseline policy": (_drop_policy("probabilistic"), "no probabilistic baseline"),
    "span metrics after sampling": (_span_metrics_after_sampling, "after tail_sampling"),
    "traces unsampled": (
        _traces_exported_unsampled,
        "exports traces to ['otlp_grpc/tempo'] unsampled",
    ),
    "connector exported twice": (_connector_exported_twice, "'forward' is an exporter in 2"),
    "connector never received": (_connector_never_received, "'span_metrics' must be a receiver"),
    "connector wrong signal": (
        _connector_into_wrong_signal,
        "'span_metrics' emits metrics, not logs",
    ),
    "forward across signals": (
        _forward_into_other_signal,
        "'forward' joins pipelines of different",
    ),
    "exemplars off": (_exemplars_off, "exemplars off"),
    "delta span metrics": (_delta_span_metrics, "Prometheus drops delta"),
    "no exporter batching": (
        _no_exporter_batching,
        "'otlp_http/prometheus' sending_queue has no batch",
    ),
    "no retry": (_no_retry, "'otlp_http/alerts' has no retry_on_failure"),
    "literal header": (_literal_header, "header 'Authorization' holds a literal value"),
    "bare env reference": (_bare_env_reference, "as ${env:NAME}"),
}


@pytest.mark.parametrize("mutation", MUTATIONS, ids=str)
def test_checks_report_a_broken_copy_of_the_main_config(mutation: str) -> None:
    mutate, expected = MUTATIONS[mutation]
    config = copy.deepcopy(load(MAIN))
    mutate(config)
    problems = all_problems(MAIN.name, config)
    assert any(expected in problem for problem in problems), problems
    assert all(problem.startswith(f"{MAIN.name}: ") for problem in problems)


def test_local_backend_check_reports_a_wrong_port() -> None:
    config = copy.deepcopy(load(MAIN))
    config["exporters"]["otlp_http/prometheus"]["endpoint"] = "http://prometheus:9091/api/v1/otlp"
    problems = check_local_backends(MAIN.name, config)
    assert f"{MAIN.name}: no exporter to http://prometheus:9090/api/v1/otlp" in problems


def test_local_backend_check_follows_the_alert_evaluators_default_port() -> None:
    config = copy.deepcopy(load(MAIN))
    config["exporters"]["otlp_http/alerts"]["endpoint"] = "http://alerts:9093"
    problems = check_local_backends(MAIN.name, config)
    assert f"{MAIN.name}: no exporter to http://alerts:{alerts_port()}" in problems


def test_example_check_reports_a_pipeline_that_drifted_from_the_main_config() -> None:
    example = copy.deepcopy(load(COLLECTOR / "examples" / "honeycomb.yaml"))
    example["service"]["pipelines"]["traces/sampled"]["processors"] = ["memory_limiter"]
    del example["processors"]["tail_sampling"]
    problems = check_same_pipelines_as(load(MAIN))("honeycomb.yaml", example)
    assert "honeycomb.yaml: processors differ from otelcol-config.yaml's" in problems
    assert any("'traces/sampled' processors differ" in p for p in problems), problems


def test_secret_check_reports_a_literal_api_key_in_an_example() -> None:
    example = copy.deepcopy(load(COLLECTOR / "examples" / "honeycomb.yaml"))
    example["exporters"]["otlp_grpc/honeycomb"]["headers"]["x-honeycomb-team"] = "hcaik_01abc"
    problems = check_no_literal_secrets("honeycomb.yaml", example)
    assert problems == [
        "honeycomb.yaml: exporter 'otlp_grpc/honeycomb' header 'x-honeycomb-team' holds a "
        "literal value; take it from the environment (${env:NAME})"
    ]


def test_lint_reports_a_long_line_and_accepts_the_shared_exceptions() -> None:
    text = MAIN.read_text(encoding="utf-8")
    too_long = text + "#" + " long words" * 11 + "\n"
    assert any("line too long" in p for p in lint("long.yaml", too_long))
    # no `---`, a key named `on`, comments one space from content: all agreed in .yamllint.yaml
    assert lint("ok.yaml", "on: true # one space\nkey: [a, b]\n") == []
    assert any("truthy" in p for p in lint("bad.yaml", "key: yes\n"))
