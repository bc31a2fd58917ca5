"""Instrument the user's own functions without editing them, from declarations.

    TRADETEL_INSTRUMENT="mybot.strategy:Momentum.on_tick=strategy, mybot.risk:*=instrument"

or the same list as ``instrument`` in ``tradetel.toml`` or ``[tool.tradetel]`` of
``pyproject.toml``. Each declared module gets one post-import hook (wrapt's): when the module
is imported - or at once, when it already is - the matching functions and methods are wrapped
with ``@strategy``, ``@order`` or ``@instrument`` and set back on the module or class. Names
that other modules imported from it before the hook ran keep the unwrapped function.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from fnmatch import fnmatchcase
from importlib.machinery import PathFinder
from pathlib import Path
from types import ModuleType
from typing import Any

import wrapt

# The module opts out of type checking (`# type: ignore` at its top): its names are Any.
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from .._decorators import disabled, instrument, order, strategy
from .._errors import ConfigError
from .._internal import logger, report_internal_error, warn_once
from ._declare_parse import Declaration, parse_declarations, parse_entries

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the 3.10 backport, a declared dependency there
    import tomli as tomllib

__all__ = [
    "Declaration",
    "DeclarationsInstrumentor",
    "apply",
    "load_declarations",
    "parse_declarations",
    "wrapped",
]

_MARK = "__tradetel_declared__"

_lock = threading.RLock()
_by_module: dict[str, list[Declaration]] = {}  # every declaration applied, by module
_hooked: set[str] = set()  # modules whose hook is registered and has not fired yet
_wrapped: list[str] = []
_active = True


# -- where declarations come from ---------------------------------------------------------------
def load_declarations(
    environ: Mapping[str, str] | None = None,
    argv: Sequence[str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> list[Declaration]:
    """The declarations of ``TRADETEL_INSTRUMENT``, else ``TRADETEL_CONFIG``, else found files.

    Files are searched for from the main script's directory, then from ``cwd``, up to the
    filesystem root: the first ``tradetel.toml``, or ``pyproject.toml`` with a
    ``[tool.tradetel]`` table, is used.

    Raises:
        ConfigError: a declaration or a file is malformed, or ``TRADETEL_CONFIG`` is missing.
    """
    environ = os.environ if environ is None else environ
    argv = sys.argv if argv is None else argv
    base = Path.cwd() if cwd is None else Path(cwd)
    text = environ.get("TRADETEL_INSTRUMENT", "")
    if text.strip():
        return parse_declarations(text, "TRADETEL_INSTRUMENT")
    config = environ.get("TRADETEL_CONFIG", "").strip()
    if config:
        path = base / config
        if not path.is_file():
            raise ConfigError(f"TRADETEL_CONFIG names {path}, which is not a file")
        return _from_file(path) or []
    starts = [base.resolve()]
    if argv and argv[0] and (base / argv[0]).is_file():
        starts.insert(0, (base / argv[0]).resolve().parent)
    seen: set[Path] = set()
    for start in starts:
        for directory in (start, *start.parents):
            if directory in seen:
                break  # the rest of this walk was done from the script's directory
            seen.add(directory)
            for name in ("tradetel.toml", "pyproject.toml"):
                found = _from_file(directory / name) if (directory / name).is_file() else None
                if found is not None:
                    return found
    return []


def _from_file(path: Path) -> list[Declaration] | None:
    """The declarations in a file; None for a pyproject.toml without ``[tool.tradetel]``."""
    pyproject = path.name == "pyproject.toml"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it: {exc}") from exc
    if pyproject and "tradetel" not in text:  # someone else's project: not even parsed
        return None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    table: Any = document
    source = f"{path} instrument"
    if pyproject:
        tool = document.get("tool")
        table = tool.get("tradetel") if isinstance(tool, dict) else None
        if table is None:
            return None
        if not isinstance(table, dict):
            raise ConfigError(f"{path} [tool.tradetel]: must be a table")
        source = f"{path} [tool.tradetel] instrument"
    value = table.get("instrument", [])
    if isinstance(value, str):
        return parse_declarations(value, source)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{source}: must be a list of strings or one string")
    return parse_entries(value, source)


# -- applying them ------------------------------------------------------------------------------
def apply(declarations: Iterable[Declaration]) -> None:
    """Wrap what the declarations match, now for imported modules, at import for the others.

    Applying the same declarations again changes nothing; with ``TRADETEL_DISABLED=1`` nothing
    is wrapped.
    """
    global _active
    if disabled():
        return
    modules: dict[str, list[Declaration]] = {}
    with _lock:
        _active = True
        for declaration in declarations:
            known = _by_module.setdefault(declaration.module, [])
            if declaration not in known:
                known.append(declaration)
            modules.setdefault(declaration.module, []).append(declaration)
    main = _main_script_module()
    for name, declared in modules.items():
        if name == main:
            for declaration in declared:
                warn_once(
                    f"declarations: main script {declaration.where}",
                    "tradetel: %s: %s is the program's main script, which runs as __main__ and "
                    "is never imported as %s; declare functions in the modules it imports",
                    declaration.where,
                    name,
                    name,
                )
        elif name not in sys.modules and not _module_exists(name):
            for declaration in declared:
                warn_once(
                    f"declarations: no module {declaration.where}",
                    "tradetel: %s: no module named %s",
                    declaration.where,
                    name,
                )
        # Hooked even when missing: the module may yet appear on sys.path.
        with _lock:
            if name in _hooked:  # the hook to come reads _by_module when it fires
                continue
            _hooked.add(name)
        # Fires at once, in this thread, when the module is already imported.
        wrapt.register_post_import_hook(_on_import, name)


def wrapped() -> list[str]:
    """What declarations have wrapped so far, as ``module:qualname=kind``."""
    with _lock:
        return list(_wrapped)


def _module_exists(name: str) -> bool:
    """Can ``name`` be imported? Found without importing it or its parent packages."""
    parts = name.split(".")
    locations: Iterable[str] | None = None
    try:
        for i in range(len(parts)):
            prefix = ".".join(parts[: i + 1])
            if prefix in sys.modules:
                locations = getattr(sys.modules[prefix], "__path__", None)
                continue
            if i == 0 or ".".join(parts[:i]) in sys.modules:
                # Imports nothing: a top-level name, or one whose parent is already imported.
                spec = importlib.util.find_spec(prefix)
                if spec is None and i == 0:
                    spec = PathFinder.find_spec(prefix, _script_directory())
            elif locations is None:
                return False  # the parent is a module, not a package
            else:
                spec = PathFinder.find_spec(prefix, list(locations))
            if spec is None:
                return False
            locations = spec.submodule_search_locations
    except (ImportError, ValueError):
        return False
    return True


def _main_script_module() -> str | None:
    """The name the main script (``python bot.py``) would have if it were imported."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is None or script.suffix != ".py" or not script.is_file():
        return None
    return script.stem


def _script_directory() -> list[str]:
    """The main script's directory (the working directory under ``python -m``): under
    sitecustomize it is not on sys.path yet."""
    if sys.argv and sys.argv[0] == "-m":
        return [os.getcwd()]
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    return [str(script.resolve().parent)] if script is not None and script.is_file() else []


def _on_import(module: ModuleType) -> None:
    """The post-import hook: wrap the module's matches; never break the user's import."""
    try:
        with _lock:
            _hooked.discard(module.__name__)
            declarations = list(_by_module.get(module.__name__, ())) if _active else []
            if declarations:
                _wrap_module(module, declarations)
    except Exception as exc:
        report_internal_error("declarations", exc)


def _wrap_module(module: ModuleType, declarations: list[Declaration]) -> None:
    targets = list(_targets(module))
    for declaration in declarations:
        decorate = _decorator(declaration)
        matched = False
        for path, owner, attribute, obj in targets:
            if not _matches(declaration.pattern, path):
                continue
            matched = True
            current = owner.__dict__.get(attribute, obj)  # an earlier declaration's wrapper
            if not getattr(getattr(current, "__func__", current), _MARK, False):
                _wrap_one(declaration, decorate, module.__name__, ".".join(path), owner, current)
        if not matched:
            warn_once(
                f"declarations: unmatched {declaration.where}",
                "tradetel: %s matches nothing in %s",
                declaration.where,
                module.__name__,
            )


def _wrap_one(
    declaration: Declaration,
    decorate: Callable[[Any], Any],
    module: str,
    qualname: str,
    owner: Any,
    obj: Any,
) -> None:
    try:
        new = decorate(obj)
        if new is obj:  # the kill switch
            return
        setattr(getattr(new, "__func__", new), _MARK, True)
        setattr(owner, qualname.rpartition(".")[2], new)
    except ConfigError as exc:
        logger.error(
            "tradetel: %s: %s:%s is left unwrapped: %s", declaration.where, module, qualname, exc
        )
        return
    except Exception as exc:  # the other matches are still wrapped
        report_internal_error("declarations", exc)
        return
    _wrapped.append(f"{module}:{qualname}={declaration.kind}")


def _decorator(declaration: Declaration) -> Callable[[Any], Any]:
    attributes = dict(declaration.attributes)
    if declaration.kind == "strategy":
        return strategy(declaration.name, **attributes)
    if declaration.kind == "order":
        return order(declaration.venue, declaration.operation or "submit", **attributes)
    return instrument(
        declaration.name,
        record_args=declaration.record_args,
        sample_rate=declaration.sample_rate,
    )


_Target = tuple[tuple[str, ...], Any, str, Any]  # (qualname parts, owner, attribute, object)


def _targets(module: ModuleType) -> Iterator[_Target]:
    """Functions defined in the module, and the methods of the classes defined there."""
    for name, obj in list(vars(module).items()):
        if getattr(obj, "__module__", None) != module.__name__:
            continue  # imported from elsewhere
        if inspect.isfunction(obj):
            yield (name,), module, name, obj
        elif isinstance(obj, type) and obj.__qualname__ == name:  # not an alias
            yield from _methods(obj, (name,))


def _methods(cls: type, path: tuple[str, ...]) -> Iterator[_Target]:
    for name, obj in list(vars(cls).items()):
        function = obj.__func__ if isinstance(obj, (staticmethod, classmethod)) else obj
        if inspect.isfunction(function):  # not a property, nor a nested class
            yield (*path, name), cls, name, obj
        elif isinstance(obj, type) and obj.__qualname__ == f"{cls.__qualname__}.{name}":
            yield from _methods(obj, (*path, name))


def _matches(pattern: tuple[str, ...], path: tuple[str, ...]) -> bool:
    """Segment by segment; a dunder name only when the pattern names it exactly."""
    return len(pattern) == len(path) and all(
        segment == name or (not _dunder(name) and fnmatchcase(name, segment))
        for segment, name in zip(pattern, path, strict=True)
    )


def _dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


# -- the OpenTelemetry instrumentor ------------------------------------------------------------
class DeclarationsInstrumentor(BaseInstrumentor):  # type: ignore[misc]  # Any, as above
    """Loads and applies the declarations under ``opentelemetry-instrument`` or the launcher."""

    def instrumentation_dependencies(self) -> Collection[str]:
        """None: the declared modules are the user's own."""
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        """Apply every declaration, or none when one is malformed (logged, never raised)."""
        if disabled():
            return
        try:
            apply(load_declarations())
        except ConfigError as exc:
            logger.error("tradetel: %s; no declared function is instrumented", exc)
        except Exception as exc:
            report_internal_error("declarations", exc)

    def _uninstrument(self, **kwargs: Any) -> None:
        """Stop wrapping modules imported from now on; wrapped functions stay wrapped."""
        global _active
        with _lock:
            _active = False


def _reset_for_tests() -> None:
    """Forget every declaration and what was wrapped (hooks already in wrapt find nothing)."""
    global _active
    with _lock:
        _by_module.clear()
        _hooked.clear()
        _wrapped.clear()
        _active = True
