"""Shared fixtures: every test gets its own IRONCELL_HOME, and nothing touches the network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "0")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "var"
    monkeypatch.setenv("IRONCELL_HOME", str(h))
    return h


@pytest.fixture
def repo_root() -> Path:
    return REPO
