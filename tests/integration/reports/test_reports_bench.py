"""The report benchmark runs end to end on a small generated store (the figures themselves go in README)."""

from __future__ import annotations

from cell_control.reports.bench import run_bench


def test_quick_bench_reports_every_generated_part() -> None:
    result = run_bench(quick=True)
    assert {"parts", "report_s", "peak_rss_mb", "csv_s"} <= set(result)
    assert result["parts"] == result["report_parts"] == result["csv_rows"] == 20_000
    assert 0.0 < result["yield_ratio"] < 1.0
    assert result["peak_rss_mb"] > 0
