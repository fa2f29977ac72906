"""`ironcell inspect` (owned by the detector work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
