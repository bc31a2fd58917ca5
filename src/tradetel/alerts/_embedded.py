"""The embedded evaluator: the process's own metrics, evaluated in-process, no server anywhere.

``configure(alert_rules=..., notify=...)`` adds a metric reader to the SDK pipeline; one daemon
thread collects it at the evaluation interval, translates the points to Prometheus series
exactly as the service does for OTLP, and runs the groups that are due.  A threshold crossing
is seen at the next evaluation, so a notification follows within one interval (plus delivery).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from .._errors import ConfigError
from .._internal import report_internal_error
from ._engine import Engine
from ._otlp import Translator, from_sdk
from ._rules import load_rules, parse_duration
from ._state import SQLiteState
from .notify import History, Notifier, default_handlers, load_notify

__all__ = ["EmbeddedEvaluator"]

logger = logging.getLogger("tradetel")

RuleSource = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


class EmbeddedEvaluator:
    """Rules over this process's metrics.  Built by ``configure()``; started when installed."""

    def __init__(
        self,
        rules: RuleSource,
        *,
        notify: str | os.PathLike[str] | Mapping[str, Any] | None,
        interval: float | str | None,
        data_dir: Path,
        handlers: Sequence[Any] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        groups = load_rules(rules)  # RuleError propagates: configure() changes nothing
        interval_ms = _interval_ms(interval)
        config = load_notify(notify)
        history_path = getattr(config, "history", None) or data_dir / "alerts-history.db"
        self.history = History(history_path)
        try:
            self.state = SQLiteState(data_dir / "alerts-state.db")
            self.engine = Engine(groups, interval_ms=interval_ms, state=self.state)
        except BaseException:
            self.history.close()
            raise
        # last: its worker threads start at once
        self.notifier = Notifier(
            config, handlers=[*default_handlers(), *handlers], history=self.history
        )
        self.engine.notifier = self.notifier
        self.reader = InMemoryMetricReader()
        self.translator = Translator(delta="convert")
        self.interval_ms = interval_ms
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="tradetel-alerts", daemon=True)
        self._thread.start()

    def tick(self) -> float:
        """Collect, ingest and run the due groups once; seconds until the next evaluation."""
        data = self.reader.get_metrics_data()
        if data is not None:
            request = from_sdk(data)
            for resource in request.resource_metrics:
                # The process is the instance: a restarted one (a new service.instance.id)
                # must find its alerts again (semantic 19), so its series carry no `instance`.
                attributes = resource.resource.attributes
                kept = [kv for kv in attributes if kv.key != "service.instance.id"]
                if len(kept) != len(attributes):
                    del attributes[:]
                    attributes.extend(kept)
            result = self.translator.translate(request)
            self.engine.ingest(result.samples)
        return self.engine.run_due(int(self._clock() * 1000), at_now=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.tick()
            except Exception as exc:  # the evaluator must never take the program down
                report_internal_error("alert evaluation", exc)
                wait = self.interval_ms / 1000
            self._stop.wait(max(wait, 0.01))

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            self.notifier.close(timeout)
        finally:
            self.state.close()
            self.history.close()


def _interval_ms(value: float | str | None) -> int:
    where = "alert_interval"
    if value is None:
        value = os.environ.get("TRADETEL_ALERT_INTERVAL") or "10s"
        where = "TRADETEL_ALERT_INTERVAL"
    if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
        value = float(value)  # a bare number is seconds, as for alert_interval=10
    try:
        ms = int(float(value) * 1000) if isinstance(value, (int, float)) else parse_duration(value)
    except (ValueError, OverflowError) as exc:
        raise ConfigError(f"{where}={value!r}: {exc}") from None
    if ms <= 0:
        raise ConfigError(f"{where}={value!r}: must be more than 0")
    return ms
