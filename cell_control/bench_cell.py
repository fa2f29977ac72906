"""`ironcell bench cell`: a simulated production run with the real parts (X-ray simulator, ONNX inspector,
MuJoCo robot process on virtual time) in a throw-away IRONCELL_HOME.

`throughput_parts_per_h` is the real-time rate the run implies: each part costs the longer of the
robot's (simulated, real-time) motion and the next part's inspection plus feeder gap, because the two
overlap. `wall_parts_per_h` is what this faster-than-real-time run achieved on this machine.
`escape_rate` = truly NOK parts judged OK / truly NOK parts; `false_reject_rate` = truly OK parts judged
NOK / truly OK parts (ground truth: the simulator's flaws graded by the same acceptance rules).
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

from cell_control.config import load_config
from cell_control.runtime import run_cell

FULL_PARTS = 500
QUICK_PARTS = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_bench(quick: bool = False, parts: int | None = None) -> dict[str, Any]:
    n = parts or (QUICK_PARTS if quick else FULL_PARTS)
    cfg = load_config(overrides={"logging.level": "WARNING"})
    with tempfile.TemporaryDirectory(prefix="ironcell-bench-cell-") as tmp:
        home = Path(tmp)
        os.environ["IRONCELL_HOME"] = str(home)
        summary = asyncio.run(run_cell(cfg, home, parts=n, fast=True, opcua_port=free_port(), modbus_port=0))
    return {
        "throughput_parts_per_h": summary["throughput_parts_per_h"],
        "tasks_per_intervention": summary["tasks_per_intervention"],
        "escape_rate": summary["escape_rate"],
        "false_reject_rate": summary["false_reject_rate"],
        "parts": summary["parts"],
        "accuracy": summary["accuracy"],
        "verdicts": summary["verdicts"],
        "interventions": summary["interventions"],
        "autonomous_recoveries": summary["autonomous_recoveries"],
        "good_parts_to_review": summary["good_parts_to_review"],
        "bad_parts_to_review": summary["bad_parts_to_review"],
        "robot_cycle_s_mean": summary["robot_cycle_s_mean"],
        "inspection_s_mean": summary["inspection_s_mean"],
        "wall_parts_per_h": summary["wall_parts_per_h"],
        "wall_s": summary["wall_s"],
        "verdict_to_dispatch_ms_p99": summary["verdict_to_dispatch_ms_p99"],
    }
