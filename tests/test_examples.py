"""The examples run as shipped and show what they promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from telemetry_files import file_spans

ROOT = Path(__file__).parents[1]


def test_the_order_lifecycle_example_follows_orders_through_their_reports(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "examples/order_lifecycle.py", "--data-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for stage in ("ack", "first_fill", "fill", "cancel"):
        assert f"\n  {stage} " in out
    for status in ("partially_filled", "filled", "canceled", "rejected (insufficient_funds)"):
        assert f"\n  {status} " in out
    assert "irregular reports counted: {'out_of_order': 1, 'duplicate': 2}" in out

    spans = [span for _, span in file_spans(tmp_path)]
    submits = {s.span_id for s in spans if s.name == "order submit"}
    reports = [s for s in spans if s.name in ("order acked", "order filled", "order canceled")]
    assert len(submits) == 5
    assert reports
    assert all(len(s.links) == 1 and s.links[0].span_id in submits for s in reports)
