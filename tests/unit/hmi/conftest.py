"""HMI page tests: AppTest runs the app in this process, so a fake cell context is installed directly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cell_control.config import IroncellConfig
from cell_control.store import PartCycleRecord, Store
from cell_control.users import UserStore
from hmi import auth, runtime
from hmi.runtime import HmiContext
from tests.unit.hmi.fakes import FakeCell
from vision.types import Defect, FlawClass, InspectionResult, PartFamily, PartIdentity, Verdict

PASSWORD = "correct-horse-1"


@pytest.fixture
def cell() -> FakeCell:
    return FakeCell()


@pytest.fixture
def ctx(home: Path, cell: FakeCell) -> Iterator[HmiContext]:
    users = UserStore(home, rounds=4)
    for name, role in (("olga", "operator"), ("erik", "engineer"), ("vera", "viewer")):
        users.add(name, role, PASSWORD)
    store = Store.open(home)
    c = HmiContext(config=IroncellConfig(), home=home, link=cell, users=users, store_factory=lambda: store)
    runtime.install(c)
    auth._failures.clear()  # the lockout table is process-wide
    yield c
    runtime.install(None)
    store.close()


def add_part(store: Store, serial: str, verdict: Verdict, minutes_ago: float = 1.0, flaws: int = 0) -> int:
    t = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    defects = tuple(
        Defect(FlawClass.POROSITY, 0.8, (10.0 + 20 * i, 10.0, 25.0 + 20 * i, 22.0), 2.5, "rim", "rim: porosity > 2 mm")
        for i in range(flaws)
    )
    rec = PartCycleRecord(
        part=PartIdentity(serial, PartFamily.WHEEL, "wheel", "LOT1"),
        arrived_at=t - timedelta(seconds=3),
        job_id=f"job-{serial}",
        inspection=InspectionResult(verdict, defects, 0.2, {"detector": "test"}, 40.0),
        finished_at=t,
    )
    return store.record_part_cycle(rec)
