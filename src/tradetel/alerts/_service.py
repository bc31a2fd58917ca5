"""``tradetel alerts serve``: the evaluator as a service fed with OTLP metrics.

One :class:`AlertService` owns the engine, its state and history files, the notifier, the HTTP
server (:mod:`._http_api`), the optional OTLP/gRPC server (:mod:`._grpc`) and the thread that
runs the rule groups when they are due.  The first evaluation waits one ``warmup`` (by default
one interval) after start, so that after a restart the senders have pushed fresh data before
alerts restored from the state file are judged against it (semantic 19).
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Literal

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from .._errors import ConfigError
from ._engine import Engine
from ._http_api import ApiServer
from ._otlp import TranslateResult, Translator
from ._rules import load_rules, parse_duration
from ._selfmetrics import SelfMetrics
from ._state import SQLiteState
from .notify import History, Notifier, default_handlers, load_notify

if TYPE_CHECKING:
    from ._grpc import GrpcReceiver

__all__ = ["DEFAULT_LISTEN", "DEFAULT_MAX_BODY_BYTES", "AlertService", "serve"]

logger = logging.getLogger("tradetel.alerts")

DEFAULT_LISTEN = "127.0.0.1:9095"
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
PathLike = str | os.PathLike[str]


class AlertService:
    """Receives OTLP metrics, evaluates rule files, notifies, and serves the alert API.

    Everything that can be wrong in the arguments is found here, at construction: the rules
    (:class:`~tradetel.RuleError`), the notify file, durations and addresses
    (:class:`~tradetel.ConfigError`).  :meth:`start` opens the files and binds the ports.

    Args:
        rules: rule files (or globs).
        notify: the notify file; None sends every alert to the log.
        listen: ``HOST:PORT`` for HTTP (port 0 picks a free one; see :attr:`port`).
        grpc_listen: ``HOST:PORT`` for OTLP/gRPC, or None for none.
        data_dir: where ``alerts-state.db`` and (unless the notify file names one)
            ``alerts-history.db`` are kept.
        interval: the evaluation interval of groups that do not set their own.
        token: a bearer token that every request must carry.
        max_body_bytes: the largest OTLP body accepted, compressed and decompressed.
        warmup: how long after start the first evaluation waits (default: ``interval``).
        clock: epoch seconds; the evaluation schedule follows it.
    """

    def __init__(
        self,
        rules: PathLike | Sequence[PathLike],
        *,
        notify: PathLike | Mapping[str, Any] | None = None,
        listen: str = DEFAULT_LISTEN,
        grpc_listen: str | None = None,
        data_dir: PathLike = ".tradetel",
        interval: str = "15s",
        token: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        external_url: str = "",
        external_labels: Mapping[str, str] | None = None,
        promote_resource_attributes: Sequence[str] = (),
        delta: Literal["convert", "refuse"] = "convert",
        warmup: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._groups = load_rules(
            list(rules) if not isinstance(rules, (str, os.PathLike)) else rules
        )
        self.interval_ms = _duration("interval", interval)
        self.warmup_ms = (
            self.interval_ms if warmup is None else _duration("warmup", warmup, zero=True)
        )
        self._listen = _address("listen", listen)
        self._grpc_listen = None if grpc_listen is None else _address("grpc_listen", grpc_listen)
        if token is not None and (not token or any(c.isspace() or ord(c) < 32 for c in token)):
            raise ConfigError("the bearer token is empty or holds whitespace")  # never shown
        self._token = token
        if type(max_body_bytes) is not int or max_body_bytes <= 0:
            raise ConfigError(
                f"max_body_bytes must be a number of bytes above 0, not {max_body_bytes!r}"
            )
        self.max_body_bytes = max_body_bytes
        self._notify = load_notify(notify)
        self.translator = Translator(
            promote_resource_attributes=tuple(promote_resource_attributes), delta=delta
        )
        self.data_dir = Path(data_dir)
        self._external_url = external_url
        self._external_labels = dict(external_labels or {})
        self._clock = clock
        self.metrics = SelfMetrics()

        self._lifecycle = threading.Lock()
        self._state = "new"  # new -> running -> stopped
        self._halt = threading.Event()  # serve_forever returns when set
        self._ingest_lock = threading.Lock()
        self._loop_cond = threading.Condition()
        self._requested = 0  # evaluate_due() tickets issued
        self._served = 0  # tickets whose pass has run
        self._stopping = False
        self._ready = False
        self._engine: Engine | None = None
        self._notifier: Notifier | None = None
        self._closers: contextlib.ExitStack = contextlib.ExitStack()
        self._http: ApiServer | None = None
        self._grpc: GrpcReceiver | None = None
        self._first_ms = 0
        self._threads: list[threading.Thread] = []

    # -- what the receivers use ---------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("the alert service is not started")
        return self._engine

    @property
    def notifier(self) -> Notifier:
        if self._notifier is None:
            raise RuntimeError("the alert service is not started")
        return self._notifier

    @property
    def ready(self) -> bool:
        """Rules loaded and the first evaluation done (``/-/ready``)."""
        return self._ready and not self._stopping

    def authorized(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header (or gRPC metadata) value may pass."""
        if self._token is None:
            return True
        scheme, _, credentials = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(), self._token.encode()
        )

    def ingest(self, request: ExportMetricsServiceRequest) -> TranslateResult:
        """Translate one OTLP request and store its samples; PayloadError changes nothing."""
        engine = self.engine
        # one at a time, so that two requests' samples of a series reach the store in order
        with self._ingest_lock:
            result = self.translator.translate(request)
            engine.ingest(result.samples)
        self.metrics.count_points(result.accepted, result.rejected)
        return result

    def metrics_text(self) -> str:
        notifier = self._notifier
        return self.metrics.render(self.engine, notifier.stats() if notifier is not None else {})

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The HTTP port (once started)."""
        if self._http is None:
            raise RuntimeError("the alert service is not started")
        return self._http.server_port

    @property
    def grpc_port(self) -> int | None:
        """The OTLP/gRPC port, or None without ``grpc_listen``."""
        return None if self._grpc is None else self._grpc.port

    @property
    def address(self) -> str:
        """``HOST:PORT`` the HTTP server listens on (once started)."""
        return _show((str(self._listen[0] or "0.0.0.0"), self.port))

    def start(self) -> AlertService:
        """Open the state and history, bind the ports and start serving; once only."""
        with self._lifecycle:
            if self._state != "new":
                raise RuntimeError("an AlertService starts once; make a new one")
            with contextlib.ExitStack() as undo:
                self._open(undo)
                self._closers = undo.pop_all()
            self._state = "running"
        logger.info("tradetel alerts: serving on http://%s", self.address)
        return self

    def _open(self, undo: contextlib.ExitStack) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        history = History(self._notify.history or self.data_dir / "alerts-history.db")
        undo.callback(history.close)
        state = SQLiteState(self.data_dir / "alerts-state.db")
        undo.callback(state.close)
        notifier = Notifier(self._notify, handlers=default_handlers(), history=history)
        undo.callback(notifier.close, 0)
        self._notifier = notifier
        self._engine = Engine(
            self._groups,
            interval_ms=self.interval_ms,
            notifier=notifier,
            state=state,
            external_labels=self._external_labels,
            external_url=self._external_url,
        )
        try:
            self._http = ApiServer(self._listen, self)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {_show(self._listen)}: {exc.strerror}") from None
        undo.callback(self._http.server_close)
        if self._grpc_listen is not None:
            from ._grpc import start_grpc

            self._grpc = start_grpc(self, self._grpc_listen)
            undo.callback(self._grpc.stop, 0)
        self._first_ms = int(self._clock() * 1000) + self.warmup_ms
        self._threads = [
            # a short poll keeps stop() quick: serve_forever sees shutdown() between polls
            threading.Thread(
                target=self._http.serve_forever,
                kwargs={"poll_interval": 0.1},
                name="tradetel-alerts-http",
                daemon=True,
            ),
            threading.Thread(target=self._loop, name="tradetel-alerts-eval", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, end the evaluation loop, deliver what is queued, close the files.

        Idempotent; a second caller waits for the first to finish.
        """
        deadline = time.monotonic() + timeout

        def left() -> float:
            return max(0.0, deadline - time.monotonic())

        with self._lifecycle:
            self._halt.set()
            if self._state != "running":
                self._state = "stopped"
                return
            self._state = "stopped"
            with self._loop_cond:
                self._stopping = True
                self._loop_cond.notify_all()
            if self._http is not None:
                self._http.shutdown()
                self._http.close(left())
            if self._grpc is not None:
                self._grpc.stop(min(1.0, left()))
            for thread in self._threads:
                thread.join(left())
            if self._notifier is not None:
                self._notifier.close(left())
            self._closers.close()
        logger.info("tradetel alerts: stopped")

    def serve_forever(self) -> None:
        """Start if needed, serve until SIGTERM or SIGINT (or :meth:`stop`), then stop."""
        if self._state == "new":
            self.start()
        previous: dict[signal.Signals, Any] = {}
        if threading.current_thread() is threading.main_thread():  # signals reach only it
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, self._on_signal)
        try:
            self._halt.wait()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self.stop()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        logger.info("tradetel alerts: %s received, stopping", signal.Signals(signum).name)
        self._halt.set()

    # -- the evaluation loop ------------------------------------------------------------------

    def evaluate_due(self, timeout: float = 10.0) -> bool:
        """Wake the evaluation loop and wait for a pass that starts after this call, so that
        groups due by the clock have run; False if ``timeout`` passes first (tests, and a
        changed ``clock``)."""
        if self._state != "running":
            raise RuntimeError("the alert service is not running")
        with self._loop_cond:
            self._requested += 1
            ticket = self._requested
            self._loop_cond.notify_all()
            return self._loop_cond.wait_for(lambda: self._served >= ticket, timeout)

    def _loop(self) -> None:
        engine = self.engine
        shortest = min([g.interval_ms for g in engine.groups] + [self.interval_ms]) / 1000
        while True:
            with self._loop_cond:
                if self._stopping:
                    return
                ticket = self._requested
            now_ms = int(self._clock() * 1000)
            if now_ms < self._first_ms:
                wait = (self._first_ms - now_ms) / 1000
            else:
                try:
                    wait = engine.run_due(now_ms)
                    self._ready = True
                except Exception:  # the loop must go on; the cause is in the log
                    logger.exception("tradetel alerts: evaluation failed")
                    self.metrics.count_loop_error()
                    wait = shortest
            # never longer than the shortest interval: the wall clock may have jumped
            wait = min(max(wait, 0.0), shortest)
            with self._loop_cond:
                self._served = ticket
                self._loop_cond.notify_all()
                self._loop_cond.wait_for(functools.partial(self._woken, ticket), wait)

    def _woken(self, ticket: int) -> bool:
        return self._stopping or self._requested > ticket


def serve(rules: PathLike | Sequence[PathLike], **options: Any) -> None:
    """Run the service until SIGTERM or SIGINT (``tradetel alerts serve``).

    Takes :class:`AlertService`'s arguments; RuleError and ConfigError propagate (the CLI
    prints them and exits 2).  Says where it listens on stderr.
    """
    service = AlertService(rules, **options).start()
    where = f"http://{service.address} (OTLP/HTTP at /v1/metrics, API at /api/v1)"
    if service.grpc_port is not None:
        where += f" and OTLP/gRPC on port {service.grpc_port}"
    print(f"tradetel alerts serve: listening on {where}", file=sys.stderr, flush=True)
    service.serve_forever()


def _duration(name: str, text: str, *, zero: bool = False) -> int:
    try:
        ms = parse_duration(text)
    except ValueError as exc:
        raise ConfigError(f"{name}={text!r}: {exc}") from None
    if ms <= 0 and not zero:
        raise ConfigError(f"{name}={text!r}: must be more than 0")
    return ms


def _address(name: str, text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[V6]:PORT`` or ``:PORT`` (every interface)."""
    host, sep, port = str(text).rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"{name}={text!r}: expected HOST:PORT, e.g. 127.0.0.1:9095")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ConfigError(f"{name}={text!r}: write an IPv6 address in brackets, [::1]:9095")
    return host, int(port)


def _show(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
