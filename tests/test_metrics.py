"""tradetel's own metric instruments."""

from __future__ import annotations

import pytest

from tradetel import _metrics
from tradetel._metrics import Registry


def test_histogram_buckets_follow_otel_bounds_upper_inclusive() -> None:
    hist = Registry().histogram("h", "s", "", bounds=(1.0, 2.0))
    series = hist.series({"a": "x"})
    for value in (0.5, 1.0, 1.5, 2.0, 7.0):
        series.record(value)
    point = series.point(0, 1)
    assert list(point.bucket_counts) == [2, 2, 1]
    assert (point.count, point.sum, point.min, point.max) == (5, 12.0, 0.5, 7.0)


def test_same_attributes_share_one_series() -> None:
    counter = Registry().counter("c", "{x}", "")
    counter.add(1, {"a": "1", "b": "2"})
    counter.add(2, {"b": "2", "a": "1"})
    metric = counter.to_metric(1)
    assert metric is not None
    (point,) = metric.data.data_points
    assert point.value == 3


def test_series_past_the_cap_fold_into_one_overflow_series(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_metrics, "MAX_SERIES", 3)
    counter = Registry().counter("c", "{x}", "")
    for i in range(10):
        counter.add(1, {"id": str(i)})
    metric = counter.to_metric(1)
    assert metric is not None
    points = {tuple(sorted(p.attributes.items())): p.value for p in metric.data.data_points}
    assert len(points) == 4
    assert points[(("otel.metric.overflow", True),)] == 7


def test_one_name_cannot_be_two_kinds_of_instrument() -> None:
    registry = Registry()
    registry.counter("trading.trades", "{trade}", "")
    with pytest.raises(ValueError, match="already exists as a counter"):
        registry.gauge("trading.trades", "{trade}", "")


def test_gauge_keeps_the_last_value_and_up_down_counter_goes_both_ways() -> None:
    registry = Registry()
    gauge = registry.gauge("g", "1", "")
    gauge.set(0.1, {})
    gauge.set(0.3, {})
    updown = registry.up_down_counter("u", "{order}", "")
    updown.add(2, {})
    updown.add(-1, {})
    by_name = {m.name: m for m in registry.collect()}
    assert by_name["g"].data.data_points[0].value == 0.3
    assert by_name["u"].data.data_points[0].value == 1
    assert by_name["u"].data.is_monotonic is False


def test_concurrent_records_are_all_counted_in_the_right_buckets() -> None:
    import threading

    series = Registry().histogram("h", "s", "", bounds=(1.0,)).series({})
    per_thread = 5 * _metrics.FOLD_AT + 7  # folds in the threads, and a remainder

    def record(value: float) -> None:
        for _ in range(per_thread):
            series.record(value)

    threads = [threading.Thread(target=record, args=(v,)) for v in (0.5, 2.0) * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    point = series.point(0, 1)
    assert point.count == 8 * per_thread
    assert list(point.bucket_counts) == [4 * per_thread, 4 * per_thread]
    assert point.sum == pytest.approx(4 * per_thread * 2.5)
