"""Robot supervision for the cell: waiting for task results, holding for an operator after a protective
stop or a task a person must sort out, manual dispatch, protective-stop reset, and link monitoring.

A mixin of `cell_control.cell.Cell` (same event loop, same state); split out to keep modules small.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from cell_control import packml
from cell_control.alarms import AlarmManager
from cell_control.clock import Clock
from cell_control.packml import Transition
from cell_control.types import AlarmSeverity, InterventionKind, PackMLCommand, PackMLState
from robot.roles import RobotDriver
from robot.types import PickPlaceTask, RobotMode, RobotState, TargetBin, TaskResult
from vision.types import PartFamily

if TYPE_CHECKING:
    from cell_control.cell import CellOptions, _Waiters

log = logging.getLogger(__name__)
S = PackMLState
C = PackMLCommand
STOPPED_MODES = (RobotMode.PROTECTIVE_STOP, RobotMode.EMERGENCY_STOP, RobotMode.FAULT)
MANUAL_STATES = frozenset({S.STOPPED, S.IDLE, S.HELD, S.SUSPENDED})
# States in which a part already in the cell may still be handed to the robot (draining included).
DISPATCH_STATES = frozenset({S.EXECUTE, S.COMPLETING, S.STOPPING, S.SUSPENDING, S.UNHOLDING, S.UNSUSPENDING})


class CellError(RuntimeError):
    pass


class RobotSupervision:
    # provided by Cell
    robot: RobotDriver
    options: CellOptions
    alarms: AlarmManager
    clock: Clock
    state: PackMLState
    robot_state: RobotState | None
    robot_link_ok: bool
    _waiters: _Waiters
    _robot_pool: ThreadPoolExecutor
    _robot_busy: bool
    _job_seq: int
    _tasks: list[asyncio.Task[None]]

    def command(self, cmd: PackMLCommand, user: str = "", channel: str = "internal", reason: str = "") -> Transition:
        raise NotImplementedError

    def _emit(self, kind: str) -> None:
        raise NotImplementedError

    def _audit(self, user: str, channel: str, action: str, allowed: bool, detail: str) -> None:
        raise NotImplementedError

    def _intervention(self, kind: InterventionKind, reason: str, user: str, serial: str | None = None) -> None:
        raise NotImplementedError

    def _reset_robot_if_stopped(self) -> None:
        st = self.robot.state()
        if st.mode in STOPPED_MODES:
            self.robot.reset()

    async def _robot_call(self, fn: Callable[[], Any]) -> Any:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._robot_pool, fn)
        except Exception as exc:
            self._robot_link_lost(exc)
            return None

    async def _await_result(self, task: PickPlaceTask) -> TaskResult:
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + self.options.robot_task_timeout_s
        while time.monotonic() < deadline:
            res = await loop.run_in_executor(self._robot_pool, lambda: self.robot.result(0.2))
            if res is not None and res.task_id == task.task_id:
                return res
            if res is not None:
                log.warning("ignoring result of stale task %s", res.task_id)
        raise TimeoutError(f"no result for task {task.task_id} in {self.options.robot_task_timeout_s:.0f} s")

    async def _hold_for_operator(self, res: TaskResult, serial: str) -> bool:
        """A task a person must sort out: alarm, HOLD, wait for reset + unhold. False: give up the part."""
        st = await self._robot_call(self.robot.state)
        if st is not None:
            self.robot_state = st
        pstop = st is not None and st.mode in STOPPED_MODES
        code, why = (
            ("ROBOT_PROTECTIVE_STOP", f"protective stop: {res.reason or st.reason if st else res.reason}")
            if pstop or res.protective_stops
            else ("TASK_NEEDS_OPERATOR", f"task {res.outcome.value}: {res.reason}")
        )
        self.alarms.raise_alarm(code, why, AlarmSeverity.HIGH, serial)
        self._hold_reason = code
        if self.state == S.EXECUTE:
            self.command(C.HOLD, user="system", reason=why)
        if self.state not in (S.HOLDING, S.HELD):
            return False
        if self.options.sim_operator_response_s is not None:
            self._tasks.append(asyncio.create_task(self._sim_operator(code, serial)))
        await self._waiters.wait_for(lambda: self.state not in (S.HOLDING, S.HELD))
        if code == "TASK_NEEDS_OPERATOR":
            self.alarms.clear(code)
        return self.state in DISPATCH_STATES

    async def _sim_operator(self, code: str, serial: str) -> None:
        """Simulation only: the person who walks up, resets the robot and presses Unhold."""
        await self.clock.sleep(self.options.sim_operator_response_s or 0.0)
        await self._waiters.wait_for(lambda: self.state != S.HOLDING)
        if self.state != S.HELD:
            return
        if code == "ROBOT_PROTECTIVE_STOP":
            await self.reset_protective_stop("sim-operator", channel="internal")
        else:
            self._intervention(InterventionKind.PART_REPLACED_BY_HAND, code, "sim-operator", serial)
        for a in self.alarms.open_alarms():
            if a.state.value in ("unacknowledged", "returned_unacknowledged"):
                self.alarms.acknowledge(a.id, "sim-operator", "simulated operator")
        self.command(C.UNHOLD, user="sim-operator", channel="internal")

    async def manual_dispatch(self, serial: str, target: TargetBin, user: str) -> str:
        """An engineer moves a part by hand command while the sequencer is not using the robot."""
        if self.state not in MANUAL_STATES or self._robot_busy:
            raise CellError(f"manual dispatch only when the robot is free and the cell is stopped, idle, held or "
                            f"suspended (now {packml.state_text(self.state)})")  # fmt: skip
        self._job_seq += 1
        task = PickPlaceTask(f"M{self._job_seq:06d}", serial, PartFamily.WHEEL.value, target)
        self._robot_busy = True
        try:
            self.robot.submit(task)
        except Exception as exc:
            self._robot_busy = False
            self._robot_link_lost(exc)
            raise CellError(f"robot link lost: {exc}") from exc
        self._audit(user, "opcua", "robot.dispatch", True, f"{task.task_id} {serial} -> {target.value}")

        async def finish() -> None:
            try:
                res = await self._await_result(task)
                self._audit(user, "robot", "robot.dispatch.result", True, f"{task.task_id}: {res.outcome.value}")
            except Exception as exc:
                self._robot_link_lost(exc)
            finally:
                self._robot_busy = False
                self._waiters.notify()

        self._tasks.append(asyncio.create_task(finish()))
        return task.task_id

    async def reset_protective_stop(self, user: str, channel: str = "opcua") -> str:
        """Operator resets the robot after a protective stop; '' when done, else why not."""
        st = await self._robot_call(self.robot.state)
        if st is None:
            return "robot link lost"
        if st.mode not in STOPPED_MODES:
            return f"robot is {st.mode.value}: no protective stop to reset"
        await self._robot_call(self.robot.reset)
        self._intervention(InterventionKind.PROTECTIVE_STOP_RESET, st.reason or "protective stop", user)
        if channel != "internal":
            self._audit(user, channel, "robot.reset_protective_stop", True, st.reason)
        self.robot_state = await self._robot_call(self.robot.state)
        self.alarms.clear("ROBOT_PROTECTIVE_STOP")
        self._emit("robot")
        return ""

    def _robot_link_lost(self, exc: BaseException) -> None:
        if self.robot_link_ok:
            log.error("robot link lost: %s", exc)
        self.robot_link_ok = False
        self.alarms.raise_alarm("ROBOT_LINK_LOST", f"robot link lost: {exc}", AlarmSeverity.CRITICAL)
        if self.state not in (S.ABORTING, S.ABORTED, S.STOPPED, S.CLEARING):
            self.command(C.ABORT, user="system", reason="robot link lost")
        self._waiters.notify()

    async def _robot_monitor(self, period_s: float = 0.1) -> None:
        while True:
            try:
                st = await asyncio.get_running_loop().run_in_executor(self._robot_pool, self.robot.state)
            except Exception as exc:
                self._robot_link_lost(exc)
                await asyncio.sleep(1.0)
                continue
            failure = getattr(self.robot, "error", None)  # SimRobotDriver: the robot process died
            if failure:
                self._robot_link_lost(RuntimeError(str(failure).strip().splitlines()[-1]))
                await asyncio.sleep(1.0)
                continue
            if not self.robot_link_ok:
                self.robot_link_ok = True
                self.alarms.clear("ROBOT_LINK_LOST")
            changed = self.robot_state is None or st != self.robot_state
            self.robot_state = st
            if st.mode in STOPPED_MODES and not self.alarms.is_active("ROBOT_PROTECTIVE_STOP"):
                self.alarms.raise_alarm("ROBOT_PROTECTIVE_STOP", st.reason or st.mode.value, AlarmSeverity.HIGH)
                if self.state == S.EXECUTE and not self._robot_busy:
                    self.command(C.HOLD, user="system", reason="robot stopped")
            elif st.mode not in STOPPED_MODES and self.alarms.is_active("ROBOT_PROTECTIVE_STOP"):
                self.alarms.clear("ROBOT_PROTECTIVE_STOP")
            if changed:
                self._emit("robot")
            await asyncio.sleep(period_s)
