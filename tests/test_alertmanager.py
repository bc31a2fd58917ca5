"""The Alertmanager channel: Prometheus' sending rules (semantic 18), then a real Alertmanager."""

from __future__ import annotations

import dataclasses
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import require_binary
from loopback import eventually, free_port, get_json, ready
from test_notify_channels import HttpReceiver, Request, _no_proxy
from tradetel.alerts._model import Alert
from tradetel.alerts.notify._alertmanager import AlertmanagerChannel
from tradetel.alerts.notify._channel import DeliveryError, Notification

T0 = 1_714_564_800.0  # 2024-05-01T12:00:00Z
_ = _no_proxy  # the autouse fixture: loopback servers are reached directly


def alert(name: str = "DrawdownLimit", fired_at: float | None = T0, **labels: str) -> Alert:
    return Alert(
        labels={"alertname": name, "severity": "critical", **labels},
        annotations={"summary": "Drawdown above 10%"},
        state="firing" if fired_at is not None else "pending",
        value=0.12,
        active_at=T0 - 60,
        fired_at=fired_at,
        generator_url="http://evaluator:9464/graph?g0.expr=drawdown",
    )


def resolved(firing: Alert, at: float) -> Alert:
    return dataclasses.replace(firing, state="inactive", resolved_at=at)


def channel(receiver: HttpReceiver, **config: Any) -> AlertmanagerChannel:
    return AlertmanagerChannel("am", {"url": receiver.url, **config})


def posts(receiver: HttpReceiver) -> list[list[dict[str, Any]]]:
    return [request.json() for request in receiver.requests]


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    server = HttpReceiver()
    yield server
    server.close()


# --- Prometheus' sending rules -------------------------------------------------------------------


def test_pending_alert_is_never_sent(receiver: HttpReceiver) -> None:
    channel(receiver).send_snapshot(T0, 15, [alert(fired_at=None)])
    assert receiver.requests == []


def test_firing_alert_starts_when_it_fired_and_ends_four_resend_delays_later(
    receiver: HttpReceiver,
) -> None:
    channel(receiver).send_snapshot(T0 + 30, 15, [alert()])
    [request] = receiver.requests
    assert request.path == "/api/v2/alerts"
    assert request.json() == [
        {
            "labels": {"alertname": "DrawdownLimit", "severity": "critical"},
            "annotations": {"summary": "Drawdown above 10%"},
            "startsAt": "2024-05-01T12:00:00.000Z",
            "endsAt": "2024-05-01T12:04:30.000Z",
            "generatorURL": "http://evaluator:9464/graph?g0.expr=drawdown",
        }
    ]


def test_firing_alert_ends_four_intervals_later_when_the_interval_is_longer(
    receiver: HttpReceiver,
) -> None:
    channel(receiver).send_snapshot(T0, 120, [alert()])
    assert posts(receiver)[0][0]["endsAt"] == "2024-05-01T12:08:00.000Z"


def test_firing_alert_is_resent_once_the_resend_delay_has_passed(receiver: HttpReceiver) -> None:
    am = channel(receiver)
    for now in range(int(T0), int(T0) + 75, 15):
        am.send_snapshot(now, 15, [alert()])
    ends = [batch[0]["endsAt"] for batch in posts(receiver)]
    assert ends == ["2024-05-01T12:04:00.000Z", "2024-05-01T12:05:00.000Z"]


def test_resend_delay_is_a_setting(receiver: HttpReceiver) -> None:
    am = channel(receiver, resend_delay="30s")
    for now in (T0, T0 + 15, T0 + 30):
        am.send_snapshot(now, 15, [alert()])
    assert len(receiver.requests) == 2


def test_resolution_is_sent_at_once_with_its_time_as_the_end(receiver: HttpReceiver) -> None:
    am = channel(receiver)
    am.send_snapshot(T0, 15, [alert()])
    am.send_snapshot(T0 + 15, 15, [resolved(alert(), T0 + 15)])
    assert posts(receiver)[-1][0]["endsAt"] == "2024-05-01T12:00:15.000Z"


def test_resolved_alert_is_resent_every_resend_delay(receiver: HttpReceiver) -> None:
    am = channel(receiver)
    am.send_snapshot(T0, 15, [alert()])
    gone = resolved(alert(), T0 + 15)
    for now in range(int(T0) + 15, int(T0) + 15 + 121, 15):
        am.send_snapshot(now, 15, [gone])
    assert len(receiver.requests) == 1 + 3  # at +15s, +75s and +135s


def test_alert_that_fires_again_after_resolving_is_sent_at_once(receiver: HttpReceiver) -> None:
    am = channel(receiver)
    am.send_snapshot(T0, 15, [alert()])
    am.send_snapshot(T0 + 15, 15, [resolved(alert(), T0 + 15)])
    again = dataclasses.replace(alert(), active_at=T0 + 30, fired_at=T0 + 30)
    am.send_snapshot(T0 + 30, 15, [again])
    assert posts(receiver)[-1][0]["startsAt"] == "2024-05-01T12:00:30.000Z"


def test_failed_post_is_repeated_at_the_next_evaluation(receiver: HttpReceiver) -> None:
    am = channel(receiver)
    receiver.respond(503)
    with pytest.raises(DeliveryError, match="channel 'am': HTTP 503 from the server"):
        am.send_snapshot(T0, 15, [alert()])
    am.send_snapshot(T0 + 15, 15, [alert()])
    assert len(receiver.requests) == 2


def test_large_snapshot_is_posted_in_batches_of_64(receiver: HttpReceiver) -> None:
    channel(receiver).send_snapshot(T0, 15, [alert(strategy=f"s{i}") for i in range(100)])
    assert [len(batch) for batch in posts(receiver)] == [64, 36]


def test_bearer_token_is_sent_as_authorization(
    receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AM_TOKEN", "t0ken")
    channel(receiver, bearer_token_env="AM_TOKEN").send_snapshot(T0, 15, [alert()])
    assert receiver.requests[0].headers["Authorization"] == "Bearer t0ken"


def test_plain_notification_is_posted_without_an_end_for_firing_alerts(
    receiver: HttpReceiver,
) -> None:
    channel(receiver).send(Notification("am", "firing", [alert()]))
    assert "endsAt" not in posts(receiver)[0][0]


# --- against the real Alertmanager ------------------------------------------------------------


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, HttpReceiver]]:
    """Alertmanager on loopback, clustering off, routing every alert to a recording webhook."""
    binary = require_binary("prometheus-alertmanager")
    hook = HttpReceiver()
    work = tmp_path_factory.mktemp("alertmanager")
    config = work / "alertmanager.yml"
    config.write_text(
        "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 0s\n"
        "  group_interval: 1s\n  repeat_interval: 1h\n"
        f"receivers:\n  - name: hook\n    webhook_configs:\n      - url: {hook.url}/hook\n"
    )
    url = f"http://127.0.0.1:{free_port()}"
    log = (work / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={work / 'data'}",
            f"--web.listen-address={url.removeprefix('http://')}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        eventually(lambda: ready(url) or process.poll() is not None, "Alertmanager ready")
        if process.poll() is not None:
            pytest.fail(f"Alertmanager exited: {_log_tail(work)}")
        yield url, hook
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()
        hook.close()


def _log_tail(work: Path) -> str:
    return (work / "alertmanager.log").read_text(errors="replace")[-2000:]


def _listed(url: str, name: str) -> list[dict[str, Any]]:
    return [a for a in get_json(url + "/api/v2/alerts") if a["labels"]["alertname"] == name]


def _notified(hook: HttpReceiver, name: str, status: str) -> Callable[[list[Request]], bool]:
    def found(requests: list[Request]) -> bool:
        return any(
            r.json()["status"] == status and r.json()["commonLabels"].get("alertname") == name
            for r in requests
        )

    return found


@pytest.mark.integration
def test_alertmanager_lists_the_alert_and_notifies_its_receiver(
    alertmanager: tuple[str, HttpReceiver],
) -> None:
    url, hook = alertmanager
    now = time.time()
    firing = dataclasses.replace(alert("RealAlertmanagerFiring"), fired_at=now - 30)
    AlertmanagerChannel("am", {"url": url}).send_snapshot(now, 1, [firing])
    eventually(lambda: bool(_listed(url, "RealAlertmanagerFiring")), "alert listed")
    [listed] = _listed(url, "RealAlertmanagerFiring")
    assert listed["status"]["state"] == "active"
    assert listed["annotations"] == {"summary": "Drawdown above 10%"}
    hook.wait_for(_notified(hook, "RealAlertmanagerFiring", "firing"))


@pytest.mark.integration
def test_alertmanager_resolves_the_alert_when_the_resolution_arrives(
    alertmanager: tuple[str, HttpReceiver],
) -> None:
    url, hook = alertmanager
    am = AlertmanagerChannel("am", {"url": url})
    evaluated = time.time() - 10
    firing = dataclasses.replace(alert("RealAlertmanagerResolved"), fired_at=evaluated - 30)
    am.send_snapshot(evaluated, 1, [firing])
    hook.wait_for(_notified(hook, "RealAlertmanagerResolved", "firing"))
    # resolved 5s after that evaluation: endsAt is in the past
    am.send_snapshot(time.time(), 1, [resolved(firing, evaluated + 5)])
    hook.wait_for(_notified(hook, "RealAlertmanagerResolved", "resolved"))
    assert _listed(url, "RealAlertmanagerResolved") == []
