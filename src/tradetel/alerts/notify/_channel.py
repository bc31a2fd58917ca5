"""What a notification channel is: the interface between the dispatcher and each channel."""

from __future__ import annotations

import importlib
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from ..._errors import ConfigError
from .._model import Alert

__all__ = ["Channel", "DeliveryError", "Notification", "channel_types", "register", "secret"]

_C = TypeVar("_C", bound="type[Channel]")
_TYPES: dict[str, type[Channel]] = {}
#: the modules that define the built-in channels; each registers its classes on import
_CHANNEL_MODULES = ("._channels",)


@dataclass
class Notification:
    """One message for one channel: alerts of the same status, plus what rate limits held back."""

    channel: str
    status: Literal["firing", "resolved"]
    alerts: list[Alert]
    #: notifications that the channel's rate limit held back since its last message
    held_back: int = 0
    #: their alert names, for the summary line
    held_back_names: list[str] = field(default_factory=list)


class DeliveryError(Exception):
    """A delivery failed.  The message never contains a URL, token or password."""

    def __init__(
        self, message: str, *, retryable: bool = True, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class Channel(ABC):
    """A place notifications go.  ``send`` runs on the channel's own worker thread.

    A ``raw`` channel (Alertmanager) gets every evaluation's full snapshot through
    :meth:`send_snapshot` instead of deduplicated notifications, and applies Prometheus'
    sending rules itself (ALERTING.md semantic 18).
    """

    kind: ClassVar[str]
    raw: ClassVar[bool] = False

    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        self.name = name
        self.config = config

    @abstractmethod
    def send(self, notification: Notification) -> None:
        """Deliver one notification, or raise :class:`DeliveryError`."""

    def send_snapshot(self, now: float, interval: float, alerts: Sequence[Alert]) -> None:
        """For raw channels: one group evaluation's alerts (pending, firing, resolved)."""
        raise NotImplementedError

    def close(self) -> None:  # noqa: B027 - optional: most channels hold no connection
        """Release connections; called once at shutdown."""


def register(cls: _C) -> _C:
    """Class decorator: make a channel class available under its ``kind``."""
    _TYPES[cls.kind] = cls
    return cls


def channel_types() -> dict[str, type[Channel]]:
    """Every channel kind, by the name used in ``type:`` of a notify file."""
    for module in _CHANNEL_MODULES:
        importlib.import_module(module, __package__)
    return dict(_TYPES)


def secret(
    config: Mapping[str, Any],
    key: str,
    *,
    channel: str,
    required: bool = True,
    read: Callable[[Path], str] = lambda p: p.read_text(encoding="utf-8"),
) -> str | None:
    """A secret setting, from ``KEY``, ``KEY_env`` (a variable's name) or ``KEY_file`` (a path).

    Errors name the channel, the key and the variable or file, never the secret's value.
    """
    if config.get(f"{key}_env"):
        name = str(config[f"{key}_env"])
        value = os.environ.get(name)
        if not value:
            raise ConfigError(f"channel {channel!r}: {key}_env names {name}, which is not set")
        return value
    if config.get(f"{key}_file"):
        path = Path(str(config[f"{key}_file"]))
        try:
            value = read(path).strip()
        except OSError as exc:
            raise ConfigError(
                f"channel {channel!r}: {key}_file {path} cannot be read ({exc.strerror})"
            ) from None
        if not value:
            raise ConfigError(f"channel {channel!r}: {key}_file {path} is empty")
        return value
    if config.get(key):
        return str(config[key])
    if required:
        raise ConfigError(f"channel {channel!r}: {key} (or {key}_env / {key}_file) is required")
    return None
