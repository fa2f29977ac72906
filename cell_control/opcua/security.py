"""OPC UA users and roles: a user manager backed by users.py, and the session user inside method calls.

asyncua hands a method callback only the parent node and the arguments, not the session. The cell
wraps the session's Call service once so the calling user sits in a context variable for the duration of
the call; each method checks the permission table against it and answers BadUserAccessDenied.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Any

from asyncua import ua
from asyncua.crypto.permission_rules import User, UserRole

from cell_control.users import Action, Role, UserStore, is_allowed


@dataclass
class CellUser(User):
    """An asyncua user carrying the cell role (viewer / operator / engineer)."""

    cell_role: Role = Role.VIEWER


current_user: contextvars.ContextVar[User | None] = contextvars.ContextVar("ironcell_opcua_user", default=None)


class CellUserManager:
    """User name + password checked against `$IRONCELL_HOME/users.json`; anything else is refused."""

    def __init__(self, users: UserStore) -> None:
        self.users = users

    def get_user(
        self, iserver: Any, username: str | None = None, password: str | None = None, certificate: Any = None
    ) -> User | None:
        role = self.users.verify(username, password)
        if role is None:
            return None
        # asyncua's own rules: UserRole.User may read, browse, subscribe and call; our table does the rest.
        return CellUser(role=UserRole.User, name=username, cell_role=role)


def install_session_user_hook() -> None:
    """Make the calling session's user visible to method callbacks (idempotent, process-wide)."""
    from asyncua.server.internal_session import InternalSession

    if getattr(InternalSession.call, "_ironcell_hook", False):
        return
    original = InternalSession.call

    async def call(self: Any, params: list[ua.CallMethodRequest]) -> list[ua.CallMethodResult]:
        token = current_user.set(getattr(self, "user", None))
        try:
            return await original(self, params)
        finally:
            current_user.reset(token)

    call._ironcell_hook = True  # type: ignore[attr-defined]
    InternalSession.call = call  # type: ignore[method-assign]


def caller() -> tuple[str, Role | None]:
    """(user name, cell role) of the session calling the current method; the server itself is engineer."""
    u = current_user.get()
    if u is None:
        return "", None
    if isinstance(u, CellUser):
        return u.name or "", u.cell_role
    if u.role == UserRole.Admin:
        return "server", Role.ENGINEER
    return u.name or "", None


def denied(action: Action) -> tuple[str, ua.StatusCode | None]:
    """(user, None) when the caller may do `action`, else (user, BadUserAccessDenied)."""
    name, role = caller()
    if is_allowed(role, action):
        return name, None
    return name, ua.StatusCode(ua.StatusCodes.BadUserAccessDenied)  # type: ignore[arg-type]
