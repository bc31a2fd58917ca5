"""Declared instrumentation: the user's functions wrapped at import, without editing them."""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from opentelemetry.trace import SpanKind

from tradetel import ConfigError
from tradetel import semconv as sc
from tradetel.auto._declarations import (
    DeclarationsInstrumentor,
    _reset_for_tests,
    apply,
    load_declarations,
    parse_declarations,
    wrapped,
)
from tradetel.testing import Capture

MakePackage = Callable[..., str]

STRATEGY_SOURCE = """
    class Momentum:
        def __init__(self):
            self.ticks = 0

        def on_tick(self, price):
            self.ticks += 1
            return "buy" if price > 100 else "hold"

        def on_fill(self, fill):
            return fill

        @property
        def on_property(self):
            return 1

        @staticmethod
        def helper(x):
            return x + 1

        @classmethod
        def create(cls):
            return cls()
"""


@pytest.fixture(autouse=True)
def _forget_declarations() -> Iterator[None]:
    yield
    _reset_for_tests()


@pytest.fixture
def make_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakePackage]:
    """Write modules into a package with a name of its own; return the package's name."""
    name = f"declared_{uuid.uuid4().hex[:10]}"
    monkeypatch.syspath_prepend(str(tmp_path))

    def make(**modules: str) -> str:
        root = tmp_path / name
        root.mkdir(exist_ok=True)
        (root / "__init__.py").touch()
        for module, source in modules.items():
            (root / f"{module}.py").write_text(textwrap.dedent(source))
        importlib.invalidate_caches()
        return name

    yield make
    for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
        del sys.modules[module]


def _import(name: str) -> ModuleType:
    return importlib.import_module(name)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tradetel"]


# -- the grammar ------------------------------------------------------------------------------
def test_env_syntax_parses_targets_kinds_and_a_positional_venue() -> None:
    text = (
        "mybot.strategy:Momentum.on_tick=strategy, mybot.exec:place_order=order(binance),"
        " mybot.risk:*=instrument"
    )
    first, second, third = parse_declarations(text, "TRADETEL_INSTRUMENT")
    assert (first.module, first.pattern, first.kind) == (
        "mybot.strategy",
        ("Momentum", "on_tick"),
        "strategy",
    )
    assert (second.kind, second.venue, second.operation) == ("order", "binance", None)
    assert (third.module, third.pattern, third.number) == ("mybot.risk", ("*",), 3)
    assert third.source == "TRADETEL_INSTRUMENT"


def test_quoted_values_keep_their_commas_and_newlines_separate_entries() -> None:
    text = """
        mybot.exec:*.on_*=order(venue="binance, futures", operation=cancel, order_type=limit)

        mybot.strategy:step=strategy('mean revert', trading.symbol=BTC/USDT)
    """
    order, strategy = parse_declarations(text, "TRADETEL_INSTRUMENT")
    assert order.pattern == ("*", "on_*")
    assert (order.venue, order.operation) == ("binance, futures", "cancel")
    assert order.attributes == (("order_type", "limit"),)
    assert strategy.name == "mean revert"
    assert strategy.attributes == (("trading.symbol", "BTC/USDT"),)


def test_instrument_takes_a_name_sample_rate_and_record_args() -> None:
    (declaration,) = parse_declarations(
        "risk:check=instrument(risk-check, sample_rate=0.25, record_args=symbol|side)", "env"
    )
    assert declaration.name == "risk-check"
    assert declaration.sample_rate == 0.25
    assert declaration.record_args == ("symbol", "side")


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("mybot.exec:place_order", "missing '='"),
        ("mybot.exec=order", "missing ':'"),
        (":place_order=order", "empty module"),
        ("my-bot:place_order=order", "bad module name 'my-bot'"),
        ("mybot:place order=order", "bad pattern segment 'place order'"),
        ("mybot:f=ordr", "unknown kind 'ordr' (known kinds: instrument, order, strategy)"),
        ("mybot:f=order(venue=binance", "unbalanced parentheses"),
        ("mybot:f=order(venue='binance)", "unbalanced quotes"),
        ("mybot:f=order(venue=bin ance)", "bad value 'bin ance' for 'venue'"),
        ("mybot:f=order(binance, venue=kraken)", "duplicate argument 'venue'"),
        ("mybot:f=order(operation=cancel, binance)", "positional value 'binance' must come first"),
        ("mybot:f=instrument(venue=binance)", "unknown argument 'venue' for instrument"),
        ("mybot:f=instrument(sample_rate=0)", "sample_rate must be a number in (0, 1]"),
        ("mybot:f=instrument(sample_rate=often)", "sample_rate must be a number in (0, 1]"),
        ("mybot:f=instrument(record_args=symbol|2)", "record_args: '2' is not an argument name"),
    ],
)
def test_malformed_entry_is_a_config_error_naming_the_entry(entry: str, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_declarations(f"ok:f=order, {entry}", "TRADETEL_INSTRUMENT")
    assert str(raised.value).startswith(f"TRADETEL_INSTRUMENT entry 2 {entry!r}: ")
    assert problem in str(raised.value)


# -- where declarations come from --------------------------------------------------------------
def test_env_variable_beats_config_files(tmp_path: Path) -> None:
    (tmp_path / "tradetel.toml").write_text('instrument = ["fromfile:f=order"]\n')
    env = {"TRADETEL_INSTRUMENT": "fromenv:f=strategy", "TRADETEL_CONFIG": "tradetel.toml"}
    (declaration,) = load_declarations(env, argv=[""], cwd=tmp_path)
    assert declaration.module == "fromenv"


def test_tradetel_config_names_the_file_to_read(tmp_path: Path) -> None:
    (tmp_path / "prod.toml").write_text('instrument = "bot:f=order(binance)"\n')
    (declaration,) = load_declarations({"TRADETEL_CONFIG": "prod.toml"}, argv=[""], cwd=tmp_path)
    assert declaration.venue == "binance"
    assert declaration.source == f"{tmp_path / 'prod.toml'} instrument"
    with pytest.raises(ConfigError, match=r"TRADETEL_CONFIG names .*missing\.toml"):
        load_declarations({"TRADETEL_CONFIG": "missing.toml"}, argv=[""], cwd=tmp_path)


def test_search_walks_up_past_a_pyproject_without_a_tradetel_table(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "src" / "bot").mkdir(parents=True)
    (project / "src" / "bot" / "pyproject.toml").write_text('[project]\nname = "bot"\n')
    (project / "pyproject.toml").write_text(
        '[tool.tradetel]\ninstrument = ["bot.exec:submit=order"]\nservice_name = "bot"\n'
    )
    (declaration,) = load_declarations({}, argv=[""], cwd=project / "src" / "bot")
    assert declaration.module == "bot.exec"
    assert declaration.source == f"{project / 'pyproject.toml'} [tool.tradetel] instrument"


def test_tradetel_toml_comes_before_pyproject_in_the_same_directory(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.tradetel]\ninstrument = ["a:f=order"]\n')
    (tmp_path / "tradetel.toml").write_text('instrument = ["b:f=order"]\n')
    assert [d.module for d in load_declarations({}, argv=[""], cwd=tmp_path)] == ["b"]


def test_the_main_scripts_directory_is_searched_before_the_cwd(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "run.py").write_text("")
    (tmp_path / "app" / "tradetel.toml").write_text('instrument = ["script:f=order"]\n')
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "tradetel.toml").write_text('instrument = ["cwd:f=order"]\n')
    argv = [str(tmp_path / "app" / "run.py")]
    (declaration,) = load_declarations({}, argv=argv, cwd=tmp_path / "elsewhere")
    assert declaration.module == "script"


def test_toml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "tradetel.toml").write_text("# bot\ninstrument = [a:f=order]\n")
    with pytest.raises(ConfigError, match=r"tradetel\.toml: not valid TOML: .*line 2, column 15"):
        load_declarations({}, argv=[""], cwd=tmp_path)


def test_bad_entry_in_a_file_names_the_file_key_and_entry(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.tradetel]\ninstrument = ["a:f=order", "b:g=order(venue=)"]\n'
    )
    with pytest.raises(ConfigError) as raised:
        load_declarations({}, argv=[""], cwd=tmp_path)
    assert str(raised.value).startswith(
        f"{tmp_path / 'pyproject.toml'} [tool.tradetel] instrument entry 2 'b:g=order(venue=)': "
    )


# -- wrapping ---------------------------------------------------------------------------------
def test_module_imported_before_apply_is_wrapped(
    make_package: MakePackage, tradetel_capture: Capture
) -> None:
    pkg = make_package(strategy=STRATEGY_SOURCE)
    module = _import(f"{pkg}.strategy")
    apply(parse_declarations(f"{pkg}.strategy:Momentum.on_tick=strategy(momentum)", "env"))
    bot = module.Momentum()
    assert bot.on_tick(101.0) == "buy"
    assert bot.ticks == 1
    span = tradetel_capture.span("strategy momentum")
    assert span.attributes is not None
    assert span.attributes[sc.STRATEGY_NAME] == "momentum"
    assert span.attributes[sc.CODE_FUNCTION_NAME] == f"{pkg}.strategy.Momentum.on_tick"


def test_module_imported_after_apply_is_wrapped_at_import(
    make_package: MakePackage, tradetel_capture: Capture
) -> None:
    pkg = make_package(
        exec="""
        def place_order(symbol, side, amount):
            return {"id": "42", "status": "open"}
        """
    )
    apply(parse_declarations(f"{pkg}.exec:place_order=order(binance)", "env"))
    assert f"{pkg}.exec" not in sys.modules
    module = _import(f"{pkg}.exec")
    assert module.place_order("BTC/USDT", "BUY", 1.0) == {"id": "42", "status": "open"}
    span = tradetel_capture.span("order submit")
    assert span.kind is SpanKind.CLIENT
    assert span.attributes is not None
    assert span.attributes[sc.VENUE] == "binance"
    assert span.attributes[sc.SYMBOL] == "BTC/USDT"
    assert span.attributes[sc.SIDE] == "buy"
    assert span.attributes[sc.ORDER_ID] == "42"


def test_static_and_class_methods_stay_descriptors_and_are_traced(
    make_package: MakePackage, tradetel_capture: Capture
) -> None:
    pkg = make_package(strategy=STRATEGY_SOURCE)
    apply(parse_declarations(f"{pkg}.strategy:Momentum.[hc]*=instrument", "env"))
    module = _import(f"{pkg}.strategy")
    assert isinstance(module.Momentum.__dict__["helper"], staticmethod)
    assert isinstance(module.Momentum.__dict__["create"], classmethod)
    assert isinstance(module.Momentum.create(), module.Momentum)
    assert module.Momentum.helper(1) == 2
    assert [s.name for s in tradetel_capture.spans] == ["Momentum.create", "Momentum.helper"]


def test_async_functions_generators_and_async_generators_are_traced(
    make_package: MakePackage, tradetel_capture: Capture
) -> None:
    pkg = make_package(
        feeds="""
        import asyncio

        async def fetch():
            await asyncio.sleep(0)
            return 7

        def ticks(n):
            yield from range(n)

        async def stream(n):
            for i in range(n):
                yield i
        """
    )
    apply(parse_declarations(f"{pkg}.feeds:*=strategy", "env"))
    module = _import(f"{pkg}.feeds")

    async def consume() -> list[Any]:
        return [await module.fetch(), [i async for i in module.stream(2)]]

    assert asyncio.run(consume()) == [7, [0, 1]]
    assert list(module.ticks(3)) == [0, 1, 2]
    assert [s.name for s in tradetel_capture.spans] == ["fetch", "stream", "ticks"]
    assert tradetel_capture.span("ticks").attributes == {
        sc.STRATEGY_NAME: "ticks",
        sc.CODE_FUNCTION_NAME: f"{pkg}.feeds.ticks",
    }


def test_star_wraps_only_functions_defined_in_the_module(make_package: MakePackage) -> None:
    pkg = make_package(
        helpers="def shared():\n    return 1\n",
        risk="""
        from os.path import join
        from .helpers import shared

        def check():
            return True

        def __getattr__(name):
            raise AttributeError(name)

        class Limits:
            def check(self):
                return True
        """,
    )
    apply(parse_declarations(f"{pkg}.risk:*=instrument", "env"))
    module = _import(f"{pkg}.risk")
    assert wrapped() == [f"{pkg}.risk:check=instrument"]
    assert module.shared is _import(f"{pkg}.helpers").shared
    assert not hasattr(module.join, "__wrapped__")


def test_method_globs_match_one_segment_each_and_skip_dunders(make_package: MakePackage) -> None:
    pkg = make_package(
        bots="""
        class Momentum:
            def __init__(self):
                pass

            def on_tick(self):
                pass

            class Book:
                def on_update(self):
                    pass

        class MeanRevert:
            def on_tick(self):
                pass

        def on_start():
            pass
        """
    )
    text = f"{pkg}.bots:*.on_*=strategy, {pkg}.bots:Momentum.__init__=instrument"
    apply(parse_declarations(text, "env"))
    _import(f"{pkg}.bots")
    assert sorted(wrapped()) == [
        f"{pkg}.bots:MeanRevert.on_tick=strategy",
        f"{pkg}.bots:Momentum.__init__=instrument",
        f"{pkg}.bots:Momentum.on_tick=strategy",
    ]


def test_pattern_matching_nothing_is_warned_once(
    make_package: MakePackage, caplog: pytest.LogCaptureFixture
) -> None:
    pkg = make_package(risk="def check():\n    pass\n")
    declarations = parse_declarations(f"{pkg}.risk:Limits.*=instrument", "TRADETEL_INSTRUMENT")
    with caplog.at_level(logging.WARNING, logger="tradetel"):
        apply(declarations)
        _import(f"{pkg}.risk")
        apply(declarations)
    assert _warnings(caplog) == [
        f"tradetel: TRADETEL_INSTRUMENT entry 1 '{pkg}.risk:Limits.*=instrument' "
        f"matches nothing in {pkg}.risk"
    ]


def test_missing_module_is_warned_once_without_importing_its_package(
    make_package: MakePackage, caplog: pytest.LogCaptureFixture
) -> None:
    pkg = make_package(risk="def check():\n    pass\n")
    text = f"{pkg}.riks:*=instrument, {pkg}.risk:*=instrument"
    with caplog.at_level(logging.WARNING, logger="tradetel"):
        apply(parse_declarations(text, "TRADETEL_INSTRUMENT"))
        apply(parse_declarations(text, "TRADETEL_INSTRUMENT"))
    assert _warnings(caplog) == [
        f"tradetel: TRADETEL_INSTRUMENT entry 1 '{pkg}.riks:*=instrument': "
        f"no module named {pkg}.riks"
    ]
    assert pkg not in sys.modules


def test_module_in_a_namespace_package_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"namespace_{uuid.uuid4().hex[:10]}"
    (tmp_path / name).mkdir()
    (tmp_path / name / "risk.py").write_text("def check():\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="tradetel"):
        apply(parse_declarations(f"{name}.risk:check=instrument", "env"))
    assert _warnings(caplog) == []
    assert name not in sys.modules
    try:
        assert _import(f"{name}.risk").check() == 1
        assert wrapped() == [f"{name}.risk:check=instrument"]
    finally:
        sys.modules.pop(f"{name}.risk", None)
        sys.modules.pop(name, None)


def test_module_next_to_the_main_script_is_found_before_it_is_on_sys_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Under sitecustomize (opentelemetry-instrument) the script's directory is not on sys.path.
    name = f"beside_{uuid.uuid4().hex[:10]}"
    (tmp_path / "run.py").write_text("")
    (tmp_path / f"{name}.py").write_text("def check():\n    return 1\n")
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "run.py")])
    with caplog.at_level(logging.WARNING, logger="tradetel"):
        apply(parse_declarations(f"{name}:check=instrument", "env"))
    assert _warnings(caplog) == []


def test_applying_twice_wraps_once(make_package: MakePackage, tradetel_capture: Capture) -> None:
    pkg = make_package(strategy=STRATEGY_SOURCE)
    declarations = parse_declarations(f"{pkg}.strategy:Momentum.on_*=strategy(momentum)", "env")
    apply(declarations)
    module = _import(f"{pkg}.strategy")
    apply(declarations)
    apply(parse_declarations(f"{pkg}.strategy:Momentum.on_tick=instrument", "env"))
    module.Momentum().on_tick(1.0)
    assert [s.name for s in tradetel_capture.spans] == ["strategy momentum"]
    assert len(wrapped()) == 2  # on_tick and on_fill


def test_kill_switch_leaves_the_functions_untouched(
    make_package: MakePackage, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = make_package(exec="def place_order():\n    pass\n")
    monkeypatch.setenv("TRADETEL_DISABLED", "1")
    module = _import(f"{pkg}.exec")
    original = module.place_order
    apply(parse_declarations(f"{pkg}.exec:place_order=order", "env"))
    assert module.place_order is original
    assert wrapped() == []


def test_a_function_the_decorator_rejects_is_logged_and_left_unwrapped(
    make_package: MakePackage, caplog: pytest.LogCaptureFixture
) -> None:
    pkg = make_package(
        risk="""
        def check(symbol, side):
            pass

        def check_size(amount):
            pass
        """
    )
    text = f"{pkg}.risk:check*=instrument(record_args=symbol)"
    with caplog.at_level(logging.WARNING, logger="tradetel"):
        apply(parse_declarations(text, "TRADETEL_INSTRUMENT"))
        _import(f"{pkg}.risk")
    assert wrapped() == [f"{pkg}.risk:check=instrument"]
    (error,) = [r for r in caplog.records if r.name == "tradetel"]
    assert error.levelname == "ERROR"
    assert error.getMessage().startswith(
        f"tradetel: TRADETEL_INSTRUMENT entry 1 '{text}': {pkg}.risk:check_size is left unwrapped"
    )


# -- the OpenTelemetry instrumentor ------------------------------------------------------------
def test_instrumentor_applies_nothing_when_an_entry_is_malformed(
    make_package: MakePackage, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pkg = make_package(exec="def place_order():\n    pass\n")
    monkeypatch.setenv("TRADETEL_INSTRUMENT", f"{pkg}.exec:place_order=order, {pkg}.exec:x=ordr")
    instrumentor = DeclarationsInstrumentor()
    with caplog.at_level(logging.ERROR, logger="tradetel"):
        instrumentor.instrument()
    try:
        _import(f"{pkg}.exec")
        assert wrapped() == []
        (message,) = _warnings(caplog)
        assert f"TRADETEL_INSTRUMENT entry 2 '{pkg}.exec:x=ordr': unknown kind 'ordr'" in message
    finally:
        instrumentor.uninstrument()


def test_instrumentor_wraps_at_import_until_uninstrumented(
    make_package: MakePackage, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = make_package(exec="def place_order():\n    pass\n", risk="def check():\n    pass\n")
    monkeypatch.setenv("TRADETEL_INSTRUMENT", f"{pkg}.exec:*=order, {pkg}.risk:*=instrument")
    instrumentor = DeclarationsInstrumentor()
    instrumentor.instrument()
    try:
        _import(f"{pkg}.exec")
    finally:
        instrumentor.uninstrument()
    _import(f"{pkg}.risk")
    assert wrapped() == [f"{pkg}.exec:place_order=order"]


def test_declaring_the_main_script_by_its_file_name_is_warned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    script = tmp_path / f"bot_{uuid.uuid4().hex[:8]}.py"
    script.write_text("def main():\n    pass\n")
    monkeypatch.setattr(sys, "argv", [str(script)])
    entry = f"{script.stem}:main=strategy"
    with caplog.at_level(logging.WARNING, logger="tradetel"):
        apply(parse_declarations(entry, "TRADETEL_INSTRUMENT"))
    assert _warnings(caplog) == [
        f"tradetel: TRADETEL_INSTRUMENT entry 1 '{entry}': {script.stem} is the program's main "
        f"script, which runs as __main__ and is never imported as {script.stem}; declare "
        "functions in the modules it imports"
    ]
