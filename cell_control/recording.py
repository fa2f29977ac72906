"""Writing one part's record (radiograph + one transaction) and the cell's running counters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cell_control.station import StationOutput
from cell_control.store import PartCycleRecord, Store
from robot.types import TaskOutcome, TaskResult
from vision.types import Verdict


@dataclass(frozen=True)
class PartSummary:
    """What the cell publishes about a finished part (OPC UA LastResult, Modbus, the run summary)."""

    job_id: str
    serial: str
    family: str
    recipe: str
    source: str
    verdict: Verdict
    flaw_count: int
    defects: tuple[dict[str, Any], ...]
    image_sha256: str
    latency_ms: float
    model_versions: dict[str, str]
    error: str | None
    task_outcome: str
    target: str
    robot_cycle_s: float
    cycle_s: float
    inspect_wall_s: float
    truth_verdict: str | None
    finished_at: datetime
    inspection_id: int

    def as_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "part_id": self.serial,
            "recipe_id": self.recipe,
            "verdict": self.verdict.value,
            "flaw_count": self.flaw_count,
            "defects": list(self.defects),
            "image_sha256": self.image_sha256,
            "latency_ms": round(self.latency_ms, 3),
            "model_versions": self.model_versions,
            "error": self.error,
            "finished_at": self.finished_at.isoformat(),
            "task_outcome": self.task_outcome,
            "target": self.target,
            "inspection_id": self.inspection_id,
        }


def anomaly_png(amap: Any) -> bytes | None:
    """The anomaly map as an 8-bit PNG over its own range, so the HMI can overlay it (None without one)."""
    if amap is None:
        return None
    import cv2
    import numpy as np

    a = np.asarray(amap, dtype=np.float32)
    if a.ndim != 2 or a.size == 0 or not np.isfinite(a).all():
        return None
    lo, hi = float(a.min()), float(a.max())
    a8 = np.zeros(a.shape, np.uint8) if hi <= lo else ((a - lo) * (255.0 / (hi - lo))).astype(np.uint8)
    ok, buf = cv2.imencode(".png", a8)
    return bytes(buf.tobytes()) if ok else None


class PartRecorder:
    """Radiograph to the image store by SHA-256, then part + inspection + defects + task in one transaction."""

    def __init__(self, store: Store, config_sha256: str = "") -> None:
        self.store = store
        self.config_sha256 = config_sha256

    def write(self, out: StationOutput, task: TaskResult | None, finished: datetime, cycle_s: float) -> PartSummary:
        if out.png is not None:
            self.store.images.put(out.png)
        a, r = out.arrival, out.result
        amap_png = anomaly_png(r.anomaly_map)
        anomaly_sha = self.store.images.put(amap_png) if amap_png is not None else ""
        extra: dict[str, Any] = {"source": a.source, "inspect_wall_s": out.inspect_wall_s}
        inspection_id = self.store.record_part_cycle(
            PartCycleRecord(
                part=a.part,
                arrived_at=a.arrived_at,
                job_id=a.job_id,
                inspection=r,
                finished_at=finished,
                task=task,
                ground_truth=out.truth,
                config_sha256=self.config_sha256,
                anomaly_map_sha256=anomaly_sha,
                extra=extra,
            )
        )
        defects = tuple(
            {
                "class": d.flaw_class.value,
                "score": round(d.score, 4),
                "bbox_xyxy_px": [round(v, 1) for v in d.bbox_xyxy_px],
                "size_mm": round(d.size_mm, 3),
                "zone": d.zone,
                "rule_broken": d.rule_broken,
                "source": d.source,
            }
            for d in r.defects
        )
        return PartSummary(
            job_id=a.job_id,
            serial=a.part.serial,
            family=a.part.family.value,
            recipe=a.part.recipe,
            source=a.source,
            verdict=r.verdict,
            flaw_count=len(r.defects),
            defects=defects,
            image_sha256=r.image_sha256,
            latency_ms=r.latency_ms,
            model_versions=dict(r.model_versions),
            error=r.error,
            task_outcome=task.outcome.value if task else "none",
            target=task.target.value if task else "",
            robot_cycle_s=task.cycle_s if task else 0.0,
            cycle_s=cycle_s,
            inspect_wall_s=out.inspect_wall_s,
            truth_verdict=(out.truth or {}).get("verdict"),
            finished_at=finished,
            inspection_id=inspection_id,
        )


@dataclass
class CellStats:
    """Lifetime counters (they start from the store, so they always equal it) plus this run's accuracy."""

    processed: int = 0
    ok: int = 0
    nok: int = 0
    review: int = 0
    tasks_completed: int = 0
    tasks_failed: int = 0
    interventions: int = 0
    recoveries: int = 0
    truth_known: int = 0
    truth_ok: int = 0
    truth_nok: int = 0
    correct: int = 0
    escapes: int = 0
    false_rejects: int = 0
    good_to_review: int = 0
    bad_to_review: int = 0
    errors: int = 0
    by_source: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_store(cls, store: Store) -> CellStats:
        v = store.verdict_counts()
        return cls(
            processed=sum(v.values()),
            ok=v.get("OK", 0),
            nok=v.get("NOK", 0),
            review=v.get("REVIEW", 0),
            tasks_completed=store.count_tasks(TaskOutcome.SUCCESS.value),
            interventions=store.count_interventions(),
        )

    def add(self, p: PartSummary) -> None:
        self.processed += 1
        if p.verdict == Verdict.OK:
            self.ok += 1
        elif p.verdict == Verdict.NOK:
            self.nok += 1
        else:
            self.review += 1
        if p.error:
            self.errors += 1
        if p.task_outcome == TaskOutcome.SUCCESS.value:
            self.tasks_completed += 1
        else:
            self.tasks_failed += 1
        self.by_source[p.source] = self.by_source.get(p.source, 0) + 1
        if p.truth_verdict is None:
            return
        self.truth_known += 1
        bad = p.truth_verdict == Verdict.NOK.value
        self.truth_nok += int(bad)
        self.truth_ok += int(not bad)
        if p.verdict.value == p.truth_verdict:
            self.correct += 1
        elif bad and p.verdict == Verdict.OK:
            self.escapes += 1
        elif not bad and p.verdict == Verdict.NOK:
            self.false_rejects += 1
        elif p.verdict == Verdict.REVIEW:
            if bad:
                self.bad_to_review += 1
            else:
                self.good_to_review += 1
