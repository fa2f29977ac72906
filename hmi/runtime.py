"""Process-wide resources of the HMI server: config, the one cell link, the store and the users.

Streamlit reruns the script for every tab and every refresh; these objects are built once per server
process (`st.cache_resource`) and shared by all tabs. Tests put their own context in with `install`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from cell_control.config import IroncellConfig, ironcell_home, load_config
from cell_control.users import UserStore
from hmi.model import CellClient

if TYPE_CHECKING:
    from cell_control.store import Store

log = logging.getLogger(__name__)

OPCUA_URL_ENV = "IRONCELL_OPCUA_URL"


@dataclass
class HmiContext:
    config: IroncellConfig
    home: Path
    link: CellClient
    users: UserStore
    store_factory: Callable[[], Store] | None = None
    _store: Store | None = field(default=None, repr=False)
    _store_error: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def refresh_s(self) -> float:
        return self.config.hmi.refresh_s

    def store(self) -> Store | None:
        """The record store, opened on first use; None (with `store_error`) when it cannot be opened."""
        with self._lock:
            if self._store is None and self.store_factory is not None:
                try:
                    self._store = self.store_factory()
                    self._store_error = ""
                except Exception as exc:  # any driver error: the live pages must keep working
                    self._store_error = f"record store unavailable: {exc}"
                    log.warning("%s", self._store_error)
            return self._store

    @property
    def store_error(self) -> str:
        return self._store_error


_installed: HmiContext | None = None


def install(ctx: HmiContext | None) -> None:
    """Use this context instead of building the real one (tests; AppTest runs in-process)."""
    global _installed
    _installed = ctx


def opcua_url(cfg: IroncellConfig) -> str:
    return os.environ.get(OPCUA_URL_ENV) or cfg.hmi.opcua_url


def build_context() -> HmiContext:
    from cell_control.store import Store
    from hmi.identity import monitor_identity
    from hmi.link import OpcuaCellLink

    cfg = load_config()
    home = ironcell_home()
    users = UserStore(home)
    url = opcua_url(cfg)
    link = OpcuaCellLink(url, home=home, monitor=monitor_identity(home, users), refresh_s=min(0.5, cfg.hmi.refresh_s))
    link.start()
    s = cfg.store

    def open_store() -> Store:
        return Store.open(home, s.url, s.sqlite_synchronous, s.busy_timeout_ms)

    return HmiContext(config=cfg, home=home, link=link, users=users, store_factory=open_store)


@st.cache_resource(show_spinner=False)
def _cached_context() -> HmiContext:
    return build_context()


def context() -> HmiContext:
    return _installed if _installed is not None else _cached_context()
