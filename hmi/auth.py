"""Login with the cell's local users (bcrypt, `ironcell users add`) and the commands each role may send.

The tab keeps only the user's name, role and an opaque token (`st.session_state`); the password lives
server-side in the cell link, inside that user's own OPC UA session, so that every command reaches
the cell under the user's identity.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import streamlit as st

from cell_control.users import Action, Role, is_allowed
from hmi.model import CellAuthError, Command, CommandKind, CommandResult
from hmi.runtime import HmiContext

log = logging.getLogger(__name__)

_KEY = "hmi_login"
WRONG_LOGIN = "Wrong user name or password."
MAX_FAILURES = 5
LOCKOUT_S = 60.0

_failures: dict[str, list[float]] = {}
_failures_lock = threading.Lock()


def _locked_out(user: str, now: float) -> bool:
    """After MAX_FAILURES wrong passwords within LOCKOUT_S a name is refused for LOCKOUT_S (slows guessing)."""
    with _failures_lock:
        recent = [t for t in _failures.get(user, []) if now - t < LOCKOUT_S]
        _failures[user] = recent
        return len(recent) >= MAX_FAILURES


def _failed(user: str, now: float) -> None:
    with _failures_lock:
        _failures.setdefault(user, []).append(now)


@dataclass(frozen=True)
class Login:
    user: str
    role: Role
    token: str


def may(role: Role | str | None, kind: CommandKind | str) -> bool:
    # unshelving is part of the shelving permission (ISA-18.2 shelving is an authorised action)
    action = Action.SHELVE if str(kind) == CommandKind.UNSHELVE.value else Action(str(kind))
    return is_allowed(role, action)


def current(ctx: HmiContext) -> Login | None:
    """The tab's login, if the cell link still knows its session (an HMI restart logs everyone out)."""
    login = st.session_state.get(_KEY)
    if not isinstance(login, Login):
        return None
    if ctx.link.session_user(login.token) != login.user:
        del st.session_state[_KEY]
        return None
    return login


def _audit(ctx: HmiContext, user: str, action: str, allowed: bool, detail: str = "") -> None:
    store = ctx.store()
    if store is None:
        log.warning("audit not recorded (%s): %s %s allowed=%s %s", ctx.store_error, user, action, allowed, detail)
        return
    try:
        store.audit(user, "hmi", action, allowed, detail)
    except Exception as exc:  # the audit must not take the HMI down; the log keeps the line
        log.warning("audit not recorded (%s): %s %s allowed=%s %s", exc, user, action, allowed, detail)


def log_in(ctx: HmiContext, user: str, password: str) -> Login:
    """Checks the password against the users file and opens the user's session on the cell link."""
    user = user.strip()
    now = time.monotonic()
    if _locked_out(user, now):
        _audit(ctx, user[:64] or "?", "login", False, "locked out after repeated wrong passwords")
        raise CellAuthError(f"Too many wrong passwords for this user name: wait {LOCKOUT_S:.0f} s and try again.")
    role = ctx.users.verify(user, password)
    if role is None:
        _failed(user, now)
        _audit(ctx, user[:64] or "?", "login", False, "wrong user name or password")
        raise CellAuthError(WRONG_LOGIN)
    with _failures_lock:
        _failures.pop(user, None)
    token = ctx.link.open_session(user, password)
    _audit(ctx, user, "login", True, f"role {role.value}")
    login = Login(user, role, token)
    st.session_state[_KEY] = login
    return login


def log_out(ctx: HmiContext) -> None:
    login = st.session_state.pop(_KEY, None)
    if isinstance(login, Login):
        ctx.link.close_session(login.token)
        _audit(ctx, login.user, "logout", True)


def send(ctx: HmiContext, login: Login, command: Command) -> CommandResult:
    """Sends a command under the user's identity; refused locally first when the role forbids it."""
    detail = ", ".join(x for x in (command.alarm_id and f"alarm {command.alarm_id}", command.reason) if x)
    if not may(login.role, command.kind):
        msg = f"Not allowed: a {login.role.value} may not {command.kind.value.replace('_', ' ')}."
        _audit(ctx, login.user, command.kind.value, False, "refused by role" + (f"; {detail}" if detail else ""))
        return CommandResult(False, msg)
    result = ctx.link.send(login.token, command)
    _audit(ctx, login.user, command.kind.value, result.ok, "; ".join(x for x in (detail, result.message) if x))
    return result


def login_form(ctx: HmiContext) -> None:
    st.title("ironcell HMI")
    st.caption("Log in with a user of the cell (`ironcell users add`).")
    with st.form("login", clear_on_submit=False):
        user = st.text_input("User name", key="login_user")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Log in")
    if submitted:
        try:
            log_in(ctx, user, password)
        except CellAuthError as exc:
            st.error(str(exc))
        else:
            st.rerun()
