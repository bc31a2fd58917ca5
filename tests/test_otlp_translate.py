"""OTLP metrics decoded and translated into the series Prometheus' OTLP receiver would store."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Mapping, Sequence

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource as SdkResource

from tradetel._errors import ConfigError
from tradetel.alerts._otlp import PayloadError, TranslateResult, Translator, decode, from_sdk
from tradetel.alerts._series import is_stale, labels_to_dict

T0 = 1_700_000_000_000_000_000  # ns
SECOND = 1_000_000_000
MS0 = T0 // 1_000_000
CUMULATIVE = pb.AGGREGATION_TEMPORALITY_CUMULATIVE
DELTA = pb.AGGREGATION_TEMPORALITY_DELTA
NO_RECORDED_VALUE = pb.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK


# -- building requests ---------------------------------------------------------------------


def any_value(value: object) -> AnyValue:
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[any_value(v) for v in value]))
    if isinstance(value, dict):
        return AnyValue(kvlist_value=KeyValueList(values=attributes(value)))
    fields = {bool: "bool_value", int: "int_value", float: "double_value", bytes: "bytes_value"}
    return AnyValue(**{fields.get(type(value), "string_value"): value})


def attributes(mapping: Mapping[str, object] | None) -> list[KeyValue]:
    return [KeyValue(key=k, value=any_value(v)) for k, v in (mapping or {}).items()]


def request(
    *metrics: pb.Metric, resource: Mapping[str, object] | None = None
) -> ExportMetricsServiceRequest:
    return ExportMetricsServiceRequest(
        resource_metrics=[
            pb.ResourceMetrics(
                resource=Resource(attributes=attributes(resource)),
                scope_metrics=[pb.ScopeMetrics(metrics=list(metrics))],
            )
        ]
    )


def number_point(
    value: float, attrs: Mapping[str, object] | None = None, t: int = T0, flags: int = 0
) -> pb.NumberDataPoint:
    point = pb.NumberDataPoint(
        attributes=attributes(attrs), start_time_unix_nano=T0 - 60 * SECOND, time_unix_nano=t
    )
    point.flags = flags
    if isinstance(value, int):
        point.as_int = value
    else:
        point.as_double = value
    return point


def gauge(name: str, *points: pb.NumberDataPoint, unit: str = "") -> pb.Metric:
    return pb.Metric(
        name=name, unit=unit, gauge=pb.Gauge(data_points=points or [number_point(1.0)])
    )


def counter(
    name: str,
    *points: pb.NumberDataPoint,
    unit: str = "",
    monotonic: bool = True,
    temporality: int = CUMULATIVE,
) -> pb.Metric:
    data = pb.Sum(
        data_points=points or [number_point(1.0)],
        is_monotonic=monotonic,
        aggregation_temporality=temporality,  # type: ignore[arg-type]
    )
    return pb.Metric(name=name, unit=unit, sum=data)


def histogram_point(
    bounds: Sequence[float],
    counts: Sequence[int],
    total: float | None = None,
    attrs: Mapping[str, object] | None = None,
    t: int = T0,
    start: int = T0 - 60 * SECOND,
    flags: int = 0,
) -> pb.HistogramDataPoint:
    point = pb.HistogramDataPoint(
        attributes=attributes(attrs),
        start_time_unix_nano=start,
        time_unix_nano=t,
        explicit_bounds=bounds,
        bucket_counts=counts,
        count=sum(counts),
        flags=flags,
    )
    if total is not None:
        point.sum = total
    return point


def histogram(
    name: str, *points: pb.HistogramDataPoint, unit: str = "s", temporality: int = CUMULATIVE
) -> pb.Metric:
    data = pb.Histogram(
        data_points=points or [histogram_point([1.0], [1, 0], 0.5)],
        aggregation_temporality=temporality,  # type: ignore[arg-type]
    )
    return pb.Metric(name=name, unit=unit, histogram=data)


def summary(name: str, unit: str = "") -> pb.Metric:
    point = pb.SummaryDataPoint(
        time_unix_nano=T0,
        count=4,
        sum=10.0,
        quantile_values=[
            pb.SummaryDataPoint.ValueAtQuantile(quantile=0.5, value=2.0),
            pb.SummaryDataPoint.ValueAtQuantile(quantile=0.99, value=4.0),
        ],
    )
    return pb.Metric(name=name, unit=unit, summary=pb.Summary(data_points=[point]))


# -- reading results -----------------------------------------------------------------------


def names(result: TranslateResult) -> set[str]:
    return {labels_to_dict(labels)["__name__"] for labels, _, _ in result.samples}


def find(
    result: TranslateResult, name: str, **labels: str
) -> list[tuple[dict[str, str], int, float]]:
    found = []
    for series, t, value in result.samples:
        as_dict = labels_to_dict(series)
        if as_dict["__name__"] == name and labels.items() <= as_dict.items():
            found.append((as_dict, t, value))
    return found


def value(result: TranslateResult, name: str, **labels: str) -> float:
    (sample,) = find(result, name, **labels)
    return sample[2]


def translate(*metrics: pb.Metric, resource: Mapping[str, object] | None = None) -> TranslateResult:
    return Translator().translate(request(*metrics, resource=resource))


# -- names ---------------------------------------------------------------------------------

KINDS = {
    "gauge": lambda name, unit: gauge(name, unit=unit),
    "counter": lambda name, unit: counter(name, unit=unit),
    "updown": lambda name, unit: counter(name, unit=unit, monotonic=False),
    "histogram": lambda name, unit: histogram(name, unit=unit),
    "summary": lambda name, unit: summary(name, unit=unit),
}


@pytest.mark.parametrize(
    ("name", "unit", "kind", "expected"),
    [
        # the SEMCONV.md examples
        ("trading.order.events", "{event}", "counter", "trading_order_events_total"),
        ("trading.order.latency", "s", "histogram", "trading_order_latency_seconds_bucket"),
        ("trading.drawdown", "1", "gauge", "trading_drawdown_ratio"),
        ("process.memory.usage", "By", "gauge", "process_memory_usage_bytes"),
        ("trading.orders.open", "{order}", "updown", "trading_orders_open"),
        ("trading.order.fill_ratio", "1", "histogram", "trading_order_fill_ratio_bucket"),
        ("trading.order.slippage", "{bp}", "histogram", "trading_order_slippage_bucket"),
        ("trading.equity", "{USD}", "gauge", "trading_equity"),
        ("trading.order.open.max_age", "s", "gauge", "trading_order_open_max_age_seconds"),
        ("tradetel.telemetry.dropped", "{item}", "counter", "tradetel_telemetry_dropped_total"),
        ("process.cpu.utilization", "1", "gauge", "process_cpu_utilization_ratio"),
        ("trading.order.latency", "s", "summary", "trading_order_latency_seconds"),
        # units
        ("http.client.duration", "ms", "histogram", "http_client_duration_milliseconds_bucket"),
        ("cache.size", "KiBy", "gauge", "cache_size_kibibytes"),
        ("cpu.load", "%", "gauge", "cpu_load_percent"),
        ("temperature", "Cel", "gauge", "temperature_celsius"),
        ("net.io", "By/s", "gauge", "net_io_bytes_per_second"),
        ("queue.depth", "foo/bar", "gauge", "queue_depth_foo_per_bar"),
        ("requests", "{request}/s", "counter", "requests_per_second_total"),
        ("errors", "1", "counter", "errors_total"),
        # suffixes already there, odd characters
        ("latency.seconds", "s", "gauge", "latency_seconds"),
        ("requests.total", "", "counter", "requests_total"),
        ("total.requests", "", "counter", "requests_total"),
        ("cpu.ratio", "1", "gauge", "cpu_ratio"),
        ("2xx.responses", "", "counter", "_2xx_responses_total"),
        ("a..b__c-d", "", "gauge", "a_b_c_d"),
    ],
)
def test_metric_names_follow_prometheus_otlp_translation(
    name: str, unit: str, kind: str, expected: str
) -> None:
    result = translate(KINDS[kind](name, unit))
    assert expected in names(result)


def test_metric_name_that_leaves_nothing_valid_is_refused() -> None:
    result = translate(gauge("..."), gauge("ok"))
    assert names(result) == {"ok"}
    assert (result.accepted, result.rejected) == (1, 1)
    assert "'...'" in result.errors[0]


# -- labels --------------------------------------------------------------------------------


def test_attribute_keys_become_prometheus_label_names() -> None:
    attrs = {"trading.venue": "sim", "1st.try": "a", "_private": "b", "__kept": "c", "a..b": "d"}
    (labels, _, _) = find(translate(gauge("g", number_point(1.0, attrs))), "g")[0]
    assert labels == {
        "__name__": "g",
        "trading_venue": "sim",
        "key_1st_try": "a",
        "key_private": "b",
        "__kept": "c",
        "a__b": "d",
    }


def test_attribute_keys_equal_once_sanitized_join_their_values_with_semicolons() -> None:
    result = translate(gauge("g", number_point(1.0, {"a_b": "2", "a.b": "1"})))
    assert find(result, "g")[0][0]["a_b"] == "1;2"


@pytest.mark.parametrize(
    ("attribute", "label"),
    [
        (42, "42"),
        (True, "true"),
        (3.0, "3"),
        (0.25, "0.25"),
        (1e-7, "1e-7"),
        (2.5e21, "2.5e+21"),
        (b"\x01\x02", "AQI="),
        ([1, "a", False], '[1,"a",false]'),
        ({"b": 1.5, "a": "<x>"}, '{"a":"\\u003cx\\u003e","b":1.5}'),
    ],
)
def test_attribute_values_render_as_prometheus_renders_them(attribute: object, label: str) -> None:
    result = translate(gauge("g", number_point(1.0, {"v": attribute})))
    assert find(result, "g")[0][0]["v"] == label


# -- resource ------------------------------------------------------------------------------

RESOURCE = {
    "service.namespace": "desk",
    "service.name": "bot",
    "service.instance.id": "i-1",
    "host.name": "box",
    "trading.mode": "paper",
}


def test_service_attributes_become_job_and_instance() -> None:
    (labels, _, _) = find(translate(gauge("g"), resource=RESOURCE), "g")[0]
    assert labels == {"__name__": "g", "job": "desk/bot", "instance": "i-1"}


def test_job_is_the_service_name_alone_without_a_namespace() -> None:
    (labels, _, _) = find(translate(gauge("g"), resource={"service.name": "bot"}), "g")[0]
    assert labels["job"] == "bot"


def test_other_resource_attributes_go_to_target_info_on_job_and_instance() -> None:
    result = translate(gauge("g"), resource=RESOURCE)
    assert find(result, "target_info") == [
        (
            {
                "__name__": "target_info",
                "job": "desk/bot",
                "instance": "i-1",
                "host_name": "box",
                "trading_mode": "paper",
            },
            MS0,
            1.0,
        )
    ]


def test_no_target_info_when_the_resource_has_only_identifying_attributes() -> None:
    result = translate(gauge("g"), resource={"service.name": "bot", "service.instance.id": "1"})
    assert find(result, "target_info") == []


def test_no_target_info_without_job_or_instance() -> None:
    assert find(translate(gauge("g"), resource={"host.name": "box"}), "target_info") == []


def test_target_info_repeats_every_half_lookback_from_earliest_to_latest_point() -> None:
    points = [number_point(1.0, t=T0), number_point(2.0, {"x": "1"}, t=T0 + 360 * SECOND)]
    result = translate(gauge("g", *points), resource=RESOURCE)
    times = [t for _, t, _ in find(result, "target_info")]
    assert times == [MS0, MS0 + 150_000, MS0 + 300_000, MS0 + 360_000]


def test_promoted_resource_attributes_label_every_series_unless_a_point_sets_them() -> None:
    translator = Translator(promote_resource_attributes=["trading.mode", "host.name"])
    metric = gauge("g", number_point(1.0), number_point(2.0, {"host.name": "own"}))
    result = translator.translate(request(metric, resource=RESOURCE))
    first, second = find(result, "g")
    assert (first[0]["trading_mode"], first[0]["host_name"]) == ("paper", "box")
    assert (second[0]["trading_mode"], second[0]["host_name"]) == ("paper", "own")


# -- points --------------------------------------------------------------------------------


def test_histogram_buckets_are_cumulative_with_prometheus_le_formatting() -> None:
    point = histogram_point([0.00005, 0.00025, 1.0, 2.5, 10.0], [1, 2, 0, 3, 4, 5], 12.5)
    result = translate(histogram("trading.order.latency", point))
    buckets = {
        labels["le"]: v for labels, _, v in find(result, "trading_order_latency_seconds_bucket")
    }
    assert buckets == {"0.00005": 1, "0.00025": 3, "1": 3, "2.5": 6, "10": 10, "+Inf": 15}
    assert value(result, "trading_order_latency_seconds_sum") == 12.5
    assert value(result, "trading_order_latency_seconds_count") == 15
    assert (result.accepted, result.rejected) == (1, 0)


def test_histogram_without_a_sum_has_no_sum_series() -> None:
    result = translate(histogram("h", histogram_point([1.0], [1, 1])))
    assert names(result) == {"h_seconds_bucket", "h_seconds_count"}


def test_summary_gives_quantile_series_and_sum_and_count() -> None:
    result = translate(summary("rtt", unit="s"))
    assert value(result, "rtt_seconds", quantile="0.5") == 2.0
    assert value(result, "rtt_seconds", quantile="0.99") == 4.0
    assert value(result, "rtt_seconds_sum") == 10.0
    assert value(result, "rtt_seconds_count") == 4


def test_no_recorded_value_flag_makes_every_series_of_the_point_stale() -> None:
    stale_gauge = gauge("g", number_point(0.0, flags=NO_RECORDED_VALUE))
    stale_histogram = histogram("h", histogram_point([1.0], [1, 1], 3.0, flags=NO_RECORDED_VALUE))
    result = translate(stale_gauge, stale_histogram)
    assert len(result.samples) == 5
    assert all(is_stale(v) for _, _, v in result.samples)


def test_timestamps_are_nanoseconds_divided_down_to_milliseconds() -> None:
    result = translate(gauge("g", number_point(1.0, t=T0 + 999_999)))
    assert find(result, "g")[0][1] == MS0


def test_integer_points_become_float_samples() -> None:
    assert value(translate(counter("c", number_point(7))), "c_total") == 7.0


# -- delta temporality ---------------------------------------------------------------------


def delta_point(value: float, seconds: int, start: int | None = None) -> pb.NumberDataPoint:
    point = number_point(value, {"trading.venue": "sim"}, t=T0 + seconds * SECOND)
    point.start_time_unix_nano = T0 + (seconds - 10 if start is None else start) * SECOND
    return point


def test_delta_sums_are_accumulated_into_a_cumulative_counter() -> None:
    translator = Translator()
    first = translator.translate(request(counter("c", delta_point(5, 10), temporality=DELTA)))
    second = translator.translate(request(counter("c", delta_point(3, 20), temporality=DELTA)))
    assert value(first, "c_total") == 5
    assert value(second, "c_total") == 8
    assert find(second, "c_total")[0][1] == MS0 + 20_000


def test_delta_histograms_are_accumulated_bucket_by_bucket() -> None:
    translator = Translator()
    for seconds, counts in ((10, [1, 0, 2]), (20, [0, 3, 1])):
        point = histogram_point([1.0, 2.0], counts, 1.5, t=T0 + seconds * SECOND, start=T0)
        result = translator.translate(request(histogram("h", point, temporality=DELTA)))
    buckets = {labels["le"]: v for labels, _, v in find(result, "h_seconds_bucket")}
    assert buckets == {"1": 1, "2": 4, "+Inf": 7}
    assert value(result, "h_seconds_sum") == 3.0


def test_delta_histogram_with_new_bounds_restarts_its_stream() -> None:
    translator = Translator()
    old = histogram_point([1.0], [5, 5], t=T0 + SECOND, start=T0)
    new = histogram_point([1.0, 5.0], [1, 0, 0], t=T0 + 2 * SECOND, start=T0)
    result = translator.translate(request(histogram("h", old, new, temporality=DELTA)))
    assert [v for _, _, v in find(result, "h_seconds_count")] == [10, 1]


def test_delta_point_not_newer_than_its_stream_is_refused_and_counted() -> None:
    translator = Translator()
    translator.translate(request(counter("c", delta_point(5, 20), temporality=DELTA)))
    late = delta_point(3, 15, start=10)
    result = translator.translate(request(counter("c", late, temporality=DELTA)))
    assert (result.accepted, result.rejected, result.samples) == (0, 1, [])
    assert result.errors == [
        "metric 'c': delta point is not newer than its stream's last point; refused"
    ]


def test_delta_point_starting_before_its_stream_is_refused() -> None:
    translator = Translator()
    translator.translate(request(counter("c", delta_point(5, 20), temporality=DELTA)))
    result = translator.translate(
        request(counter("c", delta_point(3, 30, start=0), temporality=DELTA))
    )
    assert (result.accepted, result.rejected) == (0, 1)
    assert "starts before its stream" in result.errors[0]


def test_refusing_delta_refuses_delta_metrics_and_accepts_the_rest() -> None:
    translator = Translator(delta="refuse")
    delta = counter("orders", delta_point(1, 10), delta_point(2, 20), temporality=DELTA)
    result = translator.translate(request(delta, gauge("g")))
    assert names(result) == {"g"}
    assert (result.accepted, result.rejected) == (1, 2)
    assert result.errors == [
        "metric 'orders': delta temporality refused (set delta to convert, or convert it "
        "upstream with the collector's deltatocumulative processor)"
    ]


def test_delta_streams_beyond_max_streams_are_refused() -> None:
    translator = Translator(max_streams=2)
    points = [number_point(1, {"n": str(i)}, t=T0 + SECOND) for i in range(3)]
    result = translator.translate(request(counter("c", *points, temporality=DELTA)))
    assert (result.accepted, result.rejected) == (2, 1)
    assert "max_streams=2" in result.errors[0]


def test_a_full_stream_table_makes_room_by_forgetting_streams_idle_for_five_minutes() -> None:
    translator = Translator(max_streams=1)
    translator.translate(request(counter("a", delta_point(1, 10), temporality=DELTA)))
    result = translator.translate(request(counter("b", delta_point(1, 400), temporality=DELTA)))
    assert (result.accepted, result.rejected) == (1, 0)


def test_a_malformed_request_changes_no_delta_stream() -> None:
    translator = Translator()
    bad = request(counter("c", delta_point(5, 10), temporality=DELTA), pb.Metric(name="empty"))
    with pytest.raises(PayloadError):
        translator.translate(bad)
    result = translator.translate(request(counter("c", delta_point(3, 20), temporality=DELTA)))
    assert value(result, "c_total") == 3


# -- refused and malformed -----------------------------------------------------------------


def test_exponential_histogram_points_are_refused_with_a_message() -> None:
    points = [pb.ExponentialHistogramDataPoint(time_unix_nano=T0, count=1, scale=2)] * 2
    exponential = pb.Metric(
        name="lat",
        unit="s",
        exponential_histogram=pb.ExponentialHistogram(
            data_points=points, aggregation_temporality=CUMULATIVE
        ),
    )
    result = translate(exponential, gauge("g"))
    assert names(result) == {"g"}
    assert (result.accepted, result.rejected) == (1, 2)
    assert "metric 'lat': exponential histograms are not supported" in result.errors[0]


def test_unspecified_temporality_is_refused() -> None:
    result = translate(counter("c", temporality=pb.AGGREGATION_TEMPORALITY_UNSPECIFIED))
    assert (result.accepted, result.rejected) == (0, 1)
    assert "unspecified" in result.errors[0]


def no_value_point() -> pb.NumberDataPoint:
    return pb.NumberDataPoint(time_unix_nano=T0)


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        (pb.Metric(name="", gauge=pb.Gauge()), r"metrics\[1\]: the metric has no name"),
        (pb.Metric(name="m"), r"metrics\[1\] 'm': no data"),
        (gauge("m", no_value_point()), r"metrics\[1\] 'm'.data_points\[0\]: no value"),
        (
            gauge("m", pb.NumberDataPoint(as_double=1.0)),
            r"metrics\[1\] 'm'.data_points\[0\]: time_unix_nano is missing",
        ),
        (
            gauge("m", number_point(1.0, {"": "x"})),
            r"metrics\[1\] 'm'.data_points\[0\].attributes\[0\]: the attribute key is empty",
        ),
        (
            histogram("m", histogram_point([1.0, 2.0], [1, 1])),
            r"metrics\[1\] 'm'.data_points\[0\]: 2 bucket_counts for 2 explicit_bounds",
        ),
        (
            histogram("m", histogram_point([2.0, 1.0], [1, 1, 1])),
            r"metrics\[1\] 'm'.data_points\[0\]: explicit_bounds are not strictly increasing",
        ),
    ],
)
def test_malformed_metrics_raise_payload_error_naming_where(
    metric: pb.Metric, message: str
) -> None:
    with pytest.raises(PayloadError, match=r"^resource_metrics\[0\].scope_metrics\[0\]." + message):
        translate(gauge("fine"), metric)


def test_invalid_translator_settings_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="delta"):
        Translator(delta="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="list"):
        Translator(promote_resource_attributes="host.name")


# -- decoding ------------------------------------------------------------------------------


def sample_request() -> ExportMetricsServiceRequest:
    latency = histogram_point([0.001, 0.01], [1, 2, 3], 0.5, {"trading.venue": "sim"})
    return request(
        histogram("trading.order.latency", latency),
        counter("trading.order.events", number_point(4, {"trading.order.status": "filled"})),
        resource=RESOURCE,
    )


def test_protobuf_json_gzip_and_deflate_bodies_decode_to_the_same_series() -> None:
    message = sample_request()
    binary = message.SerializeToString()
    text = json_format.MessageToJson(message, use_integers_for_enums=True).encode()
    bodies = [
        (binary, "application/x-protobuf", None),
        (text, "application/json; charset=utf-8", None),
        (gzip.compress(binary), "application/x-protobuf", "gzip"),
        (zlib.compress(text), "application/json", "deflate"),
        (zlib.compress(binary)[2:-4], "application/x-protobuf", "deflate"),  # raw deflate
    ]
    expected = Translator().translate(message).samples
    assert len(expected) == 7
    for body, content_type, encoding in bodies:
        assert decode(body, content_type, encoding) == message
        assert Translator().translate(decode(body, content_type, encoding)).samples == expected


def test_otlp_json_with_hex_ids_and_integer_enums_decodes() -> None:
    document = {
        "resourceMetrics": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "x"}}]
                },
                "scopeMetrics": [
                    {
                        "metrics": [
                            {
                                "name": "trading.order.events",
                                "unit": "{event}",
                                "sum": {
                                    "aggregationTemporality": 2,
                                    "isMonotonic": True,
                                    "dataPoints": [
                                        {
                                            "timeUnixNano": str(T0),
                                            "asInt": "3",
                                            "exemplars": [
                                                {
                                                    "timeUnixNano": str(T0),
                                                    "asInt": "1",
                                                    "traceId": "5b8efff798038103d269b633813fc60c",
                                                    "spanId": "eee19b7ec3c1b174",
                                                }
                                            ],
                                        }
                                    ],
                                },
                            }
                        ]
                    }
                ],
            }
        ]
    }
    decoded = decode(json.dumps(document).encode(), "application/json")
    result = Translator().translate(decoded)
    assert value(result, "trading_order_events_total", job="x") == 3


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"\x0a\x05ab", "application/x-protobuf", "protobuf body is not an"),
        (b"{not json", "application/json", "OTLP/JSON body: not valid JSON"),
        (b"[1, 2]", "application/json", "OTLP/JSON body: expected a JSON object"),
        (b'{"resourceMetrics": 7}', "application/json", "OTLP/JSON body"),
    ],
)
def test_garbage_bodies_raise_payload_error(body: bytes, content_type: str, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        decode(body, content_type)


def test_unsupported_content_type_raises_payload_error() -> None:
    with pytest.raises(PayloadError, match="unsupported content type 'text/plain'"):
        decode(b"", "text/plain")


def test_unsupported_content_encoding_raises_payload_error() -> None:
    with pytest.raises(PayloadError, match="unsupported content encoding 'br'"):
        decode(b"", "application/x-protobuf", "br")


def test_corrupt_or_oversized_compressed_bodies_raise_payload_error() -> None:
    with pytest.raises(PayloadError, match="gzip body cannot be decompressed"):
        decode(b"\x1f\x8b not gzip", "application/x-protobuf", "gzip")
    with pytest.raises(PayloadError, match="gzip body is truncated"):
        decode(gzip.compress(b"\x00" * 100)[:-10], "application/x-protobuf", "gzip")
    with pytest.raises(PayloadError, match="inflates past 1000 bytes"):
        decode(gzip.compress(b"\x00" * 5000), "application/x-protobuf", "gzip", max_size=1000)


# -- the SDK -------------------------------------------------------------------------------


def test_sdk_metrics_translate_to_prometheus_names() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(
        metric_readers=[reader], resource=SdkResource.create({"service.name": "bot"})
    )
    meter = provider.get_meter("test")
    venue = {"trading.venue": "sim"}
    meter.create_histogram("trading.order.latency", unit="s").record(0.002, venue)
    meter.create_counter("trading.order.events", unit="{event}").add(2, venue)
    meter.create_gauge("trading.drawdown", unit="1").set(0.12, venue)
    data = reader.get_metrics_data()
    provider.shutdown()
    assert data is not None

    result = Translator().translate(from_sdk(data))

    assert result.rejected == 0
    assert value(result, "trading_order_events_total", job="bot", trading_venue="sim") == 2
    assert value(result, "trading_drawdown_ratio", trading_venue="sim") == 0.12
    assert value(result, "trading_order_latency_seconds_bucket", le="5") == 1
    assert value(result, "trading_order_latency_seconds_count") == 1
