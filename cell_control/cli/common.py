"""Helpers shared by the CLI commands: config loading with a clean error exit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from cell_control.config import ConfigError, IroncellConfig, load_config


def load_or_exit(path: Path | None, overrides: dict[str, Any] | None = None) -> IroncellConfig:
    try:
        return load_config(path, {k: v for k, v in (overrides or {}).items() if v is not None})
    except ConfigError as exc:
        typer.echo(f"config error:\n{exc}", err=True)
        raise typer.Exit(2) from exc


ConfigOpt = typer.Option(None, "--config", "-c", help="cell config YAML (default configs/cell.yaml)")
