"""`ironcell train ...` and `ironcell evaluate ...` (owned by the detector and anomaly work)."""

from __future__ import annotations

import typer


def register(train_app: typer.Typer, evaluate_app: typer.Typer) -> None:
    pass
