"""`ironcell run --parts 3 --fast` as a user runs it: real X-ray simulator, ONNX inspector, MuJoCo robot
process, both servers; then Ctrl-C on an endless run stops it cleanly (slow: minutes on 2 cores)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "models" / "registry" / "detector-default"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not MODEL.exists(), reason="needs the committed detector model"),
]
IRONCELL = [sys.executable, "-m", "cell_control.cli.main"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _args(*extra: str) -> list[str]:
    return [*IRONCELL, "run", "--opcua-port", str(free_port()), "--modbus-port", str(free_port()), *extra]


def test_run_parts_then_summary(home: Path) -> None:
    env = {**os.environ, "IRONCELL_HOME": str(home)}
    r = subprocess.run(_args("--parts", "3", "--fast", "--json"), env=env, cwd=REPO, capture_output=True,
                       text=True, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["parts"] == 3 and summary["tasks_completed"] + summary["interventions"] >= 3
    assert summary["final_state"] == "Stopped"
    assert not (home / "cell.running").exists()


def test_ctrl_c_stops_cleanly(home: Path) -> None:
    env = {**os.environ, "IRONCELL_HOME": str(home)}
    p = subprocess.Popen(_args("--fast", "--json"), env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        from cell_control.store import Store

        while time.monotonic() < deadline:
            time.sleep(2)
            if (home / "ironcell.db").exists() and Store.open(home, migrate=False).count_inspections() >= 2:
                break
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err[-3000:]
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["parts"] >= 2 and summary["final_state"] == "Stopped"
    assert not (home / "cell.running").exists()
