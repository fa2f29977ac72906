"""The OPC UA server over the network with asyncua's client: security, roles, methods, bad arguments."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest
from asyncua import Client, ua
from asyncua.ua.uaerrors import UaStatusCodeError

from cell_control.config import IroncellConfig
from cell_control.opcua import names
from cell_control.opcua.client import secure_client
from cell_control.opcua.server import CellOpcuaServer
from cell_control.types import PackMLState as S
from cell_control.users import UserStore
from tests.cell_fakes import make_cell

N = names.CellNodes("XrayCell1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _serve(home: Path, parts: int | None = None, feeder: bool = True, insecure: bool = False):  # type: ignore[no-untyped-def]
    users = UserStore(home, rounds=4)
    users.add("op", "operator", "op-password")
    users.add("eng", "engineer", "eng-password")
    users.add("view", "viewer", "view-password")
    cfg = IroncellConfig.model_validate({"opcua": {"port": free_port(), "allow_insecure_loopback": insecure}})
    cell, _store, _robot = make_cell(home, parts_target=parts, feeder=feeder)
    srv = CellOpcuaServer(cell, cfg, home)
    await srv.start()
    await cell.start()
    return cell, srv


async def _code(coro) -> int:  # type: ignore[no-untyped-def]
    try:
        await coro
    except UaStatusCodeError as exc:
        return int(exc.code)
    return 0


def test_secure_session_browse_read_call(home: Path) -> None:
    async def go() -> None:
        cell, srv = await _serve(home, parts=3)
        try:
            async with await secure_client(srv.url, "op", "op-password", home, "t1") as c:
                ns = await c.get_namespace_index(names.NAMESPACE_URI)
                assert ns == names.NAMESPACE_INDEX
                objects = c.nodes.objects
                machine = await objects.get_child(N.browse_path(""))
                assert machine.nodeid.to_string() == N.machine
                model = await c.get_node(N.identification("Model")).read_value()
                assert model.Text == "ironcell X-ray sorting cell"
                assert await c.get_node(N.state_current).read_value() == int(S.STOPPED)
                sm = c.get_node(N.state_machine)
                await sm.call_method(ua.NodeId.from_string(N.command_method("Reset")))
                await asyncio.wait_for(cell.wait_state({S.IDLE}), 5)
                await sm.call_method(ua.NodeId.from_string(N.command_method("Start")))
                await asyncio.wait_for(cell.wait_state({S.COMPLETE}), 20)
                await asyncio.sleep(0.2)
                assert await c.get_node(N.processed_count).read_value() == 3
                assert await c.get_node(N.state_current_text).read_value() == "Complete"
                job = await c.get_node(N.last_result("JobId")).read_value()
                res = await c.get_node(N.result_management).call_method(ua.NodeId.from_string(N.get_result_by_id), job)
                assert json.loads(res)["job_id"] == job
                # Start is not valid in Complete: Bad status, nothing changes
                code = await _code(sm.call_method(ua.NodeId.from_string(N.command_method("Start"))))
                assert code == ua.StatusCodes.BadInvalidState
                assert "not valid" in await c.get_node(N.last_command_result).read_value()
                assert cell.state == S.COMPLETE
        finally:
            await cell.shutdown()
            await srv.stop()

    asyncio.run(go())


def test_bad_arguments_and_viewer_refused(home: Path) -> None:
    async def go() -> None:
        cell, srv = await _serve(home, parts=None, feeder=False)
        try:
            async with await secure_client(srv.url, "view", "view-password", home, "t2") as c:
                assert await c.get_node(N.state_current).read_value() == int(S.STOPPED)
                sm = c.get_node(N.state_machine)
                code = await _code(sm.call_method(ua.NodeId.from_string(N.command_method("Reset"))))
                assert code == ua.StatusCodes.BadUserAccessDenied
                assert cell.state == S.STOPPED
                am = c.get_node(N.automatic_mode)
                code = await _code(am.call_method(ua.NodeId.from_string(N.start_single_job), "P1", "wheel"))
                assert code == ua.StatusCodes.BadUserAccessDenied
            async with await secure_client(srv.url, "op", "op-password", home, "t2") as c:
                am = c.get_node(N.automatic_mode)
                sj = ua.NodeId.from_string(N.start_single_job)
                assert await _code(am.call_method(sj, "", "wheel")) == ua.StatusCodes.BadInvalidArgument
                assert await _code(am.call_method(sj, "P1", "bogus")) == ua.StatusCodes.BadInvalidArgument
                assert await _code(am.call_method(sj, "P1")) == ua.StatusCodes.BadArgumentsMissing
                assert await _code(am.call_method(sj, "P1", "wheel", "x")) == ua.StatusCodes.BadTooManyArguments
                assert await _code(am.call_method(sj, ua.Variant(5, ua.VariantType.Int32), "wheel")) == (
                    ua.StatusCodes.BadTypeMismatch
                )
                # not in a state that takes jobs
                assert await _code(am.call_method(sj, "P1", "wheel")) == ua.StatusCodes.BadInvalidState
                al = c.get_node(N.alarms)
                ack = ua.NodeId.from_string(N.acknowledge_alarm)
                code = await _code(al.call_method(ack, ua.Variant(999, ua.VariantType.UInt32), "x"))
                assert code == ua.StatusCodes.BadInvalidArgument
                # operators may not shelve
                shelve = ua.NodeId.from_string(N.shelve_alarm)
                code = await _code(al.call_method(shelve, ua.Variant(1, ua.VariantType.UInt32), "noise"))
                assert code == ua.StatusCodes.BadUserAccessDenied
                # a PLC-less job through OPC UA in Execute
                sm = c.get_node(N.state_machine)
                await sm.call_method(ua.NodeId.from_string(N.command_method("Reset")))
                await asyncio.wait_for(cell.wait_state({S.IDLE}), 5)
                await sm.call_method(ua.NodeId.from_string(N.command_method("Start")))
                await asyncio.wait_for(cell.wait_state({S.EXECUTE}), 5)
                job = await am.call_method(sj, "SER-42", "wheel")
                await asyncio.wait_for(cell.wait_processed(1), 10)
                assert cell.history[-1].job_id == job and cell.history[-1].serial == "SER-42"
        finally:
            await cell.shutdown()
            await srv.stop()

    asyncio.run(go())


def test_wrong_password_anonymous_and_untrusted_cert_refused(home: Path) -> None:
    async def go() -> None:
        cell, srv = await _serve(home, feeder=False)
        try:
            c = await secure_client(srv.url, "op", "wrong-password", home, "t3")
            with pytest.raises(Exception):  # noqa: B017 - asyncua raises BadUserAccessDenied variants
                await c.connect()
            anon = Client(srv.url, timeout=5)
            with pytest.raises(Exception):  # noqa: B017 - no anonymous token, no insecure endpoint
                await anon.connect()
            # a certificate nobody trusted lands in pki/rejected
            from cell_control.opcua.pki import PkiDirs, ensure_client_certificate

            cert, key, uri = ensure_client_certificate(home, "stranger")
            for p in PkiDirs.of(home).trusted.iterdir():
                p.unlink()
            c2 = Client(srv.url, timeout=5)
            c2.application_uri = uri
            c2.set_user("op")
            c2.set_password("op-password")
            await c2.set_security_string(f"Basic256Sha256,SignAndEncrypt,{cert},{key}")
            with pytest.raises(Exception):  # noqa: B017
                await c2.connect()
            assert list(PkiDirs.of(home).rejected.iterdir())
        finally:
            await cell.shutdown()
            await srv.stop()

    asyncio.run(go())


def test_insecure_loopback_endpoint_only_when_asked(home: Path) -> None:
    async def go() -> None:
        cell, srv = await _serve(home, feeder=False, insecure=True)
        try:
            c = Client(srv.url, timeout=5)
            c.set_user("view")
            c.set_password("view-password")
            async with c:
                assert await c.get_node(N.state_current).read_value() == int(S.STOPPED)
        finally:
            await cell.shutdown()
            await srv.stop()

    asyncio.run(go())
    # and never on a wider address: the config loader and the server both refuse it
    from cell_control.config import ConfigError, load_config

    p = home.parent / "wide.yaml"
    p.write_text("opcua:\n  host: 0.0.0.0\n  allow_insecure_loopback: true\n")
    with pytest.raises(ConfigError, match="loopback"):
        load_config(p, environ={})
    wide = IroncellConfig.model_validate({"opcua": {"host": "0.0.0.0", "allow_insecure_loopback": True}})
    cell, _store, _robot = make_cell(home, feeder=False)
    with pytest.raises(ValueError, match="loopback"):
        asyncio.run(CellOpcuaServer(cell, wide, home).start())


def test_alarms_and_results_arrive_as_events(home: Path) -> None:
    class Handler:
        def __init__(self) -> None:
            self.events: list[object] = []

        def event_notification(self, event: object) -> None:
            self.events.append(event)

    async def go() -> None:
        cell, srv = await _serve(home, parts=1)
        try:
            async with await secure_client(srv.url, "eng", "eng-password", home, "t5") as c:
                h = Handler()
                sub = await c.create_subscription(50, h)
                machine = c.get_node(N.machine)
                alarm_type = c.get_node(N.event_type(names.ALARM_EVENT_TYPE))
                result_type = c.get_node(N.event_type(names.RESULT_EVENT_TYPE))
                await sub.subscribe_events(machine, [alarm_type, result_type])
                a = cell.alarms.raise_alarm("TEST_ALARM", "raised by the test")
                sm = c.get_node(N.state_machine)
                await sm.call_method(ua.NodeId.from_string(N.command_method("Reset")))
                await asyncio.wait_for(cell.wait_state({S.IDLE}), 5)
                await sm.call_method(ua.NodeId.from_string(N.command_method("Start")))
                await asyncio.wait_for(cell.wait_state({S.COMPLETE}), 20)
                al = c.get_node(N.alarms)
                await al.call_method(
                    ua.NodeId.from_string(N.shelve_alarm), ua.Variant(a.id, ua.VariantType.UInt32), "test"
                )
                for _ in range(50):
                    if len(h.events) >= 3:
                        break
                    await asyncio.sleep(0.1)
                fields = [getattr(e, "AlarmCode", None) or getattr(e, "JobId", None) for e in h.events]
                assert "TEST_ALARM" in fields
                assert cell.history[0].job_id in fields
                states = [getattr(e, "AlarmState", None) for e in h.events if getattr(e, "AlarmCode", None)]
                assert "unacknowledged" in states and "shelved" in states
                active = json.loads(await c.get_node(N.active_alarms).read_value())
                assert any(x["code"] == "TEST_ALARM" and x["state"] == "shelved" for x in active)
        finally:
            await cell.shutdown()
            await srv.stop()

    asyncio.run(go())


def test_set_command_and_manual_dispatch(home: Path) -> None:
    async def go() -> None:
        cell, srv = await _serve(home, feeder=False)
        try:
            async with await secure_client(srv.url, "op", "op-password", home, "t6") as c:
                sm = c.get_node(N.state_machine)
                setc = ua.NodeId.from_string(N.command_method("SetCommand"))
                assert await _code(sm.call_method(setc, ua.Variant(42, ua.VariantType.Int32))) == (
                    ua.StatusCodes.BadInvalidArgument
                )
                await sm.call_method(setc, ua.Variant(1, ua.VariantType.Int32))  # Reset
                await asyncio.wait_for(cell.wait_state({S.IDLE}), 5)
                rb = c.get_node(N.robot)
                disp = ua.NodeId.from_string(N.dispatch_pick_place)
                code = await _code(rb.call_method(disp, "P-9", "nok_bin"))
                assert code == ua.StatusCodes.BadUserAccessDenied  # engineers only
                abort = ua.NodeId.from_string(N.command_method("Abort"))
                assert await _code(sm.call_method(abort)) == ua.StatusCodes.BadUserAccessDenied
            async with await secure_client(srv.url, "eng", "eng-password", home, "t6") as c:
                rb = c.get_node(N.robot)
                disp = ua.NodeId.from_string(N.dispatch_pick_place)
                assert await _code(rb.call_method(disp, "P-9", "the_floor")) == ua.StatusCodes.BadInvalidArgument
                task_id = await rb.call_method(disp, "P-9", "nok_bin")
                assert task_id.startswith("M")
                for _ in range(50):
                    if not cell._robot_busy:
                        break
                    await asyncio.sleep(0.05)
                assert cell.robot.submitted[-1].target.value == "nok_bin"  # type: ignore[attr-defined]
                # no protective stop to reset: refused with a reason, nothing happens
                reset = ua.NodeId.from_string(N.reset_protective_stop)
                assert await _code(rb.call_method(reset)) == ua.StatusCodes.BadInvalidState
        finally:
            await cell.shutdown()
            await srv.stop()

    asyncio.run(go())
