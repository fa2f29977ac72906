"""The cell's OPC UA server (asyncua): address space per names.py, secure by default, values mirrored
from the cell on change, alarms and inspection results as events.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncua import Node, Server, ua

from cell_control import packml
from cell_control.alarms import Alarm
from cell_control.cell import Cell
from cell_control.config import IroncellConfig
from cell_control.opcua import names
from cell_control.opcua.camera import CameraPublisher
from cell_control.opcua.methods import MethodHandlers
from cell_control.opcua.pki import TrustListValidator, ensure_server_certificate
from cell_control.opcua.security import CellUserManager, install_session_user_hook
from cell_control.users import UserStore

log = logging.getLogger(__name__)
VT = ua.VariantType
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class OpcuaSettings:
    host: str
    port: int
    application_uri: str
    allow_insecure_loopback: bool
    cell_name: str


def string_nid(path: str, idx: int) -> ua.NodeId:
    return ua.NodeId(path, idx)  # type: ignore[arg-type]  # asyncua types these as NewTypes


def endpoint_url(host: str, port: int) -> str:
    h = f"[{host}]" if ":" in host else host
    return f"opc.tcp://{h}:{port}/ironcell/"


class CellOpcuaServer:
    def __init__(self, cell: Cell, cfg: IroncellConfig, home: Path, port: int | None = None) -> None:
        self.cell = cell
        self.cfg = cfg
        self.home = home
        self.settings = OpcuaSettings(
            cfg.opcua.host,
            cfg.opcua.port if port is None else port,
            cfg.opcua.application_uri,
            cfg.opcua.allow_insecure_loopback,
            cfg.cell.name,
        )
        self.n = names.CellNodes(cfg.cell.name)
        self.server = Server(user_manager=CellUserManager(UserStore(home)))  # type: ignore[arg-type]
        self._vars: dict[str, tuple[Node, ua.VariantType]] = {}
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._updater: asyncio.Task[None] | None = None
        self._camera: CameraPublisher | None = None
        self._alarm_gen: Any = None
        self._result_gen: Any = None
        self._events: list[tuple[str, Any]] = []
        self.idx = names.NAMESPACE_INDEX

    @property
    def url(self) -> str:
        return endpoint_url(self.settings.host, self.settings.port)

    async def start(self) -> None:
        s = self.settings
        if s.allow_insecure_loopback and s.host not in LOOPBACK:
            raise ValueError(f"opcua.allow_insecure_loopback needs a loopback host, got {s.host!r}")
        install_session_user_hook()
        await self.server.init()
        self.server.set_endpoint(self.url)
        self.server.set_server_name(f"ironcell {s.cell_name}")
        await self.server.set_application_uri(s.application_uri)
        policies = [ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt]
        if s.allow_insecure_loopback:
            policies.append(ua.SecurityPolicyType.NoSecurity)
        self.server.set_security_policy(policies)
        self.server.set_identity_tokens([ua.UserNameIdentityToken])
        cert, key = ensure_server_certificate(self.home, s.application_uri)
        await self.server.load_certificate(str(cert))
        await self.server.load_private_key(str(key))
        self.server.set_certificate_validator(TrustListValidator(self.home))  # type: ignore[arg-type]
        self.idx = await self.server.register_namespace(names.NAMESPACE_URI)
        self.n = names.CellNodes(s.cell_name, self.idx)
        await self._build()
        await self.server.start()
        self.cell.subscribe(self._on_cell)
        self.cell.alarms.subscribe(self._on_alarm)
        self._dirty.update({"state", "part", "robot", "alarms", "command"})
        self._updater = asyncio.create_task(self._update_loop())
        if self._camera is not None:
            self._camera.install()
        log.info("OPC UA server on %s (policies: %s)", self.url, ", ".join(p.name for p in policies))

    async def stop(self) -> None:
        if self._camera is not None:
            await self._camera.stop()
        if self._updater is not None:
            self._updater.cancel()
            await asyncio.gather(self._updater, return_exceptions=True)
        await self.server.stop()

    # --- address space -----------------------------------------------------------------------------
    def _nid(self, path: str) -> ua.NodeId:
        return string_nid(f"{self.settings.cell_name}.{path}" if path else self.settings.cell_name, self.idx)

    async def _obj(self, parent: Node, path: str, bname: str) -> Node:
        return await parent.add_object(self._nid(path), ua.QualifiedName(bname, self.idx))

    async def _var(self, parent: Node, path: str, value: Any, vt: ua.VariantType) -> Node:
        bname = path.rsplit(".", 1)[-1]
        node = await parent.add_variable(self._nid(path), ua.QualifiedName(bname, self.idx), ua.Variant(value, vt))
        self._vars[path] = (node, vt)
        return node

    async def _build(self) -> None:
        c = self.cfg.cell
        objects = self.server.nodes.objects
        machines = await objects.add_folder(string_nid(names.MACHINES_FOLDER, self.idx), f"{self.idx}:Machines")
        machine = await self._obj(machines, "", self.settings.cell_name)
        await machine.set_event_notifier([ua.EventNotifier.SubscribeToEvents])
        self.machine = machine
        ident = await self._obj(machine, "Identification", "Identification")
        from importlib.metadata import PackageNotFoundError, version

        try:
            sw = version("ironcell")
        except PackageNotFoundError:
            sw = "0"
        ident_values: dict[str, Any] = {
            "Manufacturer": ua.LocalizedText(c.manufacturer),
            "Model": ua.LocalizedText(c.model),
            "SerialNumber": c.serial_number,
            "ProductInstanceUri": c.product_instance_uri,
            "SoftwareRevision": sw,
            "YearOfConstruction": 2026,
            "ComponentName": ua.LocalizedText(c.name),
            "Location": "",
        }
        for name, value in ident_values.items():
            vt = (
                VT.LocalizedText
                if isinstance(value, ua.LocalizedText)
                else VT.UInt16
                if isinstance(value, int)
                else VT.String
            )
            await self._var(ident, f"Identification.{name}", value, vt)

        pk = await self._obj(machine, "PackML", "PackML")
        st = await self._obj(pk, "PackML.Status", "Status")
        for path, value, vt in (
            ("StateCurrent", int(self.cell.state), VT.Int32),
            ("StateCurrentText", packml.state_text(self.cell.state), VT.String),
            ("UnitModeCurrent", 1, VT.Int32),
            ("CurMachSpeed", 0.0, VT.Double),
            ("StateChangedAt", self.cell.state_changed_at, VT.DateTime),
            ("LastCommandResult", "", VT.String),
        ):
            await self._var(st, f"PackML.Status.{path}", value, vt)
        adm = await self._obj(pk, "PackML.Admin", "Admin")
        for path in ("ProdProcessedCount", "ProdDefectiveCount", "ProdReviewCount", "ProdOkCount"):
            await self._var(adm, f"PackML.Admin.{path}", 0, VT.Int32)
        await self._var(adm, "PackML.Admin.AccTimeSinceReset", 0.0, VT.Double)
        await self._var(adm, "PackML.Admin.LastCycleTime", 0.0, VT.Double)
        sm = await self._obj(pk, "PackML.BaseStateMachine", "BaseStateMachine")

        xs = await self._obj(machine, "XrayStation", "XrayStation")
        vsm = await self._obj(xs, "XrayStation.VisionStateMachine", "VisionStateMachine")
        await self._var(vsm, "XrayStation.VisionStateMachine.CurrentState", "Preoperational", VT.String)
        am = await self._obj(xs, "XrayStation.AutomaticMode", "AutomaticMode")
        rm = await self._obj(xs, "XrayStation.ResultManagement", "ResultManagement")
        lr = await self._obj(rm, "XrayStation.ResultManagement.LastResult", "LastResult")
        for path, value, vt in (
            ("JobId", "", VT.String),
            ("PartId", "", VT.String),
            ("RecipeId", "", VT.String),
            ("Verdict", "", VT.String),
            ("FlawCount", 0, VT.Int32),
            ("ImageSha256", "", VT.String),
            ("ResultState", 0, VT.Int32),
            ("ProcessingTime", 0.0, VT.Double),
            ("Defects", "[]", VT.String),
            ("CreationTime", self.cell.state_changed_at, VT.DateTime),
        ):
            await self._var(lr, f"XrayStation.ResultManagement.LastResult.{path}", value, vt)

        rb = await self._obj(machine, "Robot", "Robot")
        for path, value, vt in (
            ("JointPositions", [0.0], VT.Double),
            ("TcpPose", [0.0] * 7, VT.Double),
            ("Mode", "", VT.String),
            ("ContactForce", 0.0, VT.Double),
            ("ProtectiveStop", False, VT.Boolean),
            ("CurrentTaskId", "", VT.String),
            ("LastTaskOutcome", "", VT.String),
            ("TasksCompleted", 0, VT.Int32),
            ("Interventions", 0, VT.Int32),
        ):
            await self._var(rb, f"Robot.{path}", value, vt)
        # the robot's rendered view for the HMI, made only while a client reads it (opcua/camera.py)
        cam = await self._var(rb, "Robot.CameraImage", b"", VT.ByteString)
        self._camera = CameraPublisher(self.server, cam.nodeid, self.cell.robot, self.cfg.robot.render_fps)

        al = await self._obj(machine, "Alarms", "Alarms")
        await self._var(al, "Alarms.ActiveAlarms", "[]", VT.String)
        await self._var(al, "Alarms.ActiveAlarmCount", 0, VT.UInt32)
        await self._var(al, "Alarms.UnacknowledgedCount", 0, VT.UInt32)

        handlers = MethodHandlers(self.cell, self._nid, self.idx)
        await handlers.add_all(sm, am, rm, rb, al)
        await self._event_types()

    async def _event_types(self) -> None:
        base = self.server.nodes.base_event_type
        gens = []
        for tname, fields in (
            (names.ALARM_EVENT_TYPE, (("AlarmId", VT.UInt32), ("AlarmCode", VT.String), ("AlarmState", VT.String),
                                      ("PartId", VT.String))),
            (names.RESULT_EVENT_TYPE, (("JobId", VT.String), ("PartId", VT.String), ("Verdict", VT.String),
                                       ("FlawCount", VT.Int32), ("ImageSha256", VT.String))),
        ):  # fmt: skip
            et = await base.add_object_type(string_nid(f"Types.{tname}", self.idx), ua.QualifiedName(tname, self.idx))
            for fname, vt in fields:
                await et.add_property(
                    string_nid(f"Types.{tname}.{fname}", self.idx),
                    ua.QualifiedName(fname, self.idx),
                    ua.get_default_value(vt),
                    varianttype=vt,
                )
            gens.append(await self.server.get_event_generator(et, self.machine.nodeid))
        self._alarm_gen, self._result_gen = gens

    # --- mirroring the cell --------------------------------------------------------------------
    def _on_cell(self, kind: str) -> None:
        self._dirty.add(kind)
        if kind == "part" and self.cell.last_part is not None:
            self._events.append(("result", self.cell.last_part))
        self._wake.set()

    def _on_alarm(self, alarm: Alarm) -> None:
        self._events.append(("alarm", alarm))
        self._dirty.add("alarms")
        self._wake.set()

    async def _set(self, path: str, value: Any) -> None:
        node, vt = self._vars[path]
        await self.server.write_attribute_value(node.nodeid, ua.DataValue(ua.Variant(value, vt)))

    async def _update_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            dirty, self._dirty = self._dirty, set()
            events, self._events = self._events, []
            try:
                await self._flush(dirty)
                for kind, obj in events:
                    await self._fire(kind, obj)
            except Exception:
                log.exception("OPC UA update failed")
            await asyncio.sleep(0.02)  # coalesce bursts; values stay at most ~20 ms behind

    async def _flush(self, dirty: set[str]) -> None:
        cell = self.cell
        if dirty & {"state", "command"}:
            await self._set("PackML.Status.StateCurrent", int(cell.state))
            await self._set("PackML.Status.StateCurrentText", packml.state_text(cell.state))
            await self._set("PackML.Status.StateChangedAt", cell.state_changed_at)
            await self._set("PackML.Status.LastCommandResult", cell.last_command_result)
            vstate = {"EXECUTE": "Operational", "STOPPED": "Halted", "ABORTED": "Error"}.get(cell.state.name, "Ready")
            await self._set("XrayStation.VisionStateMachine.CurrentState", vstate)
        if "part" in dirty or "state" in dirty:
            st = cell.stats
            await self._set("PackML.Admin.ProdProcessedCount", st.processed)
            await self._set("PackML.Status.CurMachSpeed", cell.parts_per_min())
            await self._set("PackML.Admin.ProdDefectiveCount", st.nok)
            await self._set("PackML.Admin.ProdReviewCount", st.review)
            await self._set("PackML.Admin.ProdOkCount", st.ok)
            await self._set("Robot.TasksCompleted", st.tasks_completed)
            await self._set("Robot.Interventions", st.interventions)
            p = cell.last_part
            if p is not None:
                base = "XrayStation.ResultManagement.LastResult."
                await self._set(base + "JobId", p.job_id)
                await self._set(base + "PartId", p.serial)
                await self._set(base + "RecipeId", p.recipe)
                await self._set(base + "Verdict", p.verdict.value)
                await self._set(base + "FlawCount", p.flaw_count)
                await self._set(base + "ImageSha256", p.image_sha256)
                await self._set(base + "ResultState", 2 if p.error else 1)
                await self._set(base + "ProcessingTime", float(p.latency_ms))
                await self._set(base + "Defects", json.dumps(list(p.defects)))
                await self._set(base + "CreationTime", p.finished_at)
                await self._set("PackML.Admin.LastCycleTime", float(p.cycle_s))
                await self._set("Robot.LastTaskOutcome", p.task_outcome)
        if "robot" in dirty and cell.robot_state is not None:
            r = cell.robot_state
            await self._set("Robot.JointPositions", [float(q) for q in r.joint_positions_rad] or [0.0])
            await self._set("Robot.TcpPose", [*map(float, r.tcp_pose.position_m), *map(float, r.tcp_pose.quat_wxyz)])
            await self._set("Robot.Mode", r.mode.value)
            await self._set("Robot.ContactForce", float(r.contact_force_n))
            await self._set("Robot.ProtectiveStop", r.mode.value == "protective_stop")
            await self._set("Robot.CurrentTaskId", r.current_task_id or "")
        if "alarms" in dirty:
            open_alarms = cell.alarms.open_alarms()
            await self._set("Alarms.ActiveAlarms", json.dumps([a.as_json() for a in open_alarms]))
            await self._set("Alarms.ActiveAlarmCount", len(open_alarms))
            await self._set("Alarms.UnacknowledgedCount", cell.alarms.unacknowledged_count())

    async def _fire(self, kind: str, obj: Any) -> None:
        if kind == "alarm":
            a: Alarm = obj
            ev = self._alarm_gen.event
            ev.AlarmId = ua.Variant(a.id, VT.UInt32)
            ev.AlarmCode = a.code
            ev.AlarmState = a.state.value
            ev.PartId = a.part_serial or ""
            ev.Severity = int(a.severity)
            await self._alarm_gen.trigger(message=f"{a.code} {a.state.value}: {a.message}")
        else:
            p = obj
            ev = self._result_gen.event
            ev.JobId, ev.PartId, ev.Verdict = p.job_id, p.serial, p.verdict.value
            ev.FlawCount = ua.Variant(p.flaw_count, VT.Int32)
            ev.ImageSha256 = p.image_sha256
            ev.Severity = 100
            await self._result_gen.trigger(message=f"result {p.job_id}: {p.verdict.value}")
