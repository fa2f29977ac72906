"""The real OPC UA link against a small asyncua server built with the cell's own security pieces
(Basic256Sha256 SignAndEncrypt, users.json passwords, trust list, per-call role check): the snapshot
follows the server, commands arrive under the logged-in user's identity, refusals come back as words,
and a server that goes away shows as unreachable and is found again when it returns."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from asyncua import Server, ua

from cell_control.opcua.names import MACHINES_FOLDER, NAMESPACE_URI, CellNodes
from cell_control.opcua.pki import TrustListValidator, ensure_server_certificate
from cell_control.opcua.security import CellUserManager, denied, install_session_user_hook
from cell_control.types import PackMLState
from cell_control.users import Action, UserStore
from hmi.decode import poll_plan
from hmi.identity import Identity
from hmi.link import OpcuaCellLink
from hmi.model import Command, CommandKind

PW = "correct-horse-1"
CELL = "TestCell"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MiniCell:
    """Just enough of the cell's address space (names.py) for the HMI, on its own thread."""

    def __init__(self, home: Path, port: int) -> None:
        self.home, self.port = home, port
        self.calls: list[tuple[str, str, tuple[Any, ...]]] = []
        self.state = PackMLState.IDLE
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main(ready)), daemon=True)
        self._thread.start()
        assert ready.wait(30), "mini server did not start"

    def reset_state(self) -> None:
        """Back to IDLE with no calls recorded (the module shares one server)."""
        assert self._loop is not None
        self.state = PackMLState.IDLE
        asyncio.run_coroutine_threadsafe(self._idle_state(), self._loop).result(10)
        self.calls.clear()

    def stop(self) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread:
            self._thread.join(10)

    async def _main(self, ready: threading.Event) -> None:
        install_session_user_hook()
        server = Server(user_manager=CellUserManager(UserStore(self.home, rounds=4)))  # type: ignore[arg-type]
        await server.init()
        server.set_endpoint(f"opc.tcp://127.0.0.1:{self.port}/ironcell/")
        await server.set_application_uri("urn:ironcell:opcua:server")
        server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
        server.set_security_IDs(["Username"])
        cert, key = ensure_server_certificate(self.home, "urn:ironcell:opcua:server")
        await server.load_certificate(str(cert))
        await server.load_private_key(str(key))
        server.set_certificate_validator(TrustListValidator(self.home))  # type: ignore[arg-type]
        idx = await server.register_namespace(NAMESPACE_URI)
        n = CellNodes(CELL, idx)
        machines = await server.nodes.objects.add_folder(ua.NodeId(MACHINES_FOLDER, idx), f"{idx}:{MACHINES_FOLDER}")
        machine = await machines.add_object(ua.NodeId.from_string(n.machine), f"{idx}:{CELL}")
        values: dict[str, Any] = {
            "state": ua.Variant(int(self.state), ua.VariantType.Int32),
            "ProcessedCount": ua.Variant(3, ua.VariantType.Int32),
            "robot_mode": "running",
            "robot_force": 4.5,
            "robot_tcp": [0.4, 0.1, 0.3, 1.0, 0.0, 0.0, 0.0],
            "alarms": json.dumps(
                [
                    {
                        "id": 5,
                        "code": "XRAY",
                        "message": "tube warm",
                        "severity": 500,
                        "state": "unacknowledged",
                        "changed_at": "2026-11-21T10:00:00Z",
                    }
                ]
            ),
        }
        self.vars = {}
        for key, nid in poll_plan(n).items():
            if key in values:
                self.vars[key] = await machine.add_variable(ua.NodeId.from_string(nid), f"{idx}:{key}", values[key])
        sm = await machine.add_object(ua.NodeId.from_string(n.state_machine), f"{idx}:BaseStateMachine")
        alarms = await machine.add_object(ua.NodeId.from_string(n.alarms), f"{idx}:Alarms")

        def method(name: str, action: Action, then: Callable[[], Any] | None = None) -> Any:
            async def fn(parent: ua.NodeId, *args: Any) -> Any:
                user, bad = denied(action)
                self.calls.append((name, user, tuple(a.Value if isinstance(a, ua.Variant) else a for a in args)))
                if bad is not None:
                    return bad
                if then is not None:
                    return await then()
                return []

            return fn

        async def start() -> Any:
            if self.state is not PackMLState.IDLE:
                return ua.StatusCode(ua.StatusCodes.BadInvalidState)  # as the cell answers
            self.state = PackMLState.EXECUTE
            await self.vars["state"].write_value(ua.Variant(int(self.state), ua.VariantType.Int32))
            return []

        await sm.add_method(
            ua.NodeId.from_string(n.command_method("Start")),
            f"{idx}:Start",
            method("Start", Action.START, start),
            [],
            [],
        )
        await alarms.add_method(
            ua.NodeId.from_string(n.acknowledge_alarm),
            f"{idx}:AcknowledgeAlarm",
            method("AcknowledgeAlarm", Action.ACKNOWLEDGE),
            [],
            [],
        )
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._idle_state = lambda: self.vars["state"].write_value(
            ua.Variant(int(PackMLState.IDLE), ua.VariantType.Int32)
        )
        async with server:
            ready.set()
            await self._stop.wait()


def wait_for(pred: Callable[[], bool], timeout_s: float = 30.0) -> None:
    t_end = time.monotonic() + timeout_s
    while time.monotonic() < t_end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture(scope="module")
def _shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MiniCell, OpcuaCellLink, UserStore]]:
    # one server and one link for the module: certificates and sessions are the slow part
    home = tmp_path_factory.mktemp("link") / "var"
    users = UserStore(home, rounds=4)
    users.add("olga", "operator", PW)
    users.add("vera", "viewer", PW)
    users.add("hmi-monitor", "viewer", PW)
    port = free_port()
    cell = MiniCell(home, port)
    cell.start()
    link = OpcuaCellLink(f"opc.tcp://127.0.0.1:{port}", home, Identity("hmi-monitor", PW), refresh_s=0.1)
    link.start()
    yield cell, link, users
    link.stop()
    cell.stop()


@pytest.fixture
def cell_and_link(_shared: tuple[MiniCell, OpcuaCellLink, UserStore]) -> tuple[MiniCell, OpcuaCellLink, UserStore]:
    cell, _link, _ = _shared
    cell.reset_state()
    return _shared


def test_snapshot_follows_the_cell(cell_and_link: tuple[MiniCell, OpcuaCellLink, UserStore]) -> None:
    _cell, link, _ = cell_and_link
    wait_for(lambda: link.snapshot().connected and link.snapshot().state is PackMLState.IDLE)
    snap = link.snapshot()
    assert snap.cell_name == CELL
    assert snap.state is PackMLState.IDLE
    assert snap.processed == 3
    assert snap.robot is not None and snap.robot.tcp_position_m == (0.4, 0.1, 0.3)
    assert [(a.alarm_id, a.state) for a in snap.alarms] == [("5", "unacknowledged")]


def test_commands_run_under_the_users_own_identity(cell_and_link: tuple[MiniCell, OpcuaCellLink, UserStore]) -> None:
    cell, link, _ = cell_and_link
    wait_for(lambda: link.snapshot().connected)
    olga = link.open_session("olga", PW)
    res = link.send(olga, Command(CommandKind.START))
    assert res.ok, res.message
    assert cell.calls[-1][:2] == ("Start", "olga")
    wait_for(lambda: link.snapshot().state is PackMLState.EXECUTE)
    res = link.send(olga, Command(CommandKind.ACKNOWLEDGE, alarm_id="5", reason=""))
    assert res.ok, res.message
    assert cell.calls[-1] == ("AcknowledgeAlarm", "olga", (5, ""))
    again = link.send(olga, Command(CommandKind.START))  # EXECUTE: the cell refuses
    assert not again.ok and "refused start" in again.message


def test_viewer_refused_by_the_cell(cell_and_link: tuple[MiniCell, OpcuaCellLink, UserStore]) -> None:
    cell, link, _ = cell_and_link
    wait_for(lambda: link.snapshot().connected)
    res = link.send(link.open_session("vera", PW), Command(CommandKind.START))
    assert not res.ok and "BadUserAccessDenied" in res.message
    assert cell.state is PackMLState.IDLE


def test_wrong_password_at_the_cell(cell_and_link: tuple[MiniCell, OpcuaCellLink, UserStore]) -> None:
    _cell, link, _ = cell_and_link
    res = link.send(link.open_session("olga", "not-her-password"), Command(CommandKind.START))
    assert not res.ok and "user name or password" in res.message


def test_unreachable_then_reconnects(home: Path) -> None:
    users = UserStore(home, rounds=4)
    users.add("hmi-monitor", "viewer", PW)
    port = free_port()
    link = OpcuaCellLink(f"opc.tcp://127.0.0.1:{port}", home, Identity("hmi-monitor", PW), refresh_s=0.1, timeout_s=1.0)
    link.start()
    try:
        wait_for(lambda: "cannot reach the cell" in link.snapshot().error)
        assert not link.snapshot().connected
        cell = MiniCell(home, port)
        cell.start()
        try:
            wait_for(lambda: link.snapshot().connected)
        finally:
            cell.stop()
        wait_for(lambda: not link.snapshot().connected)
    finally:
        link.stop()
