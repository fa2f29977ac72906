"""What the HMI reads from the record store (read-only queries; reviews go through Store.add_review)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import exists, select

from cell_control.store import Store
from cell_control.store.schema import AlarmEventRow, AlarmRow, DefectRow, InspectionRow, PartRow, ReviewRow


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


@dataclass(frozen=True)
class DefectView:
    flaw_class: str
    score: float
    bbox_xyxy_px: tuple[float, float, float, float]
    size_mm: float
    zone: str
    rule_broken: str | None
    source: str


@dataclass(frozen=True)
class ReviewView:
    at: datetime
    user: str
    disposition: str
    reason: str


@dataclass(frozen=True)
class InspectionView:
    inspection_id: int
    serial: str
    family: str
    recipe: str
    lot: str
    finished_at: datetime
    verdict: str
    anomaly_score: float | None
    latency_ms: float
    image_path: Path | None
    anomaly_map_path: Path | None
    defects: tuple[DefectView, ...]
    reviews: tuple[ReviewView, ...]
    error: str | None
    model_versions: dict[str, str]

    @property
    def final_verdict(self) -> str:
        return self.reviews[-1].disposition if self.reviews else self.verdict


def _image(store: Store, sha: str) -> Path | None:
    if not sha:
        return None
    for suffix in (".png", ".tif", ".tiff", ".npy"):
        p = store.images.path_for(sha, suffix)
        if p.is_file():
            return p
    return None


def inspection(store: Store, inspection_id: int) -> InspectionView | None:
    with store.session() as s:
        row = s.get(InspectionRow, inspection_id)
        if row is None:
            return None
        part = s.get(PartRow, row.part_id)
        defects = s.scalars(select(DefectRow).where(DefectRow.inspection_id == row.id).order_by(DefectRow.id)).all()
        reviews = s.scalars(
            select(ReviewRow).where(ReviewRow.inspection_id == row.id).order_by(ReviewRow.created_at, ReviewRow.id)
        ).all()
        return InspectionView(
            inspection_id=row.id,
            serial=part.serial if part else "?",
            family=part.family if part else "",
            recipe=part.recipe if part else "",
            lot=part.lot if part else "",
            finished_at=_utc(row.finished_at),
            verdict=row.verdict,
            anomaly_score=row.anomaly_score,
            latency_ms=row.latency_ms,
            image_path=_image(store, row.image_sha256),
            anomaly_map_path=_image(store, row.anomaly_map_sha256),
            defects=tuple(
                DefectView(
                    d.flaw_class,
                    d.score,
                    (d.x0_px, d.y0_px, d.x1_px, d.y1_px),
                    d.size_mm,
                    d.zone,
                    d.rule_broken,
                    d.source,
                )
                for d in defects
            ),
            reviews=tuple(ReviewView(_utc(r.created_at), r.user, r.disposition, r.reason) for r in reviews),
            error=row.error,
            model_versions=dict(row.model_versions or {}),
        )


def latest_inspection_id(store: Store, verdicts: tuple[str, ...] = ()) -> int | None:
    q = select(InspectionRow.id).order_by(InspectionRow.finished_at.desc(), InspectionRow.id.desc()).limit(1)
    if verdicts:
        q = q.where(InspectionRow.verdict.in_(verdicts))
    with store.session() as s:
        return s.scalar(q)


@dataclass(frozen=True)
class HistoryFilter:
    since: datetime | None = None
    until: datetime | None = None
    verdicts: tuple[str, ...] = ()
    flaw_class: str | None = None
    serial_contains: str = ""
    lot: str = ""
    limit: int = 200


def history(store: Store, f: HistoryFilter) -> list[dict[str, object]]:
    """Newest first; one row per inspection with its flaw count and final disposition."""
    q = select(InspectionRow, PartRow).join(PartRow, PartRow.id == InspectionRow.part_id)
    if f.since is not None:
        q = q.where(InspectionRow.finished_at >= f.since)
    if f.until is not None:
        q = q.where(InspectionRow.finished_at < f.until)
    if f.verdicts:
        q = q.where(InspectionRow.verdict.in_(f.verdicts))
    if f.serial_contains.strip():
        q = q.where(PartRow.serial.contains(f.serial_contains.strip()))
    if f.lot.strip():
        q = q.where(PartRow.lot == f.lot.strip())
    if f.flaw_class:
        q = q.where(exists().where(DefectRow.inspection_id == InspectionRow.id, DefectRow.flaw_class == f.flaw_class))
    q = q.order_by(InspectionRow.finished_at.desc(), InspectionRow.id.desc()).limit(max(1, min(f.limit, 5000)))
    out: list[dict[str, object]] = []
    with store.session() as s:
        rows = s.execute(q).all()
        ids = [r[0].id for r in rows]
        flaws = Counter(s.scalars(select(DefectRow.inspection_id).where(DefectRow.inspection_id.in_(ids))).all())
        reviewed: dict[int, str] = {}
        for rid, disp in s.execute(
            select(ReviewRow.inspection_id, ReviewRow.disposition)
            .where(ReviewRow.inspection_id.in_(ids))
            .order_by(ReviewRow.created_at, ReviewRow.id)
        ):
            reviewed[rid] = disp
        for insp, part in rows:
            out.append(
                {
                    "id": insp.id,
                    "finished (UTC)": _utc(insp.finished_at).strftime("%Y-%m-%d %H:%M:%S"),
                    "serial": part.serial,
                    "family": part.family,
                    "lot": part.lot,
                    "verdict": insp.verdict,
                    "final": reviewed.get(insp.id, insp.verdict),
                    "flaws": flaws.get(insp.id, 0),
                    "anomaly score": insp.anomaly_score,
                    "latency ms": round(insp.latency_ms, 1),
                }
            )
    return out


def review_queue(store: Store, limit: int = 200) -> list[dict[str, object]]:
    """REVIEW parts that nobody has dispositioned yet, oldest first (first in, first reviewed)."""
    reviewed = exists().where(ReviewRow.inspection_id == InspectionRow.id)
    q = (
        select(InspectionRow.id, InspectionRow.finished_at, PartRow.serial, PartRow.family, InspectionRow.error)
        .join(PartRow, PartRow.id == InspectionRow.part_id)
        .where(InspectionRow.verdict == "REVIEW", ~reviewed)
        .order_by(InspectionRow.finished_at, InspectionRow.id)
        .limit(limit)
    )
    with store.session() as s:
        return [
            {
                "id": i,
                "finished (UTC)": _utc(t).strftime("%Y-%m-%d %H:%M:%S"),
                "serial": sn,
                "family": fam,
                "note": err or "",
            }
            for i, t, sn, fam, err in s.execute(q)
        ]


def alarm_history(store: Store, since: datetime | None = None, limit: int = 500) -> list[dict[str, object]]:
    q = (
        select(AlarmEventRow, AlarmRow)
        .join(AlarmRow, AlarmRow.id == AlarmEventRow.alarm_id)
        .order_by(AlarmEventRow.at.desc(), AlarmEventRow.id.desc())
        .limit(limit)
    )
    if since is not None:
        q = q.where(AlarmEventRow.at >= since)
    with store.session() as s:
        return [
            {
                "at (UTC)": _utc(ev.at).strftime("%Y-%m-%d %H:%M:%S"),
                "alarm": al.id,
                "code": al.code,
                "severity": al.severity,
                "state": ev.state,
                "user": ev.user,
                "reason": ev.reason,
                "message": al.message,
            }
            for ev, al in s.execute(q)
        ]


def throughput_per_minute(store: Store, now: datetime, minutes: int = 60) -> list[dict[str, object]]:
    """Parts finished per minute over the last `minutes` (zeros included, so gaps show as gaps)."""
    t0 = (now - timedelta(minutes=minutes)).replace(second=0, microsecond=0)
    with store.session() as s:
        times = s.scalars(select(InspectionRow.finished_at).where(InspectionRow.finished_at >= t0)).all()
    counts = Counter(_utc(t).replace(second=0, microsecond=0) for t in times)
    t0 = _utc(t0)
    return [
        {"minute": t0 + timedelta(minutes=i), "parts": counts.get(t0 + timedelta(minutes=i), 0)}
        for i in range(minutes + 1)
    ]
