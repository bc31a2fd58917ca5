"""``exporter="prometheus"``: a ``/metrics`` endpoint that Prometheus scrapes, no collector.

OpenTelemetry's Prometheus reader (``opentelemetry-exporter-prometheus``, the
``tradetel[prometheus]`` extra) and ``prometheus_client``'s HTTP server serve the metrics; the
series are named by the same translation as Prometheus' OTLP receiver (``_seconds``,
``_total``, ``_ratio``, ``_bucket``: tradetel's ``alerts._otlp``), so the shipped rules and
dashboards query a scraped process exactly as one that pushes through a collector. The reader's
own naming differs: it gives a unit-1 gauge no ``_ratio``.

``job`` and ``instance`` are left to the scrape configuration, as for any scraped target;
``target_info`` carries the other resource attributes.

Listens on ``OTEL_EXPORTER_PROMETHEUS_HOST`` (default ``localhost``) and
``OTEL_EXPORTER_PROMETHEUS_PORT`` (default ``9464``), the variables OpenTelemetry defines.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

from .._errors import ConfigError

__all__ = ["PrometheusEndpoint", "start_prometheus"]

DEFAULT_HOST, DEFAULT_PORT = "localhost", 9464
_SCRAPE_LABELS = ("job", "instance")  # the scrape configuration's to set


class PrometheusEndpoint:
    """A pipeline's reader, and its hold on the address's server."""

    def __init__(
        self,
        reader: Any,
        collector: _TranslatingCollector,
        server: _Server,
        previous: _TranslatingCollector | None,
    ) -> None:
        self.reader = reader
        self.address = server.address
        self._collector = collector
        self._server = server
        self._previous = previous

    def close(self) -> None:
        """Stop serving, unless another pipeline serves on the same address.

        A newer pipeline took the server over: it is left serving. This one never got
        installed (its ``configure()`` failed): the pipeline it was to replace serves again.
        """
        with _servers_lock:
            self._collector.closed = True
            if self._server.current is not self._collector:
                return
            previous = self._previous
            if previous is not None and not previous.closed:
                self._server.current = previous
                return
            _servers.pop(self._server.key, None)
        self._server.stop()


class _Server:
    """One HTTP server per address, serving whichever pipeline is the current one.

    ``configure()`` builds the new pipeline before it stops the old one; both want the same
    port, so the new one takes the running server over instead of binding it again.
    """

    def __init__(self, key: tuple[str, int], server: Any, thread: threading.Thread) -> None:
        self.key = key
        self.address = f"{key[0]}:{server.server_address[1]}"
        self.current: _TranslatingCollector | None = None
        self._server = server
        self._thread = thread

    def collect(self) -> Iterator[Any]:  # the served registry's one collector
        current = self.current
        if current is not None:
            yield from current.collect()

    def describe(self) -> list[Any]:
        return []

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


_servers: dict[tuple[str, int], _Server] = {}
_servers_lock = threading.Lock()


def start_prometheus() -> PrometheusEndpoint:
    """Make the reader and serve it; ``ConfigError`` when it cannot (nothing started)."""
    try:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import CollectorRegistry, start_http_server
    except ImportError:
        raise ConfigError(
            "exporter 'prometheus' needs opentelemetry-exporter-prometheus: "
            "pip install 'tradetel[prometheus]'"
        ) from None
    host = os.environ.get("OTEL_EXPORTER_PROMETHEUS_HOST", "").strip() or DEFAULT_HOST
    raw_port = os.environ.get("OTEL_EXPORTER_PROMETHEUS_PORT", "").strip() or str(DEFAULT_PORT)
    try:
        port = int(raw_port)
        if not 0 <= port <= 65535:
            raise ValueError
    except ValueError:
        raise ConfigError(
            f"OTEL_EXPORTER_PROMETHEUS_PORT={raw_port!r}: expected a port number"
        ) from None

    class Reader(PrometheusMetricReader):
        """OpenTelemetry's reader, its series named as Prometheus' OTLP receiver names them."""

        def __init__(self) -> None:
            super().__init__(registry=CollectorRegistry(auto_describe=False))
            self._registry.unregister(self._collector)
            self._collector = _TranslatingCollector(self.collect)  # type: ignore[assignment]
            self._registry.register(self._collector)

    reader = Reader()
    collector: _TranslatingCollector = reader._collector  # type: ignore[assignment]
    key = (host, port)
    with _servers_lock:
        server = _servers.get(key) if port else None
        if server is None:
            registry = CollectorRegistry(auto_describe=False)
            try:
                http, thread = start_http_server(port, addr=host, registry=registry)
            except OSError as exc:
                raise ConfigError(
                    f"exporter 'prometheus': cannot listen on {host}:{port}: {exc}"
                ) from None
            server = _Server(key, http, thread)
            registry.register(server)
            _servers[key] = server
        previous, server.current = server.current, collector
    return PrometheusEndpoint(reader, collector, server, previous)


class _TranslatingCollector:
    """A ``prometheus_client`` collector: each scrape collects the SDK and translates it."""

    def __init__(self, collect: Callable[[], None]) -> None:
        self._collect = collect
        self.closed = False
        self._data: Any = None
        self._lock = threading.Lock()

    def add_metrics_data(self, data: Any) -> None:  # called back by the reader's collect()
        self._data = data

    def describe(self) -> list[Any]:
        return []  # unknown until collected: registering must not trigger a collection

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import Metric

        from ..alerts._otlp import Translator, from_sdk
        from ..alerts._series import is_stale

        with self._lock:  # two scrapes at once: one collection at a time
            self._data = None
            self._collect()
            data = self._data
        if data is None:
            return
        result = Translator().translate(from_sdk(data))
        families: dict[str, Any] = {}
        for labels, _, value in result.samples:
            if is_stale(value):
                continue
            mapping = dict(labels)
            name = mapping.pop("__name__")
            for key in _SCRAPE_LABELS:
                mapping.pop(key, None)
            family = families.get(name)
            if family is None:
                family = families[name] = Metric(name, "", "unknown")
            family.add_sample(name, mapping, value)
        yield from families.values()
