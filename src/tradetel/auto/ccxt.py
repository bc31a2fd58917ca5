"""ccxt instrumentation: the unified order methods of every exchange, sync and async.

Each of ``METHODS`` - on every exchange class that defines it, and on ccxt's base classes -
becomes an ``exchange <method>`` CLIENT span and a ``trading.exchange.request.duration``
point; order calls feed the order tracker (see ``_exchange``); the wait in ccxt's client-side
rate limiter (``throttle``) is ``trading.exchange.ratelimit.wait``. ccxt's exception class is
``error.type``, and a refused order's class is mapped to ``trading.reject_reason``.

The classes are patched when ccxt (or ``ccxt.async_support``) is imported, not before: ccxt
loads a hundred exchange modules, which a program that does not use it should not pay for.
``params`` (where keys and signatures could be) never become attributes.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Collection, Iterable
from typing import Any

from .. import semconv as sc
from .._internal import report_internal_error
from ..orders import normalize_reject_reason
from . import _exchange
from ._exchange import Call, CallState, ClientInstrumentor, bind, guarded, lower, number, text
from ._order_feed import Intent, OrderFeed, Report

__all__ = ["METHODS", "CcxtInstrumentor"]

#: The unified methods instrumented, with their ``trading.order.operation`` and the names of
#: their positional parameters (ccxt's unified signatures).
METHODS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "create_order": ("submit", ("symbol", "type", "side", "amount", "price", "params")),
    "create_orders": ("submit", ("orders", "params")),
    "edit_order": ("amend", ("id", "symbol", "type", "side", "amount", "price", "params")),
    "cancel_order": ("cancel", ("id", "symbol", "params")),
    "cancel_orders": ("cancel", ("ids", "symbol", "params")),
    "cancel_all_orders": ("cancel", ("symbol", "params")),
    "fetch_order": ("query", ("id", "symbol", "params")),
    "fetch_open_orders": ("query", ("symbol", "since", "limit", "params")),
    "fetch_my_trades": ("query", ("symbol", "since", "limit", "params")),
    "fetch_balance": (None, ("params",)),
    "fetch_positions": (None, ("symbols", "params")),
}

#: Where exchanges take the program's own order id in ``params``.
CLIENT_ID_PARAMS = ("clientOrderId", "newClientOrderId", "clOrdId", "client_order_id", "clientOid")

_PLACING = ("create_order", "edit_order")

#: ccxt's order statuses as SEMCONV's.
_STATUS = {"closed": "filled", "canceled": "canceled", "expired": "expired", "rejected": "rejected"}

#: ccxt's exception classes (by name, in each one's ancestry) as ``trading.reject_reason``.
_REASONS = {
    "InsufficientFunds": "insufficient_funds",
    "InvalidOrder": "invalid_order",
    "RateLimitExceeded": "rate_limited",
    "DDoSProtection": "rate_limited",
    "RequestTimeout": "timeout",
}

_feeds: dict[str, OrderFeed] = {}


class CcxtInstrumentor(ClientInstrumentor):
    """``CcxtInstrumentor().instrument(track_orders=True)``; also loaded by the launcher."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("ccxt >= 4.0",)

    def hooks(self) -> dict[str, Callable[[Any], None]]:
        return {"ccxt": _patch_sync, "ccxt.async_support": _patch_async}


def _patch_sync(module: Any) -> None:
    try:
        from ccxt.base.exchange import Exchange

        _patch_classes(Exchange, [getattr(module, name, None) for name in module.exchanges])
    except Exception as exc:  # never into the program's `import ccxt`
        report_internal_error("ccxt instrumentation", exc)


def _patch_async(module: Any) -> None:
    try:
        from ccxt.async_support.base.exchange import Exchange

        _patch_classes(Exchange, [getattr(module, name, None) for name in module.exchanges])
    except Exception as exc:
        report_internal_error("ccxt instrumentation", exc)


def _patch_classes(base: type, exchanges: Iterable[Any]) -> None:
    if not CcxtInstrumentor.active:
        return
    classes: dict[type, None] = {base: None}
    for exchange in exchanges:
        if isinstance(exchange, type):
            for cls in exchange.__mro__:
                if cls.__module__.startswith("ccxt."):
                    classes[cls] = None
    for cls in classes:
        for name in METHODS:
            CcxtInstrumentor.patch(cls, name, functools.partial(_call_wrapper, name))
        CcxtInstrumentor.patch(cls, "throttle", _throttle_wrapper)


# -- calls -------------------------------------------------------------------------------------
def _call_wrapper(method: str, original: Any) -> Any:
    return _exchange.call_wrapper(
        "ccxt instrumentation",
        inspect.iscoroutinefunction(original),
        lambda instance, args, kwargs: _begin(method, instance, args, kwargs),
        _failed,
        _succeeded,
    )


def _begin(method: str, instance: Any, args: Any, kwargs: Any) -> CallState | None:
    if instance is None or not CcxtInstrumentor.active or _exchange.nested(instance):
        return None
    operation, names = METHODS[method]
    arguments = bind(names, args, kwargs)
    venue = _venue(instance)
    attrs: dict[str, Any] = {}
    symbol = arguments.get("symbol")
    if isinstance(symbol, str):
        attrs[sc.SYMBOL] = symbol
        kind = _instrument_kind(instance, symbol)
        if kind is not None:
            attrs[sc.INSTRUMENT_KIND] = kind
    if method in ("create_order", "edit_order"):
        attrs[sc.ORDER_TYPE] = lower(arguments.get("type"))
        attrs[sc.SIDE] = lower(arguments.get("side"))
        attrs[sc.ORDER_QUANTITY] = number(arguments.get("amount"))
        attrs[sc.ORDER_PRICE] = number(arguments.get("price"))
        attrs[sc.ORDER_CLIENT_ID] = _client_id(arguments.get("params"))
    if method in ("edit_order", "cancel_order", "fetch_order"):
        attrs[sc.ORDER_ID] = text(arguments.get("id"))
    call = Call(instance, venue, method, operation, attrs)
    return CallState(method, arguments, call)


def _failed(state: CallState, exc: BaseException) -> None:
    reason = None
    try:  # fed while the call's span is current: the tracker's spans link to it
        if state.method not in ("create_order", "create_orders"):
            return
        fate = _fate(exc)
        reason = _reason(exc)  # a timeout's too, on the span: why the order's fate is unknown
        if fate == "refused":
            reason = reason or normalize_reject_reason(exc)
        feed = _feed(state.call.venue)
        if feed is not None and fate != "not sent":
            t1 = time.time()
            for intent in _intents(state):
                if fate == "refused":
                    feed.refused(intent, reason, state.t0, t1)
                else:
                    feed.unknown(intent, state.t0)
    finally:
        state.call.end(exc, reject_reason=reason)


def _succeeded(state: CallState, result: Any) -> None:
    try:  # fed while the call's span is current: the tracker's spans link to it
        span = state.call.span
        if span is not None and state.method in _PLACING and isinstance(result, dict):
            report = _report(result)
            if report.order_id is not None:  # an amend keeps the id of the order it changed
                span.attributes.setdefault(sc.ORDER_ID, report.order_id)
            if report.status is not None:
                span.attributes[sc.ORDER_STATUS] = report.status
        feed = _feed(state.call.venue)
        if feed is not None:
            _feed_result(feed, state, result)
    finally:
        state.call.end()


def _feed_result(feed: OrderFeed, state: CallState, result: Any) -> None:
    method = state.method
    t0, t1 = state.t0, time.time()
    orders = [o for o in (result if isinstance(result, list) else [result]) if isinstance(o, dict)]
    if method in ("create_order", "create_orders"):
        for intent, order in zip(_intents(state), orders, strict=False):
            feed.placed(intent, _report(order), t0, t1)
    elif method == "edit_order" and orders:
        _edited(feed, state, _report(orders[0]), t0, t1)
    elif method in ("cancel_order", "cancel_orders", "cancel_all_orders"):
        for order in orders:
            report = _report(order)
            if report.order_id is None and method == "cancel_order":
                report.order_id = text(state.arguments.get("id"))
            feed.canceled(report, t0, t1)
    elif method in ("fetch_order", "fetch_open_orders"):
        for order in orders:
            feed.reported(_report(order), t1)
    elif method == "fetch_my_trades":
        for trade in orders:
            amount, price = number(trade.get("amount")), number(trade.get("price"))
            if amount is not None and price is not None:
                feed.trade(text(trade.get("order")), amount, price, trade.get("id"), t1)


def _edited(feed: OrderFeed, state: CallState, report: Report, t0: float, t1: float) -> None:
    args = state.arguments
    old_id = text(args.get("id"))
    feed.replaced(old_id, report, t0, t1, number(args.get("amount")), number(args.get("price")))


# -- the rate limiter --------------------------------------------------------------------------
def _throttle_wrapper(original: Any) -> Any:
    if inspect.iscoroutinefunction(original):

        async def async_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await wrapped(*args, **kwargs)
            finally:
                guarded("ccxt instrumentation", _waited, instance, time.perf_counter() - t0)

        return async_wrapper

    def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return wrapped(*args, **kwargs)
        finally:
            guarded("ccxt instrumentation", _waited, instance, time.perf_counter() - t0)

    return wrapper


def _waited(instance: Any, seconds: float) -> None:
    if CcxtInstrumentor.active and instance is not None:
        _exchange.record_wait(_venue(instance), seconds)


def _venue(instance: Any) -> str:
    return str(getattr(instance, "id", None) or type(instance).__name__)


# -- reading ccxt's structures -----------------------------------------------------------------
def _feed(venue: str) -> OrderFeed | None:
    if not CcxtInstrumentor.track_orders:
        return None
    feed = _feeds.get(venue)
    return feed if feed is not None else _feeds.setdefault(venue, OrderFeed())  # one per venue


def _intents(state: CallState) -> list[Intent]:
    venue = state.call.venue
    if state.method == "create_orders":
        orders = state.arguments.get("orders") or []
        return [_intent(venue, o) for o in orders if isinstance(o, dict)]
    return [_intent(venue, state.arguments)]


def _intent(venue: str, arguments: dict[str, Any]) -> Intent:
    symbol = arguments.get("symbol")
    return Intent(
        venue=venue,
        symbol=symbol if isinstance(symbol, str) else None,
        side=lower(arguments.get("side")),
        order_type=lower(arguments.get("type")),
        quantity=number(arguments.get("amount")),
        price=number(arguments.get("price")),
        client_id=_client_id(arguments.get("params")),
    )


def _report(order: dict[str, Any]) -> Report:
    status = order.get("status")
    filled = number(order.get("filled"))
    mapped = _STATUS.get(status) if isinstance(status, str) else None
    if status == "open":
        mapped = "partially_filled" if filled else "acked"
    return Report(
        order_id=text(order.get("id")),
        client_id=text(order.get("clientOrderId")),
        status=mapped,
        filled=filled,
        average=number(order.get("average")) or number(order.get("price")),
    )


def _reason(exc: BaseException) -> str | None:
    for cls in type(exc).__mro__:
        if cls.__name__ in _REASONS and cls.__module__.startswith("ccxt."):
            return _REASONS[cls.__name__]
    return None


#: ccxt errors raised before anything is sent: the program's mistake, not the venue's answer
_NOT_SENT = frozenset({"NotSupported", "ArgumentsRequired", "BadSymbol"})


def _fate(exc: BaseException) -> str:
    """``refused`` (the venue answered no), ``not sent`` or ``unknown`` (no answer)."""
    names = {cls.__name__ for cls in type(exc).__mro__ if cls.__module__.startswith("ccxt.")}
    if not names:
        return "unknown"  # not ccxt's: a bug or an interrupt, the order may have gone out
    if names & _NOT_SENT or ("AuthenticationError" in names and "PermissionDenied" not in names):
        return "not sent"  # missing or rejected credentials: configuration, not an order
    if "NetworkError" not in names or names & {"RateLimitExceeded", "DDoSProtection"}:
        return "refused"
    return "unknown"


def _instrument_kind(instance: Any, symbol: str) -> str | None:
    markets = getattr(instance, "markets", None)
    market = markets.get(symbol) if isinstance(markets, dict) else None
    kind = market.get("type") if isinstance(market, dict) else None
    return {"spot": "spot", "margin": "margin", "swap": "perpetual", "future": "future",
            "option": "option"}.get(kind) if isinstance(kind, str) else None  # fmt: skip


def _client_id(params: Any) -> str | None:
    if isinstance(params, dict):
        for key in CLIENT_ID_PARAMS:
            value = params.get(key)
            if value is not None:
                return str(value)
    return None
