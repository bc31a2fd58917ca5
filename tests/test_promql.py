"""tradetel's PromQL subset: what it accepts, and the values Prometheus 2.42 would give.

Expected values are worked out by hand from Prometheus 2.42's algorithms (and agree with
``promtool test rules`` 2.42 bit for bit).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import pytest

from tradetel.alerts._evaluate import Sample, evaluate
from tradetel.alerts._promql import PromQLError, QueryError, parse
from tradetel.alerts._series import STALE, SeriesStore, labels_from

MIN = 60_000
SUBSET_FUNCTIONS = [
    "rate(x[5m])",
    "irate(x[5m])",
    "increase(x[5m])",
    "delta(x[5m])",
    "deriv(x[5m])",
    "changes(x[5m])",
    "resets(x[5m])",
    "avg_over_time(x[5m])",
    "min_over_time(x[5m])",
    "max_over_time(x[5m])",
    "sum_over_time(x[5m])",
    "count_over_time(x[5m])",
    "last_over_time(x[5m])",
    "quantile_over_time(0.9, x[5m])",
    "stddev_over_time(x[5m])",
    "histogram_quantile(0.9, x)",
    "absent(x)",
    "absent_over_time(x[5m])",
    "time()",
    "timestamp(x)",
    "vector(1)",
    "scalar(x)",
    "abs(x)",
    "clamp_min(x, 0)",
    "clamp_max(x, 1)",
    "round(x)",
    "round(x, 0.5)",
    'label_replace(x, "dst", "$1", "src", "(.*)")',
]


def make_store(*series: tuple[Mapping[str, str], Iterable[tuple[int, float]]]) -> SeriesStore:
    store = SeriesStore(retention_ms=24 * 3600 * 1000)
    for labels, samples in series:
        for t, v in samples:
            store.append(labels_from(labels), t, v)
    return store


def at0(name: str, value: float, **labels: str) -> tuple[dict[str, str], list[tuple[int, float]]]:
    """A series with one sample at time 0."""
    return {"__name__": name, **labels}, [(0, value)]


def every(step_ms: int, values: Iterable[float], start: int = 0) -> list[tuple[int, float]]:
    return [(start + i * step_ms, v) for i, v in enumerate(values)]


def run(expr: str, t_ms: int, store: SeriesStore) -> list[Sample] | float | str:
    return evaluate(parse(expr), t_ms, store)


def result(expr: str, t_ms: int, store: SeriesStore) -> dict[tuple[tuple[str, str], ...], float]:
    out = run(expr, t_ms, store)
    assert isinstance(out, list), out
    return {s.labels: s.value for s in out}


def one(expr: str, t_ms: int, store: SeriesStore) -> float:
    values = list(result(expr, t_ms, store).values())
    assert len(values) == 1, values
    return values[0]


def scalar(expr: str) -> float:
    """A scalar expression's value (over an empty store at time 0)."""
    out = run(expr, 0, SeriesStore())
    assert isinstance(out, float), out
    return out


def lset(**labels: str) -> tuple[tuple[str, str], ...]:
    return labels_from(labels)


# --- Parsing and the subset ------------------------------------------------------------


@pytest.mark.parametrize("expr", SUBSET_FUNCTIONS)
def test_every_function_of_the_subset_parses(expr: str) -> None:
    assert parse(expr).text == expr


@pytest.mark.parametrize(
    ("expr", "named"),
    [
        ("sort(x)", "function 'sort'"),
        ("predict_linear(x[5m], 60)", "function 'predict_linear'"),
        ("stddev(x)", "aggregation 'stddev'"),
        ('count_values("v", x)', "aggregation 'count_values'"),
        ("x atan2 y", "operator 'atan2'"),
        ("rate(x[5m:1m])", "subqueries"),
        ("x @ 1700000000", "the @ modifier"),
        ('x{a="1" or b="2"}', "'or' between label matchers"),
        ('"text"', "string literals"),
    ],
)
def test_constructs_outside_the_subset_are_rejected_by_name(expr: str, named: str) -> None:
    with pytest.raises(PromQLError, match=named):
        parse(expr)


def test_a_syntax_error_is_a_promql_error_quoting_the_expression() -> None:
    with pytest.raises(PromQLError, match=r"sum\(x"):
        parse("sum(x")


def test_argument_types_are_checked_at_load() -> None:
    with pytest.raises(PromQLError, match="expected type matrix"):
        parse("rate(x)")


def test_comparing_two_scalars_needs_bool() -> None:
    with pytest.raises(PromQLError, match="must use BOOL modifier"):
        parse("1 > 2")


def test_a_regex_go_accepts_but_tradetel_cannot_run_is_rejected_at_load() -> None:
    with pytest.raises(PromQLError, match="Unicode classes"):
        parse(r'x{a=~"\\pL+"}')


def test_label_names_that_prometheus_2_rejects_are_rejected() -> None:
    with pytest.raises(PromQLError, match=r"label name 'a\.b'"):
        parse('sum by ("a.b") (x)')


@pytest.mark.parametrize(
    ("expr", "value_type"),
    [
        ("x", "vector"),
        ("x[1m]", "matrix"),
        ("1 + 2", "scalar"),
        ("time()", "scalar"),
        ("scalar(x) * 2", "scalar"),
        ("x * 2", "vector"),
        ("-vector(1)", "vector"),
    ],
)
def test_value_type_is_what_the_expression_gives(expr: str, value_type: str) -> None:
    assert parse(expr).value_type == value_type


def test_lookbehind_is_the_widest_window_plus_its_offset() -> None:
    assert parse("rate(x[10m] offset 5m) + y").lookbehind_ms == 15 * MIN


def test_lookbehind_of_an_instant_selector_is_the_lookback() -> None:
    assert parse("x offset 1m").lookbehind_ms == 6 * MIN


def test_lookbehind_of_a_negative_offset_is_not_below_zero() -> None:
    assert parse("x offset -1h").lookbehind_ms == 0


def test_lookbehind_without_selectors_is_zero() -> None:
    assert parse("vector(1)").lookbehind_ms == 0


# --- Instant selectors (semantic 11) -----------------------------------------------------


def test_instant_selector_sees_a_sample_exactly_five_minutes_old() -> None:
    store = make_store(at0("x", 7.0))
    assert result("x", 5 * MIN, store) == {lset(__name__="x"): 7.0}


def test_instant_selector_misses_a_sample_five_minutes_and_one_ms_old() -> None:
    store = make_store(at0("x", 7.0))
    assert result("x", 5 * MIN + 1, store) == {}


def test_a_staleness_marker_ends_the_series_at_once() -> None:
    store = make_store(({"__name__": "x"}, [(0, 7.0), (MIN, STALE)]))
    assert result("x", MIN, store) == {}


def test_a_sample_after_a_staleness_marker_brings_the_series_back() -> None:
    store = make_store(({"__name__": "x"}, [(0, 7.0), (MIN, STALE), (2 * MIN, 8.0)]))
    assert result("x", 3 * MIN, store) == {lset(__name__="x"): 8.0}


def test_offset_reads_the_past() -> None:
    store = make_store(({"__name__": "x"}, every(MIN, [1, 2, 3])))
    assert one("x offset 2m", 2 * MIN, store) == 1.0


def test_regex_matchers_are_anchored() -> None:
    store = make_store(at0("x", 1.0, job="api-2"))
    assert result('x{job=~"api"}', 0, store) == {}


def test_regex_dot_does_not_match_a_newline_as_in_go() -> None:
    store = make_store(at0("x", 1.0, v="a\nb"))
    assert result('x{v=~"a.b"}', 0, store) == {}


def test_a_case_insensitive_flag_inside_a_regex_applies_to_the_rest() -> None:
    store = make_store(at0("x", 1.0, v="aBC"))
    assert len(result('x{v=~"a(?i)bc"}', 0, store)) == 1


def test_negative_regex_matcher_matches_a_missing_label() -> None:
    store = make_store(at0("x", 1.0))
    assert len(result('x{job!~"api.*"}', 0, store)) == 1


# --- Range windows (semantic 12: Prometheus 2.x bounds [t-d, t]) -------------------------


def test_range_window_includes_samples_at_both_ends() -> None:
    store = make_store(({"__name__": "x"}, every(MIN, [1, 2, 3])))
    assert one("count_over_time(x[1m])", 2 * MIN, store) == 2.0


def test_range_window_leaves_out_staleness_markers() -> None:
    store = make_store(({"__name__": "x"}, [(0, 1.0), (MIN, STALE), (2 * MIN, 3.0)]))
    assert one("count_over_time(x[5m])", 2 * MIN, store) == 2.0


def test_series_without_samples_in_the_window_are_left_out() -> None:
    store = make_store(at0("x", 1.0))
    assert result("count_over_time(x[1m])", 2 * MIN, store) == {}


def test_range_function_results_drop_the_metric_name() -> None:
    store = make_store(({"__name__": "x", "job": "a"}, every(MIN, [1, 2])))
    assert result("max_over_time(x[5m])", MIN, store) == {lset(job="a"): 2.0}


def test_last_over_time_keeps_the_metric_name() -> None:
    store = make_store(({"__name__": "x", "job": "a"}, every(MIN, [1, 2])))
    assert result("last_over_time(x[5m])", MIN, store) == {lset(__name__="x", job="a"): 2.0}


# --- rate and friends (semantics 12 and 15) ----------------------------------------------


def counter(step_ms: int, values: Iterable[float]) -> SeriesStore:
    return make_store(({"__name__": "c"}, every(step_ms, values)))


def test_rate_of_a_steady_counter_over_a_full_window() -> None:
    # 0, 10, 20, ... every 15s; [1m] at 2m holds 40..80 at 60s..120s: 40 over 60s
    assert one("rate(c[1m])", 2 * MIN, counter(15_000, range(0, 200, 10))) == 40 / 60


def test_increase_extrapolates_to_both_window_edges() -> None:
    # window [70s, 130s]: samples 50..80 at 75s..120s; 5s and 10s to the edges are under
    # 1.1 x the 15s spacing, so 30 over 45s is extrapolated to 60s
    assert one("increase(c[1m])", 130_000, counter(15_000, range(0, 200, 10))) == 30 * (60 / 45)


def test_increase_extrapolates_only_half_a_step_past_a_gap() -> None:
    # samples 20, 30 at 30s, 45s in [0s, 90s]: 30s and 45s to the edges are too far, so
    # the 15s sampled interval grows by 7.5s on each side
    store = make_store(({"__name__": "c"}, [(30_000, 20.0), (45_000, 30.0)]))
    assert one("increase(c[90s])", 90_000, store) == 10 * (30 / 15)


def test_increase_does_not_extrapolate_a_counter_below_zero() -> None:
    # 1, 11, 21 at 15s..45s in [0s, 45s]: the counter was 0 at 13.5s, so only 1.5s is added
    store = make_store(({"__name__": "c"}, every(15_000, [1, 11, 21], start=15_000)))
    assert one("increase(c[45s])", 45_000, store) == 20 * (31.5 / 30)


def test_delta_extrapolates_gauges_below_zero() -> None:
    store = make_store(({"__name__": "g"}, every(15_000, [1, 11, 21], start=15_000)))
    assert one("delta(g[45s])", 45_000, store) == 20 * (45 / 30)


def test_rate_adds_the_value_before_a_counter_reset() -> None:
    # 10, 20, 5, 15 every 15s: increase 5 + 20 (the reset) = 25 over the 45s window
    assert one("increase(c[45s])", 45_000, counter(15_000, [10, 20, 5, 15])) == 25.0


def test_rate_needs_two_samples() -> None:
    assert result("rate(c[1m])", 0, counter(15_000, [5])) == {}


def test_irate_is_the_rise_of_the_last_two_samples_per_second() -> None:
    assert one("irate(c[1m])", 45_000, counter(15_000, [0, 30, 31, 61])) == 2.0


def test_irate_takes_a_drop_as_a_counter_reset() -> None:
    assert one("irate(c[1m])", 30_000, counter(15_000, [0, 30, 15])) == 1.0


def test_deriv_of_a_constant_is_exactly_zero() -> None:
    assert one("deriv(c[5m])", 4 * MIN, counter(MIN, [0.1, 0.1, 0.1, 0.1, 0.1])) == 0.0


def test_deriv_is_the_least_squares_slope() -> None:
    assert one("deriv(c[5m])", 2 * MIN, counter(MIN, [0, 60, 120])) == 1.0


def test_changes_and_resets_count_value_changes_and_drops() -> None:
    store = counter(MIN, [1, 1, 3, 2, 2, 5])
    assert (one("changes(c[10m])", 5 * MIN, store), one("resets(c[10m])", 5 * MIN, store)) == (
        3.0,
        1.0,
    )


def test_sum_over_time_compensates_rounding_like_prometheus() -> None:
    assert one("sum_over_time(c[5m])", 3 * MIN, counter(MIN, [1, 1e100, 1, -1e100])) == 2.0


def test_avg_over_time_keeps_an_infinite_mean() -> None:
    assert one("avg_over_time(c[5m])", 2 * MIN, counter(MIN, [math.inf, 1, 2])) == math.inf


def test_stddev_over_time_is_the_population_deviation() -> None:
    assert one("stddev_over_time(c[5m])", 3 * MIN, counter(MIN, [2, 4, 4, 6])) == math.sqrt(2)


@pytest.mark.parametrize(
    ("q", "expected"),
    [(0.5, 2.5), (0.25, 1.75), (0.0, 1.0), (1.0, 4.0), (-1, -math.inf), (2, math.inf)],
)
def test_quantile_over_time_interpolates_between_ranks(q: float, expected: float) -> None:
    assert one(f"quantile_over_time({q}, c[5m])", 3 * MIN, counter(MIN, [4, 1, 3, 2])) == expected


def test_quantile_over_time_of_a_nan_quantile_is_nan() -> None:
    assert math.isnan(one("quantile_over_time(NaN, c[5m])", 0, counter(MIN, [1])))


# --- histogram_quantile (semantic 16) ----------------------------------------------------


def histogram(
    buckets: Mapping[str, float], **labels: str
) -> list[tuple[dict[str, str], list[tuple[int, float]]]]:
    return [at0("h_bucket", count, le=le, **labels) for le, count in buckets.items()]


def test_histogram_quantile_interpolates_inside_the_bucket() -> None:
    # rank 0.5 x 10 = 5 falls in (1, 2] holding observations 4..8: 1 + 1 x (1/4)
    store = make_store(*histogram({"0.5": 2, "1": 4, "2": 8, "+Inf": 10}))
    assert one("histogram_quantile(0.5, h_bucket)", 0, store) == 1.25


def test_histogram_quantile_starts_the_lowest_bucket_at_zero() -> None:
    store = make_store(*histogram({"1": 4, "+Inf": 4}))
    assert one("histogram_quantile(0.5, h_bucket)", 0, store) == 0.5


def test_histogram_quantile_without_an_inf_bucket_is_nan() -> None:
    store = make_store(*histogram({"1": 4, "2": 8}))
    assert math.isnan(one("histogram_quantile(0.5, h_bucket)", 0, store))


def test_histogram_quantile_in_the_inf_bucket_gives_the_highest_finite_bound() -> None:
    store = make_store(*histogram({"1": 4, "2": 8, "+Inf": 10}))
    assert one("histogram_quantile(0.99, h_bucket)", 0, store) == 2.0


def test_histogram_quantile_of_an_empty_histogram_is_nan() -> None:
    store = make_store(*histogram({"1": 0, "+Inf": 0}))
    assert math.isnan(one("histogram_quantile(0.5, h_bucket)", 0, store))


def test_histogram_quantile_outside_zero_to_one_is_infinite() -> None:
    store = make_store(*histogram({"1": 4, "+Inf": 4}))
    assert (
        one("histogram_quantile(-0.1, h_bucket)", 0, store),
        one("histogram_quantile(1.1, h_bucket)", 0, store),
    ) == (-math.inf, math.inf)


def test_histogram_quantile_groups_by_the_labels_without_le_and_name() -> None:
    store = make_store(
        *histogram({"1": 2, "+Inf": 2}, job="a"), *histogram({"1": 0, "+Inf": 2}, job="b")
    )
    assert result("histogram_quantile(0.5, h_bucket)", 0, store) == {
        lset(job="a"): 0.5,
        lset(job="b"): 1.0,
    }


def test_histogram_quantile_makes_bucket_counts_monotonic() -> None:
    # the 2-bucket's 3 is raised to the 1-bucket's 5: rank 4 falls in (0, 1]
    store = make_store(*histogram({"1": 5, "2": 3, "+Inf": 8}))
    assert one("histogram_quantile(0.5, h_bucket)", 0, store) == 0.8


# --- Aggregations ------------------------------------------------------------------------


def jobs() -> SeriesStore:
    return make_store(
        at0("x", 1.0, job="a", i="1"),
        at0("x", 2.0, job="a", i="2"),
        at0("x", 4.0, job="b", i="1"),
    )


def test_sum_by_keeps_only_the_listed_labels() -> None:
    assert result("sum by (job) (x)", 0, jobs()) == {lset(job="a"): 3.0, lset(job="b"): 4.0}


def test_sum_without_drops_the_listed_labels_and_the_name() -> None:
    assert result("sum without (i) (x)", 0, jobs()) == {lset(job="a"): 3.0, lset(job="b"): 4.0}


def test_aggregating_everything_gives_one_unlabelled_sample() -> None:
    assert result("count(x)", 0, jobs()) == {(): 3.0}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [("min(x)", 1.0), ("max(x)", 4.0), ("quantile(0.5, x)", 2.0), ("quantile(0.75, x)", 3.0)],
)
def test_aggregations_over_all_series(expr: str, expected: float) -> None:
    assert one(expr, 0, jobs()) == expected


def test_avg_is_prometheus_incremental_mean_in_label_order() -> None:
    # 1, 2, 4: mean 1, then 1 + (2/2 - 1/2), then 1.5 + (4/3 - 1.5/3); 7/3 would differ
    assert one("avg(x)", 0, jobs()) == 1.5 + (4 / 3 - 1.5 / 3) != 7 / 3


def test_min_and_max_ignore_nan_when_there_is_a_number() -> None:
    store = make_store(at0("x", math.nan, i="1"), at0("x", 3.0, i="2"))
    assert (one("min(x)", 0, store), one("max(x)", 0, store)) == (3.0, 3.0)


def test_topk_keeps_the_series_labels() -> None:
    assert result("topk(2, x)", 0, jobs()) == {
        lset(__name__="x", job="b", i="1"): 4.0,
        lset(__name__="x", job="a", i="2"): 2.0,
    }


def test_bottomk_by_group() -> None:
    assert result("bottomk(1, x) by (job)", 0, jobs()) == {
        lset(__name__="x", job="a", i="1"): 1.0,
        lset(__name__="x", job="b", i="1"): 4.0,
    }


def test_topk_below_one_is_empty() -> None:
    assert result("topk(0.5, x)", 0, jobs()) == {}


def test_topk_of_nan_is_a_query_error() -> None:
    with pytest.raises(QueryError, match="Scalar value NaN overflows int64"):
        run("topk(NaN, x)", 0, jobs())


# --- Binary operators --------------------------------------------------------------------


def test_arithmetic_drops_the_metric_name() -> None:
    assert result('x{job="b"} * 2', 0, jobs()) == {lset(job="b", i="1"): 8.0}


def test_filtering_comparison_keeps_the_vector_sample() -> None:
    assert result("2 < x", 0, jobs()) == {lset(__name__="x", job="b", i="1"): 4.0}


def test_bool_comparison_gives_zero_or_one_without_the_name() -> None:
    assert result('x{job="a"} > bool 1', 0, jobs()) == {
        lset(job="a", i="1"): 0.0,
        lset(job="a", i="2"): 1.0,
    }


def test_scalar_comparison_with_bool_gives_a_scalar() -> None:
    assert run("2 > bool 1", 0, jobs()) == 1.0


@pytest.mark.parametrize("op", [">", "<", ">=", "<=", "=="])
def test_comparisons_with_nan_are_false(op: str) -> None:  # semantic 14
    store = make_store(at0("r", math.nan))
    assert (result(f"r {op} 0", 0, store), one(f"r {op} bool 0", 0, store)) == ({}, 0.0)


def test_not_equal_with_nan_is_true_as_in_prometheus() -> None:
    # Go's != is true for NaN: Prometheus keeps an idle 0/0 ratio for "!= 0"
    store = make_store(at0("r", math.nan))
    assert len(result("r != 0", 0, store)) == 1


def test_an_idle_zero_by_zero_ratio_never_passes_a_threshold() -> None:
    store = make_store(at0("errors", 0.0), at0("requests", 0.0))
    assert result("errors / requests > 0.1", 0, store) == {}


def test_one_to_one_matching_ignores_the_metric_name() -> None:
    store = make_store(at0("a", 6.0, job="x"), at0("b", 3.0, job="x"))
    assert result("a / b", 0, store) == {lset(job="x"): 2.0}


def test_on_keeps_only_the_matching_labels_in_one_to_one_results() -> None:
    store = make_store(at0("a", 6.0, job="x", i="1"), at0("b", 3.0, job="x"))
    assert result("a - on(job) b", 0, store) == {lset(job="x"): 3.0}


def test_group_left_copies_extra_labels_from_the_one_side() -> None:
    store = make_store(
        at0("up", 1.0, job="api", i="1"),
        at0("up", 0.0, job="api", i="2"),
        at0("info", 1.0, job="api", team="core"),
    )
    assert result("up * on(job) group_left(team) info", 0, store) == {
        lset(job="api", i="1", team="core"): 1.0,
        lset(job="api", i="2", team="core"): 0.0,
    }


def test_group_right_takes_the_many_side_labels_and_the_left_value() -> None:
    store = make_store(
        at0("limit", 10.0, job="api"),
        at0("used", 4.0, job="api", i="1"),
    )
    assert result("limit - on(job) group_right used", 0, store) == {lset(job="api", i="1"): 6.0}


def test_many_to_many_matching_is_a_query_error() -> None:
    store = make_store(
        at0("a", 1.0, job="x"),
        at0("b", 1.0, job="x", i="1"),
        at0("b", 1.0, job="x", i="2"),
    )
    duplicate = r"found duplicate series for the match group \{job=\"x\"\} on the right hand-side"
    with pytest.raises(QueryError, match=duplicate):
        run("a + on(job) b", 0, store)


def test_many_to_one_without_group_left_is_a_query_error() -> None:
    with pytest.raises(QueryError, match="many-to-one matching must be explicit"):
        run('x + on(job) x{i="2"}', 0, jobs())


def test_set_operators_match_on_labels() -> None:
    store = jobs()
    assert set(result('x and on(job) x{job="b"}', 0, store)) == {lset(__name__="x", job="b", i="1")}
    assert set(result('x unless on(job) x{job="b"}', 0, store)) == {
        lset(__name__="x", job="a", i="1"),
        lset(__name__="x", job="a", i="2"),
    }
    assert len(result('x{job="a"} or vector(1)', 0, store)) == 3


def test_or_adds_only_right_hand_samples_with_new_signatures() -> None:
    assert len(result('x or x{job="b"} * 10', 0, jobs())) == 3


def test_division_by_zero_gives_infinity_and_nan() -> None:
    values = [run(expr, 0, jobs()) for expr in ("1 / 0", "-1 / 0")]
    assert values == [math.inf, -math.inf]
    assert math.isnan(scalar("0 / 0"))


def test_modulo_takes_the_sign_of_the_dividend() -> None:
    assert (run("-7 % 3", 0, jobs()), run("7 % -3", 0, jobs())) == (-1.0, 1.0)


def test_power_follows_go_special_cases() -> None:
    assert (run("0 ^ -1", 0, jobs()), run("2 ^ 1024", 0, jobs())) == (math.inf, math.inf)
    assert math.isnan(scalar("(-8) ^ 0.5"))


def test_unary_minus_drops_the_name() -> None:
    assert result('-x{job="b"}', 0, jobs()) == {lset(job="b", i="1"): -4.0}


def test_two_samples_with_the_same_labels_after_dropping_the_name_is_an_error() -> None:
    store = make_store(at0("a", 1.0, job="x"), at0("b", 2.0, job="x"))
    with pytest.raises(QueryError, match="vector cannot contain metrics with the same labelset"):
        run('{__name__=~"a|b"} * 2', 0, store)


def test_filtering_keeps_names_so_the_same_labels_are_no_error() -> None:
    store = make_store(at0("a", 1.0, job="x"), at0("b", 2.0, job="x"))
    assert len(result('{__name__=~"a|b"} > 0', 0, store)) == 2


# --- Functions ---------------------------------------------------------------------------


def test_absent_of_a_missing_series_reports_its_equality_labels() -> None:  # semantic 13
    assert result('absent(nope{job="api", env=~"prod.*", region="eu"})', 0, jobs()) == {
        lset(job="api", region="eu"): 1.0
    }


def test_absent_leaves_out_a_label_with_two_matchers() -> None:
    assert result('absent(nope{job="a", job="b", env="prod"})', 0, jobs()) == {
        lset(env="prod"): 1.0
    }


def test_absent_of_a_present_series_is_empty() -> None:
    assert result('absent(x{job="a"})', 0, jobs()) == {}


def test_absent_of_an_expression_has_no_labels() -> None:
    assert result('absent(sum(nope{job="a"}))', 0, jobs()) == {(): 1.0}


def test_absent_over_time_looks_at_the_whole_window() -> None:
    store = make_store(at0("x", 1.0, job="a"))
    assert (
        result('absent_over_time(x{job="a"}[5m])', 4 * MIN, store),
        result('absent_over_time(x{job="a"}[1m])', 4 * MIN, store),
    ) == ({}, {lset(job="a"): 1.0})


def test_label_replace_expands_numbered_and_named_groups() -> None:
    store = make_store(at0("x", 1.0, host="web-3.eu"))
    expr = 'label_replace(x, "where", "$2/${role}", "host", "(?P<role>\\\\w+)-\\\\d+\\\\.(.*)")'
    assert result(expr, 0, store) == {lset(__name__="x", host="web-3.eu", where="eu/web"): 1.0}


def test_label_replace_takes_dollar_one_x_as_the_group_named_1x_as_go_does() -> None:
    store = make_store(at0("x", 1.0, host="web"))
    assert result('label_replace(x, "h", "$1x-${1}x", "host", "(.*)")', 0, store) == {
        lset(__name__="x", host="web", h="-webx"): 1.0
    }


def test_label_replace_without_a_match_keeps_the_labels() -> None:
    store = make_store(at0("x", 1.0, host="web"))
    assert result('label_replace(x, "h", "$1", "host", "db")', 0, store) == {
        lset(__name__="x", host="web"): 1.0
    }


def test_label_replace_with_an_empty_result_removes_the_label() -> None:
    store = make_store(at0("x", 1.0, host="web"))
    assert result('label_replace(x, "host", "", "host", ".*")', 0, store) == {
        lset(__name__="x"): 1.0
    }


def test_label_replace_into_an_invalid_label_name_is_a_query_error() -> None:
    with pytest.raises(QueryError, match="invalid destination label name in label_replace"):
        run('label_replace(x, "1st", "v", "job", ".*")', 0, jobs())


def test_label_replace_with_a_regex_go_rejects_fails_at_evaluation_as_in_prometheus() -> None:
    query = parse('label_replace(x, "d", "v", "job", "(")')
    with pytest.raises(QueryError, match=r"invalid regular expression in label_replace\(\): \("):
        evaluate(query, 0, jobs())


def test_scalar_of_exactly_one_sample_is_its_value() -> None:
    assert run('scalar(x{job="b"})', 0, jobs()) == 4.0


def test_scalar_of_several_samples_is_nan() -> None:
    out = run("scalar(x)", 0, jobs())
    assert isinstance(out, float)
    assert math.isnan(out)


def test_vector_of_time_is_the_evaluation_time_in_seconds() -> None:
    assert result("vector(time())", 90_500, jobs()) == {(): 90.5}


def test_timestamp_gives_the_samples_own_time_without_the_name() -> None:
    store = make_store(({"__name__": "x", "job": "a"}, [(1_500, 1.0)]))
    assert result("timestamp(x)", MIN, store) == {lset(job="a"): 1.5}


def test_timestamp_of_an_expression_is_the_evaluation_time() -> None:
    store = make_store(({"__name__": "x", "job": "a"}, [(1_500, 1.0)]))
    assert result("timestamp(abs(x))", MIN, store) == {lset(job="a"): 60.0}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("round(c)", 3.0),
        ("round(-c)", -2.0),
        ("round(c, 2)", 2.0),
        ("round(c + 0.5, 2)", 4.0),
        ("abs(-c)", 2.5),
        ("clamp_min(c, 3)", 3.0),
        ("clamp_max(c, 1)", 1.0),
    ],
)
def test_elementwise_functions(expr: str, expected: float) -> None:
    assert one(expr, 0, counter(MIN, [2.5])) == expected


def test_clamp_min_with_nan_is_nan_as_go_max() -> None:
    assert math.isnan(one("clamp_min(c, NaN)", 0, counter(MIN, [2.5])))


# --- Evaluation as a whole -----------------------------------------------------------------


def test_a_range_vector_result_is_a_query_error() -> None:
    with pytest.raises(QueryError, match="range vector"):
        run("x[5m]", 0, jobs())


def test_evaluation_leaves_the_store_unchanged() -> None:
    store = counter(15_000, [0, 10, 20, 5])
    before = [(s.labels, list(s.times), list(s.values)) for s in store.all_series()]
    run('sum(rate(c[1m])) + absent(c{job="x"}) or label_replace(c, "a", "b", "", "")', MIN, store)
    assert [(s.labels, s.times, s.values) for s in store.all_series()] == before


def test_series_order_in_the_store_does_not_change_results() -> None:
    forwards = jobs()
    backwards = make_store(
        at0("x", 4.0, job="b", i="1"),
        at0("x", 2.0, job="a", i="2"),
        at0("x", 1.0, job="a", i="1"),
    )
    assert run("avg(x)", 0, forwards) == run("avg(x)", 0, backwards)
