"""The rule engine: groups evaluated on a schedule, alert state, ``ALERTS`` series.

It follows Prometheus 2.42's rule manager (``rules/group.go``, ``rules/alerting.go``,
``rules/recording.go``); the numbers in comments are the semantics of ALERTING.md.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, Protocol
from urllib.parse import quote

from . import _template
from ._evaluate import Sample, evaluate
from ._model import Alert
from ._promql import QueryError
from ._rules import DEFAULT_INTERVAL_MS, AlertRuleSpec, GroupSpec, RecordRuleSpec
from ._series import LOOKBACK_MS, STALE, Labels, SeriesStore, labels_from

__all__ = ["AlertingRule", "Engine", "Group", "Notifier", "RecordingRule", "StateStore"]

#: How long a resolved alert is kept (and re-sent to Alertmanager), as in Prometheus (18).
RESOLVED_RETENTION_MS = 15 * 60 * 1000
#: How long an alert restored after a restart waits for its series to come back (19): the
#: metrics of a restarted process or collector arrive after the first evaluation, and an alert
#: must not resolve (and notify) only because they have not arrived yet.
RESTORE_GRACE_MS = 10 * 60 * 1000

Health = Literal["unknown", "ok", "err"]


class Notifier(Protocol):
    def update(
        self,
        now: float,
        interval: float,
        alerts: Sequence[Alert],
        frozen: Sequence[Alert] = (),
    ) -> None: ...


class StateStore(Protocol):
    def load(self, key: str) -> list[Alert]: ...
    def save(self, key: str, alerts: Sequence[Alert]) -> None: ...


class _Rule:
    """What both kinds of rule keep about their last evaluation (for /api/v1/rules)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.health: Health = "unknown"
        self.last_error = ""
        self.last_evaluation: float | None = None
        self.evaluation_time = 0.0


class RecordingRule(_Rule):
    def __init__(self, spec: RecordRuleSpec) -> None:
        super().__init__(spec.record)
        self.spec = spec

    def eval(self, t: int, store: SeriesStore, limit: int) -> list[Sample]:
        result = _vector(evaluate(self.spec.query, t, store))
        out: list[Sample] = []
        seen: set[Labels] = set()
        for sample in result:
            labels = dict(sample.labels)
            labels["__name__"] = self.spec.record
            labels.update(self.spec.labels)
            lset = labels_from(labels)
            if lset in seen:
                raise QueryError(
                    "vector contains metrics with the same labelset after applying rule labels"
                )
            seen.add(lset)
            out.append(Sample(lset, sample.value))
        if limit > 0 and len(out) > limit:
            raise QueryError(f"exceeded limit of {limit} with {len(out)} series")
        return out


class AlertingRule(_Rule):
    def __init__(
        self, spec: AlertRuleSpec, *, external_labels: Mapping[str, str], external_url: str
    ) -> None:
        super().__init__(spec.alert)
        self.spec = spec
        self.external_labels = dict(external_labels)
        self.external_url = external_url
        self.active: dict[Labels, Alert] = {}
        #: restored alerts not seen since the restart -> until when they are held (None: not
        #: evaluated yet)
        self.restored: dict[Labels, int | None] = {}
        if external_url:
            self.generator_url = (
                f"{external_url.rstrip('/')}/graph?g0.expr={quote(spec.query.text)}&g0.tab=1"
            )
        else:
            self.generator_url = ""

    def eval(self, t: int, store: SeriesStore, limit: int) -> list[Sample]:
        now = t / 1000
        fresh = self._results(_vector(evaluate(self.spec.query, t, store)), now)
        for lset, alert in fresh.items():
            current = self.active.get(lset)
            if current is not None and current.state != "inactive":
                current.value = alert.value  # (7) re-rendered on every true evaluation
                current.annotations = alert.annotations
                continue
            alert.generator_url = self.generator_url
            self.active[lset] = alert  # (3) new, or back after resolving: the clock restarts (5)

        out: list[Sample] = []
        live = 0
        for lset, alert in list(self.active.items()):
            if lset not in fresh and not self._still_firing(lset, alert, t):
                continue
            if lset in fresh:
                alert.keep_firing_since = None
                self.restored.pop(lset, None)
            live += 1
            if (
                alert.state == "pending"
                and lset in fresh  # a restored alert held without its series waits for them
                and t - round(alert.active_at * 1000) >= self.spec.for_ms
            ):
                alert.state = "firing"  # (3, 4)
                alert.fired_at = now
            out.append(Sample(_with(lset, __name__="ALERTS", alertstate=alert.state), 1.0))
            out.append(
                Sample(_with(lset, __name__="ALERTS_FOR_STATE"), float(int(alert.active_at)))
            )
        if limit > 0 and live > limit:
            self.active = {}
            raise QueryError(f"exceeded limit of {limit} with {live} alerts")
        return out

    def _results(self, result: list[Sample], now: float) -> dict[Labels, Alert]:
        """This evaluation's alert instances, by label set, with rendered annotations."""
        fresh: dict[Labels, Alert] = {}
        for sample in result:
            # templates see the result's labels with __name__ (Prometheus' AlertTemplateData);
            # the alert's labels are without it (2)
            expand = self._expander(dict(sample.labels), sample.value)
            labels = dict(sample.labels)
            labels.pop("__name__", None)
            for key, text in self.spec.labels.items():
                labels[key] = expand(text)
            labels["alertname"] = self.spec.alert
            lset = labels_from(labels)  # an empty templated value removes the label (2)
            if lset in fresh:
                raise QueryError(
                    "vector contains metrics with the same labelset after applying alert labels"
                )
            annotations = {key: expand(text) for key, text in self.spec.annotations.items()}
            fresh[lset] = Alert(dict(lset), annotations, "pending", sample.value, now)
        return fresh

    def _still_firing(self, lset: Labels, alert: Alert, t: int) -> bool:
        """An instance missing from the result: whether keep_firing_for holds it (6).

        Otherwise it resolves at once (6, 10); a pending one is dropped (5), and a resolved
        one is forgotten after the retention (18).
        """
        if lset in self.restored:
            deadline = self.restored[lset]
            if deadline is None:
                deadline = self.restored[lset] = t + RESTORE_GRACE_MS
            if t < deadline:
                return True  # held as it was saved until its series are back
            del self.restored[lset]
        keep = False
        if alert.state == "firing" and self.spec.keep_firing_for_ms > 0:
            if alert.keep_firing_since is None:
                alert.keep_firing_since = t / 1000
            since = t - round(alert.keep_firing_since * 1000)
            keep = since < self.spec.keep_firing_for_ms
        if alert.state == "pending" or (
            alert.resolved_at is not None
            and t - round(alert.resolved_at * 1000) > RESOLVED_RETENTION_MS
        ):
            del self.active[lset]
        if alert.state != "inactive" and not keep:
            alert.state = "inactive"
            alert.resolved_at = t / 1000
        return keep

    def _expander(self, labels: dict[str, str], value: float) -> Callable[[str], str]:
        def expand(text: str) -> str:
            return _template.expand(
                text,
                labels=labels,
                value=value,
                external_labels=self.external_labels,
                external_url=self.external_url,
            )

        return expand

    def alerts(self) -> list[Alert]:
        return list(self.active.values())


class Group:
    """A rule group: its rules run in order at one timestamp every ``interval_ms`` (1)."""

    def __init__(
        self, spec: GroupSpec, interval_ms: int, rules: list[RecordingRule | AlertingRule]
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.file = spec.file
        self.interval_ms = interval_ms
        self.rules = rules
        self.last_evaluation: float | None = None
        self.evaluation_time = 0.0
        self.next_ms: int | None = None
        self._previous: list[set[Labels]] = [set() for _ in rules]

    @property
    def key(self) -> str:
        return f"{self.file}\x00{self.name}"

    def evaluate(self, t: int, store: SeriesStore) -> list[tuple[AlertingRule, bool]]:
        """Run every rule at ``t``; returns the alerting rules with whether each succeeded."""
        started = time.perf_counter()
        outcome: list[tuple[AlertingRule, bool]] = []
        for index, rule in enumerate(self.rules):
            rule_started = time.perf_counter()
            try:
                samples = rule.eval(t, store, self.spec.limit)
            except (QueryError, ArithmeticError, ValueError, RecursionError) as exc:
                rule.health = "err"  # (9) unhealthy, its alerts frozen, nothing sent
                rule.last_error = str(exc)
                if isinstance(rule, AlertingRule):
                    outcome.append((rule, False))
                continue
            finally:
                rule.last_evaluation = t / 1000
                rule.evaluation_time = time.perf_counter() - rule_started
            rule.health, rule.last_error = "ok", ""
            returned: set[Labels] = set()
            for sample in samples:
                store.append(sample.labels, t, sample.value)
                returned.add(sample.labels)
            for gone in self._previous[index] - returned:
                store.append(gone, t, STALE)  # a series no longer returned ends at once (11, 17)
            self._previous[index] = returned
            if isinstance(rule, AlertingRule):
                outcome.append((rule, True))
        self.last_evaluation = t / 1000
        self.evaluation_time = time.perf_counter() - started
        return outcome


class Engine:
    """Evaluates rule groups over a :class:`SeriesStore` and hands alerts to a notifier.

    Thread-safe: ``ingest`` (from receivers) and evaluation take the same lock.
    """

    def __init__(
        self,
        groups: Iterable[GroupSpec],
        *,
        interval_ms: int = DEFAULT_INTERVAL_MS,
        store: SeriesStore | None = None,
        notifier: Notifier | None = None,
        state: StateStore | None = None,
        external_labels: Mapping[str, str] | None = None,
        external_url: str = "",
    ) -> None:
        self.groups: list[Group] = []
        for spec in groups:
            rules: list[RecordingRule | AlertingRule] = [
                AlertingRule(r, external_labels=external_labels or {}, external_url=external_url)
                if isinstance(r, AlertRuleSpec)
                else RecordingRule(r)
                for r in spec.rules
            ]
            self.groups.append(Group(spec, spec.interval_ms or interval_ms, rules))
        lookbehind = max(
            [r.spec.query.lookbehind_ms for g in self.groups for r in g.rules] + [LOOKBACK_MS]
        )
        longest_interval = max([g.interval_ms for g in self.groups] + [interval_ms])
        self.store = store if store is not None else SeriesStore()
        # the windows of every rule, plus one interval so a late evaluation still sees them
        self.store.retention_ms = max(self.store.retention_ms, lookbehind + longest_interval)
        self.notifier = notifier
        self.state = state
        self.lock = threading.RLock()
        self.evaluations = 0
        self.failures = 0
        self.missed = 0
        if state is not None:
            self._restore(state)

    # -- ingest --------------------------------------------------------------------------

    def ingest(self, samples: Iterable[tuple[Labels, int, float]]) -> int:
        """Append samples; returns how many were kept (out-of-order ones are dropped)."""
        kept = 0
        with self.lock:
            for labels, t, value in samples:
                kept += self.store.append(labels, t, value)
        return kept

    # -- evaluation ----------------------------------------------------------------------

    def evaluate_group(self, group: Group, t: int) -> None:
        with self.lock:
            outcome = group.evaluate(t, self.store)
            self.evaluations += 1
            self.failures += sum(1 for rule in group.rules if rule.health == "err")
            alerts = [a for rule, ok in outcome if ok for a in rule.alerts()]
            frozen = [a for rule, ok in outcome if not ok for a in rule.alerts()]
            if self.state is not None:
                self.state.save(group.key, [*alerts, *frozen])
        if self.notifier is not None:
            self.notifier.update(t / 1000, group.interval_ms / 1000, alerts, frozen)

    def evaluate_all(self, t: int) -> None:
        """Evaluate every group at ``t`` (tests, ``tradetel alerts test``)."""
        for group in self.groups:
            self.evaluate_group(group, t)

    def run_due(self, now_ms: int, *, at_now: bool = False) -> float:
        """Evaluate the groups that are due at ``now_ms``; returns seconds until the next one.

        A group evaluates at start + k*interval (1).  Evaluations missed because the process
        was busy are skipped, not replayed, as Prometheus does, and counted in ``missed``.
        ``at_now`` evaluates a due group at ``now_ms`` itself: the embedded evaluator collects
        the metrics just before, and their samples are stamped a little after the due time.
        """
        for group in self.groups:
            if group.next_ms is None:
                group.next_ms = now_ms
            if now_ms < group.next_ms:
                continue
            behind = (now_ms - group.next_ms) // group.interval_ms
            t = now_ms if at_now else group.next_ms + behind * group.interval_ms
            self.missed += behind
            self.evaluate_group(group, t)
            group.next_ms = t + group.interval_ms
            with self.lock:
                self.store.trim(t)
        upcoming = min(
            (g.next_ms for g in self.groups if g.next_ms is not None), default=now_ms + 1000
        )
        return max(0.0, (upcoming - now_ms) / 1000)

    # -- views ---------------------------------------------------------------------------

    def alerts(self, *, include_inactive: bool = False) -> list[tuple[Group, AlertingRule, Alert]]:
        with self.lock:
            return [
                (group, rule, alert)
                for group in self.groups
                for rule in group.rules
                if isinstance(rule, AlertingRule)
                for alert in rule.alerts()
                if include_inactive or alert.state != "inactive"
            ]

    def _restore(self, state: StateStore) -> None:
        # (19) pending and firing alerts come back with their activeAt, and go on from there
        for group in self.groups:
            saved: dict[str, list[Alert]] = {}
            for alert in state.load(group.key):
                saved.setdefault(alert.name, []).append(alert)
            for rule in group.rules:
                if isinstance(rule, AlertingRule):
                    for alert in saved.pop(rule.spec.alert, []):
                        lset = labels_from(alert.labels)
                        rule.active[lset] = alert
                        if alert.state != "inactive":
                            rule.restored[lset] = None


def _vector(result: Any) -> list[Sample]:
    if isinstance(result, float):  # a scalar rule result is one sample without labels
        return [Sample((), result)]
    if isinstance(result, list):
        return result
    raise QueryError("a rule's expression must give an instant vector or a scalar")


def _with(labels: Labels, **extra: str) -> Labels:
    merged = dict(labels)
    merged.update(extra)
    return labels_from(merged)
