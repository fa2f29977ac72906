"""Review workflow: what waits for a reviewer, recording a decision, and the final disposition of a part.

A review never changes the machine verdict: it is a new row naming the user and the reason. The final
disposition is the latest review's, else the machine verdict (a REVIEW verdict without a review stays
pending). The same rule runs in SQL in `selection.py` (latest review = highest review id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, aliased

from cell_control.reports.selection import window_filter
from cell_control.reports.window import ReportWindow, as_utc
from cell_control.store.schema import InspectionRow, PartRow, ReviewRow
from cell_control.store.store import Store, StoreError
from vision.types import Defect, FlawClass, Verdict


@dataclass(frozen=True)
class ReviewEntry:
    review_id: int
    inspection_id: int
    created_at: datetime
    user: str
    disposition: Verdict
    reason: str


@dataclass(frozen=True)
class ReviewItem:
    """One inspection waiting for (or shown to) a reviewer."""

    inspection_id: int
    part_serial: str
    family: str
    lot: str
    finished_at: datetime
    machine_verdict: Verdict
    anomaly_score: float | None
    image_sha256: str
    defects: tuple[Defect, ...]
    reviews: tuple[ReviewEntry, ...] = ()

    @property
    def final_disposition(self) -> Verdict:
        return final_disposition(self.machine_verdict, self.reviews)


def final_disposition(machine_verdict: Verdict | str, reviews: Sequence[ReviewEntry]) -> Verdict:
    """The latest review's disposition, else the machine verdict."""
    if reviews:
        return max(reviews, key=lambda r: r.review_id).disposition
    return Verdict(machine_verdict)


def _parse_disposition(value: Verdict | str) -> Verdict:
    try:
        v = Verdict(str(value).upper())
    except ValueError as exc:
        raise StoreError(f"disposition {value!r}: a reviewer decides OK or NOK") from exc
    if v is Verdict.REVIEW:
        raise StoreError("disposition REVIEW: a reviewer decides OK or NOK")
    return v


def submit_review(store: Store, inspection_id: int, user: str, disposition: Verdict | str, reason: str) -> int:
    """Confirm or override a verdict; returns the new review id. The caller has checked the user's role."""
    if not user.strip():
        raise StoreError("a review names its reviewer: user is empty")
    return store.add_review(inspection_id, user.strip(), _parse_disposition(disposition), reason.strip())


def defect_from_row(row: Any) -> Defect:
    """A stored finding (ORM row or Core row of the defects table) as the domain type."""
    try:
        cls = FlawClass(row.flaw_class)
    except ValueError:
        cls = FlawClass.POROSITY  # an unknown stored class still shows, under the most common class
    return Defect(
        flaw_class=cls,
        score=row.score,
        bbox_xyxy_px=(row.x0_px, row.y0_px, row.x1_px, row.y1_px),
        size_mm=row.size_mm,
        zone=row.zone,
        rule_broken=row.rule_broken,
        source=row.source,
    )


def _entry(r: ReviewRow) -> ReviewEntry:
    return ReviewEntry(r.id, r.inspection_id, as_utc(r.created_at), r.user, Verdict(r.disposition), r.reason)


def review_history(store: Store, inspection_id: int) -> tuple[ReviewEntry, ...]:
    with store.session() as s:
        rows = s.scalars(select(ReviewRow).where(ReviewRow.inspection_id == inspection_id).order_by(ReviewRow.id))
        return tuple(_entry(r) for r in rows)


def review_item(store: Store, inspection_id: int) -> ReviewItem:
    """One inspection with its defects and reviews (for the review screen)."""
    with store.session() as s:
        insp = s.get(InspectionRow, inspection_id)
        if insp is None:
            raise StoreError(f"no inspection with id {inspection_id}")
        return _item(s, insp)


def _item(s: Session, insp: InspectionRow) -> ReviewItem:
    part = insp.part
    reviews = sorted(
        (_entry(r) for r in s.scalars(select(ReviewRow).where(ReviewRow.inspection_id == insp.id))),
        key=lambda r: r.review_id,
    )
    return ReviewItem(
        inspection_id=insp.id,
        part_serial=part.serial,
        family=part.family,
        lot=part.lot,
        finished_at=as_utc(insp.finished_at),
        machine_verdict=Verdict(insp.verdict),
        anomaly_score=insp.anomaly_score,
        image_sha256=insp.image_sha256,
        defects=tuple(defect_from_row(d) for d in sorted(insp.defects, key=lambda d: d.id)),
        reviews=tuple(reviews),
    )


def review_queue(
    store: Store,
    window: ReportWindow | None = None,
    *,
    verdicts: Sequence[Verdict] = (Verdict.REVIEW,),
    include_reviewed: bool = False,
    limit: int = 200,
) -> list[ReviewItem]:
    """Inspections waiting for a reviewer, oldest first: the latest inspection of each part whose machine
    verdict is in `verdicts` and that has no review yet (or all of them with `include_reviewed`)."""
    window = window or ReportWindow()
    newer = aliased(InspectionRow)
    conds = [
        InspectionRow.verdict.in_([Verdict(v).value for v in verdicts]),
        ~exists().where(newer.part_id == InspectionRow.part_id, newer.id > InspectionRow.id),
        *window_filter(InspectionRow.finished_at, window),
    ]
    if not include_reviewed:
        conds.append(~exists().where(ReviewRow.inspection_id == InspectionRow.id))
    q = select(InspectionRow).where(*conds)
    if window.lot is not None:
        q = q.join(PartRow, PartRow.id == InspectionRow.part_id).where(PartRow.lot == window.lot)
    q = q.order_by(InspectionRow.finished_at, InspectionRow.id).limit(max(0, int(limit)))
    with store.session() as s:
        return [_item(s, insp) for insp in s.scalars(q)]


def pending_review_count(store: Store, window: ReportWindow | None = None) -> int:
    window = window or ReportWindow()
    newer = aliased(InspectionRow)
    q = (
        select(func.count())
        .select_from(InspectionRow)
        .where(
            InspectionRow.verdict == Verdict.REVIEW.value,
            ~exists().where(newer.part_id == InspectionRow.part_id, newer.id > InspectionRow.id),
            ~exists().where(ReviewRow.inspection_id == InspectionRow.id),
            *window_filter(InspectionRow.finished_at, window),
        )
    )
    if window.lot is not None:
        q = q.join(PartRow, PartRow.id == InspectionRow.part_id).where(PartRow.lot == window.lot)
    with store.session() as s:
        return int(s.scalar(q) or 0)
