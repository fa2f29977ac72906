"""run_cell end to end with fakes: servers up, parts recorded, clean stop; a crash leaves the cell STOPPED."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from cell_control.config import load_config
from cell_control.runtime import MARKER, Components, run_cell
from cell_control.store import Store
from robot.fake import FakeRobotDriver
from tests.cell_fakes import FakeImageSource, FakeInspector, fake_station, fake_truth

REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cfg():  # type: ignore[no-untyped-def]
    return load_config(REPO / "configs" / "cell.yaml", environ={})


def _components() -> Components:
    return Components(FakeImageSource(), FakeInspector(), FakeRobotDriver(), fake_truth)


def test_run_twenty_parts_fast(home: Path) -> None:
    summary = asyncio.run(run_cell(_cfg(), home, parts=20, fast=True, components=_components(), opcua_port=free_port(),
                                   modbus_port=0))  # fmt: skip
    assert summary["parts"] == 20
    assert sum(summary["verdicts"].values()) == 20
    assert summary["accuracy"] == 1.0 and summary["escapes"] == 0
    assert summary["final_state"] == "Stopped"
    assert not (home / MARKER).exists()
    store = Store.open(home)
    assert store.count_inspections() == 20
    assert store.count_tasks("success") == 20


def test_restart_after_crash_comes_up_stopped(home: Path) -> None:
    asyncio.run(
        run_cell(_cfg(), home, parts=3, fast=True, components=_components(), opcua_port=free_port(), modbus_port=0)
    )
    (home / MARKER).write_text("1 crashed\n")  # as if the process had been killed mid-run
    seen = {}

    async def go() -> dict:  # type: ignore[type-arg]
        stop = asyncio.Event()

        def started(cell, _o, _m) -> None:  # type: ignore[no-untyped-def]
            seen["cell"] = cell
            asyncio.get_running_loop().call_later(0.5, stop.set)

        return await run_cell(
            _cfg(), home, parts=3, fast=True, components=_components(), opcua_port=free_port(), modbus_port=0,
            stop=stop, on_started=started,
        )  # fmt: skip

    summary = asyncio.run(go())
    assert summary["parts"] == 0 and summary["final_state"] == "Stopped"
    assert seen["cell"].stats.processed == 3  # the records of the first run are intact
    assert any(a.code == "RESTART_AFTER_CRASH" for a in seen["cell"].alarms.open_alarms())


def test_inspection_in_a_worker_process(home: Path) -> None:
    comps = Components(None, None, FakeRobotDriver(), station_factory=fake_station)
    summary = asyncio.run(
        run_cell(_cfg(), home, parts=5, fast=True, components=comps, opcua_port=free_port(), modbus_port=0)
    )
    assert summary["parts"] == 5 and summary["accuracy"] == 1.0 and summary["inspection_errors"] == 0
