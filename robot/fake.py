"""A deterministic stand-in for the robot, for other packages' tests (never used by the running cell).

It satisfies `robot.roles.RobotDriver` without physics: each submitted task finishes at once (or when
`advance` is called, with `auto_complete=False`) with an outcome taken from a script, so a test can
exercise a sequencer against successes, refusals, recoverable failures and intervention requests.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable

import numpy as np

from robot.types import PickPlaceTask, Pose, RobotMode, RobotState, TargetBin, TaskOutcome, TaskResult

# Where the fake tool rests and where it "puts" each part, so states look plausible to an HMI.
_HOME = Pose((0.35, -0.25, 1.1))
_BIN_POSES = {
    TargetBin.OK_CONVEYOR: Pose((0.55, -0.55, 0.95)),
    TargetBin.NOK_BIN: Pose((0.55, 0.55, 0.85)),
    TargetBin.REVIEW_BIN: Pose((0.2, 0.6, 0.85)),
}


class FakeRobotDriver:
    """Scripted robot: outcomes come from `outcomes` in order, then `default_outcome`.

    - While stopped (protective or emergency stop), every submitted task is REFUSED with a reason until
      `reset()`; `stop()` during a task that is still pending (auto_complete=False) aborts it.
    - `fail_serials` maps a part serial to an outcome, ahead of the script.
    - `protective_stop_serials`: tasks for these parts end in a protective stop (outcome
      INTERVENTION_REQUIRED, robot left in PROTECTIVE_STOP until reset), like a person touching the arm.
    """

    def __init__(
        self,
        outcomes: Iterable[TaskOutcome] = (),
        default_outcome: TaskOutcome = TaskOutcome.SUCCESS,
        cycle_s: float = 6.0,
        auto_complete: bool = True,
        fail_serials: dict[str, TaskOutcome] | None = None,
        protective_stop_serials: Iterable[str] = (),
        contact_force_n: float = 12.0,
    ) -> None:
        self._script: deque[TaskOutcome] = deque(outcomes)
        self._default = default_outcome
        self._cycle_s = cycle_s
        self._auto = auto_complete
        self._fail_serials = dict(fail_serials or {})
        self._pstop_serials = set(protective_stop_serials)
        self._force_n = contact_force_n
        self._lock = threading.Condition()
        self._results: deque[TaskResult] = deque()
        self._pending: deque[PickPlaceTask] = deque()
        self._subscribers: list[Callable[[RobotState], None]] = []
        self._time_s = 0.0
        self._mode = RobotMode.IDLE
        self._reason = ""
        self._tcp = _HOME
        self._current: str | None = None
        self._closed = False
        self.submitted: list[PickPlaceTask] = []
        self.stops: list[tuple[int, str]] = []
        self.resets = 0
        self.recoveries = 0
        self.interventions = 0

    # --- RobotDriver -------------------------------------------------------------------------------
    def submit(self, task: PickPlaceTask) -> None:
        if self._closed:
            raise RuntimeError("robot driver is closed")
        with self._lock:
            self.submitted.append(task)
            if self._mode in (RobotMode.PROTECTIVE_STOP, RobotMode.EMERGENCY_STOP, RobotMode.FAULT):
                self._finish(task, TaskOutcome.REFUSED, f"robot is in {self._mode.value}: reset first", 0.0)
                return
            self._pending.append(task)
            self._mode = RobotMode.RUNNING
            self._current = task.task_id
        self._publish()
        if self._auto:
            self.advance()

    def result(self, timeout_s: float | None = None) -> TaskResult | None:
        with self._lock:
            if not self._results:
                self._lock.wait_for(lambda: bool(self._results), timeout=timeout_s)
            return self._results.popleft() if self._results else None

    def state(self) -> RobotState:
        with self._lock:
            return self._state_locked()

    def stop(self, category: int = 2, reason: str = "") -> None:
        if category not in (0, 1, 2):
            raise ValueError(f"stop category must be 0, 1 or 2, got {category}")
        with self._lock:
            self.stops.append((category, reason))
            self._mode = RobotMode.PROTECTIVE_STOP if category == 2 else RobotMode.EMERGENCY_STOP
            self._reason = reason or f"stop category {category} requested"
            while self._pending:
                self._finish(self._pending.popleft(), TaskOutcome.ABORTED, self._reason, self._cycle_s / 2)
            self._current = None
        self._publish()

    def reset(self) -> None:
        with self._lock:
            self.resets += 1
            self._mode = RobotMode.IDLE
            self._reason = ""
        self._publish()

    def subscribe(self, callback: Callable[[RobotState], None]) -> None:
        with self._lock:
            self._subscribers.append(callback)

    def close(self) -> None:
        self._closed = True

    # --- extras shared with the simulated driver ------------------------------------------------------
    def latest_image(self) -> np.ndarray | None:
        """A plain grey 240x320 RGB frame, so HMI code paths that show the robot camera can be tested."""
        return np.full((240, 320, 3), 96, dtype=np.uint8)

    def stats(self) -> dict[str, float]:
        return {"recoveries": float(self.recoveries), "interventions": float(self.interventions)}

    # --- test helpers --------------------------------------------------------------------------------
    def advance(self) -> int:
        """Finish every pending task with its scripted outcome; returns how many finished."""
        done = 0
        with self._lock:
            while self._pending and self._mode == RobotMode.RUNNING:
                task = self._pending.popleft()
                outcome = self._fail_serials.get(task.part_serial)
                if outcome is None:
                    outcome = self._script.popleft() if self._script else self._default
                if task.part_serial in self._pstop_serials:
                    self._mode = RobotMode.PROTECTIVE_STOP
                    self._reason = "contact force above limit: protective stop (category 2)"
                    self._finish(task, TaskOutcome.INTERVENTION_REQUIRED, self._reason, self._cycle_s / 2, pstops=1)
                    done += 1
                    break
                reason = {
                    TaskOutcome.SUCCESS: "",
                    TaskOutcome.FAILED_RECOVERABLE: "grasp missed; part still at pick pose",
                    TaskOutcome.INTERVENTION_REQUIRED: "part dropped after re-grasps; put it back by hand",
                    TaskOutcome.REFUSED: "target unreachable",
                    TaskOutcome.ABORTED: "aborted",
                }[outcome]
                regrasps = 1 if outcome == TaskOutcome.SUCCESS and self._script_recovery(task) else 0
                self._finish(task, outcome, reason, 0.0 if outcome == TaskOutcome.REFUSED else self._cycle_s, regrasps)
                if outcome == TaskOutcome.SUCCESS:
                    self._tcp = _BIN_POSES[task.target]
                done += 1
            if self._mode == RobotMode.RUNNING and not self._pending:
                self._mode = RobotMode.IDLE
                self._current = None
        self._publish()
        return done

    def _script_recovery(self, task: PickPlaceTask) -> bool:
        return task.part_serial.endswith("-regrasp")

    def _finish(self, task: PickPlaceTask, outcome: TaskOutcome, reason: str, cycle_s: float, regrasps: int = 0,
                pstops: int = 0) -> None:  # fmt: skip
        self._time_s += cycle_s
        self.recoveries += regrasps
        if outcome == TaskOutcome.INTERVENTION_REQUIRED:
            self.interventions += 1
        self._results.append(
            TaskResult(
                task_id=task.task_id,
                part_serial=task.part_serial,
                outcome=outcome,
                target=task.target,
                cycle_s=cycle_s,
                regrasp_count=regrasps,
                max_contact_force_n=self._force_n if outcome == TaskOutcome.SUCCESS else 0.0,
                protective_stops=pstops,
                reason=reason,
            )
        )
        self._lock.notify_all()

    def _state_locked(self) -> RobotState:
        return RobotState(
            time_s=self._time_s,
            mode=self._mode,
            joint_positions_rad=(0.0,) * 14,
            tcp_pose=self._tcp,
            contact_force_n=0.0,
            current_task_id=self._current,
            reason=self._reason,
        )

    def _publish(self) -> None:
        with self._lock:
            st = self._state_locked()
            subs = list(self._subscribers)
        for cb in subs:
            cb(st)
