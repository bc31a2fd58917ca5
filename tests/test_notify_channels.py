"""The notification channels, each against a real server on loopback (HTTP, SMTP with TLS)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tradetel._errors import ConfigError
from tradetel.alerts._model import Alert
from tradetel.alerts.notify._channel import Channel, DeliveryError, Notification, channel_types
from tradetel.alerts.notify._channels import telegram_text
from tradetel.alerts.notify._format import held_back_line, render_text, title

T0 = 1_714_564_800.0  # 2024-05-01T12:00:00Z
SECRET_PATH = "/services/T000/B000/s3cr3t-hook-token"
TOKEN = "123456:AAE-s3cr3t_bot-token"


# --- a recording HTTP server ------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """An HTTP server on 127.0.0.1 that records requests and answers with queued responses."""

    tls: ssl.SSLContext | None = None
    requests: list[Request] = field(default_factory=list)
    responses: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    #: while set, requests are answered only once ``release`` is set (for timeouts)
    hold: bool = False
    release: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.arrived:
                    receiver.requests.append(Request("POST", self.path, self.headers, body))
                    receiver.arrived.notify_all()
                if receiver.hold:
                    receiver.release.wait(10)
                status, headers, answer = (
                    receiver.responses.pop(0) if receiver.responses else (200, {}, b"ok")
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if self.tls is not None:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.server.server_address[1]}"

    def respond(
        self, status: int, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> None:
        self.responses.append((status, headers or {}, body))

    def wait_for(self, found: Callable[[list[Request]], bool], timeout: float = 15.0) -> None:
        """Wait until the recorded requests satisfy ``found`` (no fixed sleeps)."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while not found(self.requests):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"not received in {timeout}s: {self.requests!r}")
                self.arrived.wait(min(left, 0.1))

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib honours proxy variables, and loopback servers must be reached directly."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    server = HttpReceiver()
    yield server
    server.close()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def tls_receiver(ca: trustme.CA) -> Iterator[HttpReceiver]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = HttpReceiver(tls=context)
    yield server
    server.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- alerts ------------------------------------------------------------------------------------


def alert(
    name: str = "DrawdownLimit",
    severity: str = "critical",
    value: float = 0.12,
    state: str = "firing",
    **labels: str,
) -> Alert:
    return Alert(
        labels={"alertname": name, "severity": severity, "strategy": "mm", **labels},
        annotations={"summary": f"{name} on mm", "description": "Drawdown above 10% of NAV"},
        state=state,  # type: ignore[arg-type]
        value=value,
        active_at=T0 - 60,
        fired_at=T0,
        resolved_at=T0 + 300 if state == "inactive" else None,
        generator_url="http://evaluator:9464/graph?g0.expr=drawdown",
    )


def firing(*alerts: Alert, held_back: int = 0, names: list[str] | None = None) -> Notification:
    return Notification("desk", "firing", list(alerts) or [alert()], held_back, names or [])


def make(kind: str, **config: Any) -> Channel:
    return channel_types()[kind]("desk", config)


# --- the registry and the shared text ------------------------------------------------------------


def test_channel_types_include_every_builtin_kind() -> None:
    kinds = {"log", "webhook", "slack", "discord", "telegram", "email", "alertmanager"}
    assert kinds <= set(channel_types())


def test_title_counts_alerts_and_shows_the_most_severe_severity() -> None:
    notification = firing(alert(severity="warning"), alert(desk="fx"))
    assert title(notification) == "[FIRING:2] DrawdownLimit (critical)"


def test_held_back_line_names_each_alert_once() -> None:
    line = held_back_line(3, ["DrawdownLimit", "OrderRejects", "DrawdownLimit"])
    assert line == (
        "3 more notifications were held back by the rate limit: DrawdownLimit, OrderRejects"
    )


def test_text_has_title_one_line_per_alert_and_the_held_back_summary() -> None:
    text = render_text(firing(alert(), alert("OrderRejects", "warning", 7), held_back=1))
    assert text.splitlines() == [
        "[FIRING:2] DrawdownLimit, OrderRejects (critical)",
        "",
        '- DrawdownLimit (critical) {strategy="mm"} value=0.12: DrawdownLimit on mm',
        '- OrderRejects (warning) {strategy="mm"} value=7: OrderRejects on mm',
        "",
        "1 more notification was held back by the rate limit",
    ]


# --- log ---------------------------------------------------------------------------------------


def test_log_channel_logs_a_firing_alert_as_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="tradetel.alerts"):
        make("log").send(firing())
    [record] = caplog.records
    assert record.name == "tradetel.alerts"
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        'FIRING DrawdownLimit (critical) {strategy="mm"} value=0.12: DrawdownLimit on mm'
    )


def test_log_channel_logs_a_resolution_as_info(caplog: pytest.LogCaptureFixture) -> None:
    resolved = Notification("desk", "resolved", [alert(state="inactive")])
    with caplog.at_level(logging.INFO, logger="tradetel.alerts"):
        make("log").send(resolved)
    assert [(r.levelno, r.getMessage().split()[0]) for r in caplog.records] == [
        (logging.INFO, "RESOLVED")
    ]


def test_log_channel_logs_what_the_rate_limit_held_back(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="tradetel.alerts"):
        make("log").send(firing(held_back=2, names=["OrderRejects"]))
    assert caplog.records[-1].getMessage() == (
        "channel 'desk': 2 more notifications were held back by the rate limit: OrderRejects"
    )


# --- webhook -----------------------------------------------------------------------------------


def test_webhook_posts_an_alertmanager_style_payload(receiver: HttpReceiver) -> None:
    make("webhook", url=receiver.url + "/hook").send(firing(held_back=2, names=["OrderRejects"]))
    [request] = receiver.requests
    assert request.path == "/hook"
    assert request.headers["Content-Type"] == "application/json"
    payload = request.json()
    assert payload == {
        "version": "1",
        "status": "firing",
        "receiver": "desk",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "DrawdownLimit", "severity": "critical", "strategy": "mm"},
                "annotations": {
                    "summary": "DrawdownLimit on mm",
                    "description": "Drawdown above 10% of NAV",
                },
                "startsAt": "2024-05-01T12:00:00.000Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": alert().fingerprint,
                "value": 0.12,
                "generatorURL": "http://evaluator:9464/graph?g0.expr=drawdown",
            }
        ],
        "commonLabels": {"alertname": "DrawdownLimit", "severity": "critical", "strategy": "mm"},
        "commonAnnotations": {
            "summary": "DrawdownLimit on mm",
            "description": "Drawdown above 10% of NAV",
        },
        "heldBack": 2,
        "heldBackAlertnames": ["OrderRejects"],
    }


def test_webhook_resolved_alert_has_its_end_time(receiver: HttpReceiver) -> None:
    make("webhook", url=receiver.url).send(
        Notification("desk", "resolved", [alert(state="inactive")])
    )
    [sent] = receiver.requests[0].json()["alerts"]
    assert (sent["status"], sent["endsAt"]) == ("resolved", "2024-05-01T12:05:00.000Z")


def test_webhook_sends_an_infinite_value_as_prometheus_spells_it(receiver: HttpReceiver) -> None:
    make("webhook", url=receiver.url).send(firing(alert(value=float("inf"))))
    assert receiver.requests[0].json()["alerts"][0]["value"] == "+Inf"


def test_webhook_sends_the_configured_headers(receiver: HttpReceiver) -> None:
    make("webhook", url=receiver.url, headers={"X-Desk": "fx", "Authorization": "Bearer t"}).send(
        firing()
    )
    headers = receiver.requests[0].headers
    assert (headers["X-Desk"], headers["Authorization"]) == ("fx", "Bearer t")


def test_webhook_signature_is_an_hmac_of_the_timestamp_and_the_exact_body(
    receiver: HttpReceiver,
) -> None:
    before = int(time.time())
    make("webhook", url=receiver.url, hmac_secret="k3y").send(firing())
    request = receiver.requests[0]
    timestamp = request.headers["X-Tradetel-Timestamp"]
    expected = hmac.new(b"k3y", f"{timestamp}.".encode() + request.body, hashlib.sha256)
    assert request.headers["X-Tradetel-Signature"] == f"sha256={expected.hexdigest()}"
    assert before <= int(timestamp) <= time.time()


def test_webhook_reads_its_url_from_the_environment(
    receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESK_HOOK", receiver.url + SECRET_PATH)
    make("webhook", url_env="DESK_HOOK").send(firing())
    assert receiver.requests[0].path == SECRET_PATH


def test_webhook_reads_its_url_from_a_file(receiver: HttpReceiver, tmp_path: Path) -> None:
    (tmp_path / "hook").write_text(receiver.url + SECRET_PATH + "\n")
    make("webhook", url_file=str(tmp_path / "hook")).send(firing())
    assert receiver.requests[0].path == SECRET_PATH


def test_webhook_verifies_https_against_the_configured_ca(
    tls_receiver: HttpReceiver, ca_file: str
) -> None:
    make("webhook", url=tls_receiver.url, ca_file=ca_file).send(firing())
    assert len(tls_receiver.requests) == 1


def test_untrusted_certificate_fails_without_retry(tls_receiver: HttpReceiver) -> None:
    with pytest.raises(DeliveryError, match="certificate verification failed") as caught:
        make("webhook", url=tls_receiver.url + SECRET_PATH).send(firing())
    assert not caught.value.retryable


def test_server_error_is_retryable_and_names_the_channel_not_the_url(
    receiver: HttpReceiver,
) -> None:
    receiver.respond(500, receiver.url.encode() + SECRET_PATH.encode())
    with pytest.raises(DeliveryError) as caught:
        make("slack", url=receiver.url + SECRET_PATH).send(firing())
    assert str(caught.value) == "channel 'desk': HTTP 500 from the server"
    assert caught.value.retryable


def test_client_error_is_not_retryable(receiver: HttpReceiver) -> None:
    receiver.respond(404)
    with pytest.raises(DeliveryError, match="HTTP 404") as caught:
        make("webhook", url=receiver.url).send(firing())
    assert not caught.value.retryable


def test_rate_limited_delivery_carries_the_retry_after(receiver: HttpReceiver) -> None:
    receiver.respond(429, headers={"Retry-After": "7"})
    with pytest.raises(DeliveryError) as caught:
        make("webhook", url=receiver.url).send(firing())
    assert (caught.value.retryable, caught.value.retry_after) == (True, 7.0)


def test_redirect_is_reported_not_followed(receiver: HttpReceiver) -> None:
    receiver.respond(302, headers={"Location": receiver.url + "/elsewhere"})
    with pytest.raises(DeliveryError, match=r"HTTP 302 .*redirects are not followed"):
        make("webhook", url=receiver.url).send(firing())
    assert [r.method for r in receiver.requests] == ["POST"]


def test_connection_refused_is_retryable_and_hides_the_url() -> None:
    with pytest.raises(DeliveryError) as caught:
        make("discord", url=f"http://127.0.0.1:{closed_port()}{SECRET_PATH}").send(firing())
    assert str(caught.value) == "channel 'desk': connection refused"
    assert caught.value.retryable


def test_slow_server_times_out_retryably(receiver: HttpReceiver) -> None:
    receiver.hold = True
    with pytest.raises(DeliveryError) as caught:
        make("webhook", url=receiver.url + SECRET_PATH, timeout="200ms").send(firing())
    assert str(caught.value) == "channel 'desk': timed out after 0.2s"
    assert caught.value.retryable


def test_a_url_that_is_not_http_is_rejected_without_repeating_it() -> None:
    with pytest.raises(ConfigError) as caught:
        make("slack", url="hooks.slack.com" + SECRET_PATH)
    assert str(caught.value) == "channel 'desk': url must be an http:// or https:// URL"


def test_a_missing_url_variable_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="url_env names DESK_HOOK, which is not set"):
        make("webhook", url_env="DESK_HOOK")


def test_secrets_never_appear_in_a_channels_repr(ca_file: str) -> None:
    channels = [
        make("webhook", url="https://x.example" + SECRET_PATH, hmac_secret="k3y-s3cret"),
        make("telegram", token=TOKEN, chat_id=42),
        make("email", **email_config(25, password="pw-s3cret")),
        make("alertmanager", url="http://am.example:9093", bearer_token="bearer-s3cret"),
    ]
    for channel in channels:
        assert "s3cr" not in repr(channel)


# --- Slack, Discord, Telegram ---------------------------------------------------------------------


def test_slack_message_has_a_title_a_colour_bar_and_a_section_per_alert(
    receiver: HttpReceiver,
) -> None:
    odd = alert("OrderRejects", "warning", venue="<binance&co>")
    make("slack", url=receiver.url).send(firing(alert(), odd, held_back=1, names=["Latency"]))
    payload = receiver.requests[0].json()
    assert payload["text"] == "*[FIRING:2] DrawdownLimit, OrderRejects (critical)*"
    [attachment] = payload["attachments"]
    assert attachment["color"] == "#d32f2f"
    sections = [b["text"]["text"] for b in attachment["blocks"] if b["type"] == "section"]
    assert sections[0].startswith("*DrawdownLimit* · critical\nDrawdownLimit on mm\n")
    assert "`venue=&lt;binance&amp;co&gt;`" in sections[1]
    assert attachment["blocks"][-1]["elements"][0]["text"] == (
        "1 more notification was held back by the rate limit: Latency"
    )


def test_discord_message_stays_within_ten_embeds_and_says_what_it_left_out(
    receiver: HttpReceiver,
) -> None:
    alerts = [alert(strategy=f"s{i}") for i in range(12)]
    make("discord", url=receiver.url).send(firing(*alerts))
    payload = receiver.requests[0].json()
    assert len(payload["embeds"]) == 10
    assert payload["content"] == (
        "[FIRING:12] DrawdownLimit (critical)\n"
        "2 more alerts not shown (Discord's limit per message)"
    )
    assert payload["allowed_mentions"] == {"parse": []}


def test_discord_message_stays_within_6000_embed_characters(receiver: HttpReceiver) -> None:
    long = [alert(strategy=f"s{i}") for i in range(3)]
    for item in long:
        item.annotations["description"] = "x" * 2500
    make("discord", url=receiver.url).send(firing(*long))
    payload = receiver.requests[0].json()
    assert len(payload["embeds"]) == 2
    assert len(payload["content"]) <= 2000


def test_telegram_posts_escaped_html_to_the_bot_api(receiver: HttpReceiver) -> None:
    odd = alert(venue="<b>&")
    make("telegram", token=TOKEN, chat_id=-100123, api_url=receiver.url).send(firing(odd))
    [request] = receiver.requests
    assert request.path == f"/bot{TOKEN}/sendMessage"
    payload = request.json()
    assert (payload["chat_id"], payload["parse_mode"]) == (-100123, "HTML")
    assert payload["text"].startswith("<b>[FIRING:1] DrawdownLimit (critical)</b>\n")
    assert 'venue="&lt;b&gt;&amp;"' in payload["text"]


def test_telegram_text_fits_4096_characters() -> None:
    text = telegram_text(firing(*[alert(strategy=f"strategy-{i}") for i in range(200)]))
    assert len(text) <= 4096
    assert text.splitlines()[-1].startswith("… ")
    assert text.endswith("more alerts not shown")


def test_telegram_error_says_what_the_api_said_without_the_token(receiver: HttpReceiver) -> None:
    answer = {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
    receiver.respond(400, json.dumps(answer).encode())
    with pytest.raises(DeliveryError) as caught:
        make("telegram", token=TOKEN, chat_id=1, api_url=receiver.url).send(firing())
    detail = "Bad Request: chat not found"
    assert str(caught.value) == f"channel 'desk': HTTP 400 from the server: {detail}"
    assert TOKEN not in str(caught.value)


def test_an_echoed_url_is_redacted_from_an_error_detail(receiver: HttpReceiver) -> None:
    echo = {"ok": False, "description": f"Not Found: /bot{TOKEN}/sendMessage"}
    receiver.respond(404, json.dumps(echo).encode())
    with pytest.raises(DeliveryError) as caught:
        make("telegram", token=TOKEN, chat_id=1, api_url=receiver.url).send(firing())
    assert "s3cr3t" not in str(caught.value)
    assert "<redacted>" in str(caught.value)


def test_a_malformed_telegram_token_is_rejected_without_repeating_it() -> None:
    with pytest.raises(ConfigError) as caught:
        make("telegram", token="not a/token s3cr3t", chat_id=1)
    assert "s3cr3t" not in str(caught.value)


# --- email -------------------------------------------------------------------------------------


@dataclass
class Inbox:
    messages: list[tuple[Any, Any]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((session, envelope))
        return "250 OK"


class _Controller(Controller):
    """aiosmtpd's controller on a free port (it cannot be told port 0 by itself)."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = (data.login, data.password) == (b"alerts", b"pw-s3cret")
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.fixture
def smtp(ca: trustme.CA) -> Iterator[tuple[_Controller, Inbox]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    inbox = Inbox()
    controller = _Controller(
        inbox,
        hostname="127.0.0.1",
        port=0,
        tls_context=context,
        require_starttls=True,
        authenticator=_authenticate,
        auth_require_tls=True,
    )
    controller.start()
    yield controller, inbox
    controller.stop()


def email_config(port: int, **extra: Any) -> dict[str, Any]:
    config = {"host": "127.0.0.1", "port": port, "username": "alerts", "password": "pw-s3cret"}
    return {**config, "from": "alerts@desk.example", "to": ["ops@desk.example"], **extra}


def test_email_is_sent_over_verified_starttls_with_login(
    smtp: tuple[_Controller, Inbox], ca_file: str
) -> None:
    controller, inbox = smtp
    make("email", **email_config(controller.port, ca_file=ca_file)).send(
        firing(alert(), alert(desk="fx"))
    )
    [(session, envelope)] = inbox.messages
    assert session.ssl is not None
    assert session.authenticated
    assert envelope.rcpt_tos == ["ops@desk.example"]
    message = message_from_bytes(envelope.original_content, policy=policy.default)
    assert message["Subject"] == "[FIRING:2] DrawdownLimit (critical)"
    body = message.get_content()
    assert '- DrawdownLimit (critical) {desk="fx", strategy="mm"} value=0.12' in body


def test_email_refuses_a_server_certificate_it_cannot_verify(
    smtp: tuple[_Controller, Inbox],
) -> None:
    controller, inbox = smtp
    with pytest.raises(DeliveryError, match="certificate verification failed") as caught:
        make("email", **email_config(controller.port)).send(firing())
    assert not caught.value.retryable
    assert inbox.messages == []


def test_email_with_a_wrong_password_fails_without_retry_or_the_password(
    smtp: tuple[_Controller, Inbox], ca_file: str
) -> None:
    controller, _ = smtp
    config = email_config(controller.port, ca_file=ca_file, password="wrong-s3cret")
    with pytest.raises(DeliveryError) as caught:
        make("email", **config).send(firing())
    assert str(caught.value) == "channel 'desk': SMTP authentication failed (535)"
    assert not caught.value.retryable


def test_email_fails_when_the_server_offers_no_starttls() -> None:
    inbox = Inbox()
    controller = _Controller(inbox, hostname="127.0.0.1", port=0)
    controller.start()
    try:
        config = email_config(controller.port)
        del config["username"], config["password"]
        with pytest.raises(DeliveryError, match="does not offer STARTTLS") as caught:
            make("email", **config).send(firing())
    finally:
        controller.stop()
    assert not caught.value.retryable


def test_email_refuses_to_configure_a_password_without_tls() -> None:
    with pytest.raises(ConfigError, match="refusing to send the SMTP password without TLS"):
        make("email", **email_config(25, starttls=False))


def test_email_to_a_closed_port_is_a_retryable_connection_error() -> None:
    with pytest.raises(DeliveryError) as caught:
        make("email", **email_config(closed_port())).send(firing())
    assert str(caught.value) == "channel 'desk': connection refused"
    assert caught.value.retryable
