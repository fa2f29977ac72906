"""The record store survives a killed writer, serialises concurrent writers, and runs on PostgreSQL."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from cell_control.store import PartCycleRecord, Store, StoreError
from cell_control.store.schema import InspectionRow, ReviewRow
from cell_control.types import AlarmRecord, AlarmSeverity, AlarmState
from robot.types import TargetBin, TaskOutcome, TaskResult
from vision.types import Defect, FlawClass, InspectionResult, PartFamily, PartIdentity, Verdict

PG_URL = os.environ.get("IRONCELL_TEST_PG_URL")


def make_record(serial: str, verdict: Verdict = Verdict.NOK) -> PartCycleRecord:
    now = datetime.now(UTC)
    defects = (
        Defect(FlawClass.POROSITY, 0.9, (10.0, 10.0, 30.0, 30.0), 4.0, "rim", "max_pore_diameter_mm"),
        Defect(FlawClass.CRACK, 0.8, (50.0, 50.0, 90.0, 60.0), 8.0, "spoke", "cracks_allowed"),
    )
    insp = InspectionResult(verdict, defects, 0.12, {"detector": "test-1"}, 42.0, image_sha256="ab" * 32)
    task = TaskResult("t-" + serial, serial, TaskOutcome.SUCCESS, TargetBin.NOK_BIN, 7.5, 1, 35.0)
    return PartCycleRecord(
        part=PartIdentity(serial, PartFamily.WHEEL, "wheel", "LOT1"),
        arrived_at=now,
        job_id="job-" + serial,
        inspection=insp,
        finished_at=now,
        task=task,
        ground_truth={"flaws": 2},
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def store(request: pytest.FixtureRequest, home: Path) -> Store:
    if request.param == "sqlite":
        s = Store.open(home)
    else:
        if not PG_URL:
            pytest.skip("IRONCELL_TEST_PG_URL not set (make test starts PostgreSQL and sets it)")
        s = Store.open(home, url=PG_URL)
        from cell_control.store.schema import Base

        with s.engine.begin() as conn:  # fresh tables for each test on the shared database
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
    yield s
    s.close()


def test_part_cycle_written_in_one_transaction(store: Store) -> None:
    iid = store.record_part_cycle(make_record("S1"))
    with store.session() as s:
        row = s.get(InspectionRow, iid)
        assert row is not None
        assert row.verdict == "NOK"
        assert len(row.defects) == 2
        assert row.part.serial == "S1"
        assert {d.rule_broken for d in row.defects} == {"max_pore_diameter_mm", "cracks_allowed"}
    assert store.verdict_counts() == {"NOK": 1}


def test_review_is_a_new_row_and_verdict_kept(store: Store) -> None:
    iid = store.record_part_cycle(make_record("S2", Verdict.REVIEW))
    store.add_review(iid, "alice", Verdict.OK, "pore is a surface mark")
    store.add_review(iid, "bob", Verdict.NOK, "second opinion")
    with store.session() as s:
        assert s.get(InspectionRow, iid).verdict == "REVIEW"
        reviews = s.scalars(select(ReviewRow).where(ReviewRow.inspection_id == iid).order_by(ReviewRow.id)).all()
        assert [(r.user, r.disposition) for r in reviews] == [("alice", "OK"), ("bob", "NOK")]


def test_review_rejects_bad_input(store: Store) -> None:
    iid = store.record_part_cycle(make_record("S3"))
    with pytest.raises(StoreError, match="reason"):
        store.add_review(iid, "alice", Verdict.OK, "  ")
    with pytest.raises(StoreError, match="OK or NOK"):
        store.add_review(iid, "alice", Verdict.REVIEW, "x")
    with pytest.raises(StoreError, match="no inspection"):
        store.add_review(999999, "alice", Verdict.OK, "x")


def test_failed_transaction_leaves_nothing(store: Store) -> None:
    rec = make_record("S4")
    store.record_part_cycle(rec)
    bad = make_record("S5")
    bad_defect = Defect(FlawClass.POROSITY, 0.9, (0.0, 0.0, 1.0, 1.0), 1.0, "z" * 100, None)  # zone too long for PG
    insp = InspectionResult(Verdict.NOK, (bad_defect,), None)
    object.__setattr__(bad, "inspection", insp)
    before = store.count_inspections()
    try:
        store.record_part_cycle(bad)
    except Exception:
        assert store.count_inspections() == before


def test_alarm_history(store: Store) -> None:
    now = datetime.now(UTC)
    aid = store.raise_alarm(
        AlarmRecord("ROBOT_PSTOP", "protective stop", AlarmSeverity.HIGH, AlarmState.UNACK_ACTIVE, now)
    )
    store.alarm_event(aid, AlarmRecord("ROBOT_PSTOP", "", AlarmSeverity.HIGH, AlarmState.ACK_ACTIVE, now, user="op"))
    from cell_control.store.schema import AlarmEventRow

    with store.session() as s:
        states = s.scalars(select(AlarmEventRow.state).where(AlarmEventRow.alarm_id == aid).order_by(AlarmEventRow.id))
        assert list(states) == ["unacknowledged", "acknowledged"]


def _commit_then_hang(home: str, url: str | None, serial: str, ready: mp.synchronize.Event) -> None:
    s = Store.open(Path(home), url=url)
    s.record_part_cycle(make_record(serial))
    ready.set()
    time.sleep(60)


def test_record_survives_sigkill_of_writer(home: Path) -> None:
    Store.open(home).close()
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    p = ctx.Process(target=_commit_then_hang, args=(str(home), None, "K1", ready))
    p.start()
    assert ready.wait(60), "child never committed"
    os.kill(p.pid, signal.SIGKILL)
    p.join(10)
    assert p.exitcode == -signal.SIGKILL
    s = Store.open(home)
    with s.session() as sess:
        rows = sess.scalars(select(InspectionRow)).all()
        assert [r.part.serial for r in rows] == ["K1"]
    s.close()


def _write_many(home: str, url: str | None, prefix: str, n: int) -> None:
    s = Store.open(Path(home), url=url)
    for i in range(n):
        s.record_part_cycle(make_record(f"{prefix}-{i}"))
    s.close()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def test_two_writers_do_not_corrupt(home: Path, backend: str) -> None:
    url = None
    if backend == "postgresql":
        if not PG_URL:
            pytest.skip("IRONCELL_TEST_PG_URL not set")
        url = PG_URL
        s = Store.open(home, url=url)
        from cell_control.store.schema import Base

        with s.engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
        s.close()
    else:
        Store.open(home).close()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(str(home), url, p, 40)) for p in ("A", "B")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    s = Store.open(home, url=url)
    assert s.count_inspections() == 80
    if backend == "sqlite":
        with s.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    s.close()


def test_image_store_names_by_hash(home: Path) -> None:
    s = Store.open(home)
    digest = s.images.put(b"radiograph-bytes")
    import hashlib

    assert digest == hashlib.sha256(b"radiograph-bytes").hexdigest()
    assert s.images.get(digest) == b"radiograph-bytes"
    assert s.images.put(b"radiograph-bytes") == digest
    s.close()


def test_unreachable_database_gives_clear_error(home: Path) -> None:
    with pytest.raises(StoreError, match="cannot open"):
        Store.open(home, url="postgresql+psycopg://nobody@127.0.0.1:1/none")
