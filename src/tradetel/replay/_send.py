"""Sending one request: the outcome of an export, and the retry loop around the transports.

A transport (``_http.HttpSender``, ``_grpc.GrpcSender``) makes one attempt and either
returns an ``Outcome`` (accepted, perhaps partly, or refused) or raises ``Retryable``;
``send()`` retries those with backoff and gives up after the last one. The transports are
imported on demand so that HTTP replays never load gRPC.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, Protocol

from ..exporters._otlpjson import Request, Signal
from ._retry import Backoff, Retryable
from ._target import Target

__all__ = ["Outcome", "Sender", "accepted", "open_sender", "send"]

#: The ``rejected_*`` field of each signal's ``partial_success``.
_REJECTED = {
    "traces": "rejected_spans",
    "metrics": "rejected_data_points",
    "logs": "rejected_log_records",
}


@dataclass(frozen=True)
class Outcome:
    """What became of one request.

    ``accepted``: the endpoint took it (``rejected`` items of it refused by a partial
    success, with ``message``). ``refused``: the whole request was refused. ``failed``: it
    could not be delivered at all. ``stop`` means later requests cannot fare better (a
    wrong path, bad credentials, an unreachable endpoint), so the replay should end.
    Messages are redacted.
    """

    kind: Literal["accepted", "refused", "failed"]
    message: str = ""
    rejected: int = 0
    stop: bool = False
    retries: int = 0


class Sender(Protocol):
    """One transport to one endpoint; ``attempt`` raises ``Retryable`` or returns."""

    def attempt(self, signal: Signal, request: Request) -> Outcome: ...

    def close(self) -> None: ...


def open_sender(target: Target, timeout: float) -> Sender:
    """The transport for ``target``'s protocol, ready to send."""
    if target.protocol == "grpc":
        from ._grpc import GrpcSender

        return GrpcSender(target, timeout)
    from ._http import HttpSender

    return HttpSender(target, timeout)


def send(
    sender: Sender, signal: Signal, request: Request, retries: int, backoff: Backoff
) -> Outcome:
    """Send ``request``, retrying what may pass up to ``retries`` times."""
    for retry in range(retries + 1):
        try:
            outcome = sender.attempt(signal, request)
        except Retryable as exc:
            if retry == retries:
                attempts = "1 attempt" if retries == 0 else f"{retries + 1} attempts"
                return Outcome(
                    "failed", f"gave up after {attempts}: {exc.message}", stop=True, retries=retry
                )
            backoff.wait(retry, exc.delay)
            continue
        return replace(outcome, retries=retry)
    raise AssertionError("unreachable: the loop returns on its last attempt")


def accepted(signal: Signal, response: object, target: Target) -> Outcome:
    """The outcome of a successful export, from the response's ``partial_success``."""
    partial = getattr(response, "partial_success", None)
    rejected = int(getattr(partial, _REJECTED[signal], 0) or 0)
    message = str(getattr(partial, "error_message", "") or "")
    if rejected and not message:
        message = "no reason given"
    return Outcome("accepted", target.redact(message) if rejected else "", rejected=rejected)
