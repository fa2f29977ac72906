"""The cell's Modbus TCP server (pymodbus 3.16 SimDevice, async) for the line PLC.

The register map comes from configs/modbus_map.yaml. Values are filled from the cell at the moment a
request reads them; writes are checked against the map first (absent or read-only: exception 02, value
out of range: 03) and then acted on. Handshake with the PLC (see README "Modbus TCP"):

1. PLC writes part_serial (+ recipe), then sets coil part_present.
2. The cell queues a job (job_busy = 1) and inspects and sorts the part.
3. When the part is recorded: last_verdict, last_flaw_count, last_serial are valid, job_sequence + 1,
   job_done = 1, job_busy = 0.
4. PLC reads the verdict and clears part_present; the cell clears job_done.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Iterable
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler
from pymodbus.simulator import DataType, SimData, SimDevice

from cell_control.cell import Cell, CellError
from cell_control.modbus.regmap import Entry, RegisterMap
from cell_control.types import AlarmSeverity, AlarmState, PackMLCommand, PackMLState
from robot.types import RobotMode

log = logging.getLogger(__name__)

COIL_COMMANDS = {
    "start": PackMLCommand.START,
    "stop": PackMLCommand.STOP,
    "reset": PackMLCommand.RESET,
    "abort": PackMLCommand.ABORT,
}
VERDICT_CODE = {"OK": 1, "NOK": 2, "REVIEW": 3}
ROBOT_CODE = {
    RobotMode.IDLE: 0,
    RobotMode.RUNNING: 1,
    RobotMode.PROTECTIVE_STOP: 2,
    RobotMode.EMERGENCY_STOP: 3,
    RobotMode.FAULT: 4,
}
RECIPES = {0: "", 1: "wheel", 2: "housing"}
FC_READ_COILS, FC_READ_DI, FC_READ_HR, FC_READ_IR = 1, 2, 3, 4
FC_WRITE_COILS = (5, 15)
FC_WRITE_HR = (6, 16, 22, 23)


def ascii_to_regs(text: str, count: int) -> list[int]:
    raw = text.encode("ascii", "replace")[: 2 * count].ljust(2 * count, b"\0")
    return [(raw[2 * i] << 8) | raw[2 * i + 1] for i in range(count)]


def regs_to_ascii(regs: Iterable[int]) -> str:
    raw = b"".join(bytes([(r >> 8) & 0xFF, r & 0xFF]) for r in regs)
    return raw.split(b"\0", 1)[0].decode("ascii", "replace").strip()


def bits_to_regs(bits: list[bool]) -> list[int]:
    out = []
    for i in range(0, len(bits), 16):
        out.append(sum(1 << j for j, b in enumerate(bits[i : i + 16]) if b))
    return out


class _AllowListHandler(ServerRequestHandler):
    allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    def connection_made(self, transport: Any) -> None:
        peer = transport.get_extra_info("peername")
        host = peer[0] if peer else ""
        try:
            ip = ipaddress.ip_address(host)
            ok = any(ip in net for net in self.allow)
        except ValueError:
            ok = False
        if not ok:
            log.warning("Modbus connection from %s refused (not in modbus.allow_list)", host)
            transport.close()
            return
        super().connection_made(transport)


class CellModbusServer:
    def __init__(
        self,
        cell: Cell,
        regmap: RegisterMap,
        host: str = "127.0.0.1",
        port: int = 5020,
        device_id: int = 1,
        allow_list: Iterable[str] = ("127.0.0.1",),
        plc_watchdog_s: float = 5.0,
    ) -> None:
        self.cell = cell
        self.map = regmap
        self.host, self.port, self.device_id = host, port, device_id
        self.allow = tuple(ipaddress.ip_network(a, strict=False) for a in allow_list)
        self.watchdog_s = plc_watchdog_s
        self.c = regmap.table("coils")
        self.d = regmap.table("discrete_inputs")
        self.h = regmap.table("holding_registers")
        self.i = regmap.table("input_registers")
        self.coils = [False] * regmap.size("coils")
        self.hr = [0] * regmap.size("holding_registers")
        self.job_id: str | None = None
        self.job_done = False
        self.job_sequence = 0
        self.requests = 0
        self._hb_value: int | None = None
        self._hb_changed = time.monotonic()
        self._server: ModbusTcpServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._started = time.monotonic()

    # --- lifecycle ---------------------------------------------------------------------------------
    def _device(self) -> SimDevice:
        def bits(n: int) -> list[SimData]:
            return [SimData(0, count=n, values=False, datatype=DataType.BITS)]

        def regs(n: int) -> list[SimData]:
            return [SimData(0, count=n, values=0, datatype=DataType.REGISTERS)]

        return SimDevice(
            id=self.device_id,
            simdata=(
                bits(self.map.size("coils")),
                bits(self.map.size("discrete_inputs")),
                regs(self.map.size("holding_registers")),
                regs(self.map.size("input_registers")),
            ),
            action=self._action,
        )

    async def start(self) -> None:
        handler_cls = type("CellModbusHandler", (_AllowListHandler,), {"allow": self.allow})
        server = ModbusTcpServer(self._device(), address=(self.host, self.port))
        server.callback_new_connection = lambda: handler_cls(server, None, None, None)  # type: ignore[method-assign]
        await server.serve_forever(background=True)
        self._server = server
        if self.port == 0 and server.transport is not None:
            self.port = server.transport.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.cell.subscribe(self._on_cell)
        self._tasks.append(asyncio.create_task(self._watchdog()))
        log.info("Modbus TCP server on %s:%d (device id %d)", self.host, self.port, self.device_id)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.shutdown()

    # --- the cell's side -----------------------------------------------------------------------------
    def _on_cell(self, kind: str) -> None:
        p = self.cell.last_part
        if kind == "part" and p is not None and self.job_id is not None and p.job_id == self.job_id:
            self.job_done = True
            self.job_id = None
            self.job_sequence = (self.job_sequence + 1) & 0xFFFF

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            if self.watchdog_s <= 0 or self._hb_value is None:
                continue
            silent = time.monotonic() - self._hb_changed
            if silent > self.watchdog_s and not self.cell.alarms.is_active("PLC_LINK_LOST"):
                self.cell.alarms.raise_alarm(
                    "PLC_LINK_LOST", f"PLC heartbeat silent for {silent:.1f} s", AlarmSeverity.CRITICAL
                )
                if self.cell.state not in (PackMLState.STOPPED, PackMLState.STOPPING, PackMLState.ABORTED):
                    self.cell.command(PackMLCommand.STOP, user="system", reason="PLC link lost")
            elif silent <= self.watchdog_s and self.cell.alarms.is_active("PLC_LINK_LOST"):
                self.cell.alarms.clear("PLC_LINK_LOST")

    def _input_registers(self) -> list[int]:
        cell, st = self.cell, self.cell.stats
        ir = [0] * self.map.size("input_registers")

        def put(name: str, value: int | str) -> None:
            e = self.i.get(name)
            if e is None:
                return
            if e.type == "ascii":
                ir[e.address : e.end] = ascii_to_regs(str(value), e.count)
            elif e.type == "uint32":
                v = int(value) & 0xFFFFFFFF
                ir[e.address : e.end] = [v >> 16, v & 0xFFFF]
            else:
                ir[e.address] = int(value) & 0xFFFF

        p = cell.last_part
        put("packml_state", int(cell.state))
        put("unit_mode", 1)
        put("processed_count", st.processed)
        put("ok_count", st.ok)
        put("nok_count", st.nok)
        put("review_count", st.review)
        put("last_verdict", VERDICT_CODE.get(p.verdict.value, 0) if p else 0)
        put("last_flaw_count", p.flaw_count if p else 0)
        put("last_cycle_time_ms", round(p.cycle_s * 1000) if p else 0)
        rs = cell.robot_state
        put("robot_status", 5 if not cell.robot_link_ok else ROBOT_CODE.get(rs.mode, 0) if rs else 0)
        alarms = cell.alarms.open_alarms()
        put("active_alarm_count", len(alarms))
        put("unack_alarm_count", cell.alarms.unacknowledged_count())
        put("job_sequence", self.job_sequence)
        res = cell.last_command_result
        put("last_command_result", 0 if not res else 1 if res == "accepted" else 2)
        put("heartbeat", int(time.monotonic() - self._started))
        put("last_serial", p.serial if p else "")
        return ir

    def _discrete_inputs(self) -> list[bool]:
        cell = self.cell
        rs = cell.robot_state
        values = {
            "job_busy": self.job_id is not None,
            "job_done": self.job_done,
            "alarm_active": bool(cell.alarms.open_alarms()),
            "in_execute": cell.state == PackMLState.EXECUTE,
            "robot_ready": cell.robot_link_ok and (rs is None or rs.mode in (RobotMode.IDLE, RobotMode.RUNNING)),
        }
        bits = [False] * self.map.size("discrete_inputs")
        for name, e in self.d.items():
            bits[e.address] = values.get(name, False)
        return bits

    def _holding(self) -> list[int]:
        hr = list(self.hr)
        e = self.h.get("job_sequence_echo")
        if e is not None:
            hr[e.address] = self.job_sequence
        return hr

    # --- requests ------------------------------------------------------------------------------------
    @staticmethod
    def _fill(registers: list[int], values: list[int]) -> None:
        n = min(len(registers), len(values))
        registers[:n] = values[:n]

    async def _action(
        self,
        fc: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        self.requests += 1
        try:
            if values is None:
                if fc == FC_READ_IR:
                    self._fill(registers, self._input_registers())
                elif fc == FC_READ_HR:
                    self._fill(registers, self._holding())
                elif fc == FC_READ_DI:
                    self._fill(registers, bits_to_regs(self._discrete_inputs() + [False] * 16))
                elif fc == FC_READ_COILS:
                    self._fill(registers, bits_to_regs(self.coils + [False] * 16))
                return None
            if fc in FC_WRITE_COILS:
                return self._write_coils(address, [bool(v) for v in values])
            if fc in FC_WRITE_HR:
                return self._write_holding(address, values)  # type: ignore[arg-type]
            return ExcCodes.ILLEGAL_FUNCTION
        except Exception:
            log.exception("Modbus request fc=%d address=%d failed", fc, address)
            return ExcCodes.DEVICE_FAILURE

    def _entry_at(self, table: dict[str, Entry], addr: int) -> Entry | None:
        return next((e for e in table.values() if e.address <= addr < e.end), None)

    def _write_coils(self, address: int, bits: list[bool]) -> ExcCodes | None:
        entries = [self._entry_at(self.c, address + k) for k in range(len(bits))]
        if any(e is None or e.access != "rw" for e in entries):
            return ExcCodes.ILLEGAL_ADDRESS
        for k, (e, v) in enumerate(zip(entries, bits, strict=True)):
            assert e is not None
            was = self.coils[e.address]
            if e.name in COIL_COMMANDS:
                if v and not was:
                    self.cell.command(COIL_COMMANDS[e.name], user="plc", channel="modbus")
                bits[k] = False  # pulse: reads back 0 once taken
            elif e.name == "acknowledge":
                if v:
                    for a in self.cell.alarms.open_alarms():
                        if a.state in (AlarmState.UNACK_ACTIVE, AlarmState.RTN_UNACK):
                            self.cell.alarms.acknowledge(a.id, "plc", "acknowledged from the PLC")
                    self.cell._audit("plc", "modbus", "alarm.acknowledge_all", True, "")
                bits[k] = False
            elif e.name == "part_present":
                if v and not was:
                    if self._start_plc_job() is not None:
                        return ExcCodes.DEVICE_BUSY
                elif not v and was:
                    self.job_done = False
            self.coils[e.address] = bits[k]
        return None

    def _start_plc_job(self) -> str | None:
        e = self.h["part_serial"]
        serial = regs_to_ascii(self.hr[e.address : e.end])
        recipe = RECIPES.get(self.hr[self.h["recipe"].address], "") or self.cell.default_recipe
        if not serial:
            return "no serial"
        try:
            self.job_id = self.cell.submit_job(serial, recipe, "plc")
        except CellError as exc:
            log.warning("PLC job for %s refused: %s", serial, exc)
            self.cell._audit("plc", "modbus", "xray.start_job", False, str(exc))
            return str(exc)
        self.job_done = False
        return None

    def _write_holding(self, address: int, regs: list[int]) -> ExcCodes | None:
        entries = [self._entry_at(self.h, address + k) for k in range(len(regs))]
        if any(e is None or e.access != "rw" for e in entries):
            return ExcCodes.ILLEGAL_ADDRESS
        for e, v in zip(entries, regs, strict=True):
            assert e is not None
            if e.type != "ascii" and not (e.min <= v <= e.max):
                return ExcCodes.ILLEGAL_VALUE
        for k, (e, v) in enumerate(zip(entries, regs, strict=True)):
            assert e is not None
            if e.name == "command_word" and v:
                self.cell.command(PackMLCommand(v), user="plc", channel="modbus")
                regs[k] = 0
            elif e.name == "plc_heartbeat" and v != self._hb_value:
                self._hb_value = v
                self._hb_changed = time.monotonic()
            self.hr[address + k] = regs[k]
        return None
