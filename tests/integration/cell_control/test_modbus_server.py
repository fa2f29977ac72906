"""The Modbus TCP server with a real client and raw frames: map, handshake, exception codes."""

from __future__ import annotations

import asyncio
import socket
import struct
from pathlib import Path

from pymodbus.client import AsyncModbusTcpClient

from cell_control.modbus.regmap import load_register_map
from cell_control.modbus.server import CellModbusServer, ascii_to_regs, regs_to_ascii
from cell_control.types import PackMLState as S
from tests.cell_fakes import make_cell

REPO = Path(__file__).resolve().parents[3]


async def _serve(home: Path, feeder: bool = False, allow: tuple[str, ...] = ("127.0.0.1",)):  # type: ignore[no-untyped-def]
    cell, _store, _robot = make_cell(home, parts_target=None, feeder=feeder)
    regmap = load_register_map(REPO / "configs" / "modbus_map.yaml")
    srv = CellModbusServer(cell, regmap, port=0, allow_list=allow, plc_watchdog_s=0)
    await srv.start()
    await cell.start()
    return cell, srv


async def raw(port: int, pdu: bytes, unit: int = 1) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(struct.pack(">HHHB", 7, 0, len(pdu) + 1, unit) + pdu)
    await writer.drain()
    head = await asyncio.wait_for(reader.readexactly(7), 5)
    length = struct.unpack(">H", head[4:6])[0]
    body = await reader.readexactly(length - 1)
    writer.close()
    return body


def test_ascii_roundtrip() -> None:
    assert regs_to_ascii(ascii_to_regs("W-000123", 8)) == "W-000123"
    assert ascii_to_regs("AB", 2) == [0x4142, 0]


def test_plc_handshake_and_registers(home: Path) -> None:
    async def go() -> None:
        cell, srv = await _serve(home)
        client = AsyncModbusTcpClient("127.0.0.1", port=srv.port)
        try:
            await client.connect()
            ir = await client.read_input_registers(0, count=28, device_id=1)
            assert not ir.isError() and ir.registers[0] == int(S.STOPPED)
            # reset and start by coils (pulses read back 0)
            assert not (await client.write_coil(2, True, device_id=1)).isError()
            await asyncio.wait_for(cell.wait_state({S.IDLE}), 5)
            assert not (await client.write_coil(0, True, device_id=1)).isError()
            await asyncio.wait_for(cell.wait_state({S.EXECUTE}), 5)
            coils = await client.read_coils(0, count=6, device_id=1)
            assert coils.bits[:6] == [False] * 6
            # handshake: serial + recipe, then part_present
            await client.write_registers(2, ascii_to_regs("PLC-0001", 8), device_id=1)
            await client.write_register(1, 1, device_id=1)
            await client.write_coil(5, True, device_id=1)
            await asyncio.wait_for(cell.wait_processed(1), 10)
            di = await client.read_discrete_inputs(0, count=5, device_id=1)
            assert di.bits[1] is True and di.bits[0] is False  # done, not busy
            ir = await client.read_input_registers(0, count=28, device_id=1)
            regs = ir.registers
            assert regs[0] == int(S.EXECUTE)
            assert (regs[2] << 16 | regs[3]) == 1 == cell.stats.processed
            assert regs[10] in (1, 2, 3) and regs[17] == 1
            assert regs_to_ascii(regs[20:28]) == "PLC-0001"
            await client.write_coil(5, False, device_id=1)
            di = await client.read_discrete_inputs(0, count=5, device_id=1)
            assert di.bits[1] is False
            # command word: Stop (3) reads back 0
            await client.write_register(0, 3, device_id=1)
            hr = await client.read_holding_registers(0, count=1, device_id=1)
            assert hr.registers == [0]
            await asyncio.wait_for(cell.wait_state({S.STOPPED}), 10)
        finally:
            client.close()
            await cell.shutdown()
            await srv.stop()

    asyncio.run(go())


def test_exception_codes_on_raw_frames(home: Path) -> None:
    async def go() -> None:
        cell, srv = await _serve(home)
        try:
            # write single coil 10: not in the map -> 0x85 02
            assert await raw(srv.port, struct.pack(">BHH", 5, 10, 0xFF00)) == bytes([0x85, 0x02])
            # write holding register 11 (read-only mirror) -> 0x86 02
            assert await raw(srv.port, struct.pack(">BHH", 6, 11, 1)) == bytes([0x86, 0x02])
            # write holding register 500 (absent) -> 0x86 02
            assert await raw(srv.port, struct.pack(">BHH", 6, 500, 1)) == bytes([0x86, 0x02])
            # command word 42 (no such PackML command) -> 0x86 03; nothing changes
            assert await raw(srv.port, struct.pack(">BHH", 6, 0, 42)) == bytes([0x86, 0x03])
            assert cell.state == S.STOPPED
            # read input registers beyond the map -> 0x84 02
            assert await raw(srv.port, struct.pack(">BHH", 4, 100, 2)) == bytes([0x84, 0x02])
            # FC 4 read of the state register works
            body = await raw(srv.port, struct.pack(">BHH", 4, 0, 1))
            assert body[:2] == bytes([4, 2]) and struct.unpack(">H", body[2:4])[0] == int(S.STOPPED)
        finally:
            await cell.shutdown()
            await srv.stop()

    asyncio.run(go())


def test_allow_list_refuses_others(home: Path) -> None:
    async def go() -> None:
        cell, srv = await _serve(home, allow=("10.9.9.9",))
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            writer.write(struct.pack(">HHHB", 1, 0, 6, 1) + struct.pack(">BHH", 4, 0, 1))
            await writer.drain()
            data = await asyncio.wait_for(reader.read(100), 5)
            assert data == b""  # closed without an answer
        finally:
            await cell.shutdown()
            await srv.stop()

    asyncio.run(go())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_plc_heartbeat_silence_stops_the_cell(home: Path) -> None:
    async def go() -> None:
        cell, _store, _robot = make_cell(home, parts_target=None)
        regmap = load_register_map(REPO / "configs" / "modbus_map.yaml")
        srv = CellModbusServer(cell, regmap, port=0, plc_watchdog_s=0.6)
        await srv.start()
        await cell.start()
        client = AsyncModbusTcpClient("127.0.0.1", port=srv.port)
        try:
            await client.connect()
            await client.write_register(10, 1, device_id=1)  # arms the watchdog
            await client.write_coil(2, True, device_id=1)
            await asyncio.wait_for(cell.wait_state({S.IDLE}), 5)
            await client.write_coil(0, True, device_id=1)
            await asyncio.wait_for(cell.wait_state({S.EXECUTE}), 5)
            # the PLC goes silent
            await asyncio.wait_for(cell.wait_state({S.STOPPING, S.STOPPED}), 10)
            assert cell.alarms.is_active("PLC_LINK_LOST")
            for beat in range(2, 8):  # it is back, counting
                await client.write_register(10, beat, device_id=1)
                await asyncio.sleep(0.2)
            assert not cell.alarms.is_active("PLC_LINK_LOST")
        finally:
            client.close()
            await cell.shutdown()
            await srv.stop()

    asyncio.run(go())
