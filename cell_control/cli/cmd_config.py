"""`ironcell config check`."""

from __future__ import annotations

from pathlib import Path

import typer

from cell_control.cli.common import load_or_exit
from cell_control.config import dump_effective, ironcell_home


def register(app: typer.Typer) -> None:
    config_app = typer.Typer(help="Validate and show the configuration.", no_args_is_help=True)
    app.add_typer(config_app, name="config")

    @config_app.command("check")
    def check(file: Path = typer.Argument(None, help="config file (default configs/cell.yaml)")) -> None:
        """Validate a config and print the effective one (file + IRONCELL__* overrides)."""
        cfg = load_or_exit(file)
        typer.echo(dump_effective(cfg), nl=False)
        home = ironcell_home()
        store = cfg.store.url or f"sqlite:///{home / 'ironcell.db'}"
        typer.echo(f"# IRONCELL_HOME: {home}\n# store: {store}")
