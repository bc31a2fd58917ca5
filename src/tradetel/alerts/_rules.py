"""Prometheus rule files: loading and validating them, with errors that say where.

The format is Prometheus' own (``groups: [{name, interval, limit, rules}]``), so one file runs in
tradetel's evaluator, in ``promtool test rules`` and in Prometheus.  Everything is checked at
load time: YAML, keys, durations, names, each expression against tradetel's PromQL subset and
each template, so that nothing outside the subset is found only at evaluation time.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .._errors import RuleError
from . import _template
from ._duration import format_duration, parse_duration
from ._promql import PromQLError, Query, parse

__all__ = [
    "AlertRuleSpec",
    "GroupSpec",
    "RecordRuleSpec",
    "format_duration",
    "load_rules",
    "parse_duration",
]

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_GROUP_KEYS = {"name", "interval", "limit", "rules"}
_ALERT_KEYS = {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
_RECORD_KEYS = {"record", "expr", "labels"}

#: Prometheus' default evaluation interval when neither the group nor the caller sets one.
DEFAULT_INTERVAL_MS = 60_000


@dataclass
class RecordRuleSpec:
    record: str
    query: Query
    labels: dict[str, str]
    line: int


@dataclass
class AlertRuleSpec:
    alert: str
    query: Query
    for_ms: int
    keep_firing_for_ms: int
    labels: dict[str, str]
    annotations: dict[str, str]
    line: int


@dataclass
class GroupSpec:
    name: str
    file: str
    interval_ms: int | None
    limit: int
    rules: list[AlertRuleSpec | RecordRuleSpec] = field(default_factory=list)


class _Where:
    """Builds error messages that name the file, group, rule and line."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.group = ""
        self.rule = ""
        self.line = 0

    def error(self, message: str) -> RuleError:
        parts = [f"{self.file}:{self.line}" if self.line else self.file]
        if self.group:
            parts.append(f"group {self.group!r}")
        if self.rule:
            parts.append(self.rule)
        return RuleError(", ".join(parts) + ": " + message)


class _LineLoader(yaml.SafeLoader):
    """A safe loader whose mappings remember the line they start on."""


class _LineDict(dict[str, Any]):
    line = 0


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> _LineDict:
    mapping = _LineDict(loader.construct_mapping(node, deep=True))  # type: ignore[arg-type]
    mapping.line = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_rules(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[GroupSpec]:
    """Load and validate rule files; raises :class:`RuleError` naming what is wrong and where.

    A path may be a glob (``rules/*.yml``), as in Prometheus' ``rule_files``.  Group names
    must be unique within a file.
    """
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    groups: list[GroupSpec] = []
    for item in items:
        text = os.fspath(item)
        matches = sorted(map(Path, glob.glob(text))) if glob.has_magic(text) else [Path(text)]
        if not matches:
            raise RuleError(f"{text}: no rule file matches this pattern")
        for path in matches:
            groups.extend(load_file(path))
    return groups


def load_file(path: str | os.PathLike[str]) -> list[GroupSpec]:
    """The groups of one rule file."""
    name = os.fspath(path)
    try:
        text = Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError(f"{name}: cannot read the rule file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise RuleError(f"{name}: the rule file is not UTF-8 text (byte {exc.start})") from None
    return parse_rules(text, name)


def parse_rules(text: str, file: str = "<rules>") -> list[GroupSpec]:
    """The groups of a rule file's text; ``file`` is used in error messages."""
    where = _Where(file)
    try:
        document = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where.line = mark.line + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or str(exc)
        raise where.error(f"not valid YAML: {problem}") from None
    if document is None:
        return []
    if not isinstance(document, Mapping) or set(document) - {"groups"}:
        extra = sorted(set(document) - {"groups"}) if isinstance(document, Mapping) else []
        raise where.error(
            f"unknown top-level key(s) {', '.join(extra)}; a rule file has only 'groups'"
            if extra
            else "a rule file is a mapping with a 'groups' list"
        )
    raw_groups = document.get("groups") or []
    if not isinstance(raw_groups, list):
        raise where.error("'groups' must be a list")
    seen: set[str] = set()
    groups = [_group(raw, where) for raw in raw_groups]
    for group in groups:
        if group.name in seen:
            where.group, where.rule, where.line = group.name, "", 0
            raise where.error("the group name is used twice in this file")
        seen.add(group.name)
    return groups


def _group(raw: Any, where: _Where) -> GroupSpec:
    where.group, where.rule = "", ""
    where.line = getattr(raw, "line", 0)
    if not isinstance(raw, Mapping):
        raise where.error("each group must be a mapping with 'name' and 'rules'")
    if not raw.get("name") or not isinstance(raw["name"], str):
        raise where.error("a group needs a 'name'")
    where.group = raw["name"]
    _check_keys(raw, _GROUP_KEYS, where, "group")
    interval = _duration(raw, "interval", where) if raw.get("interval") is not None else None
    if interval == 0:
        raise where.error("interval must be more than 0")
    limit = raw.get("limit", 0) or 0
    if not isinstance(limit, int) or limit < 0:
        raise where.error(f"limit must be a whole number >= 0, not {limit!r}")
    rules = raw.get("rules") or []
    if not isinstance(rules, list):
        raise where.error("'rules' must be a list")
    group = GroupSpec(where.group, where.file, interval, limit)
    for index, rule in enumerate(rules, 1):
        group.rules.append(_rule(rule, index, where))
    return group


def _rule(raw: Any, index: int, where: _Where) -> AlertRuleSpec | RecordRuleSpec:
    where.rule = f"rule {index}"
    where.line = getattr(raw, "line", where.line)
    if not isinstance(raw, Mapping):
        raise where.error("a rule must be a mapping with 'alert' or 'record' and 'expr'")
    if raw.get("alert") and raw.get("record"):
        raise where.error("a rule has either 'alert' or 'record', not both")
    if not raw.get("alert") and not raw.get("record"):
        raise where.error("a rule needs 'alert' or 'record'")
    is_alert = bool(raw.get("alert"))
    name = str(raw["alert"] if is_alert else raw["record"])
    where.rule = f"rule {index} ({'alert' if is_alert else 'record'} {name!r})"
    _check_keys(
        raw,
        _ALERT_KEYS if is_alert else _RECORD_KEYS,
        where,
        "alerting rule" if is_alert else "recording rule",
    )
    if not is_alert and not _METRIC_NAME.fullmatch(name):
        raise where.error(f"{name!r} is not a valid metric name for a recording rule")
    query = _query(raw.get("expr"), where)
    if query.value_type not in ("vector", "scalar"):
        raise where.error(f"expr must give an instant vector or a scalar, not a {query.value_type}")
    labels = _string_map(raw, "labels", where)
    for key in labels:
        if key in ("__name__", "alertname") and is_alert:
            raise where.error(f"label {key!r} is set by the evaluator and cannot be a rule label")
    if not is_alert:
        return RecordRuleSpec(name, query, labels, where.line)
    annotations = _string_map(raw, "annotations", where)
    for kind, values in (("label", labels), ("annotation", annotations)):
        for key, value in values.items():
            try:
                _template.check(value)
            except _template.TemplateError as exc:
                raise where.error(f"{kind} {key!r}: template does not parse: {exc}") from None
    return AlertRuleSpec(
        name,
        query,
        _duration(raw, "for", where) if raw.get("for") is not None else 0,
        _duration(raw, "keep_firing_for", where) if raw.get("keep_firing_for") is not None else 0,
        labels,
        annotations,
        where.line,
    )


def _check_keys(raw: Mapping[str, Any], allowed: set[str], where: _Where, what: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        article = "an" if what[0] in "aeiou" else "a"
        raise where.error(
            f"unknown key(s) {', '.join(map(repr, unknown))} in {article} {what}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )


def _query(expr: Any, where: _Where) -> Query:
    if expr is None or str(expr).strip() == "":
        raise where.error("'expr' is missing or empty")
    if not isinstance(expr, (str, int, float)):
        raise where.error("'expr' must be a PromQL string")
    try:
        return parse(str(expr))
    except PromQLError as exc:
        raise where.error(f"expr {str(expr).strip()!r}: {exc}") from None


def _duration(raw: Mapping[str, Any], key: str, where: _Where) -> int:
    try:
        return parse_duration(raw[key])
    except ValueError as exc:
        raise where.error(f"{key}: {exc}") from None


def _string_map(raw: Mapping[str, Any], key: str, where: _Where) -> dict[str, str]:
    value = raw.get(key) or {}
    if not isinstance(value, Mapping):
        raise where.error(f"{key!r} must be a mapping of names to strings")
    out: dict[str, str] = {}
    for name, item in value.items():
        if not isinstance(name, str) or not _LABEL_NAME.fullmatch(name):
            raise where.error(f"{key}: {name!r} is not a valid label name")
        if isinstance(item, (Mapping, list)) or item is None:
            raise where.error(f"{key}: the value of {name!r} must be a string")
        out[name] = item if isinstance(item, str) else _yaml_scalar(item)
    return out


def _yaml_scalar(value: object) -> str:
    # Prometheus reads label values as YAML strings; an unquoted number or bool keeps its text.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
