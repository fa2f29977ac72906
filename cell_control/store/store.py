"""The one writer API of the record store. One transaction per part; nothing is overwritten."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from cell_control.store.images import ImageStore
from cell_control.store.migrate import upgrade_to_head
from cell_control.store.schema import (
    AlarmEventRow,
    AlarmRow,
    AuditRow,
    DefectRow,
    InspectionRow,
    InterventionRow,
    PartRow,
    ReviewRow,
    RobotTaskRow,
)
from cell_control.types import AlarmRecord, InterventionRecord
from robot.types import TaskResult
from vision.types import InspectionResult, PartIdentity, Verdict

log = logging.getLogger(__name__)


class StoreError(RuntimeError):
    pass


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PartCycleRecord:
    """Everything the cell learnt about one part, written in one transaction."""

    part: PartIdentity
    arrived_at: datetime
    job_id: str
    inspection: InspectionResult
    finished_at: datetime
    task: TaskResult | None = None
    ground_truth: dict[str, Any] | None = None
    config_sha256: str = ""
    anomaly_map_sha256: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def sqlite_url(home: Path) -> str:
    return f"sqlite:///{(home / 'ironcell.db').resolve()}"


def make_engine(url: str, synchronous: str = "FULL", busy_timeout_ms: int = 10000) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000.0})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets the HMI and reports read while the cell writes; FULL makes a commit durable
            # across power loss, which a quality record needs.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class Store:
    def __init__(self, engine: Engine, images: ImageStore) -> None:
        self.engine = engine
        self.images = images
        self._session = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(
        cls,
        home: Path,
        url: str | None = None,
        synchronous: str = "FULL",
        busy_timeout_ms: int = 10000,
        migrate: bool = True,
    ) -> Store:
        home.mkdir(parents=True, exist_ok=True)
        engine = make_engine(url or sqlite_url(home), synchronous, busy_timeout_ms)
        if migrate:
            try:
                upgrade_to_head(engine)
            except SQLAlchemyError as exc:
                raise StoreError(f"cannot open or migrate the store at {engine.url!r}: {exc}") from exc
        return cls(engine, ImageStore(home / "radiographs"))

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._session() as s, s.begin():
            yield s

    # --- writers -------------------------------------------------------------------------------

    def record_part_cycle(self, rec: PartCycleRecord) -> int:
        """Write part, inspection, defects and robot task together; returns the inspection id."""
        insp = rec.inspection
        with self.session() as s:
            part = s.scalar(select(PartRow).where(PartRow.serial == rec.part.serial))
            if part is None:
                part = PartRow(
                    serial=rec.part.serial,
                    family=rec.part.family.value,
                    recipe=rec.part.recipe,
                    lot=rec.part.lot,
                    arrived_at=rec.arrived_at,
                    ground_truth=rec.ground_truth,
                )
                s.add(part)
                s.flush()
            row = InspectionRow(
                part_id=part.id,
                job_id=rec.job_id,
                finished_at=rec.finished_at,
                verdict=insp.verdict.value,
                anomaly_score=insp.anomaly_score,
                latency_ms=insp.latency_ms,
                model_versions=dict(insp.model_versions),
                image_sha256=insp.image_sha256,
                anomaly_map_sha256=rec.anomaly_map_sha256,
                config_sha256=rec.config_sha256,
                error=insp.error,
            )
            s.add(row)
            s.flush()
            for d in insp.defects:
                x0, y0, x1, y1 = d.bbox_xyxy_px
                s.add(
                    DefectRow(
                        inspection_id=row.id,
                        flaw_class=d.flaw_class.value,
                        score=d.score,
                        x0_px=x0,
                        y0_px=y0,
                        x1_px=x1,
                        y1_px=y1,
                        size_mm=d.size_mm,
                        zone=d.zone,
                        rule_broken=d.rule_broken,
                        source=d.source,
                    )
                )
            if rec.task is not None:
                t = rec.task
                s.add(
                    RobotTaskRow(
                        part_id=part.id,
                        task_id=t.task_id,
                        target=t.target.value,
                        outcome=t.outcome.value,
                        finished_at=rec.finished_at,
                        cycle_s=t.cycle_s,
                        regrasp_count=t.regrasp_count,
                        protective_stops=t.protective_stops,
                        max_contact_force_n=t.max_contact_force_n,
                        reason=t.reason,
                    )
                )
            return row.id

    def add_review(self, inspection_id: int, user: str, disposition: Verdict, reason: str) -> int:
        if disposition not in (Verdict.OK, Verdict.NOK):
            raise StoreError(f"a review disposition is OK or NOK, got {disposition}")
        if not reason.strip():
            raise StoreError("a review needs a reason")
        with self.session() as s:
            if s.get(InspectionRow, inspection_id) is None:
                raise StoreError(f"no inspection with id {inspection_id}")
            row = ReviewRow(
                inspection_id=inspection_id,
                created_at=utcnow(),
                user=user,
                disposition=disposition.value,
                reason=reason,
            )
            s.add(row)
            s.flush()
            return row.id

    def raise_alarm(self, alarm: AlarmRecord) -> int:
        with self.session() as s:
            row = AlarmRow(
                code=alarm.code,
                message=alarm.message,
                severity=int(alarm.severity),
                raised_at=alarm.changed_at,
                part_serial=alarm.part_serial,
            )
            s.add(row)
            s.flush()
            s.add(AlarmEventRow(alarm_id=row.id, at=alarm.changed_at, state=alarm.state.value))
            return row.id

    def alarm_event(self, alarm_id: int, alarm: AlarmRecord) -> None:
        with self.session() as s:
            s.add(
                AlarmEventRow(
                    alarm_id=alarm_id,
                    at=alarm.changed_at,
                    state=alarm.state.value,
                    user=alarm.user,
                    reason=alarm.reason,
                )
            )

    def record_intervention(self, rec: InterventionRecord) -> None:
        with self.session() as s:
            s.add(
                InterventionRow(
                    at=rec.at, kind=rec.kind.value, reason=rec.reason, user=rec.user, part_serial=rec.part_serial
                )
            )

    def audit(self, user: str, channel: str, action: str, allowed: bool, detail: str = "") -> None:
        with self.session() as s:
            s.add(AuditRow(at=utcnow(), user=user, channel=channel, action=action, allowed=allowed, detail=detail))

    # --- readers -------------------------------------------------------------------------------

    def count_inspections(self) -> int:
        with self.session() as s:
            return int(s.scalar(select(func.count(InspectionRow.id))) or 0)

    def verdict_counts(self) -> dict[str, int]:
        with self.session() as s:
            rows = s.execute(select(InspectionRow.verdict, func.count()).group_by(InspectionRow.verdict))
            return {v: int(n) for v, n in rows}

    def count_tasks(self, outcome: str | None = None) -> int:
        with self.session() as s:
            q = select(func.count(RobotTaskRow.id))
            if outcome is not None:
                q = q.where(RobotTaskRow.outcome == outcome)
            return int(s.scalar(q) or 0)

    def count_interventions(self) -> int:
        with self.session() as s:
            return int(s.scalar(select(func.count(InterventionRow.id))) or 0)
