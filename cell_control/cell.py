"""The cell on one asyncio loop: PackML machine, part sequencer, robot supervision, alarms.

Each part goes arrival -> acquisition + inspection (worker thread) -> decision -> robot task -> record
(one transaction) -> publish. Inspection of the next part runs while the robot moves the previous one:
two parts may be in the cell at once (one at the robot, one in the station). Acting PackML states end
on their own "state complete" when their work is done.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from cell_control import packml
from cell_control.alarms import AlarmManager
from cell_control.clock import Clock, RealClock, VirtualClock
from cell_control.packml import SC, Transition
from cell_control.recording import CellStats, PartRecorder, PartSummary
from cell_control.robot_link import DISPATCH_STATES, STOPPED_MODES, CellError, RobotSupervision
from cell_control.station import Arrival, InspectionStation, SimulatedFeeder, StationOutput, failed_result, now_utc
from cell_control.store import Store
from cell_control.types import AlarmSeverity, InterventionKind, InterventionRecord, PackMLCommand, PackMLState
from robot.roles import RobotDriver
from robot.types import PickPlaceTask, RobotState, TargetBin, TaskOutcome, TaskResult
from vision.types import PartFamily, PartIdentity, Verdict

log = logging.getLogger(__name__)
S = PackMLState
C = PackMLCommand

TARGET_FOR = {Verdict.OK: TargetBin.OK_CONVEYOR, Verdict.NOK: TargetBin.NOK_BIN, Verdict.REVIEW: TargetBin.REVIEW_BIN}
JOB_STATES = frozenset(
    {S.IDLE, S.STARTING, S.EXECUTE, S.HOLDING, S.HELD, S.UNHOLDING, S.SUSPENDING, S.SUSPENDED, S.UNSUSPENDING}
)


@dataclass(frozen=True)
class CellOptions:
    parts_target: int | None = None
    feeder_enabled: bool = True
    part_interval_s: float = 0.0
    max_task_retries: int = 2
    robot_task_timeout_s: float = 120.0
    sim_operator_response_s: float | None = None  # a simulated operator clears holds (simulation only)
    max_queued_jobs: int = 16


@dataclass
class _Waiters:
    event: asyncio.Event = field(default_factory=asyncio.Event)

    def notify(self) -> None:
        self.event.set()
        self.event = asyncio.Event()

    async def wait_for(self, pred: Callable[[], bool], timeout_s: float | None = None) -> bool:
        async def _loop() -> None:
            while not pred():
                await self.event.wait()

        try:
            await asyncio.wait_for(_loop(), timeout_s)
        except TimeoutError:
            return pred()
        return True


class Cell(RobotSupervision):
    def __init__(
        self,
        store: Store,
        station: InspectionStation | None,
        robot: RobotDriver,
        feeder: SimulatedFeeder | None,
        options: CellOptions,
        clock: Clock | None = None,
        config_sha256: str = "",
        inspection_workers: int = 1,
        default_recipe: str = "wheel",
        inspection_pool: tuple[Executor, Callable[[Arrival], StationOutput]] | None = None,
    ) -> None:
        """`station` runs in worker threads; or pass `inspection_pool` = (executor, function), e.g. a
        process pool from `station.process_pool` with `station.process_in_worker`."""
        self.default_recipe = default_recipe
        self.store = store
        self.station = station
        self.robot = robot
        self.feeder = feeder
        self.options = options
        self.clock = clock or RealClock()
        self.alarms = AlarmManager(store)
        self.state: PackMLState = S.STOPPED
        self.state_changed_at: datetime = now_utc()
        self.last_command_result = ""
        self.stats = CellStats.from_store(store)
        self.recorder = PartRecorder(store, config_sha256)
        self.last_part: PartSummary | None = None
        self.robot_state: RobotState | None = None
        self.robot_link_ok = True
        self.run_processed = 0
        self.history: list[PartSummary] = []
        self.results_by_job: dict[str, PartSummary] = {}
        self._jobs: asyncio.Queue[Arrival] = asyncio.Queue()
        self._decided: asyncio.Queue[StationOutput] = asyncio.Queue()
        self._slots = asyncio.Semaphore(2)
        self._inflight = 0
        self._run_started = 0
        self._robot_busy = False
        self._robot_free_at = time.perf_counter()
        self._waiters = _Waiters()
        self._listeners: list[Callable[[str], None]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._act_task: asyncio.Task[None] | None = None
        self._hold_reason = ""
        if inspection_pool is not None:
            self._pool, self._inspect = inspection_pool
        elif station is not None:
            self._pool = ThreadPoolExecutor(max(1, inspection_workers), thread_name_prefix="inspect")
            self._inspect = station.process
        else:
            raise ValueError("Cell needs a station or an inspection pool")
        self._robot_pool = ThreadPoolExecutor(1, thread_name_prefix="robot-wait")
        self._job_seq = 0
        self.dispatch_latency_ms: list[float] = []
        self.alarms.subscribe(lambda _a: self._emit("alarms"))

    # --- wiring ------------------------------------------------------------------------------------
    def subscribe(self, listener: Callable[[str], None]) -> None:
        """listener(kind) with kind in state, part, robot, alarms, command."""
        self._listeners.append(listener)

    def _emit(self, kind: str) -> None:
        for fn in self._listeners:
            try:
                fn(kind)
            except Exception:
                log.exception("listener failed on %s", kind)

    async def start(self) -> None:
        for coro in (self._inspection_loop(), self._robot_loop(), self._robot_monitor()):
            self._tasks.append(asyncio.create_task(coro))
        self._emit("state")

    async def shutdown(self, timeout_s: float = 30.0) -> None:
        """Stop cleanly: a Stop (parts in the cell finish and are recorded), then the loops end."""
        if self.state not in (S.STOPPED, S.ABORTED, S.STOPPING, S.ABORTING, S.CLEARING):
            self.command(C.STOP, user="system", channel="internal", reason="shutdown")
        await self.wait_state({S.STOPPED, S.ABORTED}, timeout_s)
        for t in [*self._tasks, *([self._act_task] if self._act_task else [])]:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._robot_pool.shutdown(wait=False, cancel_futures=True)

    async def wait_state(self, states: set[PackMLState], timeout_s: float | None = None) -> bool:
        return await self._waiters.wait_for(lambda: self.state in states, timeout_s)

    async def wait_processed(self, n: int, timeout_s: float | None = None) -> bool:
        return await self._waiters.wait_for(lambda: self.run_processed >= n, timeout_s)

    # --- PackML ------------------------------------------------------------------------------------
    def _guard(self, cmd: PackMLCommand) -> str:
        mode = self.robot_state.mode if self.robot_state else None
        if cmd == C.UNHOLD and mode in STOPPED_MODES:
            where = mode.value.replace("_", " ") if mode else "a stop"
            return f"robot is in {where}: reset it first (Robot.ResetProtectiveStop)"
        if cmd in (C.START, C.RESET) and not self.robot_link_ok:
            return "robot link is lost: restore it before Reset/Start"
        return ""

    def command(self, cmd: PackMLCommand, user: str = "", channel: str = "internal", reason: str = "") -> Transition:
        guard = self._guard(cmd)
        t = Transition(False, self.state, guard) if guard else packml.transition(self.state, cmd)
        self.last_command_result = "accepted" if t.accepted else t.reason
        if channel != "internal":
            self._audit(user, channel, f"packml.{cmd.name.lower()}", t.accepted, t.reason or reason)
        if t.accepted:
            log.info("%s by %s (%s): %s -> %s", cmd.name, user or "-", channel, self.state.name, t.state.name)
            if cmd == C.CLEAR and user and user != "system":
                self._intervention(InterventionKind.FAULT_ACKNOWLEDGED, f"cleared after abort: {reason}", user)
            self._enter(t.state)
        else:
            log.info("%s refused in %s: %s", cmd.name, self.state.name, t.reason)
        self._emit("command")
        return t

    def _audit(self, user: str, channel: str, action: str, allowed: bool, detail: str) -> None:
        try:
            self.store.audit(user or "-", channel, action, allowed, detail)
        except Exception:
            log.exception("audit write failed")

    def _intervention(self, kind: InterventionKind, reason: str, user: str, serial: str | None = None) -> None:
        self.stats.interventions += 1
        try:
            self.store.record_intervention(InterventionRecord(kind, now_utc(), reason, user, serial))
        except Exception:
            log.exception("intervention write failed")

    def _enter(self, state: PackMLState) -> None:
        if self._act_task is not None and not self._act_task.done():
            self._act_task.cancel()
        self.state = state
        self.state_changed_at = now_utc()
        self._act_task = (
            asyncio.create_task(self._act(state)) if state in packml.ACTING_STATES or state == S.EXECUTE else None
        )
        self._waiters.notify()
        self._emit("state")

    def _complete(self, state: PackMLState) -> None:
        if self.state == state:
            t = packml.transition(state, SC)
            if t.accepted:
                self._enter(t.state)

    async def _act(self, state: PackMLState) -> None:
        try:
            if state == S.RESETTING:
                await self._robot_call(self._reset_robot_if_stopped)
                self.run_processed = 0
                self._run_started = 0
            elif state == S.EXECUTE:
                target = self.options.parts_target
                if target is None:
                    return
                await self._waiters.wait_for(lambda: self.run_processed >= target)
            elif state in (S.COMPLETING, S.STOPPING):
                await self._waiters.wait_for(lambda: self._inflight == 0, self.options.robot_task_timeout_s)
            elif state in (S.HOLDING, S.SUSPENDING):
                await self._waiters.wait_for(lambda: not self._robot_busy, self.options.robot_task_timeout_s)
            elif state == S.ABORTING:
                await self._robot_call(lambda: self.robot.stop(1, "abort"))
                await self._waiters.wait_for(lambda: self._inflight == 0, 10.0)
            elif state == S.CLEARING:
                await self._robot_call(self._reset_robot_if_stopped)
        except asyncio.CancelledError:
            return
        self._complete(state)

    # --- jobs --------------------------------------------------------------------------------------
    def submit_job(self, serial: str, recipe: str, source: str, family: PartFamily | None = None) -> str:
        """Queue a part announced by the PLC or an OPC UA client; returns the job id."""
        if self.state not in JOB_STATES:
            raise CellError(f"cannot start a job in state {packml.state_text(self.state)}")
        if self._jobs.qsize() >= self.options.max_queued_jobs:
            raise CellError(f"job queue full ({self.options.max_queued_jobs} jobs waiting)")
        fam = family or next((f for f in PartFamily if f.value == recipe), PartFamily.WHEEL)
        self._job_seq += 1
        job_id = f"J{int(time.time() * 1000):x}-{self._job_seq}"
        part = PartIdentity(serial=serial, family=fam, recipe=recipe)
        self._jobs.put_nowait(Arrival(part, job_id, source, now_utc(), self.clock.now()))
        return job_id

    async def _next_arrival(self) -> Arrival | None:
        if not self._jobs.empty():
            return self._jobs.get_nowait()
        if self.feeder is None or not self.options.feeder_enabled:
            get = asyncio.create_task(self._jobs.get())
            change = asyncio.create_task(self._waiters.wait_for(lambda: self.state != S.EXECUTE))
            done, _ = await asyncio.wait({get, change}, return_when=asyncio.FIRST_COMPLETED)
            change.cancel()
            if get in done:
                return get.result()
            get.cancel()
            return None
        if self.options.part_interval_s > 0:
            await self.clock.sleep(self.options.part_interval_s)
        self._job_seq += 1
        part = self.feeder.next_part()
        return Arrival(part, f"J{self._job_seq:06d}-{part.serial}", "feeder", now_utc(), self.clock.now())

    def _may_start_part(self) -> bool:
        target = self.options.parts_target
        return self.state == S.EXECUTE and (target is None or self._run_started < target)

    async def _inspection_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._waiters.wait_for(self._may_start_part)
            await self._slots.acquire()
            if not self._may_start_part():
                self._slots.release()
                continue
            arrival = await self._next_arrival()
            if arrival is None or not self._may_start_part():
                if arrival is not None and arrival.source != "feeder":
                    self._jobs.put_nowait(arrival)  # keep the PLC's part for later
                self._slots.release()
                continue
            self._run_started += 1
            self._inflight += 1
            try:
                out = await loop.run_in_executor(self._pool, self._inspect, arrival)
            except Exception as exc:  # the worker itself died: the part still gets a safe verdict
                log.exception("inspection worker failed on %s", arrival.part.serial)
                out = StationOutput(arrival, failed_result(f"inspection worker failed: {exc}", time.perf_counter()),
                                    None, None, 0.0)  # fmt: skip
            if out.result.error:
                self.alarms.raise_alarm(
                    "INSPECTION_FAILED", out.result.error, AlarmSeverity.MEDIUM, arrival.part.serial
                )
            elif self.alarms.is_active("INSPECTION_FAILED"):
                self.alarms.clear("INSPECTION_FAILED")
            self._decided.put_nowait(out)

    # --- robot -------------------------------------------------------------------------------------
    async def _robot_loop(self) -> None:
        while True:
            out = await self._decided.get()
            verdict_at = time.perf_counter()
            try:
                task_result = await self._run_task(out, verdict_at)
                await self._record(out, task_result)
            except Exception:
                log.exception("part %s: sequencer failure", out.arrival.part.serial)
                self.alarms.raise_alarm("SEQUENCER_FAULT", "sequencer failure (see log)", AlarmSeverity.CRITICAL)
                self.command(C.ABORT, user="system")
            finally:
                self._inflight -= 1
                self._slots.release()
                self._waiters.notify()

    async def _run_task(self, out: StationOutput, verdict_at: float) -> TaskResult | None:
        part = out.arrival.part
        target = TARGET_FOR[out.result.verdict]
        last: TaskResult | None = None
        attempt = 0
        while True:
            # a manual dispatch may still be moving: one task at a time, or its result would be taken here
            await self._waiters.wait_for(
                lambda: (
                    (self.state in DISPATCH_STATES and not self._robot_busy) or self.state in (S.ABORTING, S.ABORTED)
                )
            )
            if self.state in (S.ABORTING, S.ABORTED) or not self.robot_link_ok:
                return last or TaskResult(f"{out.arrival.job_id}-T0", part.serial, TaskOutcome.ABORTED, target, 0.0,
                                          reason=f"cell {packml.state_text(self.state)}")  # fmt: skip
            attempt += 1
            task = PickPlaceTask(f"{out.arrival.job_id}-T{attempt}", part.serial, part.family.value, target)
            self._robot_busy = True
            ready = max(verdict_at, self._robot_free_at)
            try:
                self.robot.submit(task)
                self.dispatch_latency_ms.append((time.perf_counter() - ready) * 1000.0)
                last = await self._await_result(task)
            except Exception as exc:
                self._robot_link_lost(exc)
                last = None
            finally:
                self._robot_busy = False
                self._robot_free_at = time.perf_counter()
                self._waiters.notify()
            if last is not None and isinstance(self.clock, VirtualClock):
                self.clock.advance(last.cycle_s)  # virtual time follows the robot's simulated motion
            if last is None:
                continue  # link lost: the loop above records the part as aborted
            if last.outcome in (TaskOutcome.SUCCESS, TaskOutcome.ABORTED):
                return last
            if last.outcome == TaskOutcome.FAILED_RECOVERABLE and attempt <= self.options.max_task_retries:
                self.stats.recoveries += 1
                continue
            if not await self._hold_for_operator(last, part.serial):
                return last

    def parts_per_min(self, window_s: float = 60.0) -> float:
        """Parts finished in the last minute of wall time (PackML CurMachSpeed)."""
        if not self.history:
            return 0.0
        now = now_utc()
        n = 0
        for p in reversed(self.history):
            if (now - p.finished_at).total_seconds() > window_s:
                break
            n += 1
        return n * 60.0 / window_s

    # --- record and publish -----------------------------------------------------------------------
    async def _record(self, out: StationOutput, task: TaskResult | None) -> None:
        loop = asyncio.get_running_loop()
        finished = now_utc()
        cycle_s = self.clock.now() - out.arrival.arrived_clock_s
        try:
            summary = await loop.run_in_executor(None, self.recorder.write, out, task, finished, cycle_s)
        except Exception as exc:
            log.exception("record of %s failed", out.arrival.part.serial)
            self.alarms.raise_alarm("STORE_WRITE_FAILED", f"record not written: {exc}", AlarmSeverity.CRITICAL,
                                    out.arrival.part.serial)  # fmt: skip
            self.command(C.ABORT, user="system", reason="store write failed")
            return
        self.stats.add(summary)
        self.last_part = summary
        self.history.append(summary)
        self.results_by_job[summary.job_id] = summary
        if len(self.results_by_job) > 10000:
            self.results_by_job.pop(next(iter(self.results_by_job)))
        self.run_processed += 1
        self._waiters.notify()
        self._emit("part")
