"""The robot's role as the cell controller sees it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from robot.types import PickPlaceTask, RobotState, TaskResult


@runtime_checkable
class RobotDriver(Protocol):
    """A robot that runs pick-and-place tasks: the MuJoCo simulation or a real arm's driver.

    `submit` never blocks on motion; finished tasks come back from `result`. A task that cannot be
    done (unreachable, robot stopped) comes back with outcome REFUSED and a reason, before any motion.
    """

    def submit(self, task: PickPlaceTask) -> None: ...

    def result(self, timeout_s: float | None = None) -> TaskResult | None: ...

    def state(self) -> RobotState: ...

    def stop(self, category: int = 2, reason: str = "") -> None: ...

    def reset(self) -> None: ...

    def subscribe(self, callback: Callable[[RobotState], None]) -> None: ...

    def close(self) -> None: ...
