"""`ironcell hmi` (owned by the HMI work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
