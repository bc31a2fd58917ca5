"""The notifier: what is due when, routing, batching, rate limits, retries, breaker, handlers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tradetel.alerts import notify
from tradetel.alerts._model import Alert
from tradetel.alerts.notify import (
    Channel,
    DeliveryError,
    Handler,
    HandlerRegistry,
    History,
    Notification,
    Notifier,
    _channel,
    channel_types,
    load_notify,
)

T0 = 1_700_000_000.0


# These channels stand in for real ones: the point here is the dispatcher's logic (what is
# due, batching, limits, retries, breaker); the real channels have their own tests.
class Recorder(Channel):
    kind = "test-recorder"

    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        self.sent: list[Notification] = []
        self.failures: list[DeliveryError] = []  # raised, in order, before deliveries succeed
        self.calls = 0
        self.gate: threading.Event | None = None  # when set, send waits for it
        self.entered = threading.Event()
        self.closed = False

    def send(self, notification: Notification) -> None:
        self.calls += 1
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(notification)

    def close(self) -> None:
        self.closed = True


class SnapshotRecorder(Channel):
    kind = "test-snapshots"
    raw = True

    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        self.snapshots: list[tuple[float, float, list[Alert]]] = []

    def send(self, notification: Notification) -> None:
        raise AssertionError("a raw channel gets snapshots only")

    def send_snapshot(self, now: float, interval: float, alerts: Sequence[Alert]) -> None:
        self.snapshots.append((now, interval, list(alerts)))


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _test_channels(monkeypatch: pytest.MonkeyPatch) -> None:
    channel_types()  # import the built-in channels first
    monkeypatch.setitem(_channel._TYPES, Recorder.kind, Recorder)
    monkeypatch.setitem(_channel._TYPES, SnapshotRecorder.kind, SnapshotRecorder)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make(clock: Clock, sleeps: list[float]) -> Iterator[Callable[..., Notifier]]:
    made: list[Notifier] = []

    def make(config: Mapping[str, Any], **kwargs: Any) -> Notifier:
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("sleep", sleeps.append)
        notifier = Notifier(load_notify(config), **kwargs)
        made.append(notifier)
        return notifier

    yield make
    for notifier in made:
        notifier.close()


def one(channels: Mapping[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    """A notify config whose alerts all go to ``out`` (a recorder) unless routed otherwise."""
    return {
        "channels": channels or {"out": {"type": "test-recorder", "rate_limit": "none"}},
        "default": ["out"],
        **top,
    }


def channel(notifier: Notifier, name: str = "out") -> Recorder:
    found = notifier.config.channels[name].channel
    assert isinstance(found, Recorder)
    return found


def alert(
    name: str = "DrawdownLimit",
    state: str = "firing",
    severity: str = "critical",
    active_at: float = T0,
    **labels: str,
) -> Alert:
    return Alert(
        labels={"alertname": name, "severity": severity, **labels},
        annotations={"summary": f"{name} summary"},
        state=state,  # type: ignore[arg-type]
        value=0.15,
        active_at=active_at,
        fired_at=active_at if state != "pending" else None,
        resolved_at=active_at + 30 if state == "inactive" else None,
    )


def sent_names(recorder: Recorder) -> list[tuple[str, list[str]]]:
    return [(n.status, [a.name for a in n.alerts]) for n in recorder.sent]


def test_the_public_api_is_pinned() -> None:
    assert notify.__all__ == [
        "Channel", "DeliveryError", "Handler", "HandlerRegistry", "History", "HistoryEntry",
        "Notification", "Notifier", "NotifyConfig", "channel_types", "clear_handlers",
        "default_handlers",
        "format_history", "load_notify", "on_alert", "parse_duration", "register", "remove_handler",
        "secret",
    ]  # fmt: skip


# -- what is due -------------------------------------------------------------------------


def test_a_firing_alert_is_sent_once_when_it_starts_firing_whatever_the_evaluations(
    make: Callable[..., Notifier],
) -> None:
    notifier = make(one())
    for step in range(3):
        notifier.update(T0 + 15 * step, 15, [alert()])
    assert notifier.flush()
    assert sent_names(channel(notifier)) == [("firing", ["DrawdownLimit"])]


def test_a_still_firing_alert_is_sent_again_each_repeat_interval_of_its_severity(
    make: Callable[..., Notifier],
) -> None:
    notifier = make(one())
    for step in range(9):  # 0 .. 120 s; critical repeats every minute
        notifier.update(T0 + 15 * step, 15, [alert(severity="critical")])
    assert notifier.flush()
    assert len(channel(notifier).sent) == 3


def test_an_unknown_severity_repeats_at_the_default_interval(
    make: Callable[..., Notifier],
) -> None:
    notifier = make(one(repeat_interval={"default": "2m"}))
    for step in range(9):
        notifier.update(T0 + 15 * step, 15, [alert(severity="page-someone")])
    assert notifier.flush()
    assert len(channel(notifier).sent) == 2  # at 0 s and 120 s


def test_pending_alerts_are_never_sent(make: Callable[..., Notifier]) -> None:
    notifier = make(one())
    notifier.update(T0, 15, [alert(state="pending")])
    notifier.update(T0 + 15, 15, [alert(state="pending")])
    assert notifier.flush()
    assert channel(notifier).sent == []


def test_a_resolved_alert_is_sent_once(make: Callable[..., Notifier]) -> None:
    notifier = make(one())
    notifier.update(T0, 15, [alert()])
    for step in (1, 2, 3):  # the engine keeps a resolved alert and reports it again
        notifier.update(T0 + 15 * step, 15, [alert(state="inactive")])
    assert notifier.flush()
    assert sent_names(channel(notifier)) == [
        ("firing", ["DrawdownLimit"]),
        ("resolved", ["DrawdownLimit"]),
    ]


def test_a_channel_with_send_resolved_false_gets_no_resolutions(
    make: Callable[..., Notifier],
) -> None:
    notifier = make(
        one({"out": {"type": "test-recorder", "rate_limit": "none", "send_resolved": False}})
    )
    notifier.update(T0, 15, [alert()])
    notifier.update(T0 + 15, 15, [alert(state="inactive")])
    assert notifier.flush()
    assert sent_names(channel(notifier)) == [("firing", ["DrawdownLimit"])]


def test_an_alert_that_fires_again_after_resolving_is_sent_again(
    make: Callable[..., Notifier],
) -> None:
    notifier = make(one())
    notifier.update(T0, 15, [alert()])
    notifier.update(T0 + 15, 15, [alert(state="inactive")])
    notifier.update(T0 + 30, 15, [alert(active_at=T0 + 30)])
    assert notifier.flush()
    assert [n.status for n in channel(notifier).sent] == ["firing", "resolved", "firing"]


def test_alerts_of_the_same_status_due_in_one_update_are_batched(
    make: Callable[..., Notifier],
) -> None:
    notifier = make(one())
    notifier.update(T0, 15, [alert("A"), alert("B")])
    notifier.update(T0 + 15, 15, [alert("A", state="inactive"), alert("B"), alert("C")])
    assert notifier.flush()
    assert sent_names(channel(notifier)) == [
        ("firing", ["A", "B"]),
        ("resolved", ["A"]),
        ("firing", ["C"]),
    ]


def test_alerts_are_copied_so_the_engine_may_change_its_own(
    make: Callable[..., Notifier],
) -> None:
    notifier = make(one())
    firing = alert()
    notifier.update(T0, 15, [firing])
    firing.labels["alertname"] = "Changed"
    assert notifier.flush()
    assert channel(notifier).sent[0].alerts[0].name == "DrawdownLimit"


# -- routing -----------------------------------------------------------------------------


def routed() -> dict[str, Any]:
    recorder = {"type": "test-recorder", "rate_limit": "none"}
    return {
        "channels": {"pager": recorder, "desk": recorder, "log": recorder},
        "routes": [
            {"match": {"severity": "critical"}, "match_re": {"alertname": "Drawdown.*"},
             "channels": ["pager", "desk"], "continue": True},
            {"match": {"desk": "fx"}, "channels": ["desk"]},
            {"match": {"desk": "fx"}, "channels": ["pager"]},
        ],
        "default": ["log"],
    }  # fmt: skip


def test_an_alert_goes_to_every_channel_of_the_first_matching_route(
    make: Callable[..., Notifier],
) -> None:
    notifier = make(routed())
    notifier.update(T0, 15, [alert("DrawdownLimit")])
    assert notifier.flush()
    assert [len(channel(notifier, name).sent) for name in ("pager", "desk", "log")] == [1, 1, 0]


def test_continue_lets_later_routes_match_and_a_channel_gets_the_alert_once(
    make: Callable[..., Notifier],
) -> None:
    notifier = make(routed())
    notifier.update(T0, 15, [alert("DrawdownLimit", desk="fx")])
    assert notifier.flush()
    # route 0 (pager, desk) continues into route 1 (desk), which stops before route 2
    assert [len(channel(notifier, name).sent) for name in ("pager", "desk", "log")] == [1, 1, 0]


def test_regex_matchers_are_anchored(make: Callable[..., Notifier]) -> None:
    notifier = make(routed())
    notifier.update(T0, 15, [alert("MaxDrawdownLimit")])
    assert notifier.flush()
    assert [len(channel(notifier, name).sent) for name in ("pager", "desk", "log")] == [0, 0, 1]


def test_an_alert_that_no_route_matches_goes_to_the_default_channels(
    make: Callable[..., Notifier],
) -> None:
    notifier = make(routed())
    notifier.update(T0, 15, [alert("OrderRejects", severity="warning")])
    assert notifier.flush()
    assert sent_names(channel(notifier, "log")) == [("firing", ["OrderRejects"])]


def test_a_raw_channel_gets_every_update_as_a_snapshot(make: Callable[..., Notifier]) -> None:
    notifier = make(one({"am": {"type": "test-snapshots"}, "out": {"type": "test-recorder"}}))
    notifier.update(T0, 15, [alert(state="pending")])
    notifier.update(T0 + 15, 15, [alert()])
    notifier.update(T0 + 30, 15, [alert()])
    assert notifier.flush()
    am = notifier.config.channels["am"].channel
    assert isinstance(am, SnapshotRecorder)
    assert [(now, [a.state for a in alerts]) for now, _, alerts in am.snapshots] == [
        (T0, ["pending"]),
        (T0 + 15, ["firing"]),
        (T0 + 30, ["firing"]),
    ]


# -- rate limits -------------------------------------------------------------------------


def limited(per_minute: int = 6, burst: int = 2) -> dict[str, Any]:
    limit = {"per_minute": per_minute, "burst": burst}
    return one({"out": {"type": "test-recorder", "rate_limit": limit}})


def test_notifications_over_the_rate_limit_are_held_back_and_counted(
    make: Callable[..., Notifier],
) -> None:
    notifier = make(limited(burst=2))
    for name in ("A", "B", "C", "D"):
        notifier.update(T0, 15, [alert(name)])
    assert notifier.flush()
    assert sent_names(channel(notifier)) == [("firing", ["A"]), ("firing", ["B"])]
    assert notifier.stats()["out"]["held_back"] == 2


def test_the_next_message_after_a_hold_carries_the_held_back_count_and_names(
    make: Callable[..., Notifier], clock: Clock
) -> None:
    notifier = make(limited(per_minute=6, burst=1))
    notifier.update(T0, 15, [alert("A")])
    notifier.update(T0, 15, [alert("B")])
    notifier.update(T0, 15, [alert("C", state="pending")])
    assert notifier.flush()
    clock.now = T0 + 10  # one token a 10 s
    notifier.update(T0 + 10, 15, [alert("C")])
    assert notifier.flush()
    last = channel(notifier).sent[-1]
    assert ([a.name for a in last.alerts], last.held_back, last.held_back_names) == (
        ["C"],
        1,
        ["B"],
    )


def test_a_summary_is_sent_alone_once_a_token_is_free_and_nothing_else_is_due(
    make: Callable[..., Notifier], clock: Clock
) -> None:
    notifier = make(limited(per_minute=6, burst=1))
    notifier.update(T0, 15, [alert("A")])
    notifier.update(T0 + 1, 15, [alert("A", state="inactive"), alert("B")])
    assert notifier.flush()
    assert len(channel(notifier).sent) == 1
    clock.now = T0 + 10
    assert notifier.flush()
    summary = channel(notifier).sent[-1]
    assert (summary.alerts, summary.held_back, summary.held_back_names) == ([], 2, ["A", "B"])
    assert notifier.stats()["out"]["held_back"] == 2


# -- retries and the circuit breaker -----------------------------------------------------


def test_retryable_failures_are_retried_with_exponential_backoff(
    make: Callable[..., Notifier], sleeps: list[float]
) -> None:
    notifier = make(one(retry={"attempts": 3, "backoff": "2s"}))
    channel(notifier).failures = [DeliveryError("down"), DeliveryError("down")]
    notifier.update(T0, 15, [alert()])
    assert notifier.flush()
    assert (len(channel(notifier).sent), sleeps) == (1, [2.0, 4.0])
    assert notifier.stats()["out"] == {
        "sent": 1, "failed": 0, "retried": 2, "held_back": 0, "dropped": 0, "breaker_open": 0,
    }  # fmt: skip


def test_the_channels_retry_after_sets_the_delay_capped_by_max_backoff(
    make: Callable[..., Notifier], sleeps: list[float]
) -> None:
    notifier = make(one(retry={"attempts": 3, "max_backoff": "30s"}))
    channel(notifier).failures = [
        DeliveryError("slow down", retry_after=7),
        DeliveryError("slow down", retry_after=600),
    ]
    notifier.update(T0, 15, [alert()])
    assert notifier.flush()
    assert sleeps == [7.0, 30.0]


def test_a_delivery_that_fails_every_attempt_counts_as_failed(
    make: Callable[..., Notifier], sleeps: list[float]
) -> None:
    notifier = make(one(retry={"attempts": 3}))
    channel(notifier).failures = [DeliveryError("down")] * 3
    notifier.update(T0, 15, [alert()])
    assert notifier.flush()
    assert (channel(notifier).calls, len(sleeps), notifier.stats()["out"]["failed"]) == (3, 2, 1)


def test_a_non_retryable_failure_is_not_retried(
    make: Callable[..., Notifier], sleeps: list[float]
) -> None:
    notifier = make(one())
    channel(notifier).failures = [DeliveryError("HTTP 400", retryable=False)]
    notifier.update(T0, 15, [alert()])
    assert notifier.flush()
    assert (channel(notifier).calls, sleeps, notifier.stats()["out"]["failed"]) == (1, [], 1)


def broken(notifier: Notifier, failures: int) -> None:
    channel(notifier).failures = [DeliveryError("down", retryable=False)] * failures


def test_the_circuit_breaker_opens_after_consecutive_failures_and_holds_back(
    make: Callable[..., Notifier],
) -> None:
    notifier = make(one())
    broken(notifier, 3)
    for name in ("A", "B", "C", "D"):
        notifier.update(T0, 15, [alert(name)])
    assert notifier.flush()
    stats = notifier.stats()["out"]
    assert (channel(notifier).calls, stats["failed"], stats["held_back"]) == (3, 3, 1)
    assert stats["breaker_open"] == 1


def test_after_reset_after_one_trial_delivery_closes_the_breaker_and_tells_what_was_held(
    make: Callable[..., Notifier], clock: Clock
) -> None:
    notifier = make(one(circuit_breaker={"failures": 2, "reset_after": "5m"}))
    broken(notifier, 2)
    for name in ("A", "B", "C"):
        notifier.update(T0, 15, [alert(name)])
    assert notifier.flush()
    clock.now = T0 + 299
    notifier.update(clock.now, 15, [alert("D")])
    assert notifier.flush()
    assert channel(notifier).sent == []
    clock.now = T0 + 300
    notifier.update(clock.now, 15, [alert("E")])
    assert notifier.flush()
    (trial,) = channel(notifier).sent
    assert ([a.name for a in trial.alerts], trial.held_back_names) == (["E"], ["C", "D"])
    assert notifier.stats()["out"]["breaker_open"] == 0


def test_a_failed_trial_delivery_opens_the_breaker_again(
    make: Callable[..., Notifier], clock: Clock
) -> None:
    notifier = make(one(circuit_breaker={"failures": 1, "reset_after": "1m"}))
    broken(notifier, 2)
    notifier.update(T0, 15, [alert("A")])
    assert notifier.flush()
    clock.now = T0 + 60
    notifier.update(clock.now, 15, [alert("B")])
    assert notifier.flush()
    clock.now = T0 + 61
    notifier.update(clock.now, 15, [alert("C")])
    assert notifier.flush()
    stats = notifier.stats()["out"]
    assert (channel(notifier).calls, stats["held_back"], stats["breaker_open"]) == (2, 1, 1)


# -- isolation ---------------------------------------------------------------------------


def test_a_slow_channel_blocks_neither_update_nor_other_channels(
    make: Callable[..., Notifier],
) -> None:
    recorder = {"type": "test-recorder", "rate_limit": "none"}
    # "fast" first: flush drains the workers in this order, so it waits for "fast" before
    # timing out on "slow"
    notifier = make({"channels": {"fast": recorder, "slow": recorder}, "default": ["slow", "fast"]})
    gate = channel(notifier, "slow").gate = threading.Event()
    notifier.update(T0, 15, [alert("A")])
    assert channel(notifier, "slow").entered.wait(5)
    notifier.update(T0 + 15, 15, [alert("B")])  # returns while "slow" is stuck
    assert not notifier.flush(timeout=0.2)
    assert sent_names(channel(notifier, "fast")) == [("firing", ["A"]), ("firing", ["B"])]
    gate.set()
    assert notifier.flush()
    assert len(channel(notifier, "slow").sent) == 2


def test_a_full_queue_counts_drops_and_the_next_message_tells_them(
    make: Callable[..., Notifier],
) -> None:
    notifier = make(one(), queue_size=1)
    gate = channel(notifier).gate = threading.Event()
    notifier.update(T0, 15, [alert("A")])
    assert channel(notifier).entered.wait(5)
    notifier.update(T0, 15, [alert("B")])  # queued
    notifier.update(T0, 15, [alert("C")])  # the queue is full
    gate.set()
    assert notifier.flush()
    assert notifier.stats()["out"]["dropped"] == 1
    assert channel(notifier).sent[-1].held_back_names == ["C"]


def test_close_delivers_what_is_queued_and_closes_the_channels(
    make: Callable[..., Notifier],
) -> None:
    notifier = make(one())
    notifier.update(T0, 15, [alert()])
    notifier.close()
    notifier.update(T0 + 15, 15, [alert("Later")])  # ignored once closed
    assert (len(channel(notifier).sent), channel(notifier).closed) == (1, True)


# -- handlers ----------------------------------------------------------------------------


def test_handlers_run_on_firing_and_resolved_for_their_alert_name_and_labels(
    make: Callable[..., Notifier],
) -> None:
    calls: list[tuple[str, str]] = []
    handlers = [
        Handler(lambda a: calls.append(("any", a.state))),
        Handler(lambda a: calls.append(("fx", a.state)), alertname="DrawdownLimit",
                match={"desk": "fx"}, on=("firing",)),
    ]  # fmt: skip
    notifier = make(one(), handlers=handlers)
    notifier.update(T0, 15, [alert(state="pending", desk="fx")])
    notifier.update(T0 + 15, 15, [alert(desk="fx"), alert("Other", desk="eq")])
    notifier.update(T0 + 30, 15, [alert(desk="fx")])
    notifier.update(T0 + 45, 15, [alert(state="inactive", desk="fx")])
    assert notifier.flush()
    assert calls == [("any", "firing"), ("fx", "firing"), ("any", "firing"), ("any", "inactive")]


def test_a_failing_handler_is_logged_with_its_name_and_others_still_run(
    make: Callable[..., Notifier], caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    def pause_trading(a: Alert) -> None:
        raise RuntimeError("exchange unreachable")

    notifier = make(one(), handlers=[Handler(pause_trading), Handler(lambda a: ran.append(a.name))])
    with caplog.at_level(logging.ERROR, logger="tradetel"):
        notifier.update(T0, 15, [alert()])
        assert notifier.flush()
    assert ran == ["DrawdownLimit"]
    assert "pause_trading failed on DrawdownLimit firing" in caplog.text
    assert "exchange unreachable" in caplog.text


def test_handlers_registered_with_on_alert_run_when_given_to_the_notifier(
    make: Callable[..., Notifier],
) -> None:
    registry = HandlerRegistry()
    seen: list[str] = []

    @registry.on_alert(alertname="DrawdownLimit", on=("resolved",))
    def resume(a: Alert) -> None:
        seen.append(a.state)

    notifier = make(one(), handlers=registry.handlers())
    notifier.update(T0, 15, [alert()])
    notifier.update(T0 + 15, 15, [alert(state="inactive")])
    assert notifier.flush()
    assert seen == ["inactive"]


def test_a_removed_handler_no_longer_runs() -> None:
    registry = HandlerRegistry()

    def first(a: Alert) -> None: ...
    def second(a: Alert) -> None: ...

    registry.on_alert(first)
    registry.on_alert(second, alertname="DrawdownLimit")
    assert registry.remove(first) is True
    assert [h.func for h in registry.handlers()] == [second]
    assert registry.remove(first) is False


# -- history -----------------------------------------------------------------------------


def test_every_state_change_is_recorded_once(make: Callable[..., Notifier], tmp_path: Path) -> None:
    history = History(tmp_path / "h.db")
    notifier = make(one(), history=history)
    for step, state in enumerate(
        ["pending", "pending", "firing", "firing", "inactive", "inactive"]
    ):
        notifier.update(T0 + 15 * step, 15, [alert(state=state)])
    assert notifier.flush()
    assert [(e.state, e.at) for e in history.query()] == [
        ("pending", T0),
        ("firing", T0),
        ("resolved", T0 + 30),
    ]
    history.close()


def test_a_pending_alert_that_the_engine_drops_is_recorded_as_inactive(
    make: Callable[..., Notifier], tmp_path: Path
) -> None:
    history = History(tmp_path / "h.db")
    notifier = make(one(), history=history)
    notifier.update(T0, 15, [alert(state="pending")])
    notifier.update(T0 + 15, 15, [])
    notifier.update(T0 + 31, 15, [])  # missing for more than two intervals
    assert notifier.flush()
    assert [(e.state, e.at) for e in history.query()] == [("pending", T0), ("inactive", T0 + 31)]
    history.close()


def test_the_notify_files_history_is_opened_and_closed_by_the_notifier(
    make: Callable[..., Notifier], tmp_path: Path
) -> None:
    (tmp_path / "notify.yml").write_text(
        "channels: {out: {type: test-recorder}}\ndefault: [out]\nhistory: alerts.db\n"
    )
    notifier = Notifier(load_notify(tmp_path / "notify.yml"))
    notifier.update(T0, 15, [alert()])
    notifier.close()
    history = History(tmp_path / "alerts.db")
    assert [e.state for e in history.query()] == ["firing"]
    history.close()


# -- a real channel against a failing server ---------------------------------------------


@pytest.fixture
def failing_server() -> Iterator[tuple[str, list[str]]]:
    paths: list[str] = []

    class Failing(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            paths.append(self.path)
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", paths
    finally:
        server.shutdown()
        server.server_close()


def test_a_failing_webhook_is_retried_and_its_url_never_appears_in_the_logs(
    make: Callable[..., Notifier],
    failing_server: tuple[str, list[str]],
    sleeps: list[float],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if "webhook" not in channel_types():
        pytest.skip("the webhook channel is not available")
    base, paths = failing_server
    monkeypatch.setenv("PAGER_URL", f"{base}/hooks/s3cr3t-t0ken")
    notifier = make(
        {
            "channels": {"pager": {"type": "webhook", "url_env": "PAGER_URL"}},
            "default": ["pager"],
            "circuit_breaker": {"failures": 1},
        }
    )
    with caplog.at_level(logging.DEBUG, logger="tradetel"):
        notifier.update(T0, 15, [alert()])
        notifier.update(T0, 15, [alert("Second")])
        assert notifier.flush()
    assert (paths, sleeps) == (["/hooks/s3cr3t-t0ken"] * 3, [1.0, 2.0])
    stats = notifier.stats()["pager"]
    assert (stats["failed"], stats["held_back"], stats["breaker_open"]) == (1, 1, 1)
    assert "firing DrawdownLimit not delivered: channel 'pager'" in caplog.text
    assert "s3cr3t" not in caplog.text
    assert "127.0.0.1" not in caplog.text
