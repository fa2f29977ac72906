"""A small hand-built cell history whose KPIs are computed by hand in test_reports_kpis.py.

Ten parts, one a minute apart in spirit but 10 s apart in time (t0 = 2026-11-21T06:00Z): part i arrives at
t0 + 10 i s and its inspection finishes 6 s later; P9 was inspected twice (REVIEW, then OK at t0 + 100 s).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from cell_control.store import PartCycleRecord, Store
from cell_control.types import AlarmRecord, AlarmSeverity, AlarmState, InterventionKind, InterventionRecord
from robot.types import TargetBin, TaskOutcome, TaskResult
from vision.types import Defect, FlawClass, InspectionResult, PartFamily, PartIdentity, Verdict

PG_URL = os.environ.get("IRONCELL_TEST_PG_URL")
T0 = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
MODELS_1 = {"detector": "yolo11n-test-1", "detector_sha256": "d1" * 32}
MODELS_2 = {"detector": "yolo11n-test-2", "detector_sha256": "d2" * 32}
CONFIG_SHA = "cf" * 32
MISSING_SHA = "ab" * 32

P, S, C, INC = FlawClass.POROSITY, FlawClass.SHRINKAGE, FlawClass.CRACK, FlawClass.INCLUSION


def _d(
    cls: FlawClass, zone: str, rule: str | None, box: tuple[float, float, float, float] = (40, 40, 90, 80)
) -> Defect:
    return Defect(cls, 0.9, box, 4.0, zone, rule)


# serial, lot, verdict, defects, ground truth, task (outcome, regrasps, force N, cycle s) or None
PARTS: list[tuple[str, str, Verdict, tuple[Defect, ...], Any, tuple[TaskOutcome, int, float, float] | None]] = [
    # P0's true flaw is one the rules accept: truly OK
    (
        "P0",
        "A",
        Verdict.OK,
        (),
        {"verdict": "OK", "flaws": [{"class": "porosity"}]},
        (TaskOutcome.SUCCESS, 0, 30.0, 7.0),
    ),
    (
        "P1",
        "A",
        Verdict.OK,
        (),
        {"flawed": True, "flaws": [{"class": "porosity"}]},
        (TaskOutcome.SUCCESS, 1, 40.0, 8.0),
    ),
    (
        "P2",
        "A",
        Verdict.NOK,
        (_d(P, "rim", "max_pore_mm"), _d(P, "spoke", "max_pore_mm", (120, 100, 200, 160))),
        {"flaws": [{"class": "porosity"}]},
        (TaskOutcome.SUCCESS, 0, 50.0, 9.0),
    ),
    ("P3", "A", Verdict.NOK, (_d(C, "hub", "cracks_allowed"),), {"flaws": 0}, (TaskOutcome.SUCCESS, 0, 20.0, 6.0)),
    ("P4", "A", Verdict.REVIEW, (_d(S, "rim", None),), {"verdict": "NOK"}, (TaskOutcome.SUCCESS, 2, 60.0, 10.0)),
    ("P5", "B", Verdict.REVIEW, (), {"flawed": False}, (TaskOutcome.FAILED_RECOVERABLE, 1, 150.0, 12.0)),
    ("P6", "B", Verdict.OK, (), None, (TaskOutcome.SUCCESS, 0, 35.0, 7.5)),
    (
        "P7",
        "B",
        Verdict.NOK,
        (_d(P, "rim", "max_pore_mm"), _d(INC, "hub", "inclusions_allowed")),
        {"flaws": 2},
        (TaskOutcome.SUCCESS, 0, 45.0, 8.5),
    ),
    ("P8", "B", Verdict.OK, (), {"flawed": False}, None),
    ("P9", "B", Verdict.OK, (), ["not", "an", "object"], (TaskOutcome.SUCCESS, 0, 25.0, 6.5)),
]


def _radiograph() -> bytes:
    img = np.full((240, 320), 30000, dtype=np.uint16)
    img[40:80, 40:90] = 45000  # the "pore" the box marks
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return bytes(buf)


def populate(store: Store) -> dict[str, int]:
    """Write the history; returns serial -> latest inspection id."""
    ids: dict[str, int] = {}
    image_sha = store.images.put(_radiograph())
    for i, (serial, lot, verdict, defects, gt, task) in enumerate(PARTS):
        arrived = T0 + timedelta(seconds=10 * i)
        finished = arrived + timedelta(seconds=6)
        sha = image_sha if serial == "P2" else MISSING_SHA if serial == "P7" else ""
        models = MODELS_1
        if serial == "P9":  # first look unsure, re-inspected OK
            first = InspectionResult(Verdict.REVIEW, (), 0.4, MODELS_1, 40.0)
            store.record_part_cycle(
                PartCycleRecord(
                    PartIdentity(serial, PartFamily.WHEEL, "wheel", lot),
                    arrived,
                    f"job-{serial}-a",
                    first,
                    arrived + timedelta(seconds=6),
                    None,
                    gt,
                    CONFIG_SHA,
                )
            )
            finished = T0 + timedelta(seconds=100)
            models = MODELS_2
        tres = None
        if task is not None:
            outcome, regrasps, force, cycle = task
            tres = TaskResult(f"task-{serial}", serial, outcome, TargetBin.OK_CONVEYOR, cycle, regrasps, force)
        insp = InspectionResult(verdict, defects, 0.2, models, 40.0, image_sha256=sha)
        ids[serial] = store.record_part_cycle(
            PartCycleRecord(
                PartIdentity(serial, PartFamily.WHEEL, "wheel", lot),
                arrived,
                f"job-{serial}",
                insp,
                finished,
                tres,
                gt,
                CONFIG_SHA,
            )
        )
    store.add_review(ids["P3"], "alice", Verdict.OK, "crack indication is a fixture shadow")
    store.add_review(ids["P4"], "alice", Verdict.NOK, "shrinkage confirmed")
    store.add_review(ids["P6"], "bob", Verdict.NOK, "porosity visible the detector missed")
    store.add_review(ids["P7"], "alice", Verdict.OK, "first look")
    store.add_review(ids["P7"], "bob", Verdict.NOK, "second look: pore confirmed")
    stops: list[tuple[int, str | None]] = [(20, None), (55, "P5"), (70, None), (86400, None)]
    for at_s, named in stops:
        store.record_intervention(
            InterventionRecord(
                InterventionKind.PROTECTIVE_STOP_RESET, T0 + timedelta(seconds=at_s), "reset", "op1", named
            )
        )
    for at_s, code in ((25, "ROBOT_PSTOP"), (75, "ROBOT_PSTOP"), (80, "XRAY_TUBE_TEMP")):
        alarm = AlarmRecord(
            code, code.lower(), AlarmSeverity.HIGH, AlarmState.UNACK_ACTIVE, T0 + timedelta(seconds=at_s)
        )
        aid = store.raise_alarm(alarm)
        store.alarm_event(
            aid, AlarmRecord(code, code.lower(), AlarmSeverity.HIGH, AlarmState.ACK_ACTIVE, alarm.changed_at, "op1")
        )
    return ids


def _open(kind: str, home: Path) -> Store:
    if kind == "sqlite":
        return Store.open(home)
    if not PG_URL:
        pytest.skip("IRONCELL_TEST_PG_URL not set (make test starts PostgreSQL and sets it)")
    s = Store.open(home, url=PG_URL)
    from cell_control.store.schema import Base

    with s.engine.begin() as conn:  # fresh tables for each test on the shared database
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    return s


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def qstore(request: pytest.FixtureRequest, home: Path) -> Iterator[Store]:
    """The history above, on SQLite and (with the pg marker) on PostgreSQL."""
    s = _open(request.param, home)
    s.ids = populate(s)  # type: ignore[attr-defined]
    yield s
    s.close()


@pytest.fixture
def sqlite_store(home: Path) -> Iterator[Store]:
    s = Store.open(home)
    s.ids = populate(s)  # type: ignore[attr-defined]
    yield s
    s.close()
