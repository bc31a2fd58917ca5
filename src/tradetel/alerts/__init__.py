"""Alert rules over the metric stream: Prometheus rule files, evaluated by tradetel.

Embedded: ``tradetel.configure(alert_rules="rules.yml", notify="notify.yml")``.
As a service: ``tradetel alerts serve --rules rules.yml --notify notify.yml``.
Python handlers run when an alert fires or resolves::

    @tradetel.alerts.on_alert(alertname="DrawdownLimit", on=("firing",))
    def pause_trading(alert: tradetel.alerts.Alert) -> None: ...

See ``docs/alerts.md``.
"""

from __future__ import annotations

from .._errors import RuleError
from ._model import Alert
from .notify import on_alert

__all__ = ["Alert", "RuleError", "on_alert"]
