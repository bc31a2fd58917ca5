"""The notify file: what it may say, its defaults, and the errors that name what is wrong."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tradetel import ConfigError
from tradetel.alerts._model import Alert
from tradetel.alerts.notify import HandlerRegistry, load_notify, parse_duration
from tradetel.alerts.notify._config import RateLimit

EXAMPLE = """\
channels:
  desk-slack: {type: slack, url_env: SLACK_WEBHOOK_URL, rate_limit: {per_minute: 20, burst: 2}}
  pager:
    {type: webhook, url_file: pager_url, hmac_secret_env: PAGER_HMAC, headers: {X-Team: trading}}
  am: {type: alertmanager, url: "http://127.0.0.1:9093"}
  log: {type: log, rate_limit: none, send_resolved: false}
routes:
  - match: {severity: critical}
    match_re: {alertname: "Drawdown.*"}
    channels: [pager, desk-slack]
    continue: true
  - channels: [log]
default: [log]
repeat_interval: {warning: 2m, default: 1h30m}
send_resolved: true
retry: {attempts: 5, backoff: 500ms, max_backoff: 1m}
circuit_breaker: {failures: 4, reset_after: 10m}
rate_limit: {per_minute: 10, burst: 5}
history: data/alerts.db
handlers:
  - {alertname: Drawdown, call: "notify_test_handlers:pause_trading", on: [firing]}
"""


@pytest.fixture
def handler_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    (tmp_path / "notify_test_handlers.py").write_text(
        "def pause_trading(alert):\n    pass\n\n"
        "class Risk:\n    def flatten(alert):\n        pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("notify_test_handlers", None)


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, handler_module: None) -> Path:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.example/services/T0/B0/s3cr3t")
    monkeypatch.setenv("PAGER_HMAC", "hmac-s3cr3t")
    (tmp_path / "pager_url").write_text("https://pager.example/hook/s3cr3t\n")
    path = tmp_path / "notify.yml"
    path.write_text(EXAMPLE)
    return path


def error_of(config: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load_notify(config)
    return str(info.value)


def test_the_example_file_loads_with_every_setting(example: Path, tmp_path: Path) -> None:
    config = load_notify(example)
    assert {name: c.channel.kind for name, c in config.channels.items()} == {
        "desk-slack": "slack", "pager": "webhook", "am": "alertmanager", "log": "log",
    }  # fmt: skip
    assert config.channels["desk-slack"].rate_limit == RateLimit(20, 2)
    assert config.channels["pager"].rate_limit == RateLimit(10, 5)
    assert config.channels["log"].rate_limit is None
    assert (config.channels["log"].send_resolved, config.channels["pager"].send_resolved) == (
        False,
        True,
    )
    assert (config.retry.attempts, config.retry.backoff, config.retry.max_backoff) == (5, 0.5, 60)
    assert (config.circuit_breaker.failures, config.circuit_breaker.reset_after) == (4, 600)
    assert config.history == tmp_path / "data" / "alerts.db"
    (handler,) = config.handlers
    assert (handler.name, handler.alertname, handler.on) == (
        "notify_test_handlers:pause_trading",
        "Drawdown",
        ("firing",),
    )


def test_secret_files_are_relative_to_the_notify_file(example: Path, tmp_path: Path) -> None:
    config = load_notify(example)
    assert config.channels["pager"].channel.config["url_file"] == str(tmp_path / "pager_url")


def test_repeat_intervals_from_the_file_override_the_defaults_per_severity(example: Path) -> None:
    config = load_notify(example)
    assert [config.repeat_for(s) for s in ("info", "warning", "critical", "emergency", "x")] == [
        600, 120, 60, 10, 5400,
    ]  # fmt: skip


def test_routes_send_to_every_matching_route_while_continue_is_set(example: Path) -> None:
    config = load_notify(example)
    critical = {"alertname": "DrawdownLimit", "severity": "critical"}
    assert config.route(critical) == ("pager", "desk-slack", "log")
    assert config.route({"alertname": "MaxDrawdown", "severity": "critical"}) == ("log",)


def test_without_routes_or_default_every_alert_goes_to_an_implicit_log_channel() -> None:
    config = load_notify({})
    assert config.route({"alertname": "X"}) == ("log",)
    assert config.channels["log"].channel.kind == "log"


def test_no_notify_file_means_the_defaults_of_the_spec() -> None:
    config = load_notify(None)
    assert list(config.channels) == ["log"]
    assert config.channels["log"].rate_limit == RateLimit(per_minute=10, burst=5)
    assert config.channels["log"].send_resolved is True
    assert [config.repeat_for(s) for s in ("info", "warning", "critical", "emergency")] == [
        600, 300, 60, 10,
    ]  # fmt: skip
    assert config.repeat_for("unheard-of") == 300
    assert (config.retry.attempts, config.retry.backoff, config.retry.max_backoff) == (3, 1, 30)
    assert (config.circuit_breaker.failures, config.circuit_breaker.reset_after) == (3, 300)
    assert config.history is None


def test_a_top_level_rate_limit_of_none_turns_limits_off() -> None:
    config = load_notify({"rate_limit": "none", "channels": {"log": {"type": "log"}}})
    assert config.channels["log"].rate_limit is None


def test_durations_are_prometheus_style() -> None:
    assert [parse_duration(text) for text in ("10s", "5m", "1h30m", "1d", "250ms", "0")] == [
        10, 300, 5400, 86400, 0.25, 0,
    ]  # fmt: skip


def test_an_unknown_channel_type_is_an_error_that_lists_the_known_ones() -> None:
    message = error_of({"channels": {"x": {"type": "pigeon"}}})
    assert "channels.x.type: unknown channel type 'pigeon'" in message
    assert "(known: alertmanager, discord, email, log, slack, telegram, webhook" in message


def test_a_route_naming_an_undefined_channel_is_an_error() -> None:
    message = error_of({"channels": {"log": {"type": "log"}}, "routes": [{"channels": ["pager"]}]})
    assert message == (
        "<notify config>: routes[0].channels: channel 'pager' is not defined (defined: log)"
    )


def test_a_route_naming_a_raw_channel_is_an_error() -> None:
    message = error_of(
        {"channels": {"am": {"type": "alertmanager", "url": "http://127.0.0.1:9093"}},
         "routes": [{"channels": ["am"]}]}
    )  # fmt: skip
    assert "routes[0].channels: channel 'am' receives every alert" in message


def test_a_bad_duration_is_an_error_naming_its_key(tmp_path: Path) -> None:
    path = tmp_path / "notify.yml"
    path.write_text("repeat_interval: {critical: 5 minutes}\n")
    assert error_of(path) == (
        f"{path}: repeat_interval.critical: bad duration '5 minutes' (use e.g. 10s, 5m, 1h30m)"
    )


def test_a_bad_regex_is_an_error_naming_the_route_and_label() -> None:
    message = error_of({"routes": [{"match_re": {"alertname": "Drawdown("}, "channels": ["log"]}]})
    assert "routes[0].match_re.alertname: bad regular expression 'Drawdown('" in message


def test_an_unknown_top_level_key_is_an_error() -> None:
    message = error_of({"reciever": "x"})
    assert message.startswith("<notify config>: reciever: unknown key (known: channels, routes")


def test_an_unknown_route_key_is_an_error() -> None:
    assert "routes[0].matchers: unknown key" in error_of(
        {"routes": [{"matchers": ["a=b"], "channels": ["log"]}]}
    )


def test_a_handler_that_cannot_be_imported_is_an_error_naming_its_path() -> None:
    message = error_of({"handlers": [{"call": "no_such_module_xyz:pause"}]})
    assert message == (
        "<notify config>: handlers[0].call: cannot import 'no_such_module_xyz:pause' "
        "(ModuleNotFoundError: No module named 'no_such_module_xyz')"
    )


def test_a_handler_attribute_that_is_missing_is_an_error(handler_module: None) -> None:
    message = error_of({"handlers": [{"call": "notify_test_handlers:resume"}]})
    assert "cannot import 'notify_test_handlers:resume'" in message
    assert "has no attribute 'resume'" in message


def test_a_handler_may_be_a_dotted_attribute(handler_module: None) -> None:
    config = load_notify({"handlers": [{"call": "notify_test_handlers:Risk.flatten"}]})
    assert config.handlers[0].name == "notify_test_handlers:Risk.flatten"


def test_a_handler_with_an_unknown_event_is_an_error(handler_module: None) -> None:
    message = error_of(
        {"handlers": [{"call": "notify_test_handlers:pause_trading", "on": ["pending"]}]}
    )
    assert "handlers[0]: on must list events among firing, resolved" in message


def test_a_channels_own_error_names_the_file_and_channel_but_not_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAGER_URL", "ftp://pager.example/s3cr3t")
    path = tmp_path / "notify.yml"
    path.write_text("channels:\n  pager: {type: webhook, url_env: PAGER_URL}\n")
    message = error_of(path)
    assert message.startswith(f"{path}: channel 'pager': url")
    assert "s3cr3t" not in message


def test_a_missing_secret_variable_is_an_error_at_load_time() -> None:
    message = error_of({"channels": {"pager": {"type": "webhook", "url_env": "NOT_SET_XYZ"}}})
    assert "channel 'pager': url_env names NOT_SET_XYZ, which is not set" in message


def test_invalid_yaml_is_an_error_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "notify.yml"
    path.write_text("channels:\n  log: {type: log\n")
    assert error_of(path).startswith(f"{path}: line ")


def test_a_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "missing.yml"
    assert error_of(path) == f"{path}: cannot read the notify file (No such file or directory)"


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"rate_limit": {"per_minute": 0}}, "rate_limit.per_minute: must be a number above 0"),
        ({"rate_limit": {"burst": 1.5}}, "rate_limit.burst: must be a whole number"),
        ({"retry": {"attempts": 0}}, "retry.attempts: must be a whole number of at least 1"),
        ({"circuit_breaker": {"failures": "3"}}, "circuit_breaker.failures: must be a whole"),
        ({"send_resolved": "yes"}, "send_resolved: must be true or false"),
        ({"channels": {"x": "log"}}, "channels.x: must be a mapping with a type"),
        ({"routes": [{"match": {"a": "b"}}]}, "routes[0]: channels is required"),
    ],
)
def test_bad_values_are_errors_naming_their_key(settings: dict[str, Any], expected: str) -> None:
    assert expected in error_of(settings)


def test_a_handlers_on_key_read_by_a_yaml_1_1_parser_still_counts(handler_module: None) -> None:
    raw = yaml.safe_load("handlers: [{call: 'notify_test_handlers:pause_trading', on: [firing]}]")
    assert load_notify(raw).handlers[0].on == ("firing",)


def test_yes_is_not_a_boolean_in_a_notify_file(tmp_path: Path) -> None:
    path = tmp_path / "notify.yml"
    path.write_text("send_resolved: yes\n")
    assert error_of(path) == f"{path}: send_resolved: must be true or false, not 'yes'"


def test_on_alert_registers_a_handler_and_returns_the_function_unchanged() -> None:
    registry = HandlerRegistry()

    def pause(alert: Alert) -> None:
        pass

    assert registry.on_alert(alertname="DrawdownLimit", on=("firing",))(pause) is pause
    assert registry.on_alert(pause) is pause
    first, second = registry.handlers()
    assert (first.alertname, first.on, second.alertname, second.on) == (
        "DrawdownLimit",
        ("firing",),
        None,
        ("firing", "resolved"),
    )


def test_on_alert_with_an_unknown_event_fails_at_decoration_time() -> None:
    with pytest.raises(ConfigError, match="on must list events among firing, resolved"):
        HandlerRegistry().on_alert(on=("fired",))(lambda alert: None)
