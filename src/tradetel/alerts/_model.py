"""The alert as the engine hands it to notifications, history and the API."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Alert", "AlertState", "fingerprint"]

AlertState = Literal["pending", "firing", "inactive"]


def fingerprint(labels: dict[str, str]) -> str:
    """A stable id for a label set: 16 hex digits of SHA-256 over the sorted pairs."""
    digest = hashlib.sha256()
    for key in sorted(labels):
        digest.update(key.encode())
        digest.update(b"\xff")
        digest.update(labels[key].encode())
        digest.update(b"\xff")
    return digest.hexdigest()[:16]


@dataclass
class Alert:
    """One alert instance of an alerting rule.

    ``labels`` include ``alertname``.  Times are epoch seconds.  ``state`` is ``inactive``
    for a resolved alert, which the engine keeps (and re-sends) for 15 minutes.
    """

    labels: dict[str, str]
    annotations: dict[str, str]
    state: AlertState
    value: float
    active_at: float
    fired_at: float | None = None
    resolved_at: float | None = None
    #: set while ``keep_firing_for`` keeps a firing alert whose expression is no longer true
    keep_firing_since: float | None = None
    generator_url: str = ""
    fingerprint: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.fingerprint:
            self.fingerprint = fingerprint(self.labels)

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "")
