"""The report for machines: one JSON object with the KPIs, chart data, NOK parts and traceability."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cell_control.reports.content import ReportContent, open_report
from cell_control.reports.window import ReportWindow
from cell_control.store.store import Store

SCHEMA = "ironcell.quality-report/1"


def report_dict(c: ReportContent) -> dict[str, Any]:
    def chart(pc: Any) -> dict[str, Any]:
        return {
            "subgroup": pc.subgroup,
            "p_bar": pc.p_bar,
            "points": [{**asdict(p), "out_of_control": p.out_of_control} for p in pc.points],
        }

    return {
        "schema": SCHEMA,
        "cell": asdict(c.identity),
        "generated_at": c.generated_at.isoformat(),
        "window": c.window.to_dict(),
        "empty": c.kpis.empty,
        "kpis": c.kpis.as_dict(),
        "pchart": chart(c.pchart),
        "pareto_flaw_class": asdict(c.pareto_class),
        "pareto_zone": asdict(c.pareto_zone),
        "cycle_time_histogram_s": {"edges": list(c.cycle_hist.edges), "counts": list(c.cycle_hist.counts)},
        "contact_force_histogram_n": {"edges": list(c.force_hist.edges), "counts": list(c.force_hist.counts)},
        "nok_parts_total": c.nok_parts_total,
        "nok_parts": [
            {
                "serial": p.serial,
                "lot": p.lot,
                "finished_at": p.finished_at.isoformat(),
                "inspection_id": p.inspection_id,
                "machine_verdict": p.machine_verdict,
                "final_disposition": p.final_disposition,
                "image_sha256": p.image_sha256,
                "defects": [
                    {
                        "class": d.flaw_class.value,
                        "score": d.score,
                        "bbox_xyxy": list(d.bbox_xyxy_px),
                        "size_mm": d.size_mm,
                        "zone": d.zone,
                        "rule_broken": d.rule_broken,
                    }
                    for d in p.defects
                ],
            }
            for p in c.nok_parts
        ],
        "review_decisions_total": c.review_decisions_total,
        "review_decisions": [{**asdict(d), "reviewed_at": d.reviewed_at.isoformat()} for d in c.review_decisions],
        "alarms": [asdict(a) for a in c.alarms],
        "traceability": asdict(c.traceability),
    }


def write_json(
    store: Store, window: ReportWindow | None, out: Path, cfg: Any = None, *, nok_limit: int = 1000
) -> ReportContent:
    with open_report(store, window, cfg, nok_limit=nok_limit) as (_, content):
        Path(out).write_text(json.dumps(report_dict(content), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return content
