"""The fake robot other packages test against behaves like the RobotDriver contract says."""

from __future__ import annotations

from robot.fake import FakeRobotDriver
from robot.roles import RobotDriver
from robot.types import PickPlaceTask, RobotMode, RobotState, TargetBin, TaskOutcome


def _task(i: int, serial: str | None = None) -> PickPlaceTask:
    return PickPlaceTask(task_id=f"t{i}", part_serial=serial or f"S{i}", part_family="wheel", target=TargetBin.NOK_BIN)


def test_fake_is_a_robot_driver_and_follows_its_script() -> None:
    fake = FakeRobotDriver(outcomes=[TaskOutcome.SUCCESS, TaskOutcome.INTERVENTION_REQUIRED])
    assert isinstance(fake, RobotDriver)
    seen: list[RobotState] = []
    fake.subscribe(seen.append)
    for i in range(3):
        fake.submit(_task(i))
    outcomes = [r.outcome for r in iter(lambda: fake.result(timeout_s=0.0), None)]
    assert outcomes == [TaskOutcome.SUCCESS, TaskOutcome.INTERVENTION_REQUIRED, TaskOutcome.SUCCESS]
    assert fake.interventions == 1
    assert seen and seen[-1].mode == RobotMode.IDLE


def test_fake_refuses_while_stopped_until_reset() -> None:
    fake = FakeRobotDriver(protective_stop_serials=["BAD"])
    fake.submit(_task(0, "BAD"))
    r = fake.result(timeout_s=0.0)
    assert r is not None and r.outcome == TaskOutcome.INTERVENTION_REQUIRED and r.protective_stops == 1
    assert fake.state().mode == RobotMode.PROTECTIVE_STOP
    fake.submit(_task(1))
    r = fake.result(timeout_s=0.0)
    assert r is not None and r.outcome == TaskOutcome.REFUSED and "reset" in r.reason
    fake.reset()
    fake.submit(_task(2))
    r = fake.result(timeout_s=0.0)
    assert r is not None and r.outcome == TaskOutcome.SUCCESS


def test_fake_stop_aborts_pending_task() -> None:
    fake = FakeRobotDriver(auto_complete=False)
    fake.submit(_task(0))
    assert fake.result(timeout_s=0.0) is None
    fake.stop(0, "e-stop pressed")
    r = fake.result(timeout_s=0.0)
    assert r is not None and r.outcome == TaskOutcome.ABORTED
    assert fake.state().mode == RobotMode.EMERGENCY_STOP
