"""The app entry: login with bcrypt users, wrong passwords, commands under the user's identity, audit."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from cell_control.store.schema import AuditRow
from cell_control.types import PackMLState
from hmi.model import CommandKind
from hmi.runtime import HmiContext
from tests.unit.hmi.conftest import PASSWORD
from tests.unit.hmi.fakes import FakeCell

APP = str(Path(__file__).resolve().parents[3] / "hmi" / "app.py")


def _login(user: str, password: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.text_input(key="login_user").input(user)
    at.text_input(key="login_password").input(password)
    at.button[0].click().run()
    return at


def _audit(ctx: HmiContext) -> list[tuple[str, str, bool]]:
    store = ctx.store()
    assert store is not None
    with store.session() as s:
        return [(r.user, r.action, bool(r.allowed)) for r in s.scalars(select(AuditRow).order_by(AuditRow.id))]


def test_wrong_password_is_refused_clearly_and_audited(ctx: HmiContext) -> None:
    at = _login("olga", "not-her-password")
    assert any("Wrong user name or password" in e.value for e in at.error)
    assert at.text_input(key="login_user") is not None  # still on the login form
    assert ("olga", "login", False) in _audit(ctx)


def test_unknown_user_gets_the_same_message(ctx: HmiContext) -> None:
    at = _login("mallory", PASSWORD)
    assert any("Wrong user name or password" in e.value for e in at.error)


def test_operator_logs_in_and_starts_the_cell_under_her_name(ctx: HmiContext, cell: FakeCell) -> None:
    at = _login("olga", PASSWORD)
    assert not at.error
    assert any("Idle" in m.value for m in at.markdown)
    start = at.button(key="cmd_start")
    assert not start.disabled
    assert at.button(key="cmd_unhold").disabled  # not meaningful in IDLE
    start.click().run()
    assert cell.snapshot().state is PackMLState.EXECUTE
    assert cell.sent[-1][0] == "olga" and cell.sent[-1][1].kind is CommandKind.START
    assert any("Start sent" in s.value for s in at.success)
    assert ("olga", "start", True) in _audit(ctx)
    assert ("olga", "login", True) in _audit(ctx)


def test_viewer_sees_no_command_buttons(ctx: HmiContext) -> None:
    at = _login("vera", PASSWORD)
    assert not at.error
    keys = {b.key for b in at.button}
    assert not any(k and k.startswith("cmd_") for k in keys)
    assert any("may watch the cell but not command it" in c.value for c in at.caption)


def test_refusal_by_the_cell_is_shown(ctx: HmiContext, cell: FakeCell) -> None:
    cell.viewers.add("olga")  # the cell's own check disagrees with the HMI's: its answer wins
    at = _login("olga", PASSWORD)
    at.button(key="cmd_start").click().run()
    assert cell.snapshot().state is PackMLState.IDLE
    assert any("BadUserAccessDenied" in e.value for e in at.error)
    assert ("olga", "start", False) in _audit(ctx)


def test_unreachable_cell_shows_a_banner(ctx: HmiContext, cell: FakeCell) -> None:
    cell.set(connected=False, error="cannot reach the cell: connection refused")
    at = _login("olga", PASSWORD)
    assert any("Cell not reachable" in e.value for e in at.error)
    assert at.button(key="cmd_start").disabled


def test_logout_ends_the_session(ctx: HmiContext, cell: FakeCell) -> None:
    at = _login("olga", PASSWORD)
    assert cell.sessions
    at.button(key="logout").click().run()
    assert not cell.sessions
    assert at.text_input(key="login_user") is not None


def test_repeated_wrong_passwords_lock_the_name_for_a_while(ctx: HmiContext) -> None:
    from hmi import auth

    auth._failures.clear()
    try:
        for _ in range(auth.MAX_FAILURES):
            at = _login("erik", "guess-guess-guess")
            assert any("Wrong user name or password" in e.value for e in at.error)
        at = _login("erik", PASSWORD)  # even the right password waits now
        assert any("Too many wrong passwords" in e.value for e in at.error)
        assert ("erik", "login", False) in _audit(ctx)
        assert not _login("olga", PASSWORD).error  # other names are not affected
    finally:
        auth._failures.clear()
