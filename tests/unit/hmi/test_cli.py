"""`ironcell hmi`: bad flags refused with a message; --init-only prepares certificate and monitor account."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cell_control.cli.main import app
from cell_control.users import Role, UserStore


def test_bad_url_is_refused(home: Path) -> None:
    res = CliRunner().invoke(app, ["hmi", "--opcua-url", "http://cell:4840"])
    assert res.exit_code == 2
    assert "must start with opc.tcp://" in res.output


def test_init_only_makes_certificate_and_viewer_monitor(home: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("IRONCELL_HMI_USER", raising=False)
    res = CliRunner().invoke(app, ["hmi", "--init-only"])
    assert res.exit_code == 0, res.output
    assert (home / "pki" / "clients" / "hmi" / "cert.der").is_file()
    secret = json.loads((home / "hmi" / "monitor.json").read_text())
    assert (home / "hmi" / "monitor.json").stat().st_mode & 0o077 == 0  # only the owner reads it
    assert UserStore(home).verify(secret["user"], secret["password"]) is Role.VIEWER
    # a second start keeps the same account
    assert CliRunner().invoke(app, ["hmi", "--init-only"]).exit_code == 0
    assert json.loads((home / "hmi" / "monitor.json").read_text()) == secret
