"""The shipped trading rules, and the demo's time-compressed copy of them.

The shipped rules wait a minute or more before they fire (``for: 1m``) and evaluate every 15
seconds; a 30-second demo would never see an alert. The demo runs a copy in which every group
``interval`` and every ``for``/``keep_firing_for`` is divided by :data:`SPEEDUP`, so that 30
seconds show what the rules would do in 7.5 minutes. Thresholds and range windows are the
shipped ones. The copy is written to the data folder, where it can be read.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..alerts._duration import format_duration, parse_duration

__all__ = ["SPEEDUP", "shipped_rules", "write_demo_rules"]

SPEEDUP = 15
_NAME = "trading.rules.yml"
_DEFAULT_INTERVAL = "15s"  # Prometheus' global evaluation_interval in the shipped setups


def shipped_rules() -> Path:
    """The path of ``trading.rules.yml``: in the wheel, or in the checkout (editable install)."""
    packaged = resources.files("tradetel") / "_data" / _NAME
    if packaged.is_file():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[3] / "collector" / "rules" / _NAME
    if checkout.is_file():
        return checkout
    raise FileNotFoundError(f"the shipped alert rules ({_NAME}) are not installed")


def write_demo_rules(folder: Path, speedup: int = SPEEDUP) -> Path:
    """Write the time-compressed copy of the shipped rules into ``folder``; return its path."""
    source = shipped_rules()
    document: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8"))
    for group in document.get("groups", []):
        group["interval"] = _faster(group.get("interval", _DEFAULT_INTERVAL), speedup)
        for rule in group.get("rules", []):
            for key in ("for", "keep_firing_for"):
                if key in rule:
                    rule[key] = _faster(rule[key], speedup)
    target = folder / "demo.rules.yml"
    header = "".join(
        f"# {line}\n"
        for line in (
            f"Written by `tradetel demo`: the shipped rules ({_NAME}) with every group",
            f"interval, `for` and `keep_firing_for` divided by {speedup}, so that the demo's",
            f"seconds show what the rules would do in {speedup} times as long. Thresholds, range",
            'windows and the annotations\' texts ("for 2 minutes") are unchanged.',
        )
    )
    target.write_text(
        header + yaml.safe_dump(document, sort_keys=False, width=100), encoding="utf-8"
    )
    return target


def _faster(duration: str, speedup: int) -> str:
    return format_duration(max(parse_duration(str(duration)) // speedup, 1))
