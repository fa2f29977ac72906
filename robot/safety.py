"""Safety monitor: contact force at the tool, tool speed, workspace; stop categories 0/1/2; latched until reset.

IEC 60204-1 stop categories: 0 removes power at once (brakes hold), 1 stops under control then removes
power, 2 stops under control and keeps power (the arm holds its pose). Every stop latches: motion
resumes only after an explicit `reset()`, and a reset while the cause is still present (force still
above the limit) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robot.config import SafetyConfig


@dataclass(frozen=True)
class StopEvent:
    category: int
    reason: str
    time_s: float


class SafetyMonitor:
    def __init__(self, cfg: SafetyConfig) -> None:
        self.cfg = cfg
        self.force_limit_n = cfg.contact_force_limit_n
        self.force_trip_n = cfg.contact_force_limit_n * cfg.force_trip_ratio
        self.speed_limit_m_per_s = cfg.tcp_speed_limit_m_per_s * (1.0 + cfg.speed_tolerance)
        self.ws_min = np.array(cfg.workspace_min_m)
        self.ws_max = np.array(cfg.workspace_max_m)
        self._lo = tuple(cfg.workspace_min_m)
        self._hi = tuple(cfg.workspace_max_m)
        self.active: StopEvent | None = None
        self.protective_stops = 0
        self.emergency_stops = 0
        self.peak_force_n = 0.0
        self.last_force_n = 0.0
        self.peak_estimated_force_n = 0.0
        self.last_estimated_force_n = 0.0

    @property
    def stopped(self) -> bool:
        return self.active is not None

    def check(
        self,
        time_s: float,
        tcp_pos_m: np.ndarray,
        tcp_speed_m_per_s: float,
        force_n: float,
        estimated_force_n: float = 0.0,
    ) -> StopEvent | None:
        """Called every tick; returns a new stop event when a limit is breached (None otherwise).

        `force_n` is the contact sensing's reading, `estimated_force_n` the external force estimated from
        joint torques (robot.force_estimate); either one above the trip level stops the arm.
        """
        self.last_force_n = force_n
        self.last_estimated_force_n = estimated_force_n
        if force_n > self.peak_force_n:
            self.peak_force_n = force_n
        if estimated_force_n > self.peak_estimated_force_n:
            self.peak_estimated_force_n = estimated_force_n
        if self.active is not None:
            return None
        reason = ""
        if force_n > self.force_trip_n:
            reason = (
                f"contact force {force_n:.0f} N above the trip level {self.force_trip_n:.0f} N "
                f"(limit {self.force_limit_n:.0f} N)"
            )
        elif estimated_force_n > self.force_trip_n:
            reason = (
                f"contact force {estimated_force_n:.0f} N (estimated from joint torques) above the trip level "
                f"{self.force_trip_n:.0f} N (limit {self.force_limit_n:.0f} N)"
            )
        elif tcp_speed_m_per_s > self.speed_limit_m_per_s:
            reason = f"tool speed {tcp_speed_m_per_s:.2f} m/s above the limit {self.speed_limit_m_per_s:.2f} m/s"
        elif not self._inside(tcp_pos_m):
            reason = f"tool at {np.round(tcp_pos_m, 3).tolist()} m outside the workspace"
        if not reason:
            return None
        return self.trigger(2, reason, time_s)

    def _inside(self, pos_m: np.ndarray) -> bool:
        x, y, z = pos_m.tolist()
        lo, hi = self._lo, self._hi
        return lo[0] <= x <= hi[0] and lo[1] <= y <= hi[1] and lo[2] <= z <= hi[2]

    def trigger(self, category: int, reason: str, time_s: float) -> StopEvent:
        if category not in (0, 1, 2):
            raise ValueError(f"stop category must be 0, 1 or 2, got {category}")
        # A stronger stop (lower category) replaces a weaker one; a weaker one never softens a stronger.
        if self.active is not None and self.active.category <= category:
            return self.active
        ev = StopEvent(category, reason or f"stop category {category} requested", time_s)
        if category == 2:
            self.protective_stops += 1
        else:
            self.emergency_stops += 1
        self.active = ev
        return ev

    def reset(self) -> tuple[bool, str]:
        if self.active is None:
            return True, "nothing to reset"
        force_n = max(self.last_force_n, self.last_estimated_force_n)
        if force_n > self.force_trip_n:
            return False, f"contact force still {force_n:.0f} N: clear the contact first"
        self.active = None
        return True, "reset"
