from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cell_control.cli.main import app
from cell_control.users import PERMISSIONS, Action, Role, UserError, UserStore, is_allowed


def test_add_and_verify(home: Path) -> None:
    store = UserStore(home, rounds=4)
    store.add("ann", "operator", "s3cret-pass")
    assert store.verify("ann", "s3cret-pass") == Role.OPERATOR
    assert store.verify("ann", "s3cret-pass") == Role.OPERATOR  # cached path
    assert store.verify("ann", "wrong-pass") is None
    assert store.verify("bob", "s3cret-pass") is None
    assert store.verify(None, None) is None
    data = json.loads((home / "users.json").read_text())
    assert "s3cret-pass" not in json.dumps(data)
    assert data["users"]["ann"]["bcrypt"].startswith("$2")
    assert stat.S_IMODE((home / "users.json").stat().st_mode) == 0o600


def test_bad_input_refused(home: Path) -> None:
    store = UserStore(home, rounds=4)
    with pytest.raises(UserError, match="role"):
        store.add("ann", "admin", "s3cret-pass")
    with pytest.raises(UserError, match="too short"):
        store.add("ann", "viewer", "short")
    with pytest.raises(UserError, match="not allowed"):
        store.add("a n", "viewer", "s3cret-pass")
    store.add("ann", "viewer", "s3cret-pass")
    with pytest.raises(UserError, match="exists"):
        store.add("ann", "engineer", "s3cret-pass")
    store.add("ann", "engineer", "other-pass1", replace=True)
    assert store.verify("ann", "s3cret-pass") is None
    assert store.verify("ann", "other-pass1") == Role.ENGINEER


def test_permission_table() -> None:
    assert PERMISSIONS[Role.VIEWER] == {Action.READ}
    for a in ("start", "stop", "reset", "hold", "unhold", "suspend", "unsuspend", "clear", "acknowledge", "review"):
        assert is_allowed("operator", a)
        assert is_allowed("engineer", a)
        assert not is_allowed("viewer", a)
    for a in ("abort", "shelve", "dispatch", "config"):
        assert not is_allowed("operator", a)
        assert is_allowed("engineer", a)
    assert not is_allowed(None, "read")
    assert not is_allowed("root", "start")
    assert not is_allowed("engineer", "format_disk")


def test_cli_users_add(home: Path) -> None:
    r = CliRunner().invoke(
        app, ["users", "add", "eve", "--role", "engineer", "--password-stdin"], input="pw-12345678\n"
    )
    assert r.exit_code == 0, r.output
    assert UserStore(home).verify("eve", "pw-12345678") == Role.ENGINEER
    r = CliRunner().invoke(app, ["users", "add", "eve2", "--role", "boss", "--password-stdin"], input="pw-12345678\n")
    assert r.exit_code == 2
    assert "role" in r.output
