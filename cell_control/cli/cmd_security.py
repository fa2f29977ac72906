"""`ironcell users` and `ironcell certs` (owned by the cell controller work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
