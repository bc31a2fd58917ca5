"""A fake exchange on loopback: Binance spot REST and Alpaca trading REST, stdlib only.

Unmodified clients (``ccxt.binance``, ``ccxt.async_support.binance``, alpaca-py's
``TradingClient``) can place, fetch and cancel orders against it offline::

    with FakeVenue() as venue:
        exchange = ccxt.binance(binance_config(venue.url))
        exchange.create_order("BTC/USDT", "market", "buy", 0.01)
        client = alpaca_client(venue.url)

Market orders fill at once at ``venue.price``; limit orders fill at once when marketable and
otherwise rest until ``venue.fill_resting()``. Fees are zero and resting orders lock no funds.

    python examples/fake_venue.py      # serves until Ctrl-C
"""

from __future__ import annotations

import contextlib
import functools
import json
import random
import socket
import string
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:
    from alpaca.trading.client import TradingClient

# Dummy credentials: the fake checks they are sent, never their value.
BINANCE_KEY, BINANCE_SECRET = "fake-binance-key", "fake-binance-secret"
ALPACA_KEY, ALPACA_SECRET = "PKFAKE00000000000000", "fake-alpaca-secret"

# symbol: base, quote, price as a fraction of `price`, LOT_SIZE minQty and stepSize. minQty is
# ten steps so that a too-small amount survives ccxt's own rounding and reaches the venue.
_MARKETS = {
    "BTCUSDT": ("BTC", "USDT", 1.0, "0.00010000", "0.00001000"),
    "ETHUSDT": ("ETH", "USDT", 0.05, "0.00100000", "0.00010000"),
}
_MIN_NOTIONAL = 5.0
_BINANCE_ERRORS = {
    429: (-1003, "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per "
                 "minute. Please use the websocket for live updates to avoid polling the API."),
    418: (-1003, "Way too many requests; IP(127.0.0.1) banned until 4102444800000. Please use "
                 "the websocket for live updates to avoid bans."),
    401: (-2015, "Invalid API-key, IP, or permissions for action."),
    403: (-2015, "Invalid API-key, IP, or permissions for action."),
    500: (-1001, "Internal error; unable to process your request. Please try again."),
    503: (-1008, "Server is currently overloaded with other requests. Please try again later."),
}  # fmt: skip
_ALPACA_ERRORS = {
    429: (42910000, "rate limit exceeded"),
    401: (40110000, "request is not authorized"),
    403: (40310000, "forbidden"),
    404: (40410000, "not found"),
    422: (42210000, "unprocessable entity"),
    500: (50010000, "internal server error"),
}
_RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
]
_MANDATORY = "Mandatory parameter '{}' was not sent, was empty/null, or malformed."
# Fields of a queried order that the order and cancel responses do not carry.
_QUERY_ONLY = ("time", "updateTime", "isWorking", "stopPrice", "icebergQty")
_BINANCE_PRIVATE = {f"/api/v3/{name}" for name in ("order", "openOrders", "myTrades", "account")}


@dataclass(frozen=True)
class Recorded:
    """One request as the fake received it, the secrets included."""

    method: str
    path: str
    query: str  # raw, still percent-encoded
    headers: dict[str, str]  # original case
    body: str


class _Reject(Exception):
    """Answers the request with an error status and body."""

    def __init__(self, status: int, payload: dict[str, Any]) -> None:
        super().__init__(status, payload)
        self.status, self.payload = status, payload


def _binance_error(status: int, code: int, msg: str) -> _Reject:
    return _Reject(status, {"code": code, "msg": msg})


def _alpaca_error(status: int, code: int, message: str) -> _Reject:
    return _Reject(status, {"code": code, "message": message})


def _ms() -> int:
    return int(time.time() * 1000)


def _rfc3339() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _f8(value: float) -> str:
    """Formats a number the way Binance does: a string with eight decimals."""
    return f"{value:.8f}"


class FakeVenue:
    """Binance spot REST (subset) and Alpaca trading REST (subset) on one loopback port."""

    def __init__(self, *, latency: float = 0.0, seed: int = 0) -> None:
        self.latency = latency
        self.url = ""
        self.requests: list[Recorded] = []
        self.balance: dict[str, float] = {"USDT": 100_000.0, "BTC": 1.0}
        self.price = 50_000.0
        self._rng = random.Random(seed)  # ids are reproducible run to run
        self._lock = threading.Lock()  # the server answers each connection on its own thread
        self._failures: list[int] = []
        self._binance_orders: dict[int, dict[str, Any]] = {}
        self._trades: list[dict[str, Any]] = []
        self._alpaca_orders: dict[str, dict[str, Any]] = {}
        self._positions: dict[str, list[float]] = {}  # symbol -> [qty, cost basis]
        self._account_id = self._uuid()
        self._minute, self._used = 0, {"binance": 0, "alpaca": 0}
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle and scripting -------------------------------------------------------------

    def start(self) -> FakeVenue:
        """Binds 127.0.0.1 on a free port and serves on a daemon thread."""
        server = _Server(("127.0.0.1", 0), _Handler)
        server.venue, server.connections = self, set()
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        # a short poll: stop() waits for the serving loop to notice, up to one interval
        serve = functools.partial(server.serve_forever, poll_interval=0.05)
        threading.Thread(target=serve, name="fake-venue", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stops serving and closes the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeVenue:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail_next(self, status: int = 429, times: int = 1) -> None:
        """Answers the next `times` order or account requests with the venue's error for it."""
        with self._lock:
            self._failures.extend([status] * times)

    def fill_resting(self, client_order_id: str | None = None, fraction: float = 1.0) -> int:
        """Fills resting limit orders (all, or the one with this id) at their limit price;
        a Binance order by ``fraction`` of its quantity (one more trade) when below 1."""
        filled = 0
        with self._lock:
            for order in self._binance_orders.values():
                live = order["status"] in ("NEW", "PARTIALLY_FILLED")
                if live and client_order_id in (None, order["clientOrderId"]):
                    self._binance_fill(order, float(order["price"]), fraction)
                    filled += 1
            for order in self._alpaca_orders.values():
                if order["status"] == "new" and client_order_id in (None, order["client_order_id"]):
                    self._alpaca_fill(order, float(order["limit_price"]))
                    filled += 1
        return filled

    # -- request handling --------------------------------------------------------------------

    def _answer(self, request: Recorded) -> tuple[int, Any, dict[str, str]]:
        """Status, JSON payload (None for no body) and extra headers for one request."""
        if self.latency:
            time.sleep(self.latency)  # outside the lock: concurrent requests overlap
        alpaca = request.path.startswith("/v2/")
        with self._lock:
            self.requests.append(request)
            headers = self._rate_headers("alpaca" if alpaca else "binance")
            try:
                status, payload = self._route(request, alpaca, headers)
            except _Reject as reject:
                status, payload = reject.status, reject.payload
        return status, payload, headers

    def _route(self, request: Recorded, alpaca: bool, headers: dict[str, str]) -> tuple[int, Any]:
        """The scripted failure if one is due, else the venue's own answer."""
        if self._failures and (alpaca or request.path in _BINANCE_PRIVATE):
            status = self._failures.pop(0)
            if status in (418, 429):
                headers["Retry-After"] = "1"
            if alpaca:
                raise _alpaca_error(status, *_ALPACA_ERRORS.get(status, (status, "error")))
            raise _binance_error(status, *_BINANCE_ERRORS.get(status, (-1000, "Unknown error.")))
        try:
            return self._alpaca(request) if alpaca else self._binance(request)
        except (KeyError, ValueError, TypeError) as exc:  # malformed input: the venue says 400
            if alpaca:
                raise _alpaca_error(400, 40010000, "request body format is invalid") from exc
            raise _binance_error(400, -1100, "Illegal characters found in a parameter.") from exc

    def _rate_headers(self, venue: str) -> dict[str, str]:
        """The usage headers each venue sends, counted per wall-clock minute."""
        minute = int(time.time() // 60)
        if minute != self._minute:
            self._minute, self._used = minute, {"binance": 0, "alpaca": 0}
        self._used[venue] += 1
        if venue == "binance":
            return {"X-MBX-USED-WEIGHT-1M": str(self._used[venue])}
        remaining = max(0, 200 - self._used[venue])
        reset = str((minute + 1) * 60)
        return {"X-RateLimit-Limit": "200", "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": reset}  # fmt: skip

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    # -- Binance spot ------------------------------------------------------------------------

    def _binance(self, request: Recorded) -> tuple[int, Any]:
        """Routes a Binance request; signed endpoints check the key header and signature."""
        params = dict(parse_qsl(request.query)) | dict(parse_qsl(request.body))
        path = request.path.removeprefix("/api/v3")
        if request.path in _BINANCE_PRIVATE:
            if not any(name.lower() == "x-mbx-apikey" for name in request.headers):
                raise _binance_error(401, *_BINANCE_ERRORS[401])
            for name in ("timestamp", "signature"):
                if not params.get(name):
                    raise _binance_error(400, -1102, _MANDATORY.format(name))
            signature = params["signature"]
            if len(signature) != 64 or signature.strip("0123456789abcdef"):  # hex HMAC-SHA256
                raise _binance_error(400, -1022, "Signature for this request is not valid.")
        handlers: dict[tuple[str, str], Callable[[dict[str, str]], Any]] = {
            ("GET", "/ping"): lambda _: {},
            ("GET", "/time"): lambda _: {"serverTime": _ms()},
            ("GET", "/exchangeInfo"): self._exchange_info,
            ("POST", "/order"): self._binance_new_order,
            ("GET", "/order"): lambda p: self._binance_view(self._binance_find(p, -2013)),
            ("DELETE", "/order"): lambda p: self._binance_cancel(self._binance_find(p, -2011), p),
            ("GET", "/openOrders"): lambda p: list(map(self._binance_view, self._binance_open(p))),
            ("DELETE", "/openOrders"): self._binance_cancel_all,
            ("GET", "/myTrades"): lambda p: [t for t in self._trades if t["symbol"] == p["symbol"]],
            ("GET", "/account"): lambda _: self._binance_account(),
        }
        handler = handlers.get((request.method, path))
        if handler is None:
            raise _binance_error(404, -1000, f"Unknown path {request.path}")
        return 200, handler(params)

    def _market_price(self, symbol: str) -> float:
        return self.price * _MARKETS[symbol][2]

    def _exchange_info(self, params: dict[str, str]) -> dict[str, Any]:
        wanted = json.loads(params["symbols"]) if "symbols" in params else [params.get("symbol")]
        symbols = [s for s in _MARKETS if s in wanted] if any(wanted) else list(_MARKETS)
        return {
            "timezone": "UTC",
            "serverTime": _ms(),
            "rateLimits": _RATE_LIMITS,
            "exchangeFilters": [],
            "symbols": [self._symbol_info(symbol) for symbol in symbols],
        }

    def _symbol_info(self, symbol: str) -> dict[str, Any]:
        base, quote, _, min_qty, step = _MARKETS[symbol]
        return {
            "symbol": symbol, "status": "TRADING", "baseAsset": base, "baseAssetPrecision": 8,
            "quoteAsset": quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"], "icebergAllowed": True,
            "ocoAllowed": True, "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": True,
            "cancelReplaceAllowed": True, "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.01000000",
                 "maxPrice": "1000000.00000000", "tickSize": "0.01000000"},
                {"filterType": "LOT_SIZE", "minQty": min_qty, "maxQty": "9000.00000000",
                 "stepSize": step},
                {"filterType": "NOTIONAL", "minNotional": _f8(_MIN_NOTIONAL),
                 "applyMinToMarket": True, "maxNotional": "9000000.00000000",
                 "applyMaxToMarket": False, "avgPriceMins": 5},
            ],
            "permissions": [], "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
        }  # fmt: skip

    def _binance_new_order(self, p: dict[str, str]) -> dict[str, Any]:
        """Validates like the venue (filters, then funds), then fills or rests the order."""
        if p.get("symbol") not in _MARKETS:
            raise _binance_error(400, -1121, "Invalid symbol.")
        symbol, side, kind = p["symbol"], p.get("side", ""), p.get("type", "")
        base, quote, _, min_qty, _ = _MARKETS[symbol]
        market = self._market_price(symbol)
        if kind not in ("MARKET", "LIMIT") or side not in ("BUY", "SELL"):
            raise _binance_error(400, -1116, "Invalid orderType.")
        if kind == "LIMIT" and "price" not in p:
            raise _binance_error(400, -1102, _MANDATORY.format("price"))
        price = float(p["price"]) if kind == "LIMIT" else market
        qty = float(p.get("quantity") or 0) or float(p.get("quoteOrderQty") or 0) / price
        if qty < float(min_qty):
            raise _binance_error(400, -1013, "Filter failure: LOT_SIZE")
        if qty * price < _MIN_NOTIONAL:
            raise _binance_error(400, -1013, "Filter failure: NOTIONAL")
        need, asset = (qty * price, quote) if side == "BUY" else (qty, base)
        if need > self.balance.get(asset, 0.0):
            msg = "Account has insufficient balance for requested action."
            raise _binance_error(400, -2010, msg)
        client_id = p.get("newClientOrderId") or self._binance_client_id()
        if any(o["clientOrderId"] == client_id for o in self._binance_open({})):
            raise _binance_error(400, -2010, "Duplicate order sent.")
        now = _ms()
        order: dict[str, Any] = {
            "symbol": symbol, "orderId": len(self._binance_orders) + 1, "orderListId": -1,
            "clientOrderId": client_id,
            "price": _f8(price if kind == "LIMIT" else 0), "origQty": _f8(qty),
            "executedQty": _f8(0), "cummulativeQuoteQty": _f8(0), "status": "NEW",
            "timeInForce": p.get("timeInForce", "GTC"), "type": kind, "side": side,
            "stopPrice": _f8(0), "icebergQty": _f8(0), "time": now, "updateTime": now,
            "isWorking": True, "workingTime": now, "origQuoteOrderQty": _f8(0),
            "selfTradePreventionMode": "EXPIRE_MAKER", "fills": [],
        }  # fmt: skip
        self._binance_orders[order["orderId"]] = order
        if kind == "MARKET" or (price >= market if side == "BUY" else price <= market):
            self._binance_fill(order, market)  # a taker fills at the market, not its limit
        # newOrderRespType FULL, ccxt's default: the order as placed, with its fills
        return {**self._binance_view(order, _QUERY_ONLY), "transactTime": now}

    def _binance_fill(self, order: dict[str, Any], price: float, fraction: float = 1.0) -> None:
        """Fills the order (what is left, or `fraction` of it) at `price`; fees are zero."""
        base, quote, *_ = _MARKETS[order["symbol"]]
        done = float(order["executedQty"])
        left = float(order["origQty"]) - done
        qty = min(left, float(order["origQty"]) * fraction)
        sign = 1 if order["side"] == "BUY" else -1
        self.balance[base] = self.balance.get(base, 0.0) + sign * qty
        self.balance[quote] = self.balance.get(quote, 0.0) - sign * qty * price
        trade_id = len(self._trades) + 1
        status = "FILLED" if qty >= left - 1e-12 else "PARTIALLY_FILLED"
        quote_qty = float(order["cummulativeQuoteQty"]) + qty * price
        order.update(status=status, executedQty=_f8(done + qty), updateTime=_ms(),
                     cummulativeQuoteQty=_f8(quote_qty), isWorking=status != "FILLED")  # fmt: skip
        fee_asset = base if sign > 0 else quote  # the fee is charged in what was received
        fill = {"price": _f8(price), "qty": _f8(qty), "commission": _f8(0),
                "commissionAsset": fee_asset, "tradeId": trade_id}  # fmt: skip
        order["fills"].append(fill)
        self._trades.append({
            "symbol": order["symbol"], "id": trade_id, "orderId": order["orderId"],
            "orderListId": -1, "price": _f8(price), "qty": _f8(qty),
            "quoteQty": _f8(qty * price), "commission": _f8(0),
            "commissionAsset": fee_asset, "time": order["updateTime"],
            "isBuyer": sign > 0, "isMaker": order["type"] == "LIMIT", "isBestMatch": True,
        })  # fmt: skip

    def _binance_client_id(self) -> str:
        return "".join(self._rng.choices(string.ascii_letters + string.digits, k=22))

    def _binance_find(self, p: dict[str, str], code: int) -> dict[str, Any]:
        """The order named by orderId or origClientOrderId, else Binance's error `code`."""
        for order in self._binance_orders.values():
            if order["symbol"] == p.get("symbol") and (
                str(order["orderId"]) == p.get("orderId")
                or order["clientOrderId"] == p.get("origClientOrderId")
            ):
                return order
        msg = "Order does not exist." if code == -2013 else "Unknown order sent."
        raise _binance_error(400, code, msg)

    @staticmethod
    def _binance_view(order: dict[str, Any], omit: tuple[str, ...] = ("fills",)) -> dict[str, Any]:
        return {key: value for key, value in order.items() if key not in omit}

    def _binance_open(self, p: dict[str, str]) -> list[dict[str, Any]]:
        live = ("NEW", "PARTIALLY_FILLED")
        return [o for o in self._binance_orders.values()
                if o["status"] in live and p.get("symbol") in (None, o["symbol"])]  # fmt: skip

    def _binance_cancel(self, order: dict[str, Any], p: dict[str, str]) -> dict[str, Any]:
        if order["status"] not in ("NEW", "PARTIALLY_FILLED"):  # a finished order: unknown
            raise _binance_error(400, -2011, "Unknown order sent.")
        order.update(status="CANCELED", updateTime=_ms(), isWorking=False)
        view = self._binance_view(order, (*_QUERY_ONLY, "fills", "workingTime"))
        new_id = p.get("newClientOrderId") or self._binance_client_id()
        return {**view, "origClientOrderId": order["clientOrderId"], "clientOrderId": new_id,
                "transactTime": _ms()}  # fmt: skip

    def _binance_cancel_all(self, p: dict[str, str]) -> list[dict[str, Any]]:
        if "symbol" not in p:
            raise _binance_error(400, -1102, _MANDATORY.format("symbol"))
        orders = self._binance_open(p)
        if not orders:  # Binance answers an empty cancel-all with an error, not with []
            raise _binance_error(400, -2011, "Unknown order sent.")
        return [self._binance_cancel(order, {}) for order in orders]

    def _binance_account(self) -> dict[str, Any]:
        return {
            "makerCommission": 0, "takerCommission": 0, "buyerCommission": 0,
            "sellerCommission": 0, "canTrade": True, "canWithdraw": True, "canDeposit": True,
            "brokered": False, "requireSelfTradePrevention": False, "preventSor": False,
            "updateTime": _ms(), "accountType": "SPOT", "permissions": ["SPOT"], "uid": 1,
            "balances": [{"asset": asset, "free": _f8(free), "locked": _f8(0)}
                         for asset, free in self.balance.items()],
        }  # fmt: skip

    # -- Alpaca trading ----------------------------------------------------------------------

    def _alpaca(self, request: Recorded) -> tuple[int, Any]:
        """Routes an Alpaca request; every endpoint needs both key headers."""
        names = {name.lower() for name in request.headers}
        if not {"apca-api-key-id", "apca-api-secret-key"} <= names:
            raise _alpaca_error(401, *_ALPACA_ERRORS[401])
        params = dict(parse_qsl(request.query))
        path, oid = request.path.removeprefix("/v2"), ""
        if path.startswith("/orders/"):
            path, oid = "/orders/{id}", path.removeprefix("/orders/")  # the order id
        handlers: dict[tuple[str, str], Callable[[], tuple[int, Any]]] = {
            ("POST", "/orders"): lambda: (200, self._alpaca_new_order(json.loads(request.body))),
            ("GET", "/orders"): lambda: (200, self._alpaca_list(params)),
            ("DELETE", "/orders"): self._alpaca_cancel_all,
            ("GET", "/orders:by_client_order_id"): lambda: (
                200, self._alpaca_find("client_order_id", params.get("client_order_id"))
            ),
            ("GET", "/orders/{id}"): lambda: (200, self._alpaca_find("id", oid)),
            ("DELETE", "/orders/{id}"): lambda: self._alpaca_cancel(self._alpaca_find("id", oid)),
            ("PATCH", "/orders/{id}"): lambda: (
                200, self._alpaca_replace(self._alpaca_find("id", oid), json.loads(request.body))
            ),
            ("GET", "/account"): lambda: (200, self._alpaca_account()),
            ("GET", "/positions"): lambda: (200, list(map(self._alpaca_position, self._positions))),
        }  # fmt: skip
        handler = handlers.get((request.method, path))
        if handler is None:
            raise _alpaca_error(404, 40410000, "endpoint not found")
        return handler()

    def _alpaca_find(self, field: str, value: str | None) -> dict[str, Any]:
        for order in self._alpaca_orders.values():
            if order[field] == value:
                return order
        raise _alpaca_error(404, 40410000, f"order not found for {value}")

    def _alpaca_cancel(self, order: dict[str, Any]) -> tuple[int, None]:
        """Cancels an open order: 204 No Content."""
        if order["status"] != "new":
            raise _alpaca_error(422, 42210000, f'order is already in "{order["status"]}" state')
        now = _rfc3339()
        order.update(status="canceled", canceled_at=now, updated_at=now)
        return 204, None

    def _alpaca_cancel_all(self) -> tuple[int, Any]:
        """Cancels every open order; 207 Multi-Status carries one status per order."""
        orders = self._alpaca_list({"status": "open", "limit": "500"})
        for order in orders:
            self._alpaca_cancel(order)
        return 207, [{"id": order["id"], "status": 200, "body": order} for order in orders]

    def _cash_asset(self) -> str:
        return "USD" if "USD" in self.balance else "USDT"

    def _alpaca_replace(self, old: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        """Replaces an open order: a new order (new id) that `replaces` it, the old `replaced`."""
        if old["status"] not in ("new", "accepted", "partially_filled"):
            raise _alpaca_error(422, 42210000, "order is not replaceable")
        request = {k: old[k] for k in ("symbol", "side", "type", "time_in_force", "limit_price")}
        request["qty"] = data.get("qty") or old["qty"]
        request["limit_price"] = data.get("limit_price") or old["limit_price"]
        new = self._alpaca_new_order(request | {"client_order_id": data.get("client_order_id")})
        old.update(status="replaced", replaced_by=new["id"], replaced_at=_rfc3339())
        new["replaces"] = old["id"]
        return new

    def _alpaca_new_order(self, data: dict[str, Any]) -> dict[str, Any]:
        """Validates like Alpaca (quantity, then buying power), then fills or rests the order."""
        symbol, side, kind = data.get("symbol", ""), data.get("side"), data.get("type")
        price = float(data["limit_price"]) if kind == "limit" else self.price
        qty = float(data.get("qty") or 0) or float(data.get("notional") or 0) / price
        if qty <= 0:
            raise _alpaca_error(422, 40010001, "qty must be > 0")
        if kind not in ("market", "limit") or side not in ("buy", "sell"):
            raise _alpaca_error(422, 40010001, "invalid order type or side")
        if side == "buy" and qty * price > self.balance.get(self._cash_asset(), 0.0):
            raise _alpaca_error(403, 40310000, "insufficient buying power")
        client_id = data.get("client_order_id") or self._uuid()
        if any(o["client_order_id"] == client_id for o in self._alpaca_orders.values()):
            raise _alpaca_error(422, 40010001, "client_order_id must be unique")
        now, crypto = _rfc3339(), "/" in symbol
        held = self._positions.get(symbol, [0.0])[0]
        closing = held != 0 and (held > 0) != (side == "buy")
        order: dict[str, Any] = {
            "id": self._uuid(), "client_order_id": client_id, "created_at": now,
            "updated_at": now, "submitted_at": now, "filled_at": None, "expired_at": None,
            "expires_at": None, "canceled_at": None, "failed_at": None, "replaced_at": None,
            "replaced_by": None, "replaces": None,
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, symbol)), "symbol": symbol,
            "asset_class": "crypto" if crypto else "us_equity", "notional": None,
            "qty": str(qty), "filled_qty": "0", "filled_avg_price": None,
            "order_class": "simple", "order_type": kind, "type": kind, "side": side,
            "position_intent": f"{side}_to_{'close' if closing else 'open'}",
            "time_in_force": data.get("time_in_force", "day"),
            "limit_price": str(price) if kind == "limit" else None, "stop_price": None,
            "status": "new", "extended_hours": bool(data.get("extended_hours", False)),
            "legs": None, "trail_percent": None, "trail_price": None, "hwm": None,
        }  # fmt: skip
        self._alpaca_orders[order["id"]] = order
        if kind == "market" or (price >= self.price if side == "buy" else price <= self.price):
            self._alpaca_fill(order, self.price)
        return order

    def _alpaca_fill(self, order: dict[str, Any], price: float) -> None:
        """Fills the whole order at `price`, moving cash and the position."""
        qty = float(order["qty"]) * (1 if order["side"] == "buy" else -1)
        cash = self._cash_asset()
        self.balance[cash] = self.balance.get(cash, 0.0) - qty * price
        position = self._positions.setdefault(order["symbol"], [0.0, 0.0])
        if position[0] and (position[0] > 0) != (qty > 0):  # reducing: cost leaves at average
            position[1] -= position[1] / position[0] * -qty
        else:
            position[1] += qty * price
        position[0] += qty
        if abs(position[0]) < 1e-12:
            del self._positions[order["symbol"]]
        now = _rfc3339()
        order.update(status="filled", filled_qty=order["qty"], filled_avg_price=str(price),
                     filled_at=now, updated_at=now)  # fmt: skip

    def _alpaca_list(self, params: dict[str, str]) -> list[dict[str, Any]]:
        status = params.get("status", "open")  # Alpaca's default is open orders only
        symbols = set(params["symbols"].split(",")) if params.get("symbols") else None
        orders = [
            o for o in self._alpaca_orders.values()
            if (status == "all" or (status == "open") == (o["status"] == "new"))
            and (symbols is None or o["symbol"] in symbols)
            and params.get("side") in (None, o["side"])
        ]  # fmt: skip
        if params.get("direction", "desc") == "desc":
            orders.reverse()
        return orders[: int(params.get("limit", 50))]

    def _alpaca_position(self, symbol: str) -> dict[str, Any]:
        qty, cost = self._positions[symbol]
        value, crypto = qty * self.price, "/" in symbol
        return {
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, symbol)), "symbol": symbol,
            "exchange": "CRYPTO" if crypto else "NASDAQ",
            "asset_class": "crypto" if crypto else "us_equity", "asset_marginable": not crypto,
            "qty": str(qty), "qty_available": str(qty), "side": "long" if qty > 0 else "short",
            "avg_entry_price": str(cost / qty), "cost_basis": str(cost),
            "market_value": str(value), "unrealized_pl": str(value - cost),
            "unrealized_plpc": str((value - cost) / abs(cost)) if cost else "0",
            "unrealized_intraday_pl": str(value - cost),
            "unrealized_intraday_plpc": str((value - cost) / abs(cost)) if cost else "0",
            "current_price": str(self.price), "lastday_price": str(self.price),
            "change_today": "0",
        }  # fmt: skip

    def _alpaca_account(self) -> dict[str, Any]:
        cash = self.balance.get(self._cash_asset(), 0.0)
        long = sum(q * self.price for q, _ in self._positions.values() if q > 0)
        short = sum(q * self.price for q, _ in self._positions.values() if q < 0)
        equity = str(cash + long + short)
        return {
            "id": self._account_id, "account_number": "PA3FAKEVENUE", "status": "ACTIVE",
            "crypto_status": "ACTIVE", "currency": "USD", "buying_power": str(cash),
            "regt_buying_power": str(cash), "daytrading_buying_power": "0",
            "non_marginable_buying_power": str(cash), "options_buying_power": str(cash),
            "cash": str(cash), "accrued_fees": "0", "portfolio_value": equity,
            "equity": equity, "last_equity": equity, "long_market_value": str(long),
            "short_market_value": str(short), "initial_margin": "0",
            "maintenance_margin": "0", "last_maintenance_margin": "0", "sma": "0",
            "daytrade_count": 0, "multiplier": "1", "pattern_day_trader": False,
            "trading_blocked": False, "transfers_blocked": False, "account_blocked": False,
            "trade_suspended_by_user": False, "shorting_enabled": False,
            "created_at": "2024-01-02T15:04:05.000000Z",
        }  # fmt: skip


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # server_close() ends the connections instead of waiting on them
    venue: FakeVenue
    connections: set[socket.socket]

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.connections.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        """Also ends idle keep-alive connections: a stopped venue must stop answering."""
        super().server_close()
        for connection in list(self.connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real venues and the clients' pools do

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        url = urlsplit(self.path)
        recorded = Recorded(self.command, url.path, url.query, dict(self.headers.items()), body)
        assert isinstance(self.server, _Server)
        status, payload, headers = self.server.venue._answer(recorded)
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 204:
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Stays quiet: the recorded requests are the log."""


def binance_config(url: str, **extra: Any) -> dict[str, Any]:
    """The ccxt constructor config that sends every Binance API section to the fake."""
    import ccxt

    sections = ccxt.binance().urls["api"]  # every section, so no call escapes to the internet
    api = {name: url + urlsplit(real).path for name, real in sections.items()}
    options = {
        "fetchMarkets": {"types": ["spot"]},  # only /api/v3/exchangeInfo
        "fetchCurrencies": False,  # a signed /sapi call the fake does not serve
        "fetchMargins": False,  # /sapi margin pairs, likewise
        "adjustForTimeDifference": False,
    }
    config: dict[str, Any] = {
        "apiKey": BINANCE_KEY,
        "secret": BINANCE_SECRET,
        "enableRateLimit": True,
        "urls": {"api": api},
        "options": options,
    }
    options.update(extra.pop("options", {}))
    return config | extra


def alpaca_client(
    url: str, *, retry_attempts: int | None = None, retry_wait_seconds: float | None = None
) -> TradingClient:
    """An alpaca-py TradingClient aimed at the fake.

    alpaca-py retries 429 and 504 answers 3 times, 3 seconds apart, and TradingClient takes no
    argument for it; the two keywords set the client's private counterparts (0 retries: the
    first 429 raises).
    """
    with warnings.catch_warnings():  # alpaca.trading imports websockets.legacy, deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        from alpaca.trading.client import TradingClient

    client = TradingClient(api_key=ALPACA_KEY, secret_key=ALPACA_SECRET, url_override=url)
    if retry_attempts is not None:
        client._retry = retry_attempts
    if retry_wait_seconds is not None:
        client._retry_wait = retry_wait_seconds  # type: ignore[assignment]
    return client


if __name__ == "__main__":
    with FakeVenue() as venue:
        print(f"fake venue serving Binance /api/v3 and Alpaca /v2 at {venue.url} (Ctrl-C stops)")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
