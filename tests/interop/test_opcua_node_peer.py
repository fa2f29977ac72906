"""Interoperability: node-opcua-client (an independent implementation) against the cell's OPC UA server
with Basic256Sha256 SignAndEncrypt and a user: browse, read the state, call Reset/Start, subscribe to
the processed counter, and see a bad argument refused. Its certificate is refused first (lands in
pki/rejected/) and trusted with `ironcell certs trust`.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cell_control.cli.main import app
from cell_control.config import IroncellConfig
from cell_control.opcua import names
from cell_control.opcua.pki import PkiDirs
from cell_control.opcua.server import CellOpcuaServer
from cell_control.types import PackMLState as S
from cell_control.users import UserStore
from tests.cell_fakes import make_cell

HERE = Path(__file__).resolve().parent
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(
    NODE is None or not (HERE / "node_modules" / "node-opcua-client").is_dir(),
    reason="needs node and `npm ci` in tests/interop (make sysdeps)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def node_peer(url: str, pki: Path, mode: str, password: str = "op-password") -> tuple[int, dict]:  # type: ignore[type-arg]
    env = {
        **os.environ,
        "URL": url,
        "OPC_USER": "op",
        "OPC_PASSWORD": password,
        "NS_URI": names.NAMESPACE_URI,
        "CELL": "XrayCell1",
        "PKI_DIR": str(pki),
        "MODE": mode,
        "PARTS": "3",
    }
    proc = await asyncio.create_subprocess_exec(
        str(NODE), str(HERE / "opcua_peer.js"), env=env, cwd=HERE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    lines = [ln for ln in out.decode().splitlines() if ln.startswith("{")]
    assert lines, f"no JSON from the node peer; stderr: {err.decode()[-2000:]}"
    return proc.returncode or 0, json.loads(lines[-1])


def test_node_opcua_client(home: Path, tmp_path: Path) -> None:
    async def go() -> None:
        UserStore(home, rounds=4).add("op", "operator", "op-password")
        cfg = IroncellConfig.model_validate({"opcua": {"port": free_port()}})
        cell, _store, _robot = make_cell(home, parts_target=None)
        srv = CellOpcuaServer(cell, cfg, home)
        await srv.start()
        await cell.start()
        pki = tmp_path / "node-pki"
        try:
            rc, res = await node_peer(srv.url, pki, "probe")
            assert rc != 0 and not res["ok"], res  # not trusted yet
            rejected = list(PkiDirs.of(home).rejected.iterdir())
            assert len(rejected) == 1
            r = CliRunner().invoke(app, ["certs", "trust", str(rejected[0])], env={"IRONCELL_HOME": str(home)})
            assert r.exit_code == 0, r.output
            assert not list(PkiDirs.of(home).rejected.iterdir())

            rc, res = await node_peer(srv.url, pki, "probe", password="not-the-password")
            assert rc != 0 and "session" not in res["steps"], res

            rc, res = await node_peer(srv.url, pki, "full")
            assert rc == 0, res
            assert res["browse_status"] == "Good"
            assert res["browse_target"] == "ns=2;s=XrayCell1.PackML.Status.StateCurrent"
            assert {"Identification", "PackML", "XrayStation", "Robot", "Alarms"} <= set(res["machine_children"])
            assert res["state_initial"] == int(S.STOPPED)
            assert res["reset"] == "Good" and res["idle"] and res["start"] == "Good"
            assert res["counter_updates"] and res["counter_updates"][-1] >= 3
            assert res["counter_updates"] == sorted(res["counter_updates"])
            assert res["bad_call"] == "BadInvalidArgument"
        finally:
            await cell.shutdown()
            await srv.stop()

    asyncio.run(go())
