"""alpaca-py instrumentation: ``TradingClient``'s order and account methods.

The same as the ccxt instrumentation (see ``ccxt.py``): an ``exchange <method>`` CLIENT span
and a ``trading.exchange.request.duration`` point per call, orders fed to the order tracker.
Alpaca answers a refused order with an HTTP error, raised as ``APIError``; its status and
message give ``trading.reject_reason``. alpaca-py has no client-side rate limiter; the time
it spends retrying a 429 is part of the call's duration.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Collection
from typing import Any

from .. import semconv as sc
from .._internal import report_internal_error
from ..orders import normalize_reject_reason
from . import _exchange
from ._exchange import Call, CallState, ClientInstrumentor, bind, lower, number, text
from ._order_feed import Intent, OrderFeed, Report

__all__ = ["METHODS", "AlpacaInstrumentor"]

VENUE = "alpaca"

#: The methods instrumented, with their ``trading.order.operation`` and positional names.
METHODS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "submit_order": ("submit", ("order_data",)),
    "replace_order_by_id": ("amend", ("order_id", "order_data")),
    "cancel_order_by_id": ("cancel", ("order_id",)),
    "cancel_orders": ("cancel", ()),
    "close_position": ("submit", ("symbol_or_asset_id", "close_options")),
    "close_all_positions": ("submit", ("cancel_orders",)),
    "get_order_by_id": ("query", ("order_id", "filter")),
    "get_order_by_client_id": ("query", ("client_id",)),
    "get_orders": ("query", ("filter",)),
    "get_all_positions": (None, ()),
    "get_open_position": (None, ("symbol_or_asset_id",)),
    "get_account": (None, ()),
}

#: Alpaca's order statuses as SEMCONV's (those not listed: the order is live, ``acked``).
_STATUS = {
    "partially_filled": "partially_filled",
    "filled": "filled",
    "canceled": "canceled",
    "expired": "expired",
    "rejected": "rejected",
    "replaced": "canceled",  # ended by the order that replaced it
}

_feed: OrderFeed | None = None


class AlpacaInstrumentor(ClientInstrumentor):
    """``AlpacaInstrumentor().instrument(track_orders=True)``; also loaded by the launcher."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("alpaca-py >= 0.30",)

    def hooks(self) -> dict[str, Callable[[Any], None]]:
        return {"alpaca.trading.client": _patch_client}


def _patch_client(module: Any) -> None:
    try:
        if AlpacaInstrumentor.active:
            for name in METHODS:
                patch = functools.partial(_wrapper, name)
                AlpacaInstrumentor.patch(module.TradingClient, name, patch)
    except Exception as exc:  # never into the program's import
        report_internal_error("alpaca instrumentation", exc)


def _wrapper(method: str, original: Any) -> Any:
    begin = functools.partial(_begin, method)
    return _exchange.call_wrapper("alpaca instrumentation", False, begin, _failed, _succeeded)


def _begin(method: str, instance: Any, args: Any, kwargs: Any) -> CallState | None:
    if instance is None or not AlpacaInstrumentor.active or _exchange.nested(instance):
        return None
    operation, names = METHODS[method]
    arguments = bind(names, args, kwargs)
    attrs: dict[str, Any] = {}
    if method == "submit_order":
        intent = _intent(arguments.get("order_data"))
        attrs = {
            sc.SYMBOL: intent.symbol,
            sc.SIDE: intent.side,
            sc.ORDER_TYPE: intent.order_type,
            sc.ORDER_QUANTITY: intent.quantity,
            sc.ORDER_PRICE: intent.price,
            sc.ORDER_CLIENT_ID: intent.client_id,
        }
    elif "order_id" in arguments:
        attrs[sc.ORDER_ID] = text(arguments["order_id"])
    elif "client_id" in arguments:
        attrs[sc.ORDER_CLIENT_ID] = text(arguments["client_id"])
    symbol = arguments.get("symbol_or_asset_id")
    if isinstance(symbol, str):
        attrs[sc.SYMBOL] = symbol
    return CallState(method, arguments, Call(instance, VENUE, method, operation, attrs))


def _failed(state: CallState, exc: BaseException) -> None:
    reason = None
    try:
        if state.method != "submit_order":
            return
        reason = _reason(exc)
        feed = _order_feed()
        if feed is not None and getattr(exc, "status_code", None) != 401:  # 401: not sent
            intent = _intent(state.arguments.get("order_data"))
            if reason is not None:
                feed.refused(intent, reason, state.t0, time.time())
            else:
                feed.unknown(intent, state.t0)
    finally:
        state.call.end(exc, reject_reason=reason)


def _succeeded(state: CallState, result: Any) -> None:
    try:
        span = state.call.span
        if span is not None and state.method in ("submit_order", "replace_order_by_id"):
            report = _report(result)
            if report.order_id is not None:  # an amend keeps the id of the order it changed
                span.attributes.setdefault(sc.ORDER_ID, report.order_id)
            if report.status is not None:
                span.attributes[sc.ORDER_STATUS] = report.status
        feed = _order_feed()
        if feed is not None:
            _feed_result(feed, state, result)
    finally:
        state.call.end()


def _feed_result(feed: OrderFeed, state: CallState, result: Any) -> None:
    method, t0, t1 = state.method, state.t0, time.time()
    if method == "submit_order":
        feed.placed(_intent(state.arguments.get("order_data")), _report(result), t0, t1)
    elif method == "cancel_order_by_id":  # accepted; the order's report confirms it
        feed.cancel_requested(Report(text(state.arguments.get("order_id")), None, None), t0)
    elif method == "cancel_orders" and isinstance(result, list):
        for response in result:
            if _field(response, "status") in (200, "200"):
                feed.cancel_requested(Report(text(_field(response, "id")), None, None), t0)
    elif method in ("get_order_by_id", "get_order_by_client_id", "get_orders"):
        for order in result if isinstance(result, list) else [result]:
            feed.reported(_report(order), t1)
    elif method == "replace_order_by_id":
        request = state.arguments.get("order_data")
        quantity, price = number(_field(request, "qty")), number(_field(request, "limit_price"))
        old_id = text(state.arguments.get("order_id"))
        feed.replaced(old_id, _report(result), t0, t1, quantity, price)


def _order_feed() -> OrderFeed | None:
    global _feed
    if not AlpacaInstrumentor.track_orders:
        return None
    if _feed is None:
        _feed = OrderFeed()
    return _feed


def _field(obj: Any, name: str) -> Any:
    """A field of a model object, or of the dict that ``raw_data=True`` gives."""
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _intent(request: Any) -> Intent:
    symbol = _field(request, "symbol")
    return Intent(
        venue=VENUE,
        symbol=symbol if isinstance(symbol, str) else None,
        side=lower(_field(request, "side")),
        order_type=lower(_field(request, "type")),
        quantity=number(_field(request, "qty")),
        price=number(_field(request, "limit_price")),
        client_id=text(_field(request, "client_order_id")),
    )


def _report(order: Any) -> Report:
    status = lower(_field(order, "status"))
    return Report(
        order_id=text(_field(order, "id")),
        client_id=text(_field(order, "client_order_id")),
        status=None if status is None else _STATUS.get(status, "acked"),
        filled=number(_field(order, "filled_qty")),
        average=number(_field(order, "filled_avg_price")),
    )


def _reason(exc: BaseException) -> str | None:
    """A refused order's reason; None when the broker did not answer (the fate is unknown)."""
    status = getattr(exc, "status_code", None) if type(exc).__name__ == "APIError" else None
    if not isinstance(status, int) or not 400 <= status < 500:
        return None
    if status == 401:
        return None  # the credentials, not the order: nothing was placed
    if status == 429:
        return "rate_limited"
    if status == 422:
        return "invalid_order"
    return normalize_reject_reason(exc)
