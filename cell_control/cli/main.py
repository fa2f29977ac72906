"""Entry point of the `ironcell` console script.

Heavy imports (torch, mujoco, asyncua) happen inside the commands, so `ironcell --help` stays fast.
"""

from __future__ import annotations

import typer

from cell_control.cli import (
    cmd_bench,
    cmd_config,
    cmd_hmi,
    cmd_inspect,
    cmd_report,
    cmd_run,
    cmd_security,
    cmd_train,
    cmd_xray,
)

app = typer.Typer(
    name="ironcell",
    help="ironcell: AI X-ray inspection and robot sorting cell.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
train_app = typer.Typer(help="Train the models.", no_args_is_help=True)
evaluate_app = typer.Typer(help="Evaluate the models.", no_args_is_help=True)
app.add_typer(train_app, name="train")
app.add_typer(evaluate_app, name="evaluate")

cmd_config.register(app)
cmd_xray.register(app)
cmd_inspect.register(app)
cmd_train.register(train_app, evaluate_app)
cmd_bench.register(app)
cmd_run.register(app)
cmd_security.register(app)
cmd_report.register(app)
cmd_hmi.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
