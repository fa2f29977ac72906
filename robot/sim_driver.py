"""The simulated robot behind `RobotDriver`: in its own process (SimRobotDriver) or in-process (tests).

Both wrap the same `RobotRuntime`. The process version runs the loop in a spawned child, paced by the
real-time clock (1 kHz, sleep-then-spin, gc paused) or as fast as it computes (virtual time), and talks
over one duplex pipe: commands in; results, states at `state_publish_hz` and joint snapshots for the
renderer (at `render_fps`) out. Pictures are rendered in the parent from those snapshots.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing as mp
import os
import queue
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Literal

import numpy as np

from robot.clock import RealTimeClock, VirtualClock
from robot.config import RobotConfig
from robot.render import SceneRenderer
from robot.runtime import RobotRuntime
from robot.types import PickPlaceTask, RobotMode, RobotState, TaskResult

log = logging.getLogger(__name__)
ClockKind = Literal["real", "virtual"]
POLL_EVERY_TICKS = 5


def _child_main(cfg_json: str, clock: str, seed: int | None, hand_probe: bool, conn: Connection) -> None:
    try:
        _child_loop(RobotConfig.model_validate_json(cfg_json), clock, seed, hand_probe, conn)
    except (EOFError, BrokenPipeError, ConnectionResetError):
        # The controlling process is gone: stop, never keep a real-time loop running orphaned.
        return
    except Exception:
        with contextlib.suppress(OSError):
            conn.send(("error", traceback.format_exc()))
        raise


def _place_process(cfg: RobotConfig, clock_kind: str) -> dict[str, str]:
    """Real-time priority and core pinning for this process, as far as the OS grants them; what it got.

    Only under the real clock: a virtual-time run is a test or a sweep and must not grab a core.
    """
    sched = "other"
    if clock_kind == "real" and cfg.realtime_priority > 0 and hasattr(os, "sched_setscheduler"):
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(cfg.realtime_priority))
            sched = f"fifo:{cfg.realtime_priority}"
        except (PermissionError, OSError) as e:
            log.warning("real-time priority refused (%s); running with ordinary scheduling", e)
    cores = "any"
    if clock_kind == "real" and cfg.cpu_affinity and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, cfg.cpu_affinity)
            cores = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
        except OSError as e:
            log.warning("cpu_affinity %s refused (%s); running on any core", list(cfg.cpu_affinity), e)
    return {"clock": clock_kind, "sched": sched, "cpu_affinity": cores}


def _child_loop(cfg: RobotConfig, clock_kind: str, seed: int | None, hand_probe: bool, conn: Connection) -> None:
    rt = RobotRuntime(cfg, seed=seed, hand_probe=hand_probe)
    clock: RealTimeClock | VirtualClock = (
        RealTimeClock(rt.dt_s, warm=rt.warm_caches, warm_lead_s=cfg.cache_warm_lead_us * 1e-6)
        if clock_kind == "real"
        else VirtualClock()
    )
    placement = _place_process(cfg, clock_kind)
    publish_every = max(1, round(cfg.control_hz / cfg.state_publish_hz))
    qpos_every = max(1, round(cfg.control_hz / cfg.render_fps)) if cfg.render_fps > 0 else 0
    conn.send(("ready", rt.state(), rt.sim.xml))
    parent = os.getppid()
    gc.collect()
    gc.freeze()
    gc.disable()  # a collection inside a 1 ms tick is the single biggest source of missed deadlines
    running = True
    k = 0
    last_mode = rt.mode()

    def handle(msg: tuple[Any, ...]) -> bool:
        kind = msg[0]
        if kind == "submit":
            rt.submit(msg[1])
        elif kind == "stop":
            rt.stop(msg[1], msg[2])
        elif kind == "reset":
            ok, why = rt.reset()
            conn.send(("reset", ok, why))
        elif kind == "stats":
            conn.send(("stats", {**rt.tick_stats(), **clock.stats(), **placement}))
        elif kind == "close":
            return False
        return True

    def flush() -> None:
        while rt.results:
            conn.send(("result", rt.results.popleft()))

    clock.start()
    while running:
        if k % POLL_EVERY_TICKS == 0:
            while running and conn.poll():
                running = handle(conn.recv())
            flush()
            if k % 1000 == 0 and os.getppid() != parent:
                return
        if not clock.realtime and rt.job is None and not rt.queue:
            # Virtual time only advances while there is work; idle, wait for a command without spinning.
            conn.send(("state", rt.state()))
            gc.collect(0)
            if conn.poll(0.05):
                running = handle(conn.recv())
                flush()
            continue
        rt.tick()
        k += 1
        flush()
        mode = rt.mode()
        if mode != last_mode or k % publish_every == 0:
            last_mode = mode
            conn.send(("state", rt.state()))
        if qpos_every and k % qpos_every == 0:
            conn.send(("qpos", rt.sim.d.qpos.copy()))
        clock.wait_next()
    gc.enable()
    conn.send(("closed", {**rt.tick_stats(), **clock.stats()}))


class SimRobotDriver:
    """RobotDriver whose robot (MuJoCo + controller) runs in a separate process."""

    def __init__(
        self,
        cfg: RobotConfig,
        clock: ClockKind = "real",
        seed: int | None = None,
        hand_probe: bool = False,
        start_timeout_s: float = 60.0,
    ) -> None:
        if clock not in ("real", "virtual"):
            raise ValueError(f"clock must be 'real' or 'virtual', got {clock!r}")
        self.cfg = cfg
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe(duplex=True)
        self._proc = ctx.Process(
            target=_child_main,
            args=(cfg.model_dump_json(), clock, seed, hand_probe, child),
            name="ironcell-robot",
            daemon=True,
        )
        self._proc.start()
        child.close()
        if not self._conn.poll(start_timeout_s):
            self._proc.terminate()
            raise RuntimeError(f"robot process did not start within {start_timeout_s} s")
        try:
            msg = self._conn.recv()
        except EOFError:
            self._proc.join(5.0)
            raise RuntimeError(
                f"robot process exited while starting (exit code {self._proc.exitcode}); with the spawn start "
                "method the launching script needs an `if __name__ == '__main__':` guard"
            ) from None
        if msg[0] != "ready":
            self._proc.terminate()
            raise RuntimeError(f"robot process failed to start: {msg[1] if len(msg) > 1 else msg}")
        self._state: RobotState = msg[1]
        self._xml: str = msg[2]
        self._send_lock = threading.Lock()
        self._results: queue.Queue[TaskResult] = queue.Queue()
        self._replies: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._subscribers: list[Callable[[RobotState], None]] = []
        self._qpos: np.ndarray | None = None
        self._qpos_version = 0
        self._image: np.ndarray | None = None
        self._image_version = -1
        self._image_wanted_at = 0.0
        self._render_thread: threading.Thread | None = None
        self._render_error: str | None = None
        self.error: str | None = None
        self.final_stats: dict[str, Any] | None = None
        self._closed = False
        self._reader = threading.Thread(target=self._read, name="robot-driver-reader", daemon=True)
        self._reader.start()

    # --- RobotDriver ---------------------------------------------------------------------------------
    def submit(self, task: PickPlaceTask) -> None:
        self._send(("submit", task))

    def result(self, timeout_s: float | None = None) -> TaskResult | None:
        try:
            return self._results.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def state(self) -> RobotState:
        return self._state

    def stop(self, category: int = 2, reason: str = "") -> None:
        if category not in (0, 1, 2):
            raise ValueError(f"stop category must be 0, 1 or 2, got {category}")
        self._send(("stop", category, reason))

    def reset(self) -> None:
        self._send(("reset",))
        reply = self._reply("reset", 10.0)
        if reply is not None and not reply[1]:
            log.warning("robot reset refused: %s", reply[2])

    def subscribe(self, callback: Callable[[RobotState], None]) -> None:
        self._subscribers.append(callback)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError, RuntimeError):
            self._send(("close",))
        self._proc.join(10.0)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5.0)
        self._reader.join(2.0)

    # --- extras --------------------------------------------------------------------------------------
    def stats(self, timeout_s: float = 10.0) -> dict[str, Any]:
        """Tick compute and (real clock) lateness statistics from the robot process."""
        self._send(("stats",))
        reply = self._reply("stats", timeout_s)
        if reply is None:
            raise TimeoutError("robot process did not answer the stats request")
        return dict(reply[1])

    def latest_image(self, wait_s: float = 2.0) -> np.ndarray | None:
        """Latest offscreen picture (H, W, 3 uint8), rendered in this process from joint snapshots."""
        self._image_wanted_at = time.monotonic()
        if self._render_thread is None:
            self._render_thread = threading.Thread(target=self._render_loop, name="robot-render", daemon=True)
            self._render_thread.start()
        t_end = time.monotonic() + wait_s
        while self._image is None and self._render_error is None and time.monotonic() < t_end:
            time.sleep(0.02)
        if self._render_error is not None:
            raise RuntimeError(self._render_error)
        return self._image

    # --- internals -----------------------------------------------------------------------------------
    def _send(self, msg: tuple[Any, ...]) -> None:
        if self.error is not None:
            raise RuntimeError(f"robot process failed: {self.error}")
        with self._send_lock:
            self._conn.send(msg)

    def _reply(self, kind: str, timeout_s: float) -> tuple[Any, ...] | None:
        t_end = time.monotonic() + timeout_s
        while (left := t_end - time.monotonic()) > 0:
            try:
                msg = self._replies.get(timeout=left)
            except queue.Empty:
                return None
            if msg[0] == kind:
                return msg
        return None

    def _read(self) -> None:
        while True:
            try:
                msg = self._conn.recv()
            except (EOFError, OSError):
                break
            kind = msg[0]
            if kind == "state":
                self._state = msg[1]
                for cb in list(self._subscribers):
                    try:
                        cb(msg[1])
                    except Exception:
                        log.exception("robot state subscriber failed")
            elif kind == "result":
                self._results.put(msg[1])
            elif kind == "qpos":
                self._qpos = msg[1]
                self._qpos_version += 1
            elif kind in ("reset", "stats"):
                self._replies.put(msg)
            elif kind == "closed":
                self.final_stats = msg[1]
                break
            elif kind == "error":
                self.error = msg[1]
                log.error("robot process failed:\n%s", msg[1])
                s = self._state
                self._state = RobotState(
                    s.time_s, RobotMode.FAULT, s.joint_positions_rad, s.tcp_pose, 0.0, None, "fault"
                )
                break

    def _render_loop(self) -> None:
        try:
            r = SceneRenderer(self._xml, self.cfg.render_width_px, self.cfg.render_height_px)
            period = 1.0 / max(self.cfg.render_fps, 0.5)
            while not self._closed and time.monotonic() - self._image_wanted_at < 30.0:
                if self._qpos is not None and self._qpos_version != self._image_version:
                    self._image_version = self._qpos_version
                    self._image = r.render(self._qpos)
                time.sleep(period)
            r.close()
        except Exception as e:
            self._render_error = str(e)
        finally:
            self._render_thread = None


class InProcessSimRobot:
    """The same runtime without a process or a clock: time advances only inside `result`/`run_for`.

    `timeout_s` counts simulated seconds, so tests are deterministic and as fast as the machine allows.
    """

    def __init__(self, cfg: RobotConfig, seed: int | None = None, hand_probe: bool = False) -> None:
        self.cfg = cfg
        self.runtime = RobotRuntime(cfg, seed=seed, hand_probe=hand_probe)
        self._subscribers: list[Callable[[RobotState], None]] = []
        self._publish_every = max(1, round(cfg.control_hz / cfg.state_publish_hz))
        self._renderer: SceneRenderer | None = None

    def submit(self, task: PickPlaceTask) -> None:
        self.runtime.submit(task)

    def result(self, timeout_s: float | None = 120.0) -> TaskResult | None:
        rt = self.runtime
        limit = rt.sim.time_s + (120.0 if timeout_s is None else timeout_s)
        while not rt.results and (rt.job is not None or rt.queue) and rt.sim.time_s < limit:
            self._tick()
        return rt.results.popleft() if rt.results else None

    def run_for(self, seconds: float) -> None:
        t_end = self.runtime.sim.time_s + seconds
        while self.runtime.sim.time_s < t_end:
            self._tick()

    def state(self) -> RobotState:
        return self.runtime.state()

    def stop(self, category: int = 2, reason: str = "") -> None:
        self.runtime.stop(category, reason)
        self._publish()

    def reset(self) -> None:
        self.runtime.reset()
        self._publish()

    def subscribe(self, callback: Callable[[RobotState], None]) -> None:
        self._subscribers.append(callback)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()

    def stats(self) -> dict[str, Any]:
        return {**self.runtime.tick_stats(), "clock": "virtual"}

    def latest_image(self, wait_s: float = 0.0) -> np.ndarray | None:
        if self._renderer is None:
            c = self.cfg
            self._renderer = SceneRenderer(self.runtime.sim.xml, c.render_width_px, c.render_height_px)
        return self._renderer.render(self.runtime.sim.d.qpos)

    def _tick(self) -> None:
        rt = self.runtime
        before = rt.mode()
        rt.tick()
        if rt.mode() != before or rt.ticks % self._publish_every == 0:
            self._publish()

    def _publish(self) -> None:
        if self._subscribers:
            st = self.runtime.state()
            for cb in self._subscribers:
                cb(st)
