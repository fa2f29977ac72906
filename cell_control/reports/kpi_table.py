"""The KPI table every export shows: one label, raw value and formatted text per line."""

from __future__ import annotations

from dataclasses import dataclass

from cell_control.reports.kpis import Kpis

NA = "n/a"


@dataclass(frozen=True)
class KpiLine:
    key: str
    label: str
    value: float | int | str | None
    text: str


def pct(x: float | None, digits: int = 2) -> str:
    return NA if x is None else f"{x * 100:.{digits}f} %"


def num(x: float | None, digits: int = 1, unit: str = "") -> str:
    if x is None:
        return NA
    return f"{x:,.{digits}f}{' ' + unit if unit else ''}"


def kpi_lines(k: Kpis) -> list[KpiLine]:
    tpi = (
        num(k.tasks_per_intervention, 1)
        if k.tasks_per_intervention is not None
        else f"no interventions ({k.tasks_succeeded} tasks)"
    )
    lines = [
        KpiLine("parts", "Parts inspected", k.parts, f"{k.parts:,}"),
        KpiLine("inspections", "Inspections (incl. re-inspections)", k.inspections, f"{k.inspections:,}"),
        KpiLine(
            "machine_verdicts",
            "Machine verdicts OK / NOK / REVIEW",
            f"{k.machine_ok}/{k.machine_nok}/{k.machine_review}",
            f"{k.machine_ok:,} / {k.machine_nok:,} / {k.machine_review:,}",
        ),
        KpiLine(
            "final_dispositions",
            "Final dispositions OK / NOK / pending review",
            f"{k.final_ok}/{k.final_nok}/{k.pending_review}",
            f"{k.final_ok:,} / {k.final_nok:,} / {k.pending_review:,}",
        ),
        KpiLine(
            "reviews",
            "Reviewed parts: confirmed / NOK->OK / OK->NOK / REVIEW->OK / REVIEW->NOK",
            k.reviewed_parts,
            f"{k.reviewed_parts:,}: {k.review_confirmations:,} / {k.review_overrides_to_ok:,} / "
            f"{k.review_overrides_to_nok:,} / {k.review_resolved_ok:,} / {k.review_resolved_nok:,}",
        ),
        KpiLine("yield_ratio", "Yield (final OK / parts)", k.yield_ratio, pct(k.yield_ratio)),
        KpiLine("first_pass_yield", "First-pass yield", k.first_pass_yield, pct(k.first_pass_yield)),
        KpiLine("ppm_nok", "NOK (ppm)", k.ppm_nok, num(k.ppm_nok, 0, "ppm")),
        KpiLine(
            "false_reject_rate",
            "False-reject rate (flagged, released OK by review)",
            k.false_reject_rate,
            NA if k.false_reject_rate is None else f"{pct(k.false_reject_rate)} ({k.false_rejects:,})",
        ),
        KpiLine(
            "false_reject_rate_gt",
            "False-reject rate vs ground truth (truly OK, machine NOK)",
            k.false_reject_rate_gt,
            NA
            if k.false_reject_rate_gt is None
            else f"{pct(k.false_reject_rate_gt)} ({k.gt_false_rejects} of {k.gt_ok_parts})",
        ),
        KpiLine(
            "escape_rate",
            "Escape rate (ground truth: truly NOK parts released OK)",
            k.escape_rate,
            NA if k.escape_rate is None else f"{pct(k.escape_rate)} ({k.escapes} of {k.gt_flawed_parts})",
        ),
        KpiLine("escape_ppm", "Escapes among released parts (ppm)", k.escape_ppm, num(k.escape_ppm, 0, "ppm")),
        KpiLine(
            "throughput_parts_per_h",
            "Throughput",
            k.throughput_parts_per_h,
            num(k.throughput_parts_per_h, 1, "parts/h"),
        ),
        KpiLine("oee", "OEE", k.oee, pct(k.oee, 1)),
        KpiLine("availability", "OEE availability", k.availability, pct(k.availability, 1)),
        KpiLine("performance", "OEE performance", k.performance, pct(k.performance, 1)),
        KpiLine("quality", "OEE quality", k.quality, pct(k.quality, 1)),
        KpiLine(
            "planned_time_h",
            "Planned / run time (stops)",
            k.planned_time_h,
            f"{num(k.planned_time_h, 2, 'h')} / {num(k.run_time_h, 2, 'h')} ({k.stops})",
        ),
        KpiLine("tasks_per_intervention", "Robot tasks per intervention", k.tasks_per_intervention, tpi),
        KpiLine(
            "tasks",
            "Robot tasks: succeeded / total, interventions",
            k.tasks,
            f"{k.tasks_succeeded:,} / {k.tasks:,}, {k.interventions:,}",
        ),
        KpiLine(
            "autonomous_recoveries",
            "Autonomous recoveries (regrasps), protective stops",
            k.autonomous_recoveries,
            f"{k.autonomous_recoveries:,} ({k.regrasps:,}), {k.protective_stops:,}",
        ),
        KpiLine(
            "contact_force_max_n",
            "Peak contact force: max / p95 / mean",
            k.contact_force_max_n,
            f"{num(k.contact_force_max_n, 1, 'N')} / {num(k.contact_force_p95_n, 1, 'N')} / "
            f"{num(k.contact_force_mean_n, 1, 'N')}",
        ),
        KpiLine(
            "tasks_over_force_limit",
            "Tasks above the contact force limit",
            k.tasks_over_force_limit,
            str(k.tasks_over_force_limit),
        ),
        KpiLine(
            "cycle_s_p50",
            "Robot cycle time: median / p95 / max",
            k.cycle_s_p50,
            f"{num(k.cycle_s_p50, 2, 's')} / {num(k.cycle_s_p95, 2, 's')} / {num(k.cycle_s_max, 2, 's')}",
        ),
        KpiLine(
            "inspection_latency_ms_mean",
            "Inspection latency (mean)",
            k.inspection_latency_ms_mean,
            num(k.inspection_latency_ms_mean, 1, "ms"),
        ),
    ]
    return lines
