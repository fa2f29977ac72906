"""`ironcell run [--config F] [--parts N] [--fast] [--opcua-port P] [--modbus-port P]`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from cell_control.cli.common import ConfigOpt, load_or_exit


def print_summary(s: dict[str, Any]) -> None:
    v = s["verdicts"]
    acc = "n/a" if s["accuracy"] is None else f"{100 * s['accuracy']:.1f}%"
    lines = [
        f"parts                 {s['parts']}  (OK {v['OK']}, NOK {v['NOK']}, REVIEW {v['REVIEW']})",
        f"accuracy vs truth     {acc}  over {s['ground_truth_known']} parts with known ground truth",
        f"escapes               {s['escapes']}  ({100 * s['escape_rate']:.2f}% of truly NOK parts judged OK)",
        f"false rejects         {s['false_rejects']}  "
        f"({100 * s['false_reject_rate']:.2f}% of truly OK parts judged NOK)",
        f"to review             {s['good_parts_to_review']} good, {s['bad_parts_to_review']} bad",
        f"inspection errors     {s['inspection_errors']}",
        f"tasks completed       {s['tasks_completed']}; interventions {s['interventions']}; "
        f"tasks/intervention {s['tasks_per_intervention']}; autonomous recoveries {s['autonomous_recoveries']}",
        f"cycle time            {s['cycle_time_s_mean']:.2f} s mean (robot motion {s['robot_cycle_s_mean']:.2f} s, "
        f"inspection {s['inspection_s_mean']:.3f} s)",
        f"throughput            {s['throughput_parts_per_h']:.0f} parts/h at real-time takt; "
        f"this run {s['wall_parts_per_h']:.0f} parts/h over {s['wall_s']:.1f} s wall",
        f"verdict->dispatch     p99 {s['verdict_to_dispatch_ms_p99']:.2f} ms",
        f"final state           {s['final_state']}",
    ]
    typer.echo("\n".join(lines))


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        config: Path = ConfigOpt,
        parts: int = typer.Option(None, "--parts", min=1, help="stop after N parts and print a summary"),
        fast: bool = typer.Option(False, "--fast", help="faster than real time (virtual robot clock, no feeder gaps)"),
        opcua_port: int = typer.Option(None, "--opcua-port", min=1, max=65535, help="override opcua.port"),
        modbus_port: int = typer.Option(None, "--modbus-port", min=1, max=65535, help="override modbus.port"),
        json_out: bool = typer.Option(False, "--json", help="print the summary as one JSON object"),
    ) -> None:
        """Run the cell: simulated parts, X-ray, inspector, robot, OPC UA and Modbus servers, store."""
        import asyncio
        import signal

        from cell_control.config import ConfigError, ironcell_home
        from cell_control.logs import setup_logging
        from cell_control.runtime import CellStartError, run_cell

        cfg = load_or_exit(config, {"opcua.port": opcua_port, "modbus.port": modbus_port})
        home = ironcell_home()
        setup_logging(cfg.logging.level, cfg.logging.json_lines)

        async def main() -> dict[str, Any]:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            return await run_cell(cfg, home, parts=parts, fast=fast, stop=stop)

        try:
            summary = asyncio.run(main())
        except (ConfigError, CellStartError, OSError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        if json_out:
            typer.echo(json.dumps(summary, sort_keys=True))
        else:
            print_summary(summary)
