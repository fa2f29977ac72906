"""The robot benchmark runs end to end and reports the agreed keys (figures themselves live in the README)."""

from __future__ import annotations

import pytest

from robot.bench import run_bench

KEYS = {
    "pick_success_rate",
    "pick_cycle_s_median",
    "tick_compute_us_p99",
    "tick_compute_thread_cpu_us_p99",
    "tick_compute_us_p99_virtual",
    "tick_compute_thread_cpu_us_p99_virtual",
    "max_estimated_force_n",
    "deadline_miss_ratio",
    "max_contact_force_n",
    "recoveries",
    "interventions",
    "picks",
    "lateness_us_p50",
    "lateness_us_p99",
    "lateness_us_max",
}


@pytest.mark.slow
def test_quick_bench_reports_every_key() -> None:
    out = run_bench(quick=True)
    assert out.keys() >= KEYS
    assert out["picks"] == 20
    assert out["pick_success_rate"] >= 0.9
    assert out["max_contact_force_n"] < out["contact_force_limit_n"]
