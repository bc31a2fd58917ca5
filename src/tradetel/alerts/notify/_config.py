"""The notify file: channels, routes, repeat intervals, retries, limits, history and handlers.

Everything is checked at load time - each channel is constructed, so its own settings are
checked too - and a mistake is a ``ConfigError`` naming the file, the key and what was wrong.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..._errors import ConfigError
from .. import _duration
from ._channel import Channel, channel_types
from ._handlers import Handler, check_events, import_callable

__all__ = [
    "BreakerPolicy",
    "ChannelConfig",
    "NotifyConfig",
    "RateLimit",
    "RetryPolicy",
    "Route",
    "load_notify",
    "parse_duration",
]

DEFAULT_REPEAT = {"info": 600.0, "warning": 300.0, "critical": 60.0, "emergency": 10.0}
DEFAULT_REPEAT_FALLBACK = 300.0
_TOP_KEYS = (
    "channels", "routes", "default", "repeat_interval", "send_resolved", "retry",
    "circuit_breaker", "rate_limit", "history", "handlers",
)  # fmt: skip
#: the keys of a channel's settings that the dispatcher reads; the rest go to the channel
_DISPATCH_KEYS = ("type", "rate_limit", "send_resolved")
_ROUTE_KEYS = ("match", "match_re", "channels", "continue")
_HANDLER_KEYS = ("call", "alertname", "match", "on")


class _YamlLoader(yaml.SafeLoader):
    """YAML 1.2 booleans (``true``/``false`` only): a handler's ``on:`` stays the key "on"."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def parse_duration(text: object) -> float:
    """A Prometheus duration (``10s``, ``5m``, ``1h30m``, ``0``) in seconds, or ValueError."""
    return _duration.parse_duration(text) / 1000


@dataclass(frozen=True)
class RateLimit:
    per_minute: float = 10.0
    burst: int = 5


@dataclass(frozen=True)
class RetryPolicy:
    #: deliveries tried in all, the first included
    attempts: int = 3
    backoff: float = 1.0
    max_backoff: float = 30.0

    def delay(self, retry: int, retry_after: float | None) -> float:
        """Seconds before retry number ``retry`` (1, 2, ...): the channel's ``retry_after``
        if it gave one, else exponential backoff; never above ``max_backoff``."""
        wanted = retry_after if retry_after is not None else self.backoff * 2 ** (retry - 1)
        return max(0.0, min(wanted, self.max_backoff))


@dataclass(frozen=True)
class BreakerPolicy:
    failures: int = 3
    reset_after: float = 300.0


@dataclass(frozen=True)
class Route:
    """A routing rule: label equalities and anchored regexes, and where matching alerts go."""

    channels: tuple[str, ...]
    match: Mapping[str, str] = field(default_factory=dict)
    match_re: Mapping[str, re.Pattern[str]] = field(default_factory=dict)
    continue_: bool = False

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match.items()) and all(
            pattern.fullmatch(labels.get(k, "")) for k, pattern in self.match_re.items()
        )


@dataclass
class ChannelConfig:
    """A constructed channel and the dispatcher's settings for it."""

    channel: Channel
    rate_limit: RateLimit | None
    send_resolved: bool

    @property
    def name(self) -> str:
        return self.channel.name


@dataclass
class NotifyConfig:
    """A loaded notify file.  Its channels are live objects: give it to one Notifier."""

    channels: dict[str, ChannelConfig]
    routes: tuple[Route, ...] = ()
    default: tuple[str, ...] = ("log",)
    repeat_interval: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_REPEAT))
    repeat_default: float = DEFAULT_REPEAT_FALLBACK
    retry: RetryPolicy = RetryPolicy()
    circuit_breaker: BreakerPolicy = BreakerPolicy()
    history: Path | None = None
    handlers: tuple[Handler, ...] = ()
    source: str = "<notify config>"

    def route(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        """The channels an alert with these labels goes to (raw channels get every alert)."""
        names: dict[str, None] = {}
        for route in self.routes:
            if route.matches(labels):
                names.update(dict.fromkeys(route.channels))
                if not route.continue_:
                    break
        return tuple(names) or self.default

    def repeat_for(self, severity: str) -> float:
        """Seconds between notifications of a still-firing alert of this severity."""
        return self.repeat_interval.get(severity, self.repeat_default)


def load_notify(source: str | os.PathLike[str] | Mapping[str, Any] | None) -> NotifyConfig:
    """Load a notify file (YAML), or an already-parsed mapping; ``None`` is the default: every
    alert goes to the log channel."""
    base = Path.cwd()
    if source is None:
        raw: Any = {}
        name = "<default notify config>"
    elif isinstance(source, Mapping):
        raw, name = source, "<notify config>"
    else:
        path = Path(source)
        name, base = str(path), path.parent
        try:
            raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_YamlLoader)
        except OSError as exc:
            raise ConfigError(f"{name}: cannot read the notify file ({exc.strerror})") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{name}: the notify file is not UTF-8 (byte {exc.start})") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or "invalid YAML"
            raise ConfigError(f"{name}:{where}: {problem}") from None
    return _Loader(name, base).load({} if raw is None else raw)


class _Loader:
    def __init__(self, source: str, base: Path) -> None:
        self.source = source
        self.base = base

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: {key}: {message}")

    def load(self, raw: Any) -> NotifyConfig:
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{self.source}: the notify file must be a mapping of settings")
        for key in raw:
            if key not in _TOP_KEYS:
                raise self.error(str(key), f"unknown key (known: {', '.join(_TOP_KEYS)})")
        rate_limit = self.rate_limit(raw.get("rate_limit", {}), "rate_limit")
        send_resolved = self.flag(raw.get("send_resolved", True), "send_resolved")
        channels = self.channels(raw.get("channels") or {}, rate_limit, send_resolved)
        routes = tuple(self.route(r, i, channels) for i, r in enumerate(self.items(raw, "routes")))
        if "default" in raw:
            default = self.channel_names(raw["default"], "default", channels)
        else:
            default = ("log",)
            if "log" not in channels:
                log = self.channel("log", {"type": "log"}, rate_limit, send_resolved)
                channels["log"] = log
        repeat = dict(DEFAULT_REPEAT)
        repeat_default = DEFAULT_REPEAT_FALLBACK
        for severity, value in self.mapping(raw.get("repeat_interval") or {}, "repeat_interval"):
            seconds = self.duration(value, f"repeat_interval.{severity}")
            if severity == "default":
                repeat_default = seconds
            else:
                repeat[severity] = seconds
        history = raw.get("history")
        return NotifyConfig(
            channels=channels,
            routes=routes,
            default=default,
            repeat_interval=repeat,
            repeat_default=repeat_default,
            retry=self.retry(raw.get("retry") or {}),
            circuit_breaker=self.breaker(raw.get("circuit_breaker") or {}),
            history=None if history is None else self.base / str(history),
            handlers=tuple(self.handler(h, i) for i, h in enumerate(self.items(raw, "handlers"))),
            source=self.source,
        )

    # -- channels and routes ----------------------------------------------------------

    def channels(
        self, raw: Any, rate_limit: RateLimit | None, send_resolved: bool
    ) -> dict[str, ChannelConfig]:
        return {
            name: self.channel(name, settings, rate_limit, send_resolved)
            for name, settings in self.mapping(raw, "channels")
        }

    def channel(
        self, name: str, raw: Any, rate_limit: RateLimit | None, send_resolved: bool
    ) -> ChannelConfig:
        key = f"channels.{name}"
        if not isinstance(raw, Mapping) or "type" not in raw:
            raise self.error(key, "must be a mapping with a type")
        types = channel_types()
        cls = types.get(str(raw["type"]))
        if cls is None:
            known = ", ".join(sorted(types))
            raise self.error(
                f"{key}.type", f"unknown channel type {raw['type']!r} (known: {known})"
            )
        settings = {
            # like `history`, the files that a notify file names are relative to it
            key: str(self.base / value)
            if key.endswith("_file") and isinstance(value, str)
            else value
            for key, value in raw.items()
            if key not in _DISPATCH_KEYS
        }
        try:
            channel = cls(name, settings)
        except ConfigError as exc:
            raise ConfigError(f"{self.source}: {exc}") from None
        except Exception as exc:  # a bug in the channel; its message might hold a secret
            raise self.error(key, f"cannot set up the channel ({type(exc).__name__})") from None
        if "rate_limit" in raw:
            rate_limit = self.rate_limit(raw["rate_limit"], f"{key}.rate_limit")
        if "send_resolved" in raw:
            send_resolved = self.flag(raw["send_resolved"], f"{key}.send_resolved")
        return ChannelConfig(channel, rate_limit, send_resolved)

    def route(self, raw: Any, index: int, channels: dict[str, ChannelConfig]) -> Route:
        key = f"routes[{index}]"
        if not isinstance(raw, Mapping):
            raise self.error(key, "must be a mapping")
        self.known_keys(raw, _ROUTE_KEYS, key)
        if "channels" not in raw:
            raise self.error(key, "channels is required")
        match_re = {}
        for label, text in self.mapping(raw.get("match_re") or {}, f"{key}.match_re"):
            try:
                match_re[label] = re.compile(str(text))
            except re.error as exc:
                raise self.error(
                    f"{key}.match_re.{label}", f"bad regular expression {text!r} ({exc})"
                ) from None
        return Route(
            channels=self.channel_names(raw["channels"], f"{key}.channels", channels),
            match=self.labels(raw.get("match") or {}, f"{key}.match"),
            match_re=match_re,
            continue_=self.flag(raw.get("continue", False), f"{key}.continue"),
        )

    def channel_names(
        self, raw: Any, key: str, channels: dict[str, ChannelConfig]
    ) -> tuple[str, ...]:
        names = [raw] if isinstance(raw, str) else raw
        if not isinstance(names, list) or not names:
            raise self.error(key, "must be a non-empty list of channel names")
        for name in names:
            if name not in channels:
                defined = ", ".join(sorted(channels)) or "none"
                raise self.error(key, f"channel {name!r} is not defined (defined: {defined})")
            if channels[name].channel.raw:
                raise self.error(
                    key,
                    f"channel {name!r} receives every alert and routes them itself "
                    f"({channels[name].channel.kind}); routes cannot name it",
                )
        return tuple(dict.fromkeys(str(name) for name in names))

    # -- handlers ---------------------------------------------------------------------

    def handler(self, raw: Any, index: int) -> Handler:
        key = f"handlers[{index}]"
        if not isinstance(raw, Mapping) or "call" not in raw:
            raise self.error(key, "must be a mapping with call: 'module:function'")
        # a YAML 1.1 parser (yaml.safe_load) reads the key `on` as True
        raw = {"on" if k is True else k: v for k, v in raw.items()}
        self.known_keys(raw, _HANDLER_KEYS, key)
        path = str(raw["call"])
        try:
            func = import_callable(path)
        except ValueError as exc:
            raise self.error(f"{key}.call", f"cannot import {path!r} ({exc})") from None
        alertname = raw.get("alertname")
        return Handler(
            func,
            alertname=None if alertname is None else str(alertname),
            match=self.labels(raw.get("match") or {}, f"{key}.match"),
            on=check_events(raw.get("on", ("firing", "resolved")), where=f"{self.source}: {key}"),
        )

    # -- values -----------------------------------------------------------------------

    def rate_limit(self, raw: Any, key: str) -> RateLimit | None:
        if raw is None or raw == "none":
            return None
        if not isinstance(raw, Mapping):
            raise self.error(key, "must be {per_minute: N, burst: N} or none")
        self.known_keys(raw, ("per_minute", "burst"), key)
        per_minute = raw.get("per_minute", RateLimit.per_minute)
        burst = raw.get("burst", RateLimit.burst)
        if not _number(per_minute) or per_minute <= 0:
            raise self.error(f"{key}.per_minute", f"must be a number above 0, not {per_minute!r}")
        if not _integer(burst) or burst < 1:
            raise self.error(f"{key}.burst", f"must be a whole number of at least 1, not {burst!r}")
        return RateLimit(float(per_minute), int(burst))

    def retry(self, raw: Any) -> RetryPolicy:
        if not isinstance(raw, Mapping):
            raise self.error("retry", "must be a mapping")
        self.known_keys(raw, ("attempts", "backoff", "max_backoff"), "retry")
        attempts = raw.get("attempts", RetryPolicy.attempts)
        if not _integer(attempts) or attempts < 1:
            raise self.error(
                "retry.attempts", f"must be a whole number of at least 1, not {attempts!r}"
            )
        return RetryPolicy(
            attempts=int(attempts),
            backoff=self.duration(raw.get("backoff", "1s"), "retry.backoff"),
            max_backoff=self.duration(raw.get("max_backoff", "30s"), "retry.max_backoff"),
        )

    def breaker(self, raw: Any) -> BreakerPolicy:
        if not isinstance(raw, Mapping):
            raise self.error("circuit_breaker", "must be a mapping")
        self.known_keys(raw, ("failures", "reset_after"), "circuit_breaker")
        failures = raw.get("failures", BreakerPolicy.failures)
        if not _integer(failures) or failures < 1:
            raise self.error(
                "circuit_breaker.failures",
                f"must be a whole number of at least 1, not {failures!r}",
            )
        reset = self.duration(raw.get("reset_after", "5m"), "circuit_breaker.reset_after")
        return BreakerPolicy(int(failures), reset)

    def duration(self, raw: Any, key: str) -> float:
        if _number(raw) and raw >= 0:
            return float(raw)  # a bare number is seconds
        try:
            return parse_duration(raw)
        except ValueError:
            raise self.error(key, f"bad duration {raw!r} (use e.g. 10s, 5m, 1h30m)") from None

    def flag(self, raw: Any, key: str) -> bool:
        if not isinstance(raw, bool):
            raise self.error(key, f"must be true or false, not {raw!r}")
        return raw

    def labels(self, raw: Any, key: str) -> dict[str, str]:
        return {label: _scalar(value, key, self) for label, value in self.mapping(raw, key)}

    def mapping(self, raw: Any, key: str) -> list[tuple[str, Any]]:
        if not isinstance(raw, Mapping):
            raise self.error(key, "must be a mapping")
        return [(str(k), v) for k, v in raw.items()]

    def items(self, raw: Mapping[str, Any], key: str) -> list[Any]:
        value = raw.get(key) or []
        if not isinstance(value, list):
            raise self.error(key, "must be a list")
        return value

    def known_keys(self, raw: Mapping[str, Any], known: tuple[str, ...], key: str) -> None:
        for name in raw:
            if name not in known:
                raise self.error(f"{key}.{name}", f"unknown key (known: {', '.join(known)})")


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _scalar(value: Any, key: str, loader: _Loader) -> str:
    if isinstance(value, (Mapping, list)) or value is None:
        raise loader.error(key, f"label values must be strings, not {value!r}")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
