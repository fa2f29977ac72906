"""`ironcell simulate-xray` (owned by the X-ray simulator work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
