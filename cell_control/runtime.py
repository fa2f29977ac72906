"""`ironcell run`: the whole cell in one process tree (controller loop + robot process), its servers and
the store, started and stopped in order; a summary of the run at the end.

A marker file `$IRONCELL_HOME/cell.running` tells a restart that the last run did not end cleanly: the
cell then comes up STOPPED (no auto-start) with an alarm, and every finished part's record is intact
(each part is one committed transaction).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from cell_control.cell import Cell, CellOptions
from cell_control.clock import RealClock, VirtualClock
from cell_control.config import IroncellConfig
from cell_control.station import (
    InspectionStation,
    SimulatedFeeder,
    TruthFn,
    process_in_worker,
    process_pool,
    worker_ready,
)
from cell_control.store import Store
from cell_control.types import AlarmSeverity, PackMLCommand, PackMLState
from robot.roles import RobotDriver
from vision.roles import ImageSource, Inspector

log = logging.getLogger(__name__)
MARKER = "cell.running"
S = PackMLState


@dataclass
class Components:
    """Either source + inspector (run in worker threads: tests) or a station factory that worker processes
    call to build their own (the running cell: inspection never holds the event loop's GIL)."""

    source: ImageSource | None
    inspector: Inspector | None
    robot: RobotDriver
    truth: TruthFn | None = None
    station_factory: Callable[[], InspectionStation] | None = None


class CellStartError(RuntimeError):
    """A part of the cell cannot be built (no model, no robot process); the message says which and why."""


def build_components(cfg: IroncellConfig, fast: bool) -> Components:
    """The real parts: simulated X-ray source, the ONNX inspector, the MuJoCo robot process."""
    try:
        return _build_components(cfg, fast)
    except Exception as exc:
        raise CellStartError(f"cannot start the cell: {type(exc).__name__}: {exc}") from exc


def _build_components(cfg: IroncellConfig, fast: bool) -> Components:
    factory = functools.partial(build_station, cfg.model_dump_json())
    return Components(None, None, build_robot(cfg, fast), None, station_factory=factory)


def build_station(cfg_json: str) -> InspectionStation:
    """Runs in an inspection worker process: image source, inspector and ground-truth grader."""
    cfg = IroncellConfig.model_validate_json(cfg_json)
    c = _build_vision(cfg)
    assert c.source is not None and c.inspector is not None
    return InspectionStation(c.source, c.inspector, c.truth)


def _build_vision(cfg: IroncellConfig) -> Components:
    from vision.inspector import build_inspector

    if cfg.vision.source == "simulator":
        from vision.xray.params import params_from_config
        from vision.xray.source import SimulatedXraySource

        source: ImageSource = SimulatedXraySource(params_from_config(cfg.vision.xray_sim), seed=cfg.cell.seed)
    elif cfg.vision.source == "folder":
        from vision.sources import FolderImageSource

        assert cfg.vision.folder is not None
        source = FolderImageSource(cfg.vision.folder)  # type: ignore[call-arg]
    else:
        from vision.sources import CameraImageSource

        source = CameraImageSource(cfg.vision.camera_index)  # type: ignore[call-arg]
    inspector = build_inspector(cfg.vision)
    from cell_control.truth import truth_grader_from_config

    truth = truth_grader_from_config(cfg.vision) if cfg.vision.source == "simulator" else None
    return Components(source, inspector, None, truth)  # type: ignore[arg-type]


def build_robot(cfg: IroncellConfig, fast: bool) -> RobotDriver:
    from robot import sim_driver  # type: ignore[attr-defined]

    robot_cfg = cfg.robot.model_copy(update={"clock": "virtual"}) if fast else cfg.robot
    driver: RobotDriver = sim_driver.SimRobotDriver(robot_cfg, robot_cfg.clock, cfg.cell.seed)
    return driver


def config_sha256(cfg: IroncellConfig) -> str:
    return hashlib.sha256(json.dumps(cfg.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


def run_tag(now: datetime | None = None) -> str:
    """Short, sortable, unique per run: serials stay unique across runs on one store."""
    t = now or datetime.now(UTC)
    return np.base_repr(int(t.timestamp() * 10) % (36**6), 36).rjust(6, "0")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else 0.0


def summarize(cell: Cell, wall_s: float, interventions_before: int, part_interval_s: float) -> dict[str, Any]:
    h = cell.history
    n = len(h)
    verdicts = {v: sum(1 for p in h if p.verdict.value == v) for v in ("OK", "NOK", "REVIEW")}
    known = [p for p in h if p.truth_verdict is not None]
    truth_nok = [p for p in known if p.truth_verdict == "NOK"]
    truth_ok = [p for p in known if p.truth_verdict == "OK"]
    escapes = sum(1 for p in truth_nok if p.verdict.value == "OK")
    false_rejects = sum(1 for p in truth_ok if p.verdict.value == "NOK")
    correct = sum(1 for p in known if p.verdict.value == p.truth_verdict)
    tasks_ok = sum(1 for p in h if p.task_outcome == "success")
    interventions = cell.stats.interventions - interventions_before
    # Real-time takt: the robot's motion and the next part's inspection overlap, so a part costs the longer
    # of the two (in --fast the robot's motion time is simulated time, not wall time).
    takt = [max(p.robot_cycle_s, p.inspect_wall_s + part_interval_s) for p in h]
    return {
        "parts": n,
        "verdicts": verdicts,
        "ground_truth_known": len(known),
        "accuracy": round(correct / len(known), 4) if known else None,
        "escapes": escapes,
        "escape_rate": round(escapes / len(truth_nok), 4) if truth_nok else 0.0,
        "false_rejects": false_rejects,
        "false_reject_rate": round(false_rejects / len(truth_ok), 4) if truth_ok else 0.0,
        "good_parts_to_review": sum(1 for p in truth_ok if p.verdict.value == "REVIEW"),
        "bad_parts_to_review": sum(1 for p in truth_nok if p.verdict.value == "REVIEW"),
        "inspection_errors": sum(1 for p in h if p.error),
        "tasks_completed": tasks_ok,
        "interventions": interventions,
        "tasks_per_intervention": round(tasks_ok / max(1, interventions), 1),
        "autonomous_recoveries": cell.stats.recoveries,
        "cycle_time_s_mean": round(float(np.mean([p.cycle_s for p in h])), 3) if h else 0.0,
        "robot_cycle_s_mean": round(float(np.mean([p.robot_cycle_s for p in h])), 3) if h else 0.0,
        "inspection_s_mean": round(float(np.mean([p.inspect_wall_s for p in h])), 3) if h else 0.0,
        "throughput_parts_per_h": round(3600.0 / float(np.mean(takt)), 1) if h else 0.0,
        "wall_s": round(wall_s, 2),
        "wall_parts_per_h": round(n / wall_s * 3600.0, 1) if wall_s > 0 else 0.0,
        "verdict_to_dispatch_ms_p99": round(percentile(cell.dispatch_latency_ms, 99), 3),
        "final_state": packml_name(cell.state),
    }


def packml_name(state: PackMLState) -> str:
    return state.name.capitalize()


async def run_cell(
    cfg: IroncellConfig,
    home: Path,
    parts: int | None = None,
    fast: bool = False,
    stop: asyncio.Event | None = None,
    components: Components | None = None,
    opcua_port: int | None = None,
    modbus_port: int | None = None,
    on_started: Callable[[Cell, Any, Any], None] | None = None,
) -> dict[str, Any]:
    from cell_control.modbus.regmap import load_register_map
    from cell_control.modbus.server import CellModbusServer
    from cell_control.opcua.server import CellOpcuaServer

    stop = stop or asyncio.Event()
    regmap = load_register_map(cfg.modbus.map_file)
    home.mkdir(parents=True, exist_ok=True)
    marker = home / MARKER
    crashed = marker.exists()
    store = Store.open(home, cfg.store.url, cfg.store.sqlite_synchronous, cfg.store.busy_timeout_ms)
    comps: Components = (
        components
        if components is not None
        else await asyncio.get_running_loop().run_in_executor(None, build_components, cfg, fast)
    )
    c = cfg.cell
    interval = 0.0 if fast else c.part_interval_s
    options = CellOptions(
        parts_target=parts,
        feeder_enabled=c.feeder == "simulated",
        part_interval_s=interval,
        max_task_retries=c.max_task_retries,
        robot_task_timeout_s=c.robot_task_timeout_s,
        sim_operator_response_s=c.sim_operator_response_s if cfg.robot.driver == "sim" else None,
    )
    feeder = SimulatedFeeder(np.random.default_rng(c.seed), c.default_recipe, run_tag())
    station = None
    pool = None
    if comps.station_factory is not None:
        executor = process_pool(comps.station_factory, cfg.vision.inference_workers)
        why = await asyncio.get_running_loop().run_in_executor(executor, worker_ready)
        if why:
            executor.shutdown(cancel_futures=True)
            comps.robot.close()
            raise CellStartError(f"cannot start the cell: inspection worker: {why}")
        pool = (executor, process_in_worker)
    else:
        assert comps.source is not None and comps.inspector is not None
        station = InspectionStation(comps.source, comps.inspector, comps.truth)
    cell = Cell(
        store,
        station,
        comps.robot,
        feeder,
        options,
        clock=VirtualClock() if fast else RealClock(),
        config_sha256=config_sha256(cfg),
        inspection_workers=cfg.vision.inference_workers,
        default_recipe=c.default_recipe,
        inspection_pool=pool,
    )
    opcua = CellOpcuaServer(cell, cfg, home, port=opcua_port)
    modbus = CellModbusServer(
        cell,
        regmap,
        cfg.modbus.host,
        cfg.modbus.port if modbus_port is None else modbus_port,
        cfg.modbus.device_id,
        cfg.modbus.allow_list,
        cfg.modbus.plc_watchdog_s,
    )
    t0 = time.perf_counter()
    interventions_before = cell.stats.interventions
    marker.write_text(f"{os.getpid()} {datetime.now(UTC).isoformat()}\n")
    try:
        await opcua.start()
        await modbus.start()
        await cell.start()
        if on_started is not None:
            on_started(cell, opcua, modbus)
        if crashed:
            cell.alarms.raise_alarm(
                "RESTART_AFTER_CRASH", "the last run did not stop cleanly: started STOPPED", AlarmSeverity.MEDIUM
            )
            log.warning("previous run did not stop cleanly: the cell stays STOPPED")
        elif c.auto_start:
            cell.command(PackMLCommand.RESET, user="system")
            if await cell.wait_state({S.IDLE}, 60):
                cell.command(PackMLCommand.START, user="system")
        done_states = {S.COMPLETE, S.ABORTED} if parts else set()
        waits: list[asyncio.Task[Any]] = [asyncio.create_task(stop.wait())]
        if done_states:
            waits.append(asyncio.create_task(cell.wait_state(done_states)))
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
        wall = time.perf_counter() - t0
        summary = summarize(cell, wall, interventions_before, interval)
        await cell.shutdown()
        summary["final_state"] = packml_name(cell.state)
    finally:
        await modbus.stop()
        await opcua.stop()
        try:
            comps.robot.close()
        except Exception:
            log.exception("robot close failed")
        store.close()
    marker.unlink(missing_ok=True)
    return summary
