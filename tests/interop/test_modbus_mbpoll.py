"""Interoperability: Debian's mbpoll (an independent Modbus master, 1-based register numbers) against the
cell's Modbus TCP server: read input registers, write a coil, and a refused write.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

import pytest

from cell_control.modbus.regmap import load_register_map
from cell_control.modbus.server import CellModbusServer
from cell_control.types import PackMLState as S
from tests.cell_fakes import make_cell

REPO = Path(__file__).resolve().parents[2]
MBPOLL = shutil.which("mbpoll")
pytestmark = pytest.mark.skipif(MBPOLL is None, reason="needs Debian mbpoll (make sysdeps)")


async def mbpoll(port: int, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        str(MBPOLL), "-m", "tcp", "-a", "1", "-p", str(port), "-1", "-o", "2", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode or 0, out.decode()


def values(text: str) -> dict[int, int]:
    return {int(m.group(1)): int(m.group(2)) for m in re.finditer(r"^\[(\d+)\]:\s+(-?\d+)", text, re.M)}


def test_mbpoll_reads_and_writes(home: Path) -> None:
    async def go() -> None:
        cell, _store, _robot = make_cell(home, parts_target=None)
        srv = CellModbusServer(cell, load_register_map(REPO / "configs" / "modbus_map.yaml"), port=0, plc_watchdog_s=0)
        await srv.start()
        await cell.start()
        try:
            # input registers 1..20 (1-based): register 1 is the PackML state
            rc, out = await mbpoll(srv.port, "-t", "3", "-r", "1", "-c", "20", "127.0.0.1")
            assert rc == 0, out
            regs = values(out)
            assert regs[1] == int(S.STOPPED) and regs[2] == 1  # state, unit mode
            # coil 3 (1-based) = reset
            rc, out = await mbpoll(srv.port, "-t", "0", "-r", "3", "127.0.0.1", "1")
            assert rc == 0, out
            await asyncio.wait_for(cell.wait_state({S.IDLE}), 5)
            rc, out = await mbpoll(srv.port, "-t", "0", "-r", "1", "127.0.0.1", "1")  # start
            assert rc == 0, out
            await asyncio.wait_for(cell.wait_processed(2), 10)
            rc, out = await mbpoll(srv.port, "-t", "3", "-r", "1", "-c", "20", "127.0.0.1")
            regs = values(out)
            assert regs[1] == int(S.EXECUTE)
            assert (regs[3] << 16 | regs[4]) >= 2  # processed count, two registers, high word first
            # holding register 12 (1-based) is read-only: the write is refused with an exception
            rc, out = await mbpoll(srv.port, "-t", "4", "-r", "12", "127.0.0.1", "7")
            assert rc != 0 and "Illegal data address" in out, out
        finally:
            await cell.shutdown()
            await srv.stop()

    asyncio.run(go())
