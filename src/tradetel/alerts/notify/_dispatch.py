"""The notifier: from each group evaluation's alerts to notifications, handlers and history.

``update`` runs on the evaluator's thread and only decides what is due - a firing alert when it
starts firing and again every repeat interval of its severity, a resolution once - then hands
the work to worker threads with bounded queues: one per channel, one for handlers, one for the
history.  A channel's worker applies its rate limit, retries and circuit breaker, so a slow or
failing channel delays nothing but itself.
"""

from __future__ import annotations

import copy
import logging
import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

from ..._internal import report_internal_error, warn_once
from .._model import Alert
from ._channel import DeliveryError, Notification
from ._config import BreakerPolicy, ChannelConfig, NotifyConfig, RetryPolicy
from ._handlers import Handler
from ._history import History
from ._limits import CircuitBreaker, TokenBucket

__all__ = ["Notifier"]

logger = logging.getLogger("tradetel")

Status = Literal["firing", "resolved"]
Due = dict[str, dict[Status, list[Alert]]]
Change = tuple[Alert, str, float]  # an alert, the state it entered, and when
#: a firing alert missing from every update for this long is forgotten (its rule was removed)
_FORGET_FIRING_AFTER = 24 * 3600.0
#: the longest a worker with held-back notifications sleeps before looking at the clock again
_RECHECK = 5.0
_COUNTERS = ("sent", "failed", "retried", "held_back", "dropped")


@dataclass
class _Seen:
    """What the notifier last saw of one alert (by fingerprint)."""

    state: str
    active_at: float
    last_seen: float
    interval: float
    channels: tuple[str, ...]
    last_sent: float = -math.inf
    pending: Alert | None = None  # as recorded when it became pending


class Notifier:
    """Sends what each evaluation changed to the channels, handlers and history of a config."""

    def __init__(
        self,
        config: NotifyConfig,
        *,
        handlers: Sequence[Handler] = (),
        history: History | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
        queue_size: int = 1000,
    ) -> None:
        """Start the workers.

        Args:
            handlers: run besides the notify file's own handlers.
            history: where state changes go; by default the notify file's ``history``, which
                the notifier then opens and closes.
            clock: epoch seconds, for rate limits and circuit breakers.
            sleep: waits between retries (default: a wait that :meth:`close` cuts short).
            queue_size: the bound of each worker's queue; what overflows is counted.
        """
        self.config = config
        self._handlers = (*config.handlers, *handlers)
        self._own_history = history is None and config.history is not None
        if self._own_history and config.history is not None:
            history = History(config.history)
        self._history = history
        self._lock = threading.Lock()
        self._seen: dict[str, _Seen] = {}
        self._closed = False
        self._channels = {
            name: _ChannelWorker(
                spec, config.retry, config.circuit_breaker, clock, sleep, queue_size
            )
            for name, spec in config.channels.items()
        }
        self._handler_worker = _Worker("tradetel-alert-handlers", queue_size)
        self._history_worker = _Worker("tradetel-alert-history", queue_size)
        self._workers: list[_Worker] = [
            *self._channels.values(), self._handler_worker, self._history_worker
        ]  # fmt: skip
        for worker in self._workers:
            worker.start()

    def update(
        self,
        now: float,
        interval: float,
        alerts: Sequence[Alert],
        frozen: Sequence[Alert] = (),
    ) -> None:
        """One group evaluation's alerts: pending, firing and resolved (``inactive``) ones.

        ``frozen`` are the alerts of rules whose query failed: nothing is sent or recorded
        for them (ALERTING.md semantic 9), and they are not taken for gone.
        Returns at once and never raises: the sending happens on the workers."""
        if self._closed:
            return
        try:
            due: Due = defaultdict(lambda: defaultdict(list))
            changes: list[Change] = []
            with self._lock:
                for alert in frozen:
                    if (seen := self._seen.get(alert.fingerprint)) is not None:
                        seen.last_seen = now
                for alert in alerts:
                    self._observe(alert, now, max(interval, 1.0), due, changes)
                self._sweep(now, changes)
            raw = [worker for worker in self._channels.values() if worker.raw]
            if raw:
                snapshot = [_copy(alert) for alert in alerts]
                for worker in raw:
                    worker.put_snapshot(now, interval, snapshot)
            for name, by_status in due.items():
                for status, batch in by_status.items():
                    self._channels[name].put_notification(status, batch)
            if changes:
                self._record(changes)
                for alert, state, _ in changes:
                    if state in ("firing", "resolved"):
                        self._run_handlers(alert, state)
        except Exception as exc:
            report_internal_error("alert notifications", exc)

    def _observe(
        self, alert: Alert, now: float, interval: float, due: Due, changes: list[Change]
    ) -> None:
        seen = self._seen.get(alert.fingerprint)
        if seen is None:
            route = self.config.route(alert.labels)
            seen = self._seen[alert.fingerprint] = _Seen("", alert.active_at, now, interval, route)
        change, send = self._transition(alert, seen, now)
        seen.state, seen.active_at = alert.state, alert.active_at
        seen.last_seen, seen.interval = now, interval
        if change is None and not send:
            return
        snapshot = _copy(alert)  # the engine may change its own alert after this call
        if change is not None:
            state, at = change
            changes.append((snapshot, state, at))
            seen.pending = snapshot if state == "pending" else None
        if send:
            status: Status = "firing" if alert.state == "firing" else "resolved"
            for name in seen.channels:
                if status == "firing" or self.config.channels[name].send_resolved:
                    due[name][status].append(snapshot)

    def _transition(
        self, alert: Alert, seen: _Seen, now: float
    ) -> tuple[tuple[str, float] | None, bool]:
        """The state change to record (state, time), if any, and whether to notify."""
        # the same fingerprint with another activeAt is a new episode of the alert
        same = seen.state == alert.state and seen.active_at == alert.active_at
        if alert.state == "pending":
            return (None if same else ("pending", alert.active_at)), False
        if alert.state == "firing":
            change = None if same else ("firing", now if alert.fired_at is None else alert.fired_at)
            send = not same or now - seen.last_sent >= self.config.repeat_for(alert.severity)
            if send:
                seen.last_sent = now
            return change, send
        if seen.state == "firing":
            return ("resolved", now if alert.resolved_at is None else alert.resolved_at), True
        return (("inactive", now) if seen.state == "pending" else None), False

    def _sweep(self, now: float, changes: list[Change]) -> None:
        """Forget the alerts that the engine stopped reporting.  A pending alert whose
        expression is no longer true is dropped without an ``inactive`` state (semantic 5):
        missing for two intervals, it is recorded as ``inactive``."""
        gone = []
        for fingerprint, seen in self._seen.items():
            limit = 2 * seen.interval
            if seen.state == "firing":
                limit = max(limit, _FORGET_FIRING_AFTER)
            if now - seen.last_seen > limit:
                gone.append(fingerprint)
                if seen.state == "pending" and seen.pending is not None:
                    changes.append((seen.pending, "inactive", now))
        for fingerprint in gone:
            del self._seen[fingerprint]

    def _record(self, changes: list[Change]) -> None:
        # one job (and one transaction) per update, however many alerts changed
        if self._history is not None and not self._history_worker.put(
            partial(_record, self._history, changes)
        ):
            warn_once("alert history queue", "tradetel: the alert history queue is full; "
                      "%d state changes not recorded", len(changes))  # fmt: skip

    def _run_handlers(self, alert: Alert, event: str) -> None:
        for handler in self._handlers:
            if handler.applies(alert, event) and not self._handler_worker.put(
                partial(_call, handler, alert, event)
            ):
                logger.error("tradetel: the alert handler queue is full; %s not run for %s %s",
                             handler.name, alert.name, event)  # fmt: skip

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued notification, handler call and history record is done,
        and held-back summaries are sent where a token is free; False if time ran out."""
        deadline = time.monotonic() + timeout
        return all([worker.drain(deadline) for worker in self._workers])

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (within ``timeout``), stop the workers, close the channels."""
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + timeout
        for worker in self._workers:
            worker.drain(deadline)
        for worker in self._workers:
            worker.stop(deadline)
        if self._own_history and self._history is not None:
            self._history.close()

    def stats(self) -> dict[str, dict[str, int]]:
        """Per channel: sent, failed, retried, held_back, dropped and breaker_open (0 or 1)."""
        return {name: worker.stats() for name, worker in self._channels.items()}


class _Worker:
    """A daemon thread that runs jobs from a bounded queue, in order."""

    def __init__(self, name: str, capacity: int) -> None:
        self.name = name
        self.capacity = capacity
        self._cond = threading.Condition()
        self._queue: deque[Callable[[], None]] = deque()
        self._busy = False
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put(self, job: Callable[[], None]) -> bool:
        """Queue a job; False if the queue is full or the worker stopped."""
        with self._cond:
            if self._stopping.is_set() or len(self._queue) >= self.capacity:
                return False
            self._queue.append(job)
            self._cond.notify_all()
            return True

    def _next_locked(self) -> Callable[[], None] | None:
        return self._queue.popleft() if self._queue else None

    def _due_locked(self) -> bool:
        """Is there work besides the queue (a held-back summary)?"""
        return False

    def _wait_locked(self) -> float | None:
        return None

    def _run(self) -> None:
        while True:
            with self._cond:
                while (job := self._next_locked()) is None and not self._stopping.is_set():
                    self._cond.wait(self._wait_locked())
                if job is None:
                    break
                self._busy = True
            try:
                job()
            except Exception as exc:
                report_internal_error(f"worker {self.name}", exc)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
        self._finish()

    def _finish(self) -> None:
        """Runs on the worker's thread once it stops."""

    def drain(self, deadline: float) -> bool:
        """Wait (until ``deadline``, monotonic) for the queue and due work to be done."""
        with self._cond:
            self._cond.notify_all()  # a worker waiting for a token looks at the clock again
            while self._queue or self._busy or self._due_locked():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._thread.is_alive():
                    return False
                self._cond.wait(remaining)
            return True

    def stop(self, deadline: float) -> None:
        """Stop after the current job; what is still queued is discarded."""
        with self._cond:
            self._stopping.set()
            self._discard_locked(len(self._queue))
            self._queue.clear()
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(max(0.0, deadline - time.monotonic()))

    def _discard_locked(self, count: int) -> None:
        if count:
            logger.warning("tradetel: %s stopped with %d jobs not done", self.name, count)


class _ChannelWorker(_Worker):
    """One channel's worker: rate limit, circuit breaker, retries, held-back summaries."""

    def __init__(
        self,
        spec: ChannelConfig,
        retry: RetryPolicy,
        breaker: BreakerPolicy,
        clock: Callable[[], float],
        sleep: Callable[[float], None] | None,
        capacity: int,
    ) -> None:
        super().__init__(f"tradetel-notify-{spec.name}", capacity)
        self.channel = spec.channel
        self.raw = spec.channel.raw
        self._retry = retry
        self._clock = clock
        self._sleep = sleep or self._stopping.wait
        limit = spec.rate_limit
        # Alertmanager gets every evaluation's snapshot and limits itself
        self._bucket = (
            TokenBucket(limit.per_minute, limit.burst, clock()) if limit and not self.raw else None
        )
        self._breaker = CircuitBreaker(breaker.failures, breaker.reset_after)
        self._counts = dict.fromkeys(_COUNTERS, 0)
        self._held = 0
        self._held_names: dict[str, None] = {}
        self._held_status: Status = "firing"

    def stats(self) -> dict[str, int]:
        with self._cond:
            return {**self._counts, "breaker_open": int(self._breaker.open)}

    def put_notification(self, status: Status, alerts: list[Alert]) -> None:
        notification = Notification(self.channel.name, status, alerts)
        if not self.put(partial(self._deliver, notification)):
            with self._cond:
                self._counts["dropped"] += 1
                # told in the next message's summary, like a rate-limited one
                self._hold_locked(1, _names(alerts), status)
            warn_once(f"notify queue {self.name}", "tradetel: channel %r is not keeping up; "
                      "its queue is full", self.channel.name)  # fmt: skip

    def put_snapshot(self, now: float, interval: float, alerts: list[Alert]) -> None:
        if not self.put(partial(self._deliver_snapshot, now, interval, alerts)):
            with self._cond:
                self._counts["dropped"] += 1

    # -- on the worker thread ---------------------------------------------------------

    def _next_locked(self) -> Callable[[], None] | None:
        job = super()._next_locked()
        if job is None and self._due_locked():
            return self._deliver_summary
        return job

    def _due_locked(self) -> bool:
        now = self._clock()
        token = self._bucket is None or self._bucket.ready(now)
        return self._held > 0 and token and self._breaker.ready(now)

    def _wait_locked(self) -> float | None:
        if not self._held:
            return None
        now = self._clock()
        token = 0.0 if self._bucket is None else self._bucket.wait(now)
        return min(max(token, self._breaker.wait(now)), _RECHECK)

    def _admit_locked(self, now: float) -> bool:
        if self._bucket is not None and not self._bucket.ready(now):
            return False
        if not self._breaker.allow(now):
            return False
        if self._bucket is not None:
            self._bucket.take(now)
        return True

    def _hold_locked(self, count: int, names: Iterable[str], status: Status) -> None:
        self._held += count
        self._held_names.update(dict.fromkeys(names))
        self._held_status = status

    def _attach_locked(self, notification: Notification) -> None:
        notification.held_back = self._held
        notification.held_back_names = list(self._held_names)
        self._held = 0
        self._held_names = {}

    def _deliver(self, notification: Notification) -> None:
        with self._cond:
            if not self._admit_locked(self._clock()):
                self._counts["held_back"] += 1
                if not self._held and not self._breaker.open:
                    logger.info("tradetel: channel %r hit its rate limit; its next message "
                                "sums up what it holds back", self.channel.name)  # fmt: skip
                self._hold_locked(1, _names(notification.alerts), notification.status)
                return
            self._attach_locked(notification)
        self._settle(notification, self._try(partial(self.channel.send, notification),
                                             _describe(notification)))  # fmt: skip

    def _deliver_summary(self) -> None:
        with self._cond:
            if not self._held or not self._admit_locked(self._clock()):
                return
            notification = Notification(self.channel.name, self._held_status, [])
            self._attach_locked(notification)
        self._settle(notification, self._try(partial(self.channel.send, notification),
                                             _describe(notification)))  # fmt: skip

    def _deliver_snapshot(self, now: float, interval: float, alerts: list[Alert]) -> None:
        with self._cond:
            if not self._breaker.allow(self._clock()):
                self._counts["dropped"] += 1  # the next snapshot tells the same and more
                return
        send = partial(self.channel.send_snapshot, now, interval, alerts)
        self._settle(None, self._try(send, f"the state of {len(alerts)} alerts"))

    def _try(self, send: Callable[[], None], what: str) -> bool:
        """Send, retrying retryable failures with backoff; True if delivered."""
        for attempt in range(1, self._retry.attempts + 1):
            try:
                send()
                return True
            except DeliveryError as exc:
                reason = self._reason(exc)
                if not exc.retryable or attempt == self._retry.attempts or self._stopping.is_set():
                    logger.warning("tradetel: %s not delivered: %s", what, reason)
                    return False
                delay = self._retry.delay(attempt, exc.retry_after)
                with self._cond:
                    self._counts["retried"] += 1
                logger.info("tradetel: %s not delivered: %s; retrying in %gs", what, reason, delay)
                self._sleep(delay)
            except Exception as exc:
                # a bug in the channel; its message might hold a URL or token, so not shown
                report_internal_error(f"notification channel {self.channel.kind}", RuntimeError(
                    f"channel {self.channel.name!r} raised {type(exc).__name__} delivering {what}"
                ))  # fmt: skip
                return False
        return False

    def _reason(self, exc: DeliveryError) -> str:
        """The error's message (secret-free by contract), which names the channel."""
        reason = str(exc)
        prefix = f"channel {self.channel.name!r}"
        return reason if reason.startswith(prefix) else f"{prefix}: {reason}"

    def _settle(self, notification: Notification | None, delivered: bool) -> None:
        now = self._clock()
        with self._cond:
            if delivered:
                self._counts["sent"] += 1
                if self._breaker.success():
                    logger.warning("tradetel: channel %r delivers again", self.channel.name)
                return
            self._counts["failed"] += 1
            if notification is not None and notification.held_back:
                # the summary it carried still has to reach the user
                names = notification.held_back_names
                self._hold_locked(notification.held_back, names, notification.status)
            if self._breaker.failure(now):
                logger.warning(
                    "tradetel: channel %r failed %d deliveries in a row; its notifications "
                    "are held back for %gs (circuit breaker open)",
                    self.channel.name, self._breaker.failures, self._breaker.reset_after,
                )  # fmt: skip

    def _discard_locked(self, count: int) -> None:
        self._counts["dropped"] += count
        super()._discard_locked(count)

    def _finish(self) -> None:
        try:
            self.channel.close()
        except Exception as exc:
            report_internal_error(f"closing notification channel {self.channel.kind}", exc)


def _copy(alert: Alert) -> Alert:
    clone = copy.copy(alert)
    clone.labels = dict(alert.labels)
    clone.annotations = dict(alert.annotations)
    return clone


def _names(alerts: Iterable[Alert]) -> list[str]:
    return list(dict.fromkeys(alert.name for alert in alerts))


def _describe(notification: Notification) -> str:
    if not notification.alerts:
        return f"a summary of {notification.held_back} held-back notifications"
    return f"{notification.status} {', '.join(_names(notification.alerts))}"


def _record(history: History, changes: list[Change]) -> None:
    try:
        history.record_many(changes)
    except Exception as exc:  # a full disk, a locked file: outside tradetel
        warn_once("alert history write", "tradetel: cannot write the alert history (%s)", exc)


def _call(handler: Handler, alert: Alert, event: str) -> None:
    try:
        handler.func(alert)
    except Exception:
        logger.exception(
            "tradetel: alert handler %s failed on %s %s", handler.name, alert.name, event
        )
