"""The robot in its own process: submit -> result round trip, state subscription, stop/reset, stats, pictures."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from robot.config import RobotConfig
from robot.render import RenderUnavailable
from robot.roles import RobotDriver
from robot.sim_driver import InProcessSimRobot, SimRobotDriver
from robot.types import PickPlaceTask, RobotMode, RobotState, TargetBin, TaskOutcome


def test_process_round_trip_on_virtual_time() -> None:
    drv = SimRobotDriver(RobotConfig(), clock="virtual", seed=3)
    try:
        assert isinstance(drv, RobotDriver)
        seen: list[RobotState] = []
        got = threading.Event()

        def on_state(st: RobotState) -> None:
            seen.append(st)
            if st.mode == RobotMode.RUNNING:
                got.set()

        drv.subscribe(on_state)
        drv.submit(PickPlaceTask("t1", "S1", "wheel", TargetBin.REVIEW_BIN, part_mass_kg=2.5))
        res = drv.result(timeout_s=120.0)
        assert res is not None and res.task_id == "t1" and res.outcome == TaskOutcome.SUCCESS, res
        assert got.wait(5.0) and any(s.phase == "transfer" for s in seen)
        stats = drv.stats()
        assert stats["picks"] == 1 and stats["ticks"] > 1000 and stats["clock"] == "virtual"
        drv.stop(2, "operator hold")
        drv.submit(PickPlaceTask("t2", "S2", "wheel", TargetBin.NOK_BIN))
        res = drv.result(timeout_s=30.0)
        assert res is not None and res.outcome == TaskOutcome.REFUSED
        drv.reset()
        drv.submit(PickPlaceTask("t3", "S3", "housing", TargetBin.NOK_BIN))
        res = drv.result(timeout_s=120.0)
        assert res is not None and res.outcome == TaskOutcome.SUCCESS, res
        with pytest.raises(ValueError):
            drv.stop(5)
    finally:
        drv.close()
    assert drv.final_stats is not None and drv.final_stats["picks"] == 2


def test_offscreen_picture_of_the_cell() -> None:
    robot = InProcessSimRobot(RobotConfig(), seed=0)
    try:
        img = robot.latest_image()
    except RenderUnavailable as e:
        pytest.skip(f"no offscreen GL here: {e}")
    assert img is not None and img.shape == (240, 320, 3) and img.dtype == np.uint8
    assert img.std() > 10  # a scene, not a blank frame
    robot.close()


@pytest.mark.parametrize(("cores", "expected"), [((0,), "0"), ((1023,), "any")])
def test_real_time_process_pins_to_the_configured_core(cores: tuple[int, ...], expected: str) -> None:
    # A core the machine lacks is not fatal: the loop runs wherever the OS puts it, and says so.
    cfg = RobotConfig(realtime_priority=0, cpu_affinity=cores)
    drv = SimRobotDriver(cfg, clock="real", seed=0)
    try:
        stats = drv.stats()
    finally:
        drv.close()
    assert stats["clock"] == "real" and stats["cpu_affinity"] == expected


def test_cpu_affinity_rejects_a_negative_core() -> None:
    with pytest.raises(ValueError, match="cpu_affinity"):
        RobotConfig(cpu_affinity=(-1,))
