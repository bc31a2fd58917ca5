"""tradetel's telemetry names: the contract between the SDK, alert rules and dashboards.

Every metric, span and attribute name that tradetel emits is a constant here, mirroring
``docs/semconv.md``. Change a name only together with the rules and dashboards that query it.
"""

from __future__ import annotations

from typing import Final

# -- attributes ---------------------------------------------------------------------------
VENUE: Final = "trading.venue"
STRATEGY_NAME: Final = "trading.strategy.name"
SIDE: Final = "trading.side"
ORDER_TYPE: Final = "trading.order.type"
ORDER_OPERATION: Final = "trading.order.operation"
ORDER_STATUS: Final = "trading.order.status"
ORDER_STAGE: Final = "trading.order.stage"
REJECT_REASON: Final = "trading.reject_reason"
INSTRUMENT_KIND: Final = "trading.instrument.kind"
SYMBOL: Final = "trading.symbol"
ORDER_CLIENT_ID: Final = "trading.order.client_id"
ORDER_ID: Final = "trading.order.id"
EXEC_ID: Final = "trading.exec.id"
ORDER_PRICE: Final = "trading.order.price"
ORDER_QUANTITY: Final = "trading.order.quantity"
FILL_PRICE: Final = "trading.fill.price"
FILL_QUANTITY: Final = "trading.fill.quantity"
CONFIDENCE: Final = "trading.confidence"
TRADE_OUTCOME: Final = "trading.trade.outcome"
EXPOSURE_KIND: Final = "trading.exposure.kind"
HEALTH_CHECK: Final = "trading.health.check"
ERROR_TYPE: Final = "error.type"
ANOMALY: Final = "tradetel.anomaly"
REASON: Final = "tradetel.reason"
CODE_FUNCTION_NAME: Final = "code.function.name"
TELEMETRY_SIGNAL: Final = "signal"

# -- resource attributes ------------------------------------------------------------------
SERVICE_NAME: Final = "service.name"
SERVICE_INSTANCE_ID: Final = "service.instance.id"
DEPLOYMENT_ENVIRONMENT: Final = "deployment.environment.name"
TRADING_MODE: Final = "trading.mode"
TRADING_RUN_ID: Final = "trading.run.id"
TRADING_MODES: Final = ("live", "paper", "backtest")

# -- metrics ------------------------------------------------------------------------------
ORDER_DURATION: Final = "trading.order.duration"
ORDER_LATENCY: Final = "trading.order.latency"
ORDER_EVENTS: Final = "trading.order.events"
ORDER_SLIPPAGE: Final = "trading.order.slippage"
ORDER_FILL_RATIO: Final = "trading.order.fill_ratio"
ORDERS_OPEN: Final = "trading.orders.open"
ORDER_OPEN_MAX_AGE: Final = "trading.order.open.max_age"
TICK_TO_TRADE_LATENCY: Final = "trading.tick_to_trade.latency"
STRATEGY_DURATION: Final = "trading.strategy.duration"
STRATEGY_SIGNALS: Final = "trading.strategy.signals"
CALL_DURATION: Final = "trading.call.duration"
EXCHANGE_REQUEST_DURATION: Final = "trading.exchange.request.duration"
EXCHANGE_RATELIMIT_WAIT: Final = "trading.exchange.ratelimit.wait"
EQUITY: Final = "trading.equity"
PNL_REALIZED: Final = "trading.pnl.realized"
PNL_UNREALIZED: Final = "trading.pnl.unrealized"
RETURN: Final = "trading.return"
DRAWDOWN: Final = "trading.drawdown"
DRAWDOWN_MAX: Final = "trading.drawdown.max"
SHARPE: Final = "trading.sharpe"
SORTINO: Final = "trading.sortino"
CALMAR: Final = "trading.calmar"
VOLATILITY: Final = "trading.volatility"
VAR: Final = "trading.var"
CVAR: Final = "trading.cvar"
WIN_RATE: Final = "trading.win_rate"
PROFIT_FACTOR: Final = "trading.profit_factor"
TRADES: Final = "trading.trades"
EXPOSURE: Final = "trading.exposure"
LEVERAGE: Final = "trading.leverage"
POSITIONS_OPEN: Final = "trading.positions.open"
HEALTH_STATUS: Final = "trading.health.status"
EVENT_LOOP_LAG: Final = "trading.runtime.event_loop.lag"
TELEMETRY_DROPPED: Final = "tradetel.telemetry.dropped"
ORDER_ANOMALIES: Final = "tradetel.order.anomalies"
ORDERS_EVICTED: Final = "tradetel.orders.evicted"
PERFORMANCE_REJECTED: Final = "tradetel.performance.rejected"

# -- OpenTelemetry's process and system metrics (from psutil) ----------------------------------
PROCESS_CPU_UTILIZATION: Final = "process.cpu.utilization"
PROCESS_MEMORY_USAGE: Final = "process.memory.usage"
PROCESS_THREAD_COUNT: Final = "process.thread.count"
PROCESS_OPEN_FDS: Final = "process.open_file_descriptor.count"
SYSTEM_CPU_UTILIZATION: Final = "system.cpu.utilization"
SYSTEM_MEMORY_UTILIZATION: Final = "system.memory.utilization"
SYSTEM_FILESYSTEM_UTILIZATION: Final = "system.filesystem.utilization"

# -- span names ---------------------------------------------------------------------------
SPAN_STRATEGY_PREFIX: Final = "strategy "
SPAN_ORDER_PREFIX: Final = "order "
SPAN_EXCHANGE_PREFIX: Final = "exchange "

#: Explicit bucket boundaries (seconds) of every latency histogram (unit ``s``).
LATENCY_BUCKETS: Final[tuple[float, ...]] = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

#: Bucket boundaries of ``trading.order.slippage`` (basis points; positive is a cost).
SLIPPAGE_BUCKETS: Final[tuple[float, ...]] = (
    -100.0, -50.0, -25.0, -10.0, -5.0, -2.0, -1.0, 0.0,
    1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0,
)  # fmt: skip

#: Bucket boundaries of ``trading.order.fill_ratio`` (filled / ordered quantity).
FILL_RATIO_BUCKETS: Final[tuple[float, ...]] = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0)
