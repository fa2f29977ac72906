"""`ironcell bench vision|robot|comms|cell [--json]`: each target lives with the code it measures."""

from __future__ import annotations

import importlib
import json
from enum import StrEnum
from typing import Any

import typer

# target -> module with `run_bench(quick: bool) -> dict`
TARGETS = {
    "vision": "vision.bench",
    "robot": "robot.bench",
    "comms": "cell_control.bench_comms",
    "cell": "cell_control.bench_cell",
    "xray": "vision.xray.bench",
    "report": "cell_control.reports.bench",
}


class Target(StrEnum):
    vision = "vision"
    robot = "robot"
    comms = "comms"
    cell = "cell"
    xray = "xray"
    report = "report"


def register(app: typer.Typer) -> None:
    @app.command("bench")
    def bench(
        target: Target = typer.Argument(..., help="what to measure"),
        json_out: bool = typer.Option(False, "--json", help="print one JSON object"),
        quick: bool = typer.Option(False, "--quick", help="fewer repetitions (smoke run)"),
    ) -> None:
        """Run a benchmark; --json prints one object with the keys listed in the README."""
        module = importlib.import_module(TARGETS[target.value])
        result: dict[str, Any] = module.run_bench(quick=quick)
        if json_out:
            typer.echo(json.dumps(result, sort_keys=True))
        else:
            for k, v in result.items():
                typer.echo(f"{k:32s} {v}")
