"""`ironcell bench comms`: OPC UA and Modbus load against the running cell (real parts, robot on its
real-time 1 kHz clock), with the robot loop's deadline misses compared before and under the load.

- `opcua_reads_per_s`: 10 client sessions (Basic256Sha256 SignAndEncrypt + user, as deployed) in a
  separate process, each reading one variable per Read request as fast as the server answers.
  `opcua_values_per_s_batched`: the same sessions reading the 17 values an HMI polls in one request.
- `modbus_requests_per_s`: 4 Modbus TCP clients in a separate process reading one input register each.
- `verdict_to_dispatch_ms_p99`: time from a verdict (or from the robot becoming free, whichever is
  later) to the robot task being submitted, over the parts inspected during the run.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from cell_control.config import load_config

OPCUA_CLIENTS = 10
MODBUS_CLIENTS = 4
USER, PASSWORD = "bench", "bench-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _batch_ids() -> list[str]:
    """What an HMI polls in one Read: state, counters, last result, robot, alarms."""
    from cell_control.opcua.names import CellNodes

    n = CellNodes()
    return [
        n.state_current, n.processed_count, n.defective_count, n.review_count, n.ok_count, n.last_cycle_time,
        n.cur_mach_speed, n.last_command_result, n.last_result("JobId"), n.last_result("PartId"),
        n.last_result("Verdict"), n.last_result("FlawCount"), n.robot_var("Mode"), n.robot_var("TcpPose"),
        n.robot_var("ContactForce"), n.robot_var("ProtectiveStop"), n.active_alarms,
    ]  # fmt: skip


async def _opcua_load(url: str, home: str, seconds: float, clients: int, batch: bool = False) -> int:
    from asyncua import ua

    from cell_control.opcua.client import secure_client
    from cell_control.opcua.names import CellNodes

    node_ids = [CellNodes().state_current, CellNodes().processed_count, CellNodes().robot_var("ContactForce")]
    batch_ids = _batch_ids()
    count = 0
    ready = asyncio.Event()
    conns = [await secure_client(url, USER, PASSWORD, Path(home), "bench") for _ in range(clients)]
    for c in conns:
        await c.connect()

    async def reader(c: Any, k: int) -> None:
        nonlocal count
        node = c.get_node(node_ids[k % len(node_ids)])
        nodes = [c.get_node(i) for i in batch_ids]
        await ready.wait()
        t_end = time.monotonic() + seconds
        while time.monotonic() < t_end:
            if batch:
                dvs = await c.read_attributes(nodes, ua.AttributeIds.Value)
                count += sum(1 for dv in dvs if dv.StatusCode.is_good())
            else:
                await node.read_value()
                count += 1

    tasks = [asyncio.create_task(reader(c, k)) for k, c in enumerate(conns)]
    ready.set()
    await asyncio.gather(*tasks)
    for c in conns:
        await c.disconnect()
    return count


async def _modbus_load(port: int, seconds: float, clients: int) -> int:
    from pymodbus.client import AsyncModbusTcpClient

    count = 0
    conns = [AsyncModbusTcpClient("127.0.0.1", port=port) for _ in range(clients)]
    for c in conns:
        await c.connect()

    async def reader(c: AsyncModbusTcpClient) -> None:
        nonlocal count
        t_end = time.monotonic() + seconds
        while time.monotonic() < t_end:
            rr = await c.read_input_registers(0, count=1, device_id=1)
            if not rr.isError():
                count += 1

    await asyncio.gather(*(reader(c) for c in conns))
    for c in conns:
        c.close()
    return count


def _load_process(kind: str, target: str, home: str, seconds: float, clients: int, out: Any) -> None:
    if kind.startswith("opcua"):
        out.put(asyncio.run(_opcua_load(target, home, seconds, clients, batch=kind == "opcua_batch")))
    else:
        out.put(asyncio.run(_modbus_load(int(target), seconds, clients)))


def _run_load(kind: str, target: str, home: str, seconds: float, clients: int) -> float:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_load_process, args=(kind, target, home, seconds, clients, q), daemon=True)
    t0 = time.monotonic()
    p.start()
    n = q.get(timeout=seconds + 120)
    p.join(30)
    # Rate over the measured window only (connection set-up is outside it).
    return n / seconds if time.monotonic() - t0 >= seconds else 0.0


def _robot_misses(robot: Any) -> tuple[float, float]:
    stats = getattr(robot, "stats", None)
    if stats is None:
        return 0.0, 0.0
    s = stats()
    return float(s.get("deadline_misses", 0.0)), float(s.get("ticks_paced", 0.0))


def run_bench(quick: bool = False) -> dict[str, Any]:
    from cell_control.runtime import run_cell
    from cell_control.users import UserStore

    seconds = 5.0 if quick else 20.0
    cfg = load_config(overrides={"logging.level": "WARNING"})
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="ironcell-bench-comms-") as tmp:
        home = Path(tmp)
        UserStore(home, rounds=4).add(USER, "viewer", PASSWORD)

        async def main() -> dict[str, Any]:
            stop = asyncio.Event()
            started: dict[str, Any] = {}

            def on_started(cell: Any, opcua: Any, modbus: Any) -> None:
                started.update(cell=cell, opcua=opcua, modbus=modbus)

            run = asyncio.create_task(
                run_cell(cfg, home, fast=False, stop=stop, opcua_port=free_port(), modbus_port=0, on_started=on_started)
            )
            while "cell" not in started:
                await asyncio.sleep(0.1)
            cell, opcua, modbus = started["cell"], started["opcua"], started["modbus"]
            loop = asyncio.get_running_loop()
            await cell.wait_processed(1, 180)  # the cell is producing
            m0, t0 = await loop.run_in_executor(None, _robot_misses, cell.robot)
            await asyncio.sleep(seconds)
            m1, t1 = await loop.run_in_executor(None, _robot_misses, cell.robot)
            opc = await loop.run_in_executor(None, _run_load, "opcua", opcua.url, str(home), seconds, OPCUA_CLIENTS)
            opc_batch = await loop.run_in_executor(
                None, _run_load, "opcua_batch", opcua.url, str(home), seconds, OPCUA_CLIENTS
            )
            mb = await loop.run_in_executor(
                None, _run_load, "modbus", str(modbus.port), str(home), seconds, MODBUS_CLIENTS
            )
            m2, t2 = await loop.run_in_executor(None, _robot_misses, cell.robot)
            stop.set()
            summary = await run
            return {
                "opcua_reads_per_s": round(opc, 1),
                "opcua_values_per_s_batched": round(opc_batch, 1),
                "modbus_requests_per_s": round(mb, 1),
                "verdict_to_dispatch_ms_p99": summary["verdict_to_dispatch_ms_p99"],
                "robot_deadline_miss_ratio_idle": round((m1 - m0) / (t1 - t0), 5) if t1 > t0 else None,
                "robot_deadline_miss_ratio_loaded": round((m2 - m1) / (t2 - t1), 5) if t2 > t1 else None,
                "parts_during_bench": summary["parts"],
                "opcua_clients": OPCUA_CLIENTS,
                "modbus_clients": MODBUS_CLIENTS,
                "window_s": seconds,
            }

        result = asyncio.run(main())
    return result
