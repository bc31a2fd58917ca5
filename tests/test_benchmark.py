"""Smoke tests of the benchmarks: they run and report every figure (timing is not tested)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
CASES = {"bare", "disabled", "unconfigured", "sampled", "metrics_only", "raw_otel"}
TARGETED = {"sampled", "metrics_only", "disabled"}


def test_overhead_benchmark_reports_every_figure() -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/overhead.py", "--json", "--calls", "200", "--rounds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,  # the assertion below shows stderr
    )
    assert done.returncode == 0, done.stderr

    report = json.loads(done.stdout)
    assert set(report["per_call_ns"]) == CASES
    assert all(ns > 0 for ns in report["per_call_ns"].values())
    assert set(report["ratios"]) == {*TARGETED, "unconfigured"}
    assert set(report["targets"]) == TARGETED
    assert set(report["met"]) == TARGETED
    assert report["dropped_spans"] >= 0


def test_order_tracker_benchmark_reports_every_figure() -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/orders.py", "--json", "--orders", "300", "--rounds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr

    report = json.loads(done.stdout)
    assert set(report["per_event_ns"]) == {"metrics_only", "sampled", "raw_record"}
    assert all(ns > 0 for ns in report["per_event_ns"].values())
    assert set(report["ratios"]) == {"metrics_only", "sampled"}
    assert set(report["met"]) == {"metrics_only"}


def test_alerts_benchmark_reports_every_figure() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "benchmarks/alerts.py",
            "--json",
            "--series",
            "500",
            "--points",
            "500",
            "--interval",
            "0.2",
            "--trials",
            "1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,  # the assertion below shows stderr
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ingest_points_per_second"] > 0
    assert report["evaluation_seconds"] > 0
    assert report["evaluation_series"] >= 500
    assert report["delay_seconds"] > 0
    assert report["target_delay_intervals"] == 2.0
