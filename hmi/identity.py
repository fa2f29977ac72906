"""Who the HMI is to the cell: its application certificate and the viewer identity of its monitor.

The monitor reads the cell for every tab at once, so it cannot use any operator's identity. It uses
`IRONCELL_HMI_USER` / `IRONCELL_HMI_PASSWORD` when set; otherwise, when the HMI shares
`IRONCELL_HOME` with the cell (the usual single-PC install), it creates a viewer account
`hmi-monitor` with a random password kept in `$IRONCELL_HOME/hmi/monitor.json` (mode 0600).
A viewer can read but call nothing, so this account cannot command the cell.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cell_control.users import Role, UserError, UserStore

log = logging.getLogger(__name__)

HMI_APPLICATION_URI = "urn:ironcell:hmi"
MONITOR_USER = "hmi-monitor"
USER_ENV = "IRONCELL_HMI_USER"
PASSWORD_ENV = "IRONCELL_HMI_PASSWORD"


@dataclass(frozen=True)
class Identity:
    user: str
    password: str

    def __repr__(self) -> str:  # never print the password in logs or tracebacks
        return f"Identity(user={self.user!r})"


def _secret_file(home: Path) -> Path:
    return home / "hmi" / "monitor.json"


def monitor_identity(home: Path, users: UserStore, environ: dict[str, str] | None = None) -> Identity | None:
    env = dict(os.environ) if environ is None else environ
    if env.get(USER_ENV) and env.get(PASSWORD_ENV) is not None:
        return Identity(env[USER_ENV], env[PASSWORD_ENV])
    path = _secret_file(home)
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            ident = Identity(str(data["user"]), str(data["password"]))
            if users.verify(ident.user, ident.password) is not None:
                return ident
        except (OSError, ValueError, KeyError) as exc:
            log.warning("%s unreadable (%s); making a new monitor account", path, exc)
    password = secrets.token_urlsafe(24)
    try:
        users.add(MONITOR_USER, Role.VIEWER, password, replace=True)
    except (UserError, OSError) as exc:
        log.warning("cannot create the HMI monitor account: %s; set %s and %s", exc, USER_ENV, PASSWORD_ENV)
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"user": MONITOR_USER, "password": password}, fh)
    log.info("created the viewer account %r for the HMI monitor (%s)", MONITOR_USER, path)
    return Identity(MONITOR_USER, password)


def ensure_client_certificate(home: Path) -> tuple[Path, Path]:
    """The HMI's OPC UA application certificate (DER) and key (PEM), made once under
    `$IRONCELL_HOME/pki/clients/hmi/` and trusted by a cell that shares this IRONCELL_HOME; a cell
    elsewhere must trust the DER file (`ironcell certs trust PATH`)."""
    from cell_control.opcua.pki import ensure_client_certificate as ensure

    cert, key, _uri = ensure(home, "hmi", HMI_APPLICATION_URI)
    return cert, key
