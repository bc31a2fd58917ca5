"""Notifications of the alert evaluator: channels, routing, limits, handlers and history.

A notify file (:func:`load_notify`) says where alerts go; a :class:`Notifier` made from it gets
each group evaluation's alerts and sends what changed, runs the handlers and keeps the history.
"""

from __future__ import annotations

from ._channel import Channel, DeliveryError, Notification, channel_types, register, secret
from ._config import NotifyConfig, load_notify, parse_duration
from ._dispatch import Notifier
from ._handlers import (
    Handler,
    HandlerRegistry,
    clear_handlers,
    default_handlers,
    on_alert,
    remove_handler,
)
from ._history import History, HistoryEntry, format_history

__all__ = [
    "Channel",
    "DeliveryError",
    "Handler",
    "HandlerRegistry",
    "History",
    "HistoryEntry",
    "Notification",
    "Notifier",
    "NotifyConfig",
    "channel_types",
    "clear_handlers",
    "default_handlers",
    "format_history",
    "load_notify",
    "on_alert",
    "parse_duration",
    "register",
    "remove_handler",
    "secret",
]
