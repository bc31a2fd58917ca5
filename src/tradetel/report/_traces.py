"""Orders and traces: the slowest orders and each trace as a waterfall of its span tree.

An order is its ``order submit`` span (CLIENT). Its execution reports (``order acked``,
``order filled`` ...) are short spans in traces of their own, *linked* to the submit span,
so nothing stays open while an order rests on the book; a report without a usable link is
matched by ``trading.order.client_id`` within the same process (client ids repeat between
runs). An order is timed from its submit's start to its final report, else its last report,
else (an order the venue accepted and never reported on) the end of the data, else the submit
span's own end; the slowest are those the venue took longest to answer
(submit to first report: the ack, a fill or a reject), because the time a passive order
rests on the book until it fills or is canceled is the market's, not a latency.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from .. import semconv as sc
from ._load import SpanRecord
from ._model import SlowOrder, Waterfall, WaterfallRow

__all__ = ["TraceIndex", "slowest_orders", "waterfall"]

FINAL = frozenset({"filled", "canceled", "rejected", "expired"})
_CLIENT = 3  # Span.SpanKind.SPAN_KIND_CLIENT
_KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}

_Id = tuple[str, str]  # (trace id, span id)


def is_submit(span: SpanRecord) -> bool:
    if span.name == "order submit":
        return True
    return span.kind == _CLIENT and span.attributes.get(sc.ORDER_OPERATION) == "submit"


def is_report(span: SpanRecord) -> bool:
    return (
        span.name.startswith(sc.SPAN_ORDER_PREFIX)
        and sc.ORDER_STATUS in span.attributes
        and not is_submit(span)
    )


class TraceIndex:
    """Spans by trace, by id, and by the span they link to."""

    def __init__(self, spans: Iterable[SpanRecord]) -> None:
        self.by_trace: dict[str, list[SpanRecord]] = {}
        self.by_id: dict[_Id, SpanRecord] = {}
        self.linking: dict[_Id, list[SpanRecord]] = {}
        for span in spans:
            self.by_trace.setdefault(span.trace_id, []).append(span)
            self.by_id[(span.trace_id, span.span_id)] = span
            for link in span.links:
                self.linking.setdefault(link, []).append(span)

    def find(self, trace_id: str) -> list[str]:
        """The trace ids equal to ``trace_id``, else those starting with it."""
        wanted = trace_id.lower()
        if wanted in self.by_trace:
            return [wanted]
        return sorted(t for t in self.by_trace if t.startswith(wanted))


@dataclass
class _Order:
    submit: SpanRecord
    reports: list[SpanRecord]


def _orders(index: TraceIndex, venues: Collection[str]) -> list[_Order]:
    orders: dict[_Id, _Order] = {}
    by_client: dict[tuple[object, str], list[SpanRecord]] = {}
    for span in index.by_id.values():
        if not is_submit(span):
            continue
        venue = span.attributes.get(sc.VENUE)
        if venues and (venue is None or str(venue) not in venues):
            continue
        orders[(span.trace_id, span.span_id)] = _Order(span, [])
        client_id = span.attributes.get(sc.ORDER_CLIENT_ID)
        if client_id is not None:
            by_client.setdefault((span.resource, str(client_id)), []).append(span)
    for spans in by_client.values():
        spans.sort(key=lambda s: s.start_ns)
    for span in index.by_id.values():
        if not is_report(span):
            continue
        order = next((orders[link] for link in span.links if link in orders), None)
        if order is None:
            client_id = span.attributes.get(sc.ORDER_CLIENT_ID)
            # the latest submit of that id in that process before the report
            candidates = by_client.get((span.resource, str(client_id)), [])
            earlier = [s for s in candidates if s.start_ns <= span.start_ns]
            if earlier:
                submit = earlier[-1]
                order = orders[(submit.trace_id, submit.span_id)]
        if order is not None:
            order.reports.append(span)
    return list(orders.values())


def slowest_orders(index: TraceIndex, venues: Collection[str], top: int) -> list[SlowOrder]:
    """The ``top`` orders that took longest, each with its submit trace's waterfall."""
    timed = []
    horizon = max((s.end_ns for spans in index.by_trace.values() for s in spans), default=0)
    for order in _orders(index, venues):
        submit = order.submit
        reports = sorted(order.reports, key=lambda s: s.start_ns)
        final = [r for r in reports if r.attributes.get(sc.ORDER_STATUS) in FINAL]
        if final:
            end, outcome, measured = final[0].start_ns, _status(final[0]), "final report"
        elif reports:
            end, outcome, measured = reports[-1].start_ns, "open", "last report"
        elif submit.attributes.get(sc.ORDER_STATUS) == "new" and not submit.failed:
            # accepted, then never a word from the venue: the longest wait of all, so far
            end, outcome, measured = max(horizon, submit.end_ns), "no answer", "end of the data"
        else:
            status = submit.attributes.get(sc.ORDER_STATUS)
            outcome = str(status) if status is not None else "no reports"
            if submit.failed:
                outcome = "failed"
            end, measured = submit.end_ns, "submit end"
        total = max(end - submit.start_ns, 0)
        if reports:
            first = reports[0]
            answer, answered = max(first.start_ns - submit.start_ns, 0), _status(first)
        else:
            answer, answered = total, outcome
        timed.append((answer, total, submit.start_ns, order, outcome, measured, answered))
    timed.sort(key=lambda t: (-t[0], -t[1], t[2]))
    slowest = []
    for answer, total, _, order, outcome, measured, answered in timed[:top]:
        submit = order.submit
        attrs = submit.attributes
        waterfall_ = waterfall(index, submit.trace_id)
        assert waterfall_ is not None  # the submit span is in it
        slowest.append(
            SlowOrder(
                client_id=_str(attrs.get(sc.ORDER_CLIENT_ID)),
                venue=_str(attrs.get(sc.VENUE)),
                symbol=_str(attrs.get(sc.SYMBOL)),
                side=_str(attrs.get(sc.SIDE)),
                quantity=_number(attrs.get(sc.ORDER_QUANTITY)),
                service=submit.service,
                trace_id=submit.trace_id,
                span_id=submit.span_id,
                submitted_at=submit.start_ns / 1e9,
                total=total / 1e9,
                answer=answer / 1e9,
                answered=answered,
                outcome=outcome,
                measured_to=measured,
                waterfall=waterfall_,
            )
        )
    return slowest


def waterfall(index: TraceIndex, trace_id: str) -> Waterfall | None:
    """The trace's span tree, depth first by start time, with the spans linking into it."""
    spans = index.by_trace.get(trace_id)
    if not spans:
        return None
    start = min(span.start_ns for span in spans)
    ids = {span.span_id for span in spans}
    children: dict[str, list[SpanRecord]] = {}
    roots = []
    for span in spans:
        if span.parent_id and span.parent_id in ids and span.parent_id != span.span_id:
            children.setdefault(span.parent_id, []).append(span)
        else:
            roots.append(span)
    rows: list[WaterfallRow] = []
    seen: set[str] = set()
    # An explicit stack rather than recursion: a deep (or corrupt, cyclic) tree cannot crash.
    stack: list[tuple[SpanRecord, int, bool]] = [
        (root, 0, False) for root in sorted(roots, key=_order_key, reverse=True)
    ]
    while stack:
        span, depth, linked = stack.pop()
        rows.append(_row(span, depth, start, linked))
        if linked or span.span_id in seen:
            continue
        seen.add(span.span_id)
        below = [(child, False) for child in children.get(span.span_id, ())]
        # a span both in this trace and linked to it (a report sent inside the submit) once
        linking = index.linking.get((trace_id, span.span_id), ())
        below += [(other, True) for other in linking if other.trace_id != trace_id]
        below.sort(key=lambda item: _order_key(item[0]), reverse=True)
        stack.extend((child, depth + 1, is_linked) for child, is_linked in below)
    return Waterfall(trace_id=trace_id, start=start / 1e9, rows=rows)


def _order_key(span: SpanRecord) -> tuple[int, int, str]:
    return (span.start_ns, span.end_ns, span.span_id)


def _row(span: SpanRecord, depth: int, start: int, linked: bool) -> WaterfallRow:
    return WaterfallRow(
        depth=depth,
        name=span.name,
        kind=_KINDS.get(span.kind, "unspecified"),
        offset=(span.start_ns - start) / 1e9,
        duration=(span.end_ns - span.start_ns) / 1e9,
        trace_id=span.trace_id,
        span_id=span.span_id,
        service=span.service,
        error=_error(span),
        linked=linked,
        detail=_detail(span),
    )


def _error(span: SpanRecord) -> str | None:
    """A failed span's status message (or exception type), after its reject reason if any."""
    if not span.failed:
        return None
    attrs = span.attributes
    text = next(
        (str(t) for t in (span.status_message, span.exception, attrs.get(sc.ERROR_TYPE)) if t),
        "error",
    )
    reason = attrs.get(sc.REJECT_REASON)
    return f"{reason}: {text}" if reason and str(reason) != text else text


def _detail(span: SpanRecord) -> str:
    """What identifies an order span at a glance: ids, side, quantity, fill."""
    attrs = span.attributes
    parts = []
    if is_submit(span):
        if sc.ORDER_CLIENT_ID in attrs:
            parts.append(f"client_id={attrs[sc.ORDER_CLIENT_ID]}")
        order = " ".join(
            _compact(attrs[key]) for key in (sc.SIDE, sc.ORDER_QUANTITY, sc.SYMBOL) if key in attrs
        )
        if sc.ORDER_PRICE in attrs:
            order += f" @ {_compact(attrs[sc.ORDER_PRICE])}"
        parts.append(order)
    elif is_report(span):
        if sc.FILL_QUANTITY in attrs and sc.FILL_PRICE in attrs:
            parts.append(f"{_compact(attrs[sc.FILL_QUANTITY])} @ {_compact(attrs[sc.FILL_PRICE])}")
        if sc.REJECT_REASON in attrs and not span.failed:  # else it leads the error text
            parts.append(f"reason={attrs[sc.REJECT_REASON]}")
    if span.links and not is_report(span):
        parts.append(f"links to {len(span.links)} span(s)")
    return "  ".join(part for part in parts if part)


def _compact(value: object) -> str:
    """A number without float noise (0.021876000000000003 is 0.021876); anything else as is."""
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def _status(span: SpanRecord) -> str:
    return str(span.attributes.get(sc.ORDER_STATUS, span.name.removeprefix("order ")))


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
