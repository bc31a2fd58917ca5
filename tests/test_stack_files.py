"""The compose stack, checked statically: schema, YAML lint, promtool, and the files agreeing.

No Docker engine is needed: docker-compose.yml is validated against the compose-spec schema
vendored in check-jsonschema (offline), every config is linted, the rules go through promtool,
and the checkers below read the files the way the containers will and compare them with each
other and with the pinned set of images and ports. tests/stack/ runs the stack for real where
Docker exists.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from conftest import require_binary

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
COLLECTOR = ROOT / "collector"
PROMETHEUS_YML = COLLECTOR / "prometheus" / "prometheus.yml"
TEMPO_YAML = COLLECTOR / "tempo" / "tempo.yaml"
LOKI_YAML = COLLECTOR / "loki" / "loki.yaml"
OTELCOL_YAML = COLLECTOR / "otelcol-config.yaml"
RULES = COLLECTOR / "rules" / "trading.rules.yml"
YAMLLINT_CONFIG = COLLECTOR / ".yamllint.yaml"

# The coherent set the stack was checked against: bump them together.
PINNED = {
    "otel-collector": "otel/opentelemetry-collector-contrib:0.159.0",
    "prometheus": "prom/prometheus:v3.14.0",
    "tempo": "grafana/tempo:3.0.3",
    "loki": "grafana/loki:3.7.6",
    "grafana": "grafana/grafana:13.1.3",
}
# Host ports, HOST:CONTAINER. Tempo's OTLP ports and the alert service stay on the network.
PORTS = {
    "otel-collector": ["4317:4317", "4318:4318", "13133:13133"],
    "prometheus": ["9090:9090"],
    "tempo": ["3200:3200"],
    "loki": ["3100:3100"],
    "grafana": ["3000:3000"],
}
# Resource attributes made labels of every pushed series, in Prometheus and the alert service.
PROMOTED = [
    "service.name",
    "service.namespace",
    "service.version",
    "service.instance.id",
    "deployment.environment.name",
    "trading.mode",
]
# Loki index labels: short, and never a per-process id such as service.instance.id.
LOKI_INDEX_LABELS = ["service.name", "service.namespace", "deployment.environment.name"]
COLLECTOR_SERVICE = "otel-collector"
TEMPO_2X_ONLY = ("ingester", "ingester_client", "compactor", "metrics_generator_client")


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _tool(name: str) -> str:
    """A console script of the test extras, installed next to the running interpreter."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.fail(f"{name} is not installed next to {sys.executable}: pip install -e '.[test]'")
    return str(path)


@pytest.fixture
def compose() -> dict[str, Any]:
    data: dict[str, Any] = _load(COMPOSE)
    return data


@pytest.fixture
def prometheus() -> dict[str, Any]:
    data: dict[str, Any] = _load(PROMETHEUS_YML)
    return data


@pytest.fixture
def tempo() -> dict[str, Any]:
    data: dict[str, Any] = _load(TEMPO_YAML)
    return data


@pytest.fixture
def loki() -> dict[str, Any]:
    data: dict[str, Any] = _load(LOKI_YAML)
    return data


# -- reading the compose file ----------------------------------------------------------------


def _depends_on(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """depends_on in its long form, whichever form the file uses."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: {"condition": "service_started"} for name in deps}
    return {name: spec or {"condition": "service_started"} for name, spec in deps.items()}


def _mounts(service: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(source, target, "bind" or "volume") for each entry of a service's volumes."""
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            yield entry["source"], entry["target"], entry.get("type", "volume")
            continue
        source, target = entry.split(":")[:2]
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        yield source, target, kind


def _options(command: list[str]) -> dict[str, list[str]]:
    """Options of a command by name, from ``--name=value`` or ``--name value`` (single-dash
    spellings too); a flag maps to []. An option's value never starts with a dash here."""
    found: dict[str, list[str]] = {}
    for i, arg in enumerate(command):
        if not arg.startswith("-"):
            continue
        name, sep, value = arg.lstrip("-").partition("=")
        values = found.setdefault(name, [])
        if sep:
            values.append(value)
        elif i + 1 < len(command) and not command[i + 1].startswith("-"):
            values.append(command[i + 1])
    return found


def _one_shots(compose: dict[str, Any]) -> set[str]:
    """Services that run to completion (others wait for service_completed_successfully)."""
    return {
        name
        for service in compose["services"].values()
        for name, spec in _depends_on(service).items()
        if spec.get("condition") == "service_completed_successfully"
    }


def _bind_source(service: dict[str, Any], target: str) -> str | None:
    for source, mounted_at, kind in _mounts(service):
        if kind == "bind" and mounted_at == target:
            return source
    return None


# -- the checkers: each returns what is wrong, so that a broken copy can be shown failing ---


def image_problems(compose: dict[str, Any]) -> list[str]:
    """Every image is one of the pinned set, by tag; built services have no image to pin."""
    problems = []
    services = compose["services"]
    for name in PINNED:
        if name not in services:
            problems.append(f"{name}: missing")
    for name, service in services.items():
        image = service.get("image")
        if image is None:
            if "build" not in service:
                problems.append(f"{name}: neither an image nor a build")
            continue
        repository, _, tag = image.rpartition(":")
        if not repository or "/" in tag or tag in ("", "latest"):
            problems.append(f"{name}: {image!r} is not pinned to a version tag")
        elif name in PINNED and image != PINNED[name]:
            problems.append(f"{name}: {image!r}, but the stack pins {PINNED[name]!r}")
        elif image not in PINNED.values():
            problems.append(f"{name}: {image!r} is not one of the pinned images")
    return problems


def healthcheck_problems(compose: dict[str, Any]) -> list[str]:
    """A healthcheck everywhere but in the distroless Collector and in one-shot services."""
    problems = []
    one_shots = _one_shots(compose)
    for name, service in compose["services"].items():
        check = service.get("healthcheck")
        if name == COLLECTOR_SERVICE:
            if check:
                problems.append(f"{name}: its image has no shell or wget to run a healthcheck")
            continue
        if name in one_shots:
            continue
        test = (check or {}).get("test")
        if not test or check.get("disable") or test in ("NONE", ["NONE"]):
            problems.append(f"{name}: no healthcheck")
    for name, service in compose["services"].items():
        condition = _depends_on(service).get(COLLECTOR_SERVICE, {}).get("condition")
        if condition not in (None, "service_started"):
            problems.append(f"{name}: waits for the Collector to be {condition}, which never comes")
    return problems


def volume_problems(compose: dict[str, Any]) -> list[str]:
    """Named volumes are declared (and used); bind mounts are paths that exist in the repo."""
    problems = []
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, service in compose["services"].items():
        for source, _target, kind in _mounts(service):
            if kind == "volume":
                used.add(source)
                if source not in declared:
                    problems.append(f"{name}: volume {source!r} is not declared")
            elif not source.startswith("./"):
                problems.append(f"{name}: {source!r} is not a path inside the repository")
            elif not (ROOT / source).exists():
                problems.append(f"{name}: {source!r} does not exist in the repository")
    problems.extend(f"volume {v!r} is declared but never mounted" for v in declared - used)
    return problems


def port_problems(compose: dict[str, Any]) -> list[str]:
    problems = []
    for name, service in compose["services"].items():
        published = sorted(str(port) for port in service.get("ports") or [])
        if published != sorted(PORTS.get(name, [])):
            problems.append(
                f"{name}: publishes {published}, expected {sorted(PORTS.get(name, []))}"
            )
    return problems


def tempo_problems(config: dict[str, Any]) -> list[str]:
    """What Tempo 3.x refuses, and what would duplicate the Collector's span metrics."""
    problems = [
        f"{key}: a Tempo 2.x block, refused by 3.x" for key in TEMPO_2X_ONLY if key in config
    ]
    overrides = config.get("overrides") or {}
    if set(overrides) - {"defaults", "per_tenant_override_config"}:
        problems.append("overrides: legacy (unscoped) keys, refused by Tempo 3.x; use defaults")
    generator = (overrides.get("defaults") or {}).get("metrics_generator") or {}
    processors = generator.get("processors") or []
    if any(p.startswith("span-metrics") for p in processors):
        problems.append("span-metrics: computed in the Collector already (duplicate series)")
    if "local-blocks" in processors:
        problems.append("local-blocks: removed in Tempo 3.0")
    if "local_blocks" in ((config.get("metrics_generator") or {}).get("processor") or {}):
        problems.append("metrics_generator.processor.local_blocks: removed in Tempo 3.0")
    receivers = (config.get("distributor") or {}).get("receivers") or {}
    for protocol, settings in ((receivers.get("otlp") or {}).get("protocols") or {}).items():
        endpoint = (settings or {}).get("endpoint", "localhost")
        if not endpoint.startswith("0.0.0.0:"):
            problems.append(
                f"otlp {protocol} receiver on {endpoint!r}: unreachable from the Collector"
            )
    if config.get("stream_over_http_enabled") is not True:
        problems.append("stream_over_http_enabled: Grafana's streaming search needs it")
    return problems


# -- the compose file ------------------------------------------------------------------------


def test_compose_file_is_valid_against_the_compose_spec() -> None:
    result = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_fails_on_a_misspelt_key(tmp_path: Path, compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["prometheus"]["helthcheck"] = broken["services"]["prometheus"].pop(
        "healthcheck"
    )
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    result = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "helthcheck" in result.stdout + result.stderr


def test_every_image_is_pinned_to_the_stack_version(compose: dict[str, Any]) -> None:
    assert image_problems(compose) == []


@pytest.mark.parametrize(
    ("image", "says"),
    [
        ("prom/prometheus:latest", "not pinned"),
        ("prom/prometheus", "not pinned"),
        ("prom/prometheus:v3.13.0", "the stack pins 'prom/prometheus:v3.14.0'"),
    ],
)
def test_an_unpinned_image_is_reported(compose: dict[str, Any], image: str, says: str) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["prometheus"]["image"] = image
    problems = image_problems(broken)
    assert len(problems) == 1
    assert problems[0].startswith("prometheus: ")
    assert says in problems[0]


def test_every_service_but_the_collector_has_a_healthcheck(compose: dict[str, Any]) -> None:
    assert healthcheck_problems(compose) == []


def test_a_missing_healthcheck_is_reported(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    del broken["services"]["loki"]["healthcheck"]
    assert healthcheck_problems(broken) == ["loki: no healthcheck"]


def test_waiting_for_a_healthy_collector_is_reported(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["demo-bot"]["depends_on"] = {
        COLLECTOR_SERVICE: {"condition": "service_healthy"}
    }
    assert healthcheck_problems(broken) == [
        "demo-bot: waits for the Collector to be service_healthy, which never comes"
    ]


def test_volumes_are_declared_and_host_paths_exist(compose: dict[str, Any]) -> None:
    assert volume_problems(compose) == []


def test_an_undeclared_volume_is_reported(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    del broken["volumes"]["loki-data"]
    assert volume_problems(broken) == ["loki: volume 'loki-data' is not declared"]


def test_data_volumes_back_every_backend(compose: dict[str, Any]) -> None:
    wanted = {
        "prometheus": "/prometheus",
        "tempo": "/var/tempo",
        "loki": "/loki",
        "grafana": "/var/lib/grafana",
    }
    for name, target in wanted.items():
        kinds = {t: k for _s, t, k in _mounts(compose["services"][name])}
        assert kinds.get(target) == "volume", f"{name}: no named volume at {target}"


def test_published_ports_are_the_stack_ports(compose: dict[str, Any]) -> None:
    assert port_problems(compose) == []


def test_demo_bot_runs_only_in_the_demo_profile(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["demo-bot"]["profiles"] == ["demo"]
    assert [name for name, s in services.items() if s.get("profiles")] == ["demo-bot"]
    options = _options(services["demo-bot"]["command"])
    assert options["endpoint"] == ["http://otel-collector:4318"]
    assert float(options["duration"][0]) >= 3600


def test_the_collector_reads_the_repository_config(compose: dict[str, Any]) -> None:
    service = compose["services"][COLLECTOR_SERVICE]
    (config,) = _options(service["command"])["config"]
    assert _bind_source(service, config) == "./collector/otelcol-config.yaml"
    assert set(_depends_on(service)) >= {"prometheus", "tempo", "loki", "alerts"}


@pytest.mark.parametrize(
    ("service", "flag", "source"),
    [
        ("prometheus", "config.file", "./collector/prometheus/prometheus.yml"),
        ("tempo", "config.file", "./collector/tempo/tempo.yaml"),
        ("loki", "config.file", "./collector/loki/loki.yaml"),
    ],
)
def test_each_backend_reads_the_repository_config(
    compose: dict[str, Any], service: str, flag: str, source: str
) -> None:
    spec = compose["services"][service]
    (path,) = _options(spec["command"])[flag]
    assert _bind_source(spec, path) == source


# -- YAML lint and promtool ------------------------------------------------------------------

_LINTED = [
    COMPOSE,
    *sorted(
        path
        for folder in ("prometheus", "tempo", "loki", "rules")
        for pattern in ("*.yml", "*.yaml")
        for path in (COLLECTOR / folder).glob(pattern)
    ),
]


@pytest.mark.parametrize("path", _LINTED, ids=lambda p: str(p.relative_to(ROOT)))
def test_yaml_lint_passes(path: Path) -> None:
    assert YAMLLINT_CONFIG.exists(), "collector/.yamllint.yaml holds the shared lint settings"
    result = subprocess.run(
        [_tool("yamllint"), "-c", str(YAMLLINT_CONFIG), "-f", "parsable", str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_rules() -> None:
    promtool = require_binary("promtool")
    result = subprocess.run(
        [promtool, "check", "rules", str(RULES)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_prometheus_yml_without_its_3x_otlp_block(
    tmp_path: Path, prometheus: dict[str, Any]
) -> None:
    """promtool 2.42 (Debian's) predates the `otlp:` block; the rest is checked in full, with
    the rule files the container sees replaced by the repository's."""
    promtool = require_binary("promtool")
    config = copy.deepcopy(prometheus)
    del config["otlp"]
    config["rule_files"] = [str(RULES) for _ in config["rule_files"]]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    result = subprocess.run(
        [promtool, "check", "config", str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- Prometheus ------------------------------------------------------------------------------


def test_prometheus_receives_otlp_remote_write_and_exemplars(compose: dict[str, Any]) -> None:
    options = _options(compose["services"]["prometheus"]["command"])
    features = {f for value in options.get("enable-feature", []) for f in value.split(",")}
    assert "web.enable-otlp-receiver" in options
    assert "web.enable-remote-write-receiver" in options  # Tempo's service graphs
    assert "exemplar-storage" in features


def test_prometheus_promotes_the_stack_resource_attributes(prometheus: dict[str, Any]) -> None:
    assert prometheus["otlp"]["promote_resource_attributes"] == PROMOTED


def test_alert_service_promotes_the_same_attributes_as_prometheus(
    compose: dict[str, Any], prometheus: dict[str, Any]
) -> None:
    options = _options(compose["services"]["alerts"]["command"])
    assert (
        options["promote-resource-attribute"] == prometheus["otlp"]["promote_resource_attributes"]
    )


def test_prometheus_accepts_out_of_order_pushes(prometheus: dict[str, Any]) -> None:
    assert prometheus["storage"]["tsdb"]["out_of_order_time_window"] == "10m"
    assert prometheus["global"]["scrape_interval"] == "15s"
    assert prometheus["global"]["evaluation_interval"] == "15s"


def test_prometheus_loads_the_rules_but_not_their_tests(
    compose: dict[str, Any], prometheus: dict[str, Any]
) -> None:
    service = compose["services"]["prometheus"]
    for rule_file in prometheus["rule_files"]:
        assert not rule_file.endswith(".test.yml")
        assert "*" not in rule_file
        assert _bind_source(service, rule_file) == "./collector/rules/trading.rules.yml"


def _listening_ports(
    compose: dict[str, Any], tempo: dict[str, Any], loki: dict[str, Any]
) -> dict[str, int]:
    """Where each scraped service serves /metrics, read from its own configuration."""
    ports = {
        "prometheus": 9090,  # no --web.listen-address: the default
        "localhost": 9090,
        "tempo": tempo["server"]["http_listen_port"],
        "loki": loki["server"]["http_listen_port"],
        "alerts": int(
            _options(compose["services"]["alerts"]["command"])["listen"][0].rsplit(":")[-1]
        ),
    }
    telemetry = _load(OTELCOL_YAML)["service"]["telemetry"]["metrics"]["readers"]
    (collector,) = [r["pull"]["exporter"]["prometheus"]["port"] for r in telemetry if "pull" in r]
    ports[COLLECTOR_SERVICE] = collector
    return ports


def test_scrape_targets_are_compose_services_on_their_ports(
    compose: dict[str, Any], prometheus: dict[str, Any], tempo: dict[str, Any], loki: dict[str, Any]
) -> None:
    ports = _listening_ports(compose, tempo, loki)
    targets = {
        target
        for job in prometheus["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    for target in targets:
        host, _, port = target.rpartition(":")
        assert host == "localhost" or host in compose["services"], target
        assert int(port) == ports[host], target
    scraped = {target.rpartition(":")[0] for target in targets}
    assert scraped == {"localhost", COLLECTOR_SERVICE, "alerts", "tempo", "loki"}


# -- Tempo -----------------------------------------------------------------------------------


def test_tempo_config_is_3x_and_leaves_span_metrics_to_the_collector(tempo: dict[str, Any]) -> None:
    assert tempo_problems(tempo) == []
    generator = tempo["overrides"]["defaults"]["metrics_generator"]
    assert generator["processors"] == ["service-graphs"]
    assert generator["trace_id_label_name"] == "trace_id"


def test_tempo_checker_reports_2x_blocks_and_span_metrics(tempo: dict[str, Any]) -> None:
    broken = copy.deepcopy(tempo)
    broken["ingester"] = {"max_block_duration": "5m"}
    broken["compactor"] = {"compaction": {"block_retention": "1h"}}
    broken["overrides"]["defaults"]["metrics_generator"]["processors"] = [
        "service-graphs",
        "span-metrics",
        "local-blocks",
    ]
    assert tempo_problems(broken) == [
        "ingester: a Tempo 2.x block, refused by 3.x",
        "compactor: a Tempo 2.x block, refused by 3.x",
        "span-metrics: computed in the Collector already (duplicate series)",
        "local-blocks: removed in Tempo 3.0",
    ]


def test_tempo_ports_and_paths_match_compose(
    compose: dict[str, Any], tempo: dict[str, Any]
) -> None:
    service = compose["services"]["tempo"]
    port = tempo["server"]["http_listen_port"]
    assert f"{port}:{port}" in service["ports"]
    assert service["healthcheck"]["test"] == ["CMD", "/tempo", "-health"]  # checks :3200/ready
    assert port == 3200
    volume = {t for _s, t, k in _mounts(service) if k == "volume"}
    storage = tempo["storage"]["trace"]
    paths = [
        storage["wal"]["path"],
        storage["local"]["path"],
        tempo["metrics_generator"]["storage"]["path"],
    ]
    assert all(any(p.startswith(v + "/") for v in volume) for p in paths), (paths, volume)
    init = compose["services"]["tempo-init"]
    assert {t for _s, t, _k in _mounts(init)} == volume
    assert init["entrypoint"][:3] == ["chown", "-R", "10001:10001"]


def test_tempo_remote_writes_to_prometheus(compose: dict[str, Any], tempo: dict[str, Any]) -> None:
    (remote,) = tempo["metrics_generator"]["storage"]["remote_write"]
    assert remote["url"] == "http://prometheus:9090/api/v1/write"
    assert remote["send_exemplars"] is True


# -- Loki ------------------------------------------------------------------------------------


def test_loki_takes_otlp_with_structured_metadata_and_short_labels(loki: dict[str, Any]) -> None:
    assert loki["auth_enabled"] is False
    limits = loki["limits_config"]
    assert limits["allow_structured_metadata"] is True
    resource = limits["otlp_config"]["resource_attributes"]
    assert resource["ignore_defaults"] is True
    (rule,) = resource["attributes_config"]
    assert rule == {"action": "index_label", "attributes": LOKI_INDEX_LABELS}
    (schema,) = loki["schema_config"]["configs"]
    assert (schema["store"], schema["schema"], schema["object_store"]) == (
        "tsdb",
        "v13",
        "filesystem",
    )


def test_loki_ports_and_paths_match_compose(compose: dict[str, Any], loki: dict[str, Any]) -> None:
    service = compose["services"]["loki"]
    port = loki["server"]["http_listen_port"]
    assert port == 3100
    assert f"{port}:{port}" in service["ports"]
    assert f"http://localhost:{port}/ready" in service["healthcheck"]["test"]
    volume = {t for _s, t, k in _mounts(service) if k == "volume"}
    assert loki["common"]["path_prefix"] in volume


def test_prometheus_port_matches_compose(compose: dict[str, Any]) -> None:
    service = compose["services"]["prometheus"]
    assert "web.listen-address" not in _options(service["command"])  # the default, :9090
    assert "9090:9090" in service["ports"]
    assert "http://localhost:9090/-/ready" in service["healthcheck"]["test"]


# -- the tradetel image ----------------------------------------------------------------------


def _dockerfile_cmd() -> list[str]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    (line,) = [line for line in text.splitlines() if line.startswith("CMD ")]
    command: list[str] = json.loads(line.removeprefix("CMD "))
    return command


def _unknown_options(command: list[str], click_command: click.Command) -> set[str]:
    known = {opt.lstrip("-") for param in click_command.params for opt in param.opts}
    return set(_options(command)) - known


def test_tradetel_commands_use_real_options(compose: dict[str, Any]) -> None:
    from tradetel.cli._alerts import serve
    from tradetel.cli._demo import demo

    services = compose["services"]
    for command, click_command in [
        (_dockerfile_cmd(), serve),
        (services["alerts"]["command"], serve),
        (services["demo-bot"]["command"], demo),
    ]:
        assert command[0] == "tradetel"
        assert _unknown_options(command, click_command) == set(), command


def test_a_misspelt_tradetel_option_is_reported() -> None:
    from tradetel.cli._demo import demo

    command = ["tradetel", "demo", "--endpont=http://otel-collector:4318", "--no-report"]
    assert _unknown_options(command, demo) == {"endpont"}


def test_image_serves_alerts_as_a_non_root_user() -> None:
    lines = (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
    assert "FROM python:3.12-slim" in lines
    (user,) = [line for line in lines if line.startswith("USER ")]
    assert user.split()[1] not in ("root", "0")
    options = _options(_dockerfile_cmd())
    assert options["rules"] == ["/etc/tradetel/rules/trading.rules.yml"]
    assert options["listen"] == ["0.0.0.0:9095"]


def test_build_context_keeps_what_the_wheel_needs() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".tradetel", "**/__pycache__", ".pytest_cache"} <= ignored
    # pyproject.toml force-includes the shipped rules into the wheel
    assert ignored.isdisjoint(
        {"src", "collector", "collector/rules", "pyproject.toml", "README.md"}
    )
