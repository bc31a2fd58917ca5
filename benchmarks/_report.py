"""The table both benchmarks print: time per case, then each ratio against its target."""

from __future__ import annotations

from collections.abc import Mapping


def print_report(
    results: Mapping[str, float],
    ratios: Mapping[str, float],
    baselines: Mapping[str, str],
    targets: Mapping[str, float],
    unit: str = "per call",
    note: str | None = None,
) -> None:
    """``results`` in nanoseconds; a ratio without a target is marked informational."""
    print(f"{'case':<14}{unit:>12}")
    for name, ns in results.items():
        print(f"{name:<14}{ns / 1000:>10.2f}us")
    if note:
        print(note)
    print()
    print(f"{'ratio':<28}{'measured':>10}{'target':>10}")
    for name, value in ratios.items():
        label = f"{name} / {baselines[name]}"
        target = targets.get(name)
        if target is None:
            print(f"{label:<28}{value:>9.3f}x{'-':>10}  (informational)")
        else:
            verdict = "ok" if value <= target else "MISSED"
            print(f"{label:<28}{value:>9.3f}x{target:>9.2f}x  {verdict}")
