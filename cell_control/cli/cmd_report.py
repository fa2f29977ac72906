"""`ironcell report` (owned by the reports work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
