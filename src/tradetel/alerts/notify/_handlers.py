"""Handlers: Python callables that run when an alert fires or resolves (pause trading...).

``@on_alert`` registers a handler in the module-level default registry, which the embedded
evaluator uses; tests make their own :class:`HandlerRegistry`.  The notifier runs handlers on a
worker thread of their own, and a handler's exception is logged, never propagated.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, overload

from ..._errors import ConfigError
from .._model import Alert

__all__ = [
    "EVENTS",
    "Handler",
    "HandlerFunc",
    "HandlerRegistry",
    "default_handlers",
    "import_callable",
    "on_alert",
    "remove_handler",
]

HandlerFunc = Callable[[Alert], None]
Event = Literal["firing", "resolved"]
#: the events a handler can run on
EVENTS: tuple[Event, ...] = ("firing", "resolved")


@dataclass
class Handler:
    """A callable and the alerts it runs for: an alert name, label equalities, and events."""

    func: HandlerFunc
    alertname: str | None = None
    match: Mapping[str, str] = field(default_factory=dict)
    on: tuple[str, ...] = EVENTS

    def __post_init__(self) -> None:
        self.on = check_events(self.on, where=f"handler {self.name}")

    @property
    def name(self) -> str:
        """The callable's import path, as logs show it (``mybot.risk:pause_trading``)."""
        module = getattr(self.func, "__module__", None) or "?"
        qualname = getattr(self.func, "__qualname__", None) or repr(self.func)
        return f"{module}:{qualname}"

    def applies(self, alert: Alert, event: str) -> bool:
        """Does this handler run for ``alert`` on ``event`` (``firing`` or ``resolved``)?"""
        if event not in self.on:
            return False
        if self.alertname is not None and alert.name != self.alertname:
            return False
        return all(alert.labels.get(key) == value for key, value in self.match.items())


def check_events(on: Iterable[str] | str, *, where: str) -> tuple[str, ...]:
    """``on`` as a tuple of known events; ConfigError naming ``where`` otherwise."""
    events = (on,) if isinstance(on, str) else tuple(on)
    unknown = [event for event in events if event not in EVENTS]
    if unknown or not events:
        raise ConfigError(
            f"{where}: on must list events among {', '.join(EVENTS)} (got {list(events)!r})"
        )
    return events


class HandlerRegistry:
    """Handlers registered with :meth:`on_alert`, in registration order."""

    def __init__(self) -> None:
        self._handlers: list[Handler] = []

    @overload
    def on_alert(self, func: HandlerFunc, /) -> HandlerFunc: ...

    @overload
    def on_alert(
        self,
        func: None = None,
        /,
        *,
        alertname: str | None = None,
        match: Mapping[str, str] | None = None,
        on: Iterable[str] = EVENTS,
    ) -> Callable[[HandlerFunc], HandlerFunc]: ...

    def on_alert(
        self,
        func: HandlerFunc | None = None,
        /,
        *,
        alertname: str | None = None,
        match: Mapping[str, str] | None = None,
        on: Iterable[str] = EVENTS,
    ) -> HandlerFunc | Callable[[HandlerFunc], HandlerFunc]:
        """Decorator: run the function with the :class:`Alert` when a matching alert fires or
        resolves.  The function is returned unchanged.

        Args:
            alertname: only alerts of this name (default: every alert).
            match: only alerts whose labels have these values.
            on: the events, among ``firing`` and ``resolved``.
        """
        events = tuple(on)

        def register(function: HandlerFunc) -> HandlerFunc:
            self._handlers.append(Handler(function, alertname, dict(match or {}), events))
            return function

        return register(func) if func is not None else register

    def handlers(self) -> tuple[Handler, ...]:
        """The registered handlers."""
        return tuple(self._handlers)

    def remove(self, func: HandlerFunc) -> bool:
        """Forget the handlers of ``func``; whether there were any."""
        kept = [h for h in self._handlers if h.func is not func]
        removed = len(kept) != len(self._handlers)
        self._handlers[:] = kept
        return removed

    def clear(self) -> None:
        """Forget every handler."""
        self._handlers.clear()


_default = HandlerRegistry()
on_alert = _default.on_alert
default_handlers = _default.handlers
clear_handlers = _default.clear
remove_handler = _default.remove


def import_callable(path: str) -> HandlerFunc:
    """``module:attr`` (``attr`` may be dotted) imported; ValueError saying why otherwise."""
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError("expected 'module:function'")
    try:
        target: object = importlib.import_module(module_name)
    except Exception as exc:  # an import runs user code: any failure is the user's to see
        raise ValueError(f"{type(exc).__name__}: {exc}") from None
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ValueError(f"{module_name} has no attribute {attr!r}") from None
    if not callable(target):
        raise ValueError(f"{attr} is not callable")
    func: HandlerFunc = target  # a callable of unknown signature: checked when it runs
    return func
