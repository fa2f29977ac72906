"""Local users of the cell (HMI and OPC UA): bcrypt hashes in `$IRONCELL_HOME/users.json`, three roles.

A factory LAN has no identity provider, so users are local. The file holds only bcrypt hashes; it is
rewritten atomically (temporary file, fsync, rename) so a crash never leaves half a user list.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import bcrypt

USERS_FILE = "users.json"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD_LEN = 8
# bcrypt only looks at the first 72 bytes; longer passwords would silently collide.
MAX_PASSWORD_BYTES = 72


class Role(enum.StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ENGINEER = "engineer"


class Action(enum.StrEnum):
    """Everything a user can ask the cell to do; reading is always allowed to a known user."""

    READ = "read"
    START = "start"
    STOP = "stop"
    RESET = "reset"
    HOLD = "hold"
    UNHOLD = "unhold"
    SUSPEND = "suspend"
    UNSUSPEND = "unsuspend"
    CLEAR = "clear"
    ABORT = "abort"
    ACKNOWLEDGE = "acknowledge"
    REVIEW = "review"
    START_JOB = "start_job"
    RESET_PROTECTIVE_STOP = "reset_protective_stop"
    SHELVE = "shelve"
    DISPATCH = "dispatch"
    CONFIG = "config"


_OPERATOR = frozenset(
    {
        Action.READ,
        Action.START,
        Action.STOP,
        Action.RESET,
        Action.HOLD,
        Action.UNHOLD,
        Action.SUSPEND,
        Action.UNSUSPEND,
        Action.CLEAR,
        Action.ACKNOWLEDGE,
        Action.REVIEW,
        Action.START_JOB,
        Action.RESET_PROTECTIVE_STOP,
    }
)

PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.VIEWER: frozenset({Action.READ}),
    Role.OPERATOR: _OPERATOR,
    Role.ENGINEER: frozenset(Action),
}


def is_allowed(role: Role | str | None, action: Action | str) -> bool:
    """The permission table; an unknown role or action is refused."""
    try:
        r = Role(role) if role is not None else None
        a = Action(action)
    except ValueError:
        return False
    return r is not None and a in PERMISSIONS[r]


class UserError(ValueError):
    """A user cannot be added or changed; the message says why."""


@dataclass(frozen=True)
class UserInfo:
    name: str
    role: Role
    created_at: str


def _check_password(password: str) -> bytes:
    raw = password.encode("utf-8")
    if len(password) < MIN_PASSWORD_LEN:
        raise UserError(f"password too short: at least {MIN_PASSWORD_LEN} characters")
    if len(raw) > MAX_PASSWORD_BYTES:
        raise UserError(f"password too long: at most {MAX_PASSWORD_BYTES} bytes (bcrypt ignores the rest)")
    return raw


class UserStore:
    """The users file. Thread-safe within a process; writes are atomic on disk."""

    def __init__(self, home: Path, rounds: int = 12) -> None:
        self.path = home / USERS_FILE
        self._rounds = rounds
        self._lock = threading.Lock()
        # bcrypt costs ~0.2 s per check; cache successful checks per file version (keyed digest)
        # so that the HMI re-authenticating each refresh does not burn the CPU.
        self._ok_cache: dict[tuple[str, bytes], tuple[float, Role]] = {}
        self._cache_key = secrets.token_bytes(32)

    def _load(self) -> dict[str, dict[str, str]]:
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"{self.path}: unreadable users file: {exc}") from exc
        users = data.get("users", {}) if isinstance(data, dict) else {}
        return users if isinstance(users, dict) else {}

    def _save(self, users: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".users.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"version": 1, "users": users}, fh, indent=2, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def add(self, name: str, role: Role | str, password: str, replace: bool = False) -> UserInfo:
        if not NAME_PATTERN.match(name):
            raise UserError(f"user name {name!r} not allowed: 1-64 of letters, digits, _ . @ -")
        try:
            r = Role(role)
        except ValueError as exc:
            raise UserError(f"role {role!r} not known; allowed: {', '.join(x.value for x in Role)}") from exc
        raw = _check_password(password)
        hashed = bcrypt.hashpw(raw, bcrypt.gensalt(rounds=self._rounds)).decode("ascii")
        created = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock:
            users = self._load()
            if name in users and not replace:
                raise UserError(f"user {name!r} exists already")
            users[name] = {"role": r.value, "bcrypt": hashed, "created_at": created}
            self._save(users)
            self._ok_cache.clear()
        return UserInfo(name, r, created)

    def remove(self, name: str) -> None:
        with self._lock:
            users = self._load()
            if name not in users:
                raise UserError(f"no user {name!r}")
            del users[name]
            self._save(users)
            self._ok_cache.clear()

    def list(self) -> list[UserInfo]:
        with self._lock:
            users = self._load()
        return [UserInfo(n, Role(u["role"]), u.get("created_at", "")) for n, u in sorted(users.items())]

    def role_of(self, name: str) -> Role | None:
        with self._lock:
            u = self._load().get(name)
        return Role(u["role"]) if u else None

    def verify(self, name: str | None, password: str | None) -> Role | None:
        """The user's role when name and password match, else None (never raises on bad input)."""
        if not name or password is None:
            return None
        try:
            mtime = self.path.stat().st_mtime
            with self._lock:
                u = self._load().get(name)
        except (OSError, UserError):
            return None
        if not u:
            return None
        raw = password.encode("utf-8")
        stored = u["bcrypt"].encode("ascii")
        # keyed digest: the cache never holds the password itself, and a changed hash misses it
        key = (name, hmac.new(self._cache_key, stored + b"\0" + raw, hashlib.sha256).digest())
        cached = self._ok_cache.get(key)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        try:
            ok = bcrypt.checkpw(raw, stored)
        except ValueError:
            return None
        if not ok:
            return None
        role = Role(u["role"])
        self._ok_cache[key] = (mtime, role)
        return role
