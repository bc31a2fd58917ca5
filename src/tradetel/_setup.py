"""configure(), shutdown() and force_flush(): build, swap and tear down the export pipeline.

``configure()`` may be called again: it builds the new pipeline, then flushes and shuts down
the previous one and installs the new (so tests and notebooks can reconfigure). A forked
child builds its own pipeline, with its own ``service.instance.id``, on first use.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, propagate, trace
from opentelemetry.context import Context, get_current
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.propagators.textmap import (
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from . import _logbridge, semconv
from ._config import DEFAULT_DATA_DIR, METRICS_ONLY, Settings, resolve
from ._decorators import disabled
from ._errors import ConfigError
from ._export import (
    BatchWorker,
    PeriodicReader,
    ScrubbingLogProcessor,
    ScrubbingSpanProcessor,
    SinkLogProcessor,
    SinkSpanProcessor,
    add_metric_source,
    log_worker,
    span_worker,
)
from ._internal import report_internal_error, warn_once
from ._metrics import Registry
from ._runtime import STATE, Runtime, _nothing_to_resume
from ._span import UNSAMPLED, unsampled_context
from ._version import __version__

if TYPE_CHECKING:
    from .alerts._embedded import EmbeddedEvaluator
    from .exporters._prometheus import PrometheusEndpoint

logger = logging.getLogger("tradetel")

_lock = threading.RLock()


class _Pipeline:
    """Everything one configure() built, for force_flush() and shutdown()."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.span_workers: list[BatchWorker[Any]] = []
        self.log_workers: list[BatchWorker[Any]] = []
        self.tracer_provider: TracerProvider | None = None
        self.meter_provider: MeterProvider | None = None
        self.logger_provider: LoggerProvider | None = None
        self.readers: list[PeriodicReader] = []  # tradetel's own, one per exporter
        self.registry = Registry()
        self.runtime: Runtime | None = None
        self.log_handler: logging.Handler | None = None
        self.configure_kwargs: dict[str, Any] = {}
        self.alerts: EmbeddedEvaluator | None = None
        self.prometheus: PrometheusEndpoint | None = None


_pipeline: _Pipeline | None = None
_globals_set = False
_atexit_registered = False


class _Sampler(Sampler):
    """The SDK tracer's sampler: OTel's parent-based ratio, plus tradetel's unsampled roots."""

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._delegate = ParentBased(TraceIdRatioBased(rate))

    def should_sample(  # type: ignore[no-untyped-def]
        self, parent_context: Context | None, trace_id: int, name: str, *args, **kwargs
    ) -> SamplingResult:
        ctx = parent_context if parent_context is not None else get_current()
        parent = trace.get_current_span(ctx).get_span_context()
        if not parent.is_valid and UNSAMPLED.get() is not None:
            return SamplingResult(Decision.DROP)
        return self._delegate.should_sample(parent_context, trace_id, name, *args, **kwargs)

    def get_description(self) -> str:
        return f"tradetel(ParentBased(TraceIdRatioBased({self._rate})))"


class _GlobalTracer(trace.Tracer):
    """The global tracer that other instrumentations get: follows reconfiguration."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._args, self._kwargs = args, kwargs
        self._for: _Pipeline | None = None
        self._tracer: trace.Tracer = trace.NoOpTracer()

    def _current(self) -> trace.Tracer:
        if _pipeline is None:
            STATE.resume()  # a forked child builds its pipeline on first use, this one too
        pipeline = _pipeline
        if pipeline is not self._for:
            provider = pipeline.tracer_provider if pipeline is not None else None
            self._tracer = (
                provider.get_tracer(*self._args, **self._kwargs) if provider else trace.NoOpTracer()
            )
            self._for = pipeline
        return self._tracer

    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        return self._current().start_span(*args, **kwargs)

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        return self._current().start_as_current_span(*args, **kwargs)


class _GlobalTracerProvider(trace.TracerProvider):
    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _GlobalTracer(*args, **kwargs)


def configure(
    *,
    service_name: str | None = None,
    environment: str | None = None,
    mode: str | None = None,
    exporter: str | Iterable[str] | None = None,
    data_dir: str | os.PathLike[str] = DEFAULT_DATA_DIR,
    trace_sample_rate: float | None = None,
    metrics_interval: float | None = None,
    logs: bool = True,
    additional_span_processors: Sequence[SpanProcessor] = (),
    additional_metric_readers: Sequence[MetricReader] = (),
    additional_log_processors: Sequence[LogRecordProcessor] = (),
    metric_symbols: Iterable[str] | None = None,
    system_metrics: bool | None = None,
    alert_rules: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    alert_interval: float | str | None = None,
    notify: str | os.PathLike[str] | Mapping[str, Any] | None = None,
) -> None:
    """Set tradetel up: resource, providers, exporters, views and the logging bridge.

    Calling it again reconfigures: the previous pipeline is flushed and shut down first.
    With ``TRADETEL_DISABLED=1`` (or ``OTEL_SDK_DISABLED=true``) it does nothing. See
    ``docs/configuration.md`` for every argument and environment variable.

    ``alert_rules`` (or ``TRADETEL_ALERT_RULES``) starts the embedded alert evaluator on this
    process's metrics, with the channels of ``notify`` (or ``TRADETEL_NOTIFY``): see
    ``docs/alerts.md``.

    Raises:
        ConfigError: an argument or environment variable is invalid (nothing is changed).
        RuleError: a rule file is invalid (nothing is changed).
    """
    kwargs = dict(locals())
    if disabled():
        logger.debug("tradetel: disabled by the environment; configure() does nothing")
        return
    settings = resolve(
        service_name=service_name,
        environment=environment,
        mode=mode,
        exporter=exporter,
        data_dir=data_dir,
        trace_sample_rate=trace_sample_rate,
        metrics_interval=metrics_interval,
        logs=logs,
        metric_symbols=metric_symbols,
        system_metrics=system_metrics,
    )
    evaluator = _alerts(settings, alert_rules, alert_interval, notify)
    # Build the new pipeline first: if an exporter rejects its settings, the program keeps
    # the configuration it had.
    readers = [*additional_metric_readers, *([evaluator.reader] if evaluator else [])]
    try:
        pipeline = _build(settings, additional_span_processors, readers, additional_log_processors)
    except BaseException:
        if evaluator is not None:
            evaluator.close(0)
        raise
    pipeline.configure_kwargs = kwargs
    pipeline.alerts = evaluator
    global _pipeline
    with _lock:
        if _pipeline is not None:
            _shutdown(_pipeline, 5.0)
        _pipeline = pipeline
        STATE.runtime = pipeline.runtime
        STATE.resume = _nothing_to_resume
        if pipeline.log_handler is not None:
            _logbridge.install(pipeline.log_handler)
        _set_globals(pipeline)
        _register_exit()
        if evaluator is not None:
            evaluator.start()


def _alerts(
    settings: Settings,
    rules: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None,
    interval: float | str | None,
    notify: str | os.PathLike[str] | Mapping[str, Any] | None,
) -> EmbeddedEvaluator | None:
    """The embedded alert evaluator, if rules are given; its errors are the user's to fix."""
    rules = rules or os.environ.get("TRADETEL_ALERT_RULES") or None
    if not rules:
        return None
    if _resuming_after_fork:
        # The parent's evaluator watches the rules; a child's would notify about the parent's
        # alerts from the shared state file.
        logger.debug("tradetel: a forked child does not run the parent's alert evaluator")
        return None
    from .alerts._embedded import EmbeddedEvaluator

    return EmbeddedEvaluator(
        rules,
        notify=notify if notify is not None else os.environ.get("TRADETEL_NOTIFY") or None,
        interval=interval,
        data_dir=settings.data_dir,
    )


def _dropped(registry: Registry, signal: str) -> Callable[[int], None]:
    series = registry.counter(
        semconv.TELEMETRY_DROPPED, "{item}", "Telemetry that tradetel had to drop."
    ).series({semconv.TELEMETRY_SIGNAL: signal})

    def count(n: int) -> None:
        series.add(n)
        warn_once(
            f"dropping {signal}s",
            "tradetel: dropping %ss (export queue full or exporter failing); counted in %s",
            signal,
            semconv.TELEMETRY_DROPPED,
        )

    return count


def _build(
    settings: Settings,
    span_processors: Sequence[SpanProcessor],
    metric_readers: Sequence[MetricReader],
    log_processors: Sequence[LogRecordProcessor],
) -> _Pipeline:
    """Make a pipeline, not yet installed; on failure, stop what was started and raise."""
    p = _Pipeline(settings)
    try:
        _build_into(p, settings, span_processors, metric_readers, log_processors)
        if settings.system_metrics:
            _add_system_metrics(p.registry, settings)
    except Exception as exc:
        _teardown(p, _Budget(1.0))
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(
            f"exporter={','.join(settings.exporters)!r}: the exporter could not be set up "
            f"({type(exc).__name__}: {exc}); check its OTEL_EXPORTER_OTLP_* variables"
        ) from exc
    return p


def _add_system_metrics(registry: Registry, settings: Settings) -> None:
    """The psutil gauges, unless psutil cannot read this system (a sandbox, no /proc)."""
    from ._system import SystemMetrics

    try:
        registry.sources.append(SystemMetrics(settings.data_dir))
    except Exception as exc:
        warn_once(
            "system metrics",
            "tradetel: system metrics are off: psutil cannot read this system (%s: %s)",
            type(exc).__name__,
            exc,
        )


def _metric_readers(p: _Pipeline, settings: Settings, names: list[str]) -> list[MetricReader]:
    """tradetel's readers: one periodic reader per push exporter, and the Prometheus one."""
    from . import exporters

    drop_metric = _dropped(p.registry, "metric")
    for name in names:
        if name == "prometheus":  # pulled by Prometheus' scrapes, not pushed on a period
            from .exporters._prometheus import start_prometheus

            p.prometheus = start_prometheus()
            continue
        exporter = exporters.metric_exporter(name, settings)
        p.readers.append(PeriodicReader(exporter, settings.metrics_interval, drop_metric))
    pulled = [p.prometheus.reader] if p.prometheus is not None else []
    return [*p.readers, *pulled]


def _build_into(
    p: _Pipeline,
    settings: Settings,
    span_processors: Sequence[SpanProcessor],
    metric_readers: Sequence[MetricReader],
    log_processors: Sequence[LogRecordProcessor],
) -> None:
    from . import exporters

    resource = Resource.create(settings.resource_attributes)
    scope = InstrumentationScope("tradetel", __version__)

    def names(signal: str) -> list[str]:
        chosen = settings.exporters_for(signal)
        return [n for n in chosen if n != "none" and (signal == "metrics" or n not in METRICS_ONLY)]

    # the user's processors see spans and records as exporters do: without secrets
    span_processors = [ScrubbingSpanProcessor(sp) for sp in span_processors]
    log_processors = [ScrubbingLogProcessor(lp) for lp in log_processors]

    # traces
    drop_span = _dropped(p.registry, "span")
    for name in names("traces"):
        p.span_workers.append(span_worker(exporters.span_exporter(name, settings), drop_span))
    workers = p.span_workers
    sink: Callable[[Any], None]
    if len(workers) == 1:
        sink = workers[0].put
    else:

        def sink(item: Any) -> None:
            for worker in workers:
                worker.put(item)

    # tradetel's own atexit hook shuts everything down in order: not the SDK's as well
    p.tracer_provider = TracerProvider(
        resource=resource, sampler=_Sampler(settings.trace_sample_rate), shutdown_on_exit=False
    )
    if workers:
        p.tracer_provider.add_span_processor(SinkSpanProcessor(sink))
    for processor in span_processors:
        p.tracer_provider.add_span_processor(processor)

    # metrics
    readers = [*_metric_readers(p, settings, names("metrics")), *metric_readers]
    latency = View(
        instrument_type=Histogram,
        instrument_unit="s",
        aggregation=ExplicitBucketHistogramAggregation(semconv.LATENCY_BUCKETS),
    )
    p.meter_provider = MeterProvider(
        metric_readers=readers, resource=resource, views=[latency], shutdown_on_exit=False
    )
    for reader in readers:
        add_metric_source(reader, resource, scope, p.registry.collect)

    # logs
    drop_log = _dropped(p.registry, "log")
    if settings.logs:
        p.logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
        for name in names("logs"):
            p.log_workers.append(log_worker(exporters.log_exporter(name, settings), drop_log))
        if p.log_workers:
            p.logger_provider.add_log_record_processor(SinkLogProcessor(p.log_workers))
        for log_processor in log_processors:
            p.logger_provider.add_log_record_processor(log_processor)
        if p.log_workers or log_processors:  # else records would be converted for nothing
            p.log_handler = LoggingHandler(level=logging.NOTSET, logger_provider=p.logger_provider)

    p.runtime = Runtime(
        resource=resource,
        scope=scope,
        sample_rate=settings.trace_sample_rate,
        registry=p.registry,
        span_sink=sink,
        span_processors=span_processors,
        metric_symbols=settings.metric_symbols,
    )


class _UnsampledAwarePropagator(TextMapPropagator):
    """The global propagator, telling downstream services about tradetel's unsampled roots.

    An unsampled root attaches no span to the context (see ``_span``), so without this an
    outgoing request would carry no ``traceparent`` and the next service would start a
    sampled trace of its own, where OTel propagates "not sampled".
    """

    def __init__(self, inner: TextMapPropagator) -> None:
        self._inner = inner

    def inject(
        self, carrier: Any, context: Context | None = None, setter: Setter[Any] = default_setter
    ) -> None:
        ctx = context if context is not None else get_current()
        if not trace.get_current_span(ctx).get_span_context().is_valid:
            unsampled = unsampled_context()
            if unsampled is not None:
                ctx = trace.set_span_in_context(trace.NonRecordingSpan(unsampled), ctx)
        self._inner.inject(carrier, ctx, setter)

    def extract(
        self, carrier: Any, context: Context | None = None, getter: Getter[Any] = default_getter
    ) -> Context:
        return self._inner.extract(carrier, context, getter)

    @property
    def fields(self) -> set[str]:
        return self._inner.fields


def _set_globals(pipeline: _Pipeline) -> None:
    """Give other instrumentations tradetel's providers, unless the program set its own."""
    global _globals_set
    if _globals_set:
        return
    _globals_set = True
    propagate.set_global_textmap(_UnsampledAwarePropagator(propagate.get_global_textmap()))
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        trace.set_tracer_provider(_GlobalTracerProvider())
    if pipeline.meter_provider is not None and _is_proxy(metrics.get_meter_provider()):
        metrics.set_meter_provider(pipeline.meter_provider)
    if pipeline.logger_provider is not None:
        from opentelemetry._logs import get_logger_provider, set_logger_provider

        if _is_proxy(get_logger_provider()):
            set_logger_provider(pipeline.logger_provider)


def _is_proxy(provider: object) -> bool:
    return type(provider).__name__.startswith(("_Proxy", "Proxy"))


def _register_exit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        _atexit_registered = True
        atexit.register(shutdown)


#: Share of a flush or shutdown's time kept for metrics (a collection and one export):
#: spans and logs going to a dead backend must not use it all.
_METRICS_SHARE = 0.3


class _Budget:
    """Time left before a deadline, with a share of it reserved for metrics."""

    def __init__(self, timeout: float) -> None:
        self.deadline = time.monotonic() + timeout
        self.reserve = timeout * _METRICS_SHARE

    def for_queues(self) -> float:
        return max(0.0, self.deadline - self.reserve - time.monotonic())

    def for_metrics(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


def _metrics_step(what: str, step: Callable[[], object]) -> bool:
    # The MeterProvider raises a plain Exception when a reader fails or time runs out: the
    # reader is the user's or the backend is slow - worth a warning, not an internal error.
    try:
        return step() is not False
    except Exception as exc:
        warn_once(f"metrics {what}", "tradetel: metrics %s did not complete: %s", what, exc)
        return False


def _guarded(step: Callable[[], object]) -> bool:
    """Run one shutdown step; False when it failed or said it did not finish."""
    try:
        return step() is not False
    except Exception as exc:
        report_internal_error("shutdown", exc)
        return False


def _shutdown(p: _Pipeline, timeout: float) -> bool:
    """Uninstall ``p``, then flush and stop it, within about ``timeout`` seconds in all."""
    STATE.runtime = None  # new calls stop recording; calls in flight still end their spans
    _logbridge.remove()
    return _teardown(p, _Budget(timeout))


def _teardown(p: _Pipeline, budget: _Budget) -> bool:
    """Flush and stop everything ``p`` runs; False when some of it was not exported."""
    if p.alerts is not None:
        _guarded(functools.partial(p.alerts.close, budget.for_queues()))
    ok = _each_component(p, budget, "shutdown")
    for reader in p.readers:
        reader.shutdown(timeout_millis=0)  # a no-op unless the provider ran out of time first
        ok = reader.last_export_ok and ok
    if p.prometheus is not None:
        _guarded(p.prometheus.close)
    return ok


def _each_component(p: _Pipeline, budget: _Budget, operation: str) -> bool:
    """Call ``force_flush`` or ``shutdown`` on each part of ``p``: queues first, metrics last."""
    ok = True
    for worker in [*p.span_workers, *p.log_workers]:
        ok = _guarded(functools.partial(getattr(worker, operation), budget.for_queues())) and ok
    for provider in (p.tracer_provider, p.logger_provider):  # the user's extra processors
        if provider is not None:
            call = getattr(provider, operation)
            if operation == "force_flush":
                call = functools.partial(call, timeout_millis=budget.for_queues() * 1000)
            ok = _guarded(call) and ok
    if p.meter_provider is not None:
        step = functools.partial(
            getattr(p.meter_provider, operation), timeout_millis=budget.for_metrics() * 1000
        )
        ok = _metrics_step(operation, step) and ok
    return ok


def shutdown(timeout: float = 5.0) -> bool:
    """Export everything recorded so far and stop tradetel; safe to call more than once.

    Returns False when not everything recorded could be exported within ``timeout`` seconds.
    """
    global _pipeline
    with _lock:
        pipeline, _pipeline = _pipeline, None
        STATE.resume = _nothing_to_resume
        if pipeline is None:
            return True
        return _shutdown(pipeline, timeout)


def force_flush(timeout: float = 5.0) -> bool:
    """Export everything recorded so far, without stopping; False if some of it was not."""
    p = _pipeline
    if p is None:
        return True
    ok = _each_component(p, _Budget(timeout), "force_flush")
    # The MeterProvider does not pass on whether a reader's export succeeded: ask them.
    return all(reader.last_export_ok for reader in p.readers) and ok


_forked_from: _Pipeline | None = None
_resuming_after_fork = False


def _mark_forked() -> None:
    """Right after a fork, in the child: the parent's pipeline is not ours to use.

    Nothing is built here - this also runs between fork and exec (``subprocess`` with a
    ``preexec_fn``), where starting threads or clients could deadlock. The child's own
    pipeline is built by the first decorated call or span that needs one.
    """
    global _pipeline, _lock, _forked_from
    _lock = threading.RLock()  # a thread of the parent may have held it; it does not exist here
    pipeline, _pipeline = _pipeline, None
    if pipeline is None:
        return
    STATE.runtime = None
    _logbridge.remove()
    _forked_from = pipeline
    STATE.resume = _resume_in_child


def _resume_in_child() -> Runtime | None:
    """Build a forked child's pipeline: its own threads, its own service.instance.id."""
    global _forked_from
    with _lock:
        STATE.resume = _nothing_to_resume
        parent, _forked_from = _forked_from, None
        if STATE.runtime is not None or parent is None:
            return STATE.runtime
        kwargs = dict(parent.configure_kwargs)
        # Readers and processors of the parent's pipeline are registered there; not reusable.
        for key in (
            "additional_span_processors",
            "additional_metric_readers",
            "additional_log_processors",
        ):
            kwargs[key] = ()
        global _resuming_after_fork
        _resuming_after_fork = True
        try:
            configure(**kwargs)
        except Exception as exc:
            report_internal_error("configure after fork", exc)
            return None
        finally:
            _resuming_after_fork = False
    # multiprocessing ends its children with os._exit(), skipping atexit: flush from its
    # finalizers too (registered now, after it cleared the ones a child inherits).
    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is not None:
        mp_util.Finalize(None, shutdown, exitpriority=100)
    return STATE.runtime


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_mark_forked)
