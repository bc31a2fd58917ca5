"""configure()'s options resolved: argument, else environment variable, else default.

Every value is checked here, once, and a bad one is a ``ConfigError`` that names the value
and where it came from (the argument or the variable).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import semconv
from ._errors import ConfigError

EXPORTERS = ("otlp", "console", "file", "prometheus", "none")
#: exporters of metrics only: for traces and logs they mean nothing (OTel's variables alike)
METRICS_ONLY = ("prometheus",)
OTLP_PROTOCOLS = ("grpc", "http/protobuf")
DEFAULT_DATA_DIR = ".tradetel"
DEFAULT_METRICS_INTERVAL = 10.0
DEFAULT_FILE_MAX_BYTES = 50 * 1024 * 1024  # the file exporter's defaults
DEFAULT_FILE_BACKUPS = 3

_ENDPOINT_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
)
_SAMPLERS = {
    "always_on": 1.0,
    "parentbased_always_on": 1.0,
    "always_off": 0.0,
    "parentbased_always_off": 0.0,
}


@dataclass(frozen=True)
class Settings:
    """Everything configure() decided, with where each came from already resolved."""

    resource_attributes: dict[str, Any]
    exporters: tuple[str, ...]  # every exporter any signal uses
    data_dir: Path
    trace_sample_rate: float
    metrics_interval: float
    logs: bool
    file_max_bytes: int = DEFAULT_FILE_MAX_BYTES
    file_backups: int = DEFAULT_FILE_BACKUPS
    metric_symbols: frozenset[str] = field(default_factory=frozenset)
    system_metrics: bool = True
    #: the exporters of each signal (``traces``, ``metrics``, ``logs``) when they differ
    by_signal: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def exporters_for(self, signal: str) -> tuple[str, ...]:
        return self.by_signal.get(signal, self.exporters)

    @property
    def service_name(self) -> str:
        return str(self.resource_attributes[semconv.SERVICE_NAME])


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def parse_resource_attributes(text: str | None) -> dict[str, str]:
    """``OTEL_RESOURCE_ATTRIBUTES``: ``key=value`` pairs separated by commas."""
    from urllib.parse import unquote

    attributes: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"OTEL_RESOURCE_ATTRIBUTES: {item.strip()!r} is not a key=value pair")
        attributes[key.strip()] = unquote(value.strip())
    return attributes


_instance: tuple[int, str] = (0, "")
_run_id = uuid.uuid4().hex  # made at import: a forked child inherits it, as it should


def run_id() -> str:
    """``trading.run.id``: ``TRADETEL_RUN_ID``, else one id for this run of the program."""
    return _env("TRADETEL_RUN_ID") or _run_id


def instance_id() -> str:
    """``service.instance.id``: one per process (a forked child gets its own)."""
    global _instance
    if _instance[0] != os.getpid():
        _instance = (os.getpid(), uuid.uuid4().hex)
    return _instance[1]


def _script_name() -> str:
    """The program's name: the script's, or the package's for ``python -m package``."""
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else ""
    if argv0 == "-m":  # `python -m pkg` while Python starts (a launcher's sitecustomize)
        orig = getattr(sys, "orig_argv", [])
        if "-m" in orig[:-1]:
            return str(orig[orig.index("-m") + 1]).rpartition(".")[2]
    if argv0 in ("", "-", "-c", "-m"):
        return "python"
    path = Path(argv0)
    return path.parent.name if path.stem == "__main__" and path.parent.name else path.stem


#: OpenTelemetry's per-signal exporter variables, honoured when neither ``exporter=`` nor
#: ``TRADETEL_EXPORTER`` is given (what users of ``opentelemetry-instrument`` set).
SIGNAL_VARIABLES = {
    "traces": "OTEL_TRACES_EXPORTER",
    "metrics": "OTEL_METRICS_EXPORTER",
    "logs": "OTEL_LOGS_EXPORTER",
}


def _signal_exporters(value: str | Iterable[str] | None) -> dict[str, tuple[str, ...]]:
    """The exporters of each signal: one choice for all, or OpenTelemetry's variables."""
    chosen = _exporters(value)
    if value is not None or _env("TRADETEL_EXPORTER") is not None:
        return dict.fromkeys(SIGNAL_VARIABLES, chosen)
    return {
        signal: _exporters(_env(variable), variable) if _env(variable) else chosen
        for signal, variable in SIGNAL_VARIABLES.items()
    }


def _exporters(value: str | Iterable[str] | None, where: str = "exporter") -> tuple[str, ...]:
    if value is None:
        env = _env("TRADETEL_EXPORTER")
        if env is not None:
            value, where = env, "TRADETEL_EXPORTER"
        elif any(_env(v) for v in _ENDPOINT_VARIABLES):
            return ("otlp",)
        else:
            return ("file",)
    names = value.split(",") if isinstance(value, str) else list(value)
    chosen = tuple(dict.fromkeys(str(n).strip().lower() for n in names if str(n).strip()))
    unknown = [n for n in chosen if n not in EXPORTERS]
    if unknown or not chosen:
        raise ConfigError(
            f"{where}={value!r}: unknown exporter {', '.join(map(repr, unknown)) or '(empty)'}; "
            f"choose from {', '.join(EXPORTERS)} (several may be joined with commas)"
        )
    if "none" in chosen and len(chosen) > 1:
        raise ConfigError(f"{where}={value!r}: 'none' cannot be combined with other exporters")
    return chosen


def _rate(value: float | None) -> float:
    raw: Any
    if value is not None:
        where, raw = "trace_sample_rate", value
    elif _env("TRADETEL_TRACE_SAMPLE_RATE") is not None:
        where, raw = "TRADETEL_TRACE_SAMPLE_RATE", _env("TRADETEL_TRACE_SAMPLE_RATE")
    else:
        sampler = (_env("OTEL_TRACES_SAMPLER") or "parentbased_always_on").lower()
        if sampler in _SAMPLERS:
            return _SAMPLERS[sampler]
        if sampler not in ("traceidratio", "parentbased_traceidratio"):
            raise ConfigError(
                f"OTEL_TRACES_SAMPLER={sampler!r}: tradetel supports always_on, always_off, "
                "traceidratio and their parentbased_ forms"
            )
        where, raw = "OTEL_TRACES_SAMPLER_ARG", _env("OTEL_TRACES_SAMPLER_ARG") or "1.0"
    try:
        rate = float(raw)
    except (TypeError, ValueError):
        rate = -1.0
    if not 0.0 <= rate <= 1.0 or isinstance(raw, bool):
        raise ConfigError(f"{where}={raw!r}: a sampling rate is a number from 0 to 1")
    return rate


def _positive(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = 0.0
    if not number > 0 or isinstance(value, bool):
        raise ConfigError(f"{where}={value!r}: must be a positive number")
    return number


def _metrics_interval(value: float | None) -> float:
    if value is not None:
        return _positive(value, "metrics_interval")
    env = _env("OTEL_METRIC_EXPORT_INTERVAL")
    if env is not None:
        return _positive(env, "OTEL_METRIC_EXPORT_INTERVAL") / 1000.0
    return DEFAULT_METRICS_INTERVAL


def _int_env(name: str, default: int, minimum: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        number = int(raw)
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise ConfigError(f"{name}={raw!r}: must be a whole number >= {minimum}")
    return number


def resolve(
    *,
    service_name: str | None,
    environment: str | None,
    mode: str | None,
    exporter: str | Iterable[str] | None,
    data_dir: str | os.PathLike[str],
    trace_sample_rate: float | None,
    metrics_interval: float | None,
    logs: bool,
    metric_symbols: Iterable[str] | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    system_metrics: bool | None = None,
) -> Settings:
    """Resolve configure()'s arguments against the environment."""
    env_attrs = parse_resource_attributes(_env("OTEL_RESOURCE_ATTRIBUTES"))
    attrs: dict[str, Any] = {**env_attrs, **dict(resource_attributes or {})}
    attrs[semconv.SERVICE_NAME] = (
        service_name
        or _env("OTEL_SERVICE_NAME")
        or env_attrs.get(semconv.SERVICE_NAME)
        or _script_name()
    )
    environment = environment or _env("TRADETEL_ENVIRONMENT")
    if environment:
        attrs[semconv.DEPLOYMENT_ENVIRONMENT] = environment
    if mode:
        where = "mode"
    elif _env("TRADETEL_MODE"):
        where, mode = "TRADETEL_MODE", _env("TRADETEL_MODE")
    else:
        where = f"OTEL_RESOURCE_ATTRIBUTES {semconv.TRADING_MODE}"
        mode = env_attrs.get(semconv.TRADING_MODE) or "live"
    if mode not in semconv.TRADING_MODES:
        raise ConfigError(
            f"{where}={mode!r}: the trading mode is one of {', '.join(semconv.TRADING_MODES)}"
        )
    attrs[semconv.TRADING_MODE] = mode
    # A launcher sets TRADETEL_RUN_ID so that the programs it starts share it.
    attrs[semconv.TRADING_RUN_ID] = run_id()
    attrs[semconv.SERVICE_INSTANCE_ID] = instance_id()
    attrs["process.pid"] = os.getpid()

    if os.fspath(data_dir) == DEFAULT_DATA_DIR and _env("TRADETEL_DATA_DIR"):
        data_dir = _env("TRADETEL_DATA_DIR")  # type: ignore[assignment]
    symbols = metric_symbols
    if symbols is None:
        symbols = (_env("TRADETEL_METRIC_SYMBOLS") or "").split(",")
    if isinstance(symbols, str):
        symbols = symbols.split(",")
    by_signal = _signal_exporters(exporter)
    if not logs:
        del by_signal["logs"]
    for signal, names in by_signal.items():
        if "otlp" in names:  # checked now: configure() tears the old pipeline down next
            otlp_protocol(signal)
    exporters = tuple(dict.fromkeys(n for names in by_signal.values() for n in names))
    if len(exporters) > 1 and "none" in exporters:
        exporters = tuple(n for n in exporters if n != "none")
    return Settings(
        resource_attributes=attrs,
        exporters=exporters,
        by_signal=by_signal,
        data_dir=Path(data_dir),
        trace_sample_rate=_rate(trace_sample_rate),
        metrics_interval=_metrics_interval(metrics_interval),
        logs=bool(logs),
        file_max_bytes=_int_env("TRADETEL_FILE_MAX_BYTES", DEFAULT_FILE_MAX_BYTES, 1024),
        file_backups=_int_env("TRADETEL_FILE_BACKUPS", DEFAULT_FILE_BACKUPS, 0),
        metric_symbols=frozenset(s.strip().upper() for s in symbols if s.strip()),
        system_metrics=_flag("TRADETEL_SYSTEM_METRICS", True)
        if system_metrics is None
        else bool(system_metrics),
    )


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _flag(name: str, default: bool) -> bool:
    """A boolean environment variable: 1/true/yes/on or 0/false/no/off."""
    raw = _env(name)
    if raw is None:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r}: must be one of {', '.join(_TRUE + _FALSE)}")


def otlp_protocol(signal: str) -> str:
    """The OTLP protocol for a signal: the per-signal variable, else the general one."""
    name = f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL"
    where, value = name, _env(name)
    if value is None:
        where, value = "OTEL_EXPORTER_OTLP_PROTOCOL", _env("OTEL_EXPORTER_OTLP_PROTOCOL")
    value = (value or "http/protobuf").lower()
    if value not in OTLP_PROTOCOLS:
        raise ConfigError(
            f"{where}={value!r}: tradetel's OTLP exporter speaks {' or '.join(OTLP_PROTOCOLS)}"
        )
    return value
