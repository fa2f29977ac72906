"""The sequencer end to end with fakes on virtual time: every part gets a verdict, a task and a record."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from cell_control.store.schema import AlarmEventRow, InspectionRow, InterventionRow, RobotTaskRow
from cell_control.types import PackMLCommand as C
from cell_control.types import PackMLState as S
from robot.fake import FakeRobotDriver
from robot.types import TaskOutcome
from tests.cell_fakes import FakeInspector, make_cell


async def _run(cell, n: int) -> None:  # type: ignore[no-untyped-def]
    await cell.start()
    assert cell.command(C.RESET).accepted
    assert await cell.wait_state({S.IDLE}, 5)
    assert cell.command(C.START).accepted
    assert await cell.wait_state({S.COMPLETE}, 60), cell.state
    await cell.shutdown()


def test_twenty_parts_every_part_recorded(home: Path) -> None:
    cell, store, robot = make_cell(home, parts_target=20)
    asyncio.run(_run(cell, 20))
    assert cell.state == S.STOPPED
    assert len(cell.history) == 20
    assert len(robot.submitted) == 20
    with store.session() as s:
        assert s.scalar(select(func.count(InspectionRow.id))) == 20
        assert s.scalar(select(func.count(RobotTaskRow.id))) == 20
        outcomes = set(s.scalars(select(RobotTaskRow.outcome)))
    assert outcomes == {"success"}
    # the counters equal the store
    counts = store.verdict_counts()
    assert cell.stats.processed == sum(counts.values()) == 20
    assert cell.stats.ok == counts.get("OK", 0) and cell.stats.nok == counts.get("NOK", 0)
    assert cell.stats.nok > 0 and cell.stats.ok > 0
    # each verdict went to its bin
    for p in cell.history:
        assert p.target == {"OK": "ok_conveyor", "NOK": "nok_bin", "REVIEW": "review_bin"}[p.verdict.value]
        assert store.images.path_for(p.image_sha256).is_file()
    assert cell.stats.escapes == 0 and cell.stats.correct == 20


def test_inspection_error_gives_review_and_alarm(home: Path) -> None:
    insp = FakeInspector(fail_serials={"WT1-000003"})
    cell, store, _ = make_cell(home, parts_target=5, inspector=insp)
    asyncio.run(_run(cell, 5))
    p = next(p for p in cell.history if p.serial == "WT1-000003")
    assert p.verdict.value == "REVIEW" and p.target == "review_bin" and "detector crashed" in (p.error or "")
    with store.session() as s:
        states = list(s.scalars(select(AlarmEventRow.state)))
    assert "unacknowledged" in states


def test_protective_stop_holds_until_reset(home: Path) -> None:
    robot = FakeRobotDriver(protective_stop_serials={"WT1-000002"})
    cell, store, robot = make_cell(home, parts_target=4, robot=robot, sim_operator_s=None)

    async def go() -> None:
        await cell.start()
        cell.command(C.RESET)
        await cell.wait_state({S.IDLE}, 5)
        cell.command(C.START)
        assert await cell.wait_state({S.HELD}, 10)
        assert cell.alarms.is_active("ROBOT_PROTECTIVE_STOP")
        robot._pstop_serials.clear()  # the person moved out of the way
        refused = cell.command(C.UNHOLD, user="op", channel="opcua")
        assert not refused.accepted and "protective stop" in refused.reason
        assert await cell.reset_protective_stop("op") == ""
        assert cell.command(C.UNHOLD, user="op", channel="opcua").accepted
        assert await cell.wait_state({S.COMPLETE}, 20)
        await cell.shutdown()

    asyncio.run(go())
    assert len(cell.history) == 4
    p2 = next(p for p in cell.history if p.serial == "WT1-000002")
    assert p2.task_outcome == TaskOutcome.SUCCESS.value  # retried after the reset
    with store.session() as s:
        assert s.scalar(select(func.count(InterventionRow.id))) == 1
    assert cell.stats.interventions == 1


def test_robot_link_lost_aborts(home: Path) -> None:
    class Broken(FakeRobotDriver):
        def submit(self, task):  # type: ignore[no-untyped-def]
            raise ConnectionError("robot process gone")

    cell, _store, _ = make_cell(home, parts_target=3, robot=Broken())

    async def go() -> None:
        await cell.start()
        cell.command(C.RESET)
        await cell.wait_state({S.IDLE}, 5)
        cell.command(C.START)
        assert await cell.wait_state({S.ABORTED}, 10)
        await cell.shutdown()

    asyncio.run(go())
    assert cell.alarms.is_active("ROBOT_LINK_LOST") or any(
        a.code == "ROBOT_LINK_LOST" for a in cell.alarms.open_alarms()
    )
    # the part in the cell is still recorded, with an aborted task
    assert cell.history and cell.history[0].task_outcome == "aborted"
