"""The exceptions that users of tradetel may have to handle.

They are raised only at configure, load or decoration time, never from the hot path.
"""

from __future__ import annotations

__all__ = ["ConfigError", "RuleError", "TradetelError"]


class TradetelError(Exception):
    """Base class of every error that tradetel raises on purpose."""


class ConfigError(TradetelError, ValueError):
    """A configuration value is wrong; the message names the value and where it came from."""


class RuleError(TradetelError, ValueError):
    """An alert rule file is wrong; the message names the file, group, rule and construct."""
