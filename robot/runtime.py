"""One control tick at a time: skills, impedance control, safety monitor, physics step. No clock, no I/O.

The same `RobotRuntime` runs inside the robot process (paced by a real-time clock or as fast as it
computes) and inside tests (`InProcessSimRobot`), so both take the same code path.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator
from time import perf_counter_ns, thread_time_ns
from typing import Any

import numpy as np

from robot.config import RobotConfig
from robot.control_kernel import O_POS_ERR, O_SPEED, OUT_SIZE
from robot.controller import ControlGains, warm_up
from robot.force_estimate import ExternalForceEstimator
from robot.kinematics import mat_to_quat
from robot.pick_place import PickPlaceOutcome, arm_for, check_task, pick_place
from robot.safety import SafetyMonitor, StopEvent
from robot.scene import ARMS, LAYOUT, TORQUE_LIMITS_NM
from robot.sim import CellSim
from robot.skills import GRAVITY, SkillContext
from robot.tick_kernel import arm_commands_kernel
from robot.trajectory import Setpoint
from robot.types import PickPlaceTask, Pose, RobotMode, RobotState, TaskOutcome, TaskResult

IDLE_ARM_KP_NM_PER_RAD = 300.0
TICK_SAMPLES = 200_000
Job = Generator[None, None, PickPlaceOutcome]


class RobotRuntime:
    def __init__(self, cfg: RobotConfig, seed: int | None = None, hand_probe: bool = False) -> None:
        self.cfg = cfg
        self.rng = np.random.default_rng(cfg.seed if seed is None else seed)
        self.dt_s = 1.0 / cfg.control_hz
        self.sim = CellSim(hand_probe=hand_probe, timestep_s=self.dt_s)
        self.safety = SafetyMonitor(cfg.safety)
        g = cfg.gains
        self.gains = ControlGains(
            g.translational_stiffness_n_per_m,
            g.rotational_stiffness_nm_per_rad,
            g.damping_ratio,
            g.nullspace_stiffness_nm_per_rad,
            np.array(TORQUE_LIMITS_NM),
            cfg.safety.torque_rate_limit_nm_per_s,
            self.dt_s,
        )
        self.ctx = {side: SkillContext(self.sim, side, cfg, self.rng) for side in ARMS}
        d = self.sim.d
        # Start as if the arms were already holding themselves up (no gravity sag through the rate limit).
        self.tau = {s: d.qfrc_bias[self.sim.arms[s].dof].copy() for s in ARMS}
        self.hold_q = {s: d.qpos[self.sim.arms[s].qpos].copy() for s in ARMS}
        self.active = "right"
        self.queue: deque[PickPlaceTask] = deque()
        self.results: deque[TaskResult] = deque()
        self.job: Job | None = None
        self.task: PickPlaceTask | None = None
        self._task_t0 = 0.0
        self._task_peak_n = 0.0
        self._task_pstops = 0
        self._brake_q: dict[str, np.ndarray] = {}
        self._cat1_deadline_s: float | None = None
        self.tick_ns = np.zeros(TICK_SAMPLES, dtype=np.int64)
        self.tick_total_ns = np.zeros(TICK_SAMPLES, dtype=np.int64)
        self.tick_cpu_ns = np.zeros(TICK_SAMPLES, dtype=np.int64)
        self.ticks = 0
        self.recoveries = 0
        self.interventions = 0
        self.picks = 0
        self.successes = 0
        self.last_reason = ""
        self._z6 = np.zeros(6)
        self._ff = np.zeros(6)
        self._ff_kg = 0.0
        # Preallocated for the tick: the kernel's output and the packed gains. `tau` and `hold_q` are only ever
        # updated in place: the tick kernel's argument tuples (`_tick_args`) hold these very arrays.
        self._out = np.zeros(OUT_SIZE)
        self._params = self.gains.packed
        self._idle_gains = (IDLE_ARM_KP_NM_PER_RAD, 2.0 * g.damping_ratio * math.sqrt(IDLE_ARM_KP_NM_PER_RAD))
        self._other = {side: next(o for o in ARMS if o != side) for side in ARMS}
        self.force_estimator = ExternalForceEstimator(self.sim)
        warm_up()
        self._tick_args = {side: self._tick_arguments(side) for side in ARMS}
        self._compile_tick()

    def _tick_arguments(self, side: str) -> tuple[Any, ...]:
        """The arguments of arm_commands_kernel that stay the same while `side` works (after the per-tick ones)."""
        sim, est = self.sim, self.force_estimator
        other = self._other[side]
        st, ost = sim.arm_views(side), sim.arm_views(other)
        m_dq, _, passive, motor = est.views[side]
        return (
            *st, self.ctx[side].q_null, self._params, self.tau[side], self._out,
            m_dq, passive, motor, est.inv_dt, est.wrench,
            ost.q, ost.dq, self.hold_q[other], ost.bias_nm, *self._idle_gains, self.tau[other],
            sim.ctrl, sim.arm_ctrl[side], sim.arm_ctrl[other], sim.qpos, sim.qvel,
            sim.grip_index[side], self.ctx[side].grip_row, sim.grip_index[other], self.ctx[other].grip_row,
        )  # fmt: skip

    def _compile_tick(self) -> None:
        """Compile (or load from the disk cache) the tick kernel for the array layouts the tick hands it, before
        any loop runs."""
        sim = self.sim
        self._written = (sim.ctrl, self.tau["right"], self.tau["left"], self._out, self.force_estimator.wrench)
        self._written_saved = tuple(a.copy() for a in self._written)
        for side in ARMS:
            self._kernel_dry_run(side)

    def _kernel_dry_run(self, side: str) -> None:
        """The tick kernel on the present state, every array it writes put back: no effect on the robot."""
        for a, keep in zip(self._written, self._written_saved, strict=True):
            np.copyto(keep, a)
        g = self.ctx[side].goal
        arm_commands_kernel(g.pos_m, g.quat_wxyz, g.twist, self._z6, True, 0.0, self.sim.time_s, *self._tick_args[side])
        for a, keep in zip(self._written, self._written_saved, strict=True):
            np.copyto(a, keep)

    def warm_caches(self) -> None:
        """Touch the next tick's compiled code and data without changing anything (the real-time clock calls it
        just before each deadline): on a shared VM, a tick after a millisecond of idling ran 2-3x slower than
        back to back. Jacobian, contact reading and control law on the present state; the skill and the safety
        monitor keep state and are left out."""
        side = self.active
        ctx = self.ctx[side]
        self.sim.arm_state(side)
        self.sim.contacts(side, ctx.family, ctx.held)
        self._kernel_dry_run(side)

    # --- commands (called between ticks) -------------------------------------------------------------
    def submit(self, task: PickPlaceTask) -> None:
        if self.safety.stopped:
            ev = self.safety.active
            assert ev is not None
            why = f"robot is stopped (category {ev.category}: {ev.reason}); reset first"
            self._emit(task, TaskOutcome.REFUSED, why, started=False)
            return
        self.queue.append(task)

    def stop(self, category: int = 2, reason: str = "") -> None:
        ev = self.safety.trigger(category, reason or f"stop category {category} requested", self.sim.time_s)
        self._on_stop(ev, requested=True)

    def reset(self) -> tuple[bool, str]:
        ok, why = self.safety.reset()
        if ok:
            for side in list(self._brake_q):
                # Power back on: hold where the brakes held, torque starts from gravity compensation.
                self.tau[side][:] = self.sim.d.qfrc_bias[self.sim.arms[side].dof]
            self._brake_q.clear()
            self._cat1_deadline_s = None
            self._hold_here(self.active)
            self.last_reason = ""
        else:
            self.last_reason = why
        return ok, why

    # --- the tick ------------------------------------------------------------------------------------
    def tick(self) -> None:
        # Wall time (perf_counter) and this thread's CPU time (thread_time): on a shared machine the first
        # also counts time the scheduler gave to other processes, the second only this loop's own work. The
        # CPU clock is a system call here (~0.8 us against ~0.1 us): read outside the wall-time span, not counted
        # as controller work.
        c0 = thread_time_ns()
        t0 = perf_counter_ns()
        sim = self.sim
        if self.job is None and self.queue and not self.safety.stopped:
            self._start(self.queue.popleft())
        side = self.active
        ctx = self.ctx[side]
        st = sim.arm_state(side)
        ctx.contact = contact = sim.contacts(side, ctx.family, ctx.held)
        if self.job is not None:
            try:
                next(self.job)
            except StopIteration as done:
                self._finish(done.value)
        if self.job is not None and contact.external_n > self._task_peak_n:
            self._task_peak_n = contact.external_n
        goal = ctx.goal
        ff = self._z6
        if ctx.payload_kg:
            if self._ff_kg != ctx.payload_kg:
                self._ff_kg = ctx.payload_kg
                self._ff = np.array([0.0, 0.0, ctx.payload_kg * GRAVITY, 0.0, 0.0, 0.0])
            ff = self._ff
        est = self.force_estimator
        if self._brake_q:
            est.restart()  # the brakes set the joints from outside: no dynamics to compare with
            est_valid = False
        else:
            est_valid = est.prepare()
        out = self._out
        # Both arms' torques, both grippers and the force estimate in one compiled call (robot.tick_kernel: the
        # impedance law is controller.impedance_torque's, the idle arm holds its posture); commands go into ctrl.
        est_n = arm_commands_kernel(
            goal.pos_m, goal.quat_wxyz, goal.twist, ff, est_valid, ctx.payload_kg * GRAVITY, sim.time_s,
            *self._tick_args[side],
        )  # fmt: skip
        ctx.pos_error_m = float(out[O_POS_ERR])
        speed = float(out[O_SPEED])
        ev = self.safety.check(sim.time_s, st.tcp_pos_m, speed, contact.external_n, est_n)
        if ev is not None:
            self._on_stop(ev, requested=False)
        if self._cat1_deadline_s is not None and (sim.time_s >= self._cat1_deadline_s or speed < 0.01):
            self._engage_brakes()
        if self._brake_q:
            self._apply_brakes()
        t_ctrl = perf_counter_ns()
        c_ctrl = thread_time_ns()
        sim.step()
        if self._brake_q:
            self._apply_brakes()
        i = self.ticks % TICK_SAMPLES
        # Controller work (sensing, skills, control law, safety) apart from the simulated plant's step:
        # on a real arm only the first part runs in the loop.
        self.tick_ns[i] = t_ctrl - t0
        self.tick_cpu_ns[i] = c_ctrl - c0
        self.tick_total_ns[i] = perf_counter_ns() - t0
        self.ticks += 1

    # --- task lifecycle ------------------------------------------------------------------------------
    def _start(self, task: PickPlaceTask) -> None:
        side = arm_for(task.target)
        if side != self.active:
            self.hold_q[self.active][:] = self.sim.d.qpos[self.sim.arms[self.active].qpos]
            self.active = side
            self._hold_here(side)
        self.task = task
        self._task_t0 = self.sim.time_s
        self._task_peak_n = 0.0
        self._task_pstops = self.safety.protective_stops
        self.job = self._run(task)

    def _run(self, task: PickPlaceTask) -> Job:
        ctx = self.ctx[self.active]
        ctx.phase = "check"
        reason = yield from check_task(ctx, task)
        if reason:
            return PickPlaceOutcome(TaskOutcome.REFUSED, reason)
        self._feed_part(task)
        return (yield from pick_place(ctx, task, self.cfg.max_regrasps))

    def _feed_part(self, task: PickPlaceTask) -> None:
        """The simulated X-ray station out-feed: the part appears near where the task says, with scatter."""
        cfg = self.cfg
        if task.pick_pose is not None:
            xy = np.array(task.pick_pose.position_m[:2], dtype=float)
        else:
            xy = np.array(LAYOUT.station_exit_xy_m, dtype=float)
        xy = xy + self.rng.uniform(-cfg.part_pose_noise_m, cfg.part_pose_noise_m, 2)
        yaw = float(np.radians(self.rng.uniform(-cfg.part_pose_noise_deg, cfg.part_pose_noise_deg)))
        mass = task.part_mass_kg * float(self.rng.uniform(1.0 - cfg.part_mass_noise, 1.0 + cfg.part_mass_noise))
        # One body per family: the other family's last part leaves the cell (the conveyor carries OK parts
        # away, bins are emptied), so parts never pile up in a bin in this simulation.
        for fam in ("wheel", "housing"):
            if fam != task.part_family:
                self.sim.park(fam)
        self.sim.spawn_part(task.part_family, xy, yaw, mass)

    def _finish(self, res: PickPlaceOutcome) -> None:
        task = self.task
        assert task is not None
        self.job = None
        self.task = None
        if res.outcome != TaskOutcome.REFUSED:
            self.picks += 1
        self.recoveries += res.regrasps
        if res.outcome == TaskOutcome.SUCCESS:
            self.successes += 1
        if res.outcome == TaskOutcome.INTERVENTION_REQUIRED:
            self.interventions += 1
        ctx = self.ctx[self.active]
        ctx.phase = "idle"
        self._emit(task, res.outcome, res.reason, res.regrasps, started=res.outcome != TaskOutcome.REFUSED)

    def _emit(
        self, task: PickPlaceTask, outcome: TaskOutcome, reason: str, regrasps: int = 0, started: bool = True
    ) -> None:
        """Queue the task's result; a task that never moved reports no cycle time, force or stops."""
        running = started
        self.results.append(
            TaskResult(
                task_id=task.task_id,
                part_serial=task.part_serial,
                outcome=outcome,
                target=task.target,
                cycle_s=round(self.sim.time_s - self._task_t0, 4) if running else 0.0,
                regrasp_count=regrasps,
                max_contact_force_n=round(self._task_peak_n, 2) if running else 0.0,
                protective_stops=self.safety.protective_stops - self._task_pstops if running else 0,
                reason=reason,
            )
        )

    # --- stops ---------------------------------------------------------------------------------------
    def _on_stop(self, ev: StopEvent, requested: bool) -> None:
        self.last_reason = ev.reason
        self._hold_here(self.active)
        if self.job is not None and self.task is not None:
            self.job.close()
            self.job = None
            task, self.task = self.task, None
            self.ctx[self.active].phase = "stopped"
            if requested:
                self._emit(task, TaskOutcome.ABORTED, ev.reason)
            else:
                self.interventions += 1
                self._emit(task, TaskOutcome.INTERVENTION_REQUIRED, f"protective stop: {ev.reason}")
        while self.queue:
            self._emit(self.queue.popleft(), TaskOutcome.ABORTED, ev.reason, started=False)
        if ev.category == 0:
            self._engage_brakes()
        elif ev.category == 1:
            self._cat1_deadline_s = self.sim.time_s + 0.5

    def _hold_here(self, side: str) -> None:
        """Controlled stop / new goal: hold the measured pose with zero velocity (category 2 behaviour)."""
        ctx = self.ctx[side]
        pos, rot = self.sim.tcp(side)
        ctx.goal = Setpoint(pos, mat_to_quat(rot), np.zeros(6))

    def _engage_brakes(self) -> None:
        self._cat1_deadline_s = None
        for side in ARMS:
            self._brake_q[side] = self.sim.d.qpos[self.sim.arms[side].qpos].copy()

    def _apply_brakes(self) -> None:
        """Power off: no motor torque; the holding brakes keep every joint where it was."""
        d = self.sim.d
        for side, q in self._brake_q.items():
            a = self.sim.arms[side]
            self.tau[side][:] = 0.0
            d.ctrl[a.act] = 0.0
            d.qpos[a.qpos] = q
            d.qvel[a.dof] = 0.0

    # --- reporting -----------------------------------------------------------------------------------
    def mode(self) -> RobotMode:
        ev = self.safety.active
        if ev is not None:
            return RobotMode.PROTECTIVE_STOP if ev.category == 2 else RobotMode.EMERGENCY_STOP
        return RobotMode.RUNNING if self.job is not None or self.queue else RobotMode.IDLE

    def state(self) -> RobotState:
        pos, rot = self.sim.tcp(self.active)
        q = mat_to_quat(rot)
        ev = self.safety.active
        return RobotState(
            time_s=round(self.sim.time_s, 6),
            mode=self.mode(),
            joint_positions_rad=tuple(float(x) for x in self.sim.joint_positions()),
            tcp_pose=Pose(tuple(float(x) for x in pos), tuple(float(x) for x in q)),  # type: ignore[arg-type]
            contact_force_n=round(self.safety.last_force_n, 3),
            current_task_id=self.task.task_id if self.task else None,
            reason=ev.reason if ev else self.last_reason,
            phase=self.ctx[self.active].phase,
            active_arm=self.active,
            stop_category=ev.category if ev else None,
            protective_stops=self.safety.protective_stops,
            recoveries=self.recoveries,
            interventions=self.interventions,
        )

    def tick_stats(self) -> dict[str, float]:
        n = min(self.ticks, TICK_SAMPLES)
        us = self.tick_ns[:n] / 1000.0 if n else np.zeros(1)
        total = self.tick_total_ns[:n] / 1000.0 if n else np.zeros(1)
        cpu = self.tick_cpu_ns[:n] / 1000.0 if n else np.zeros(1)
        return {
            "ticks": float(self.ticks),
            # Wall-clock (perf_counter) time of the controller's work per tick, preemption included.
            "tick_compute_us_p50": float(np.percentile(us, 50)),
            "tick_compute_us_p99": float(np.percentile(us, 99)),
            "tick_compute_us_max": float(us.max()),
            # The same span in this thread's CPU time (thread_time): the work alone.
            "tick_compute_thread_cpu_us_p50": float(np.percentile(cpu, 50)),
            "tick_compute_thread_cpu_us_p99": float(np.percentile(cpu, 99)),
            "tick_compute_thread_cpu_us_max": float(cpu.max()),
            "tick_with_physics_us_p50": float(np.percentile(total, 50)),
            "tick_with_physics_us_p99": float(np.percentile(total, 99)),
            "tick_with_physics_us_max": float(total.max()),
            "picks": float(self.picks),
            "successes": float(self.successes),
            "recoveries": float(self.recoveries),
            "interventions": float(self.interventions),
            "protective_stops": float(self.safety.protective_stops),
            "max_contact_force_n": float(self.safety.peak_force_n),
            "max_estimated_force_n": float(self.safety.peak_estimated_force_n),
        }
