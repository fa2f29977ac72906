"""The HMI's one OPC UA link to the cell: a background asyncio thread owning the asyncua clients.

- One *monitor* client per HMI server process reads the cell (one Read request per refresh) under a
  viewer identity and keeps the latest `CellSnapshot` plus a trend ring; pages read that snapshot
  without waiting on the network, so a slow or absent cell never blocks a page.
- Commands go out under the logged-in user's own identity: asyncua fixes the user name at session
  activation, so each login gets its own client (created on login, kept server-side keyed by an opaque
  token, disconnected after `USER_IDLE_S` without commands and reconnected on the next one).
- Every client uses Basic256Sha256 SignAndEncrypt with the HMI's own application certificate
  (`$IRONCELL_HOME/pki/clients/hmi/`), trusted at once by a cell sharing that IRONCELL_HOME, else
  by `ironcell certs trust PATH` on the cell.
- When the cell is unreachable the snapshot says so (banner) and the monitor retries with backoff.

Streamlit code never touches asyncua: the public methods are thread-safe and synchronous.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
import time
from collections import deque
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cell_control.opcua.names import MACHINES_FOLDER, NAMESPACE_URI, CellNodes
from hmi import decode
from hmi.calls import call, explain
from hmi.identity import HMI_APPLICATION_URI, Identity, ensure_client_certificate
from hmi.model import CellSnapshot, Command, CommandResult, TrendPoint
from hmi.render import latest_render

log = logging.getLogger(__name__)

USER_IDLE_S = 600.0
SESSION_MAX_S = 12 * 3600.0
COMMAND_TIMEOUT_S = 10.0
VIEW_WANTED_S = 5.0  # the Robot page asks each refresh; the cell renders only while someone reads
TREND_POINTS = 3600  # one per second: the last hour


@dataclass
class _UserSession:
    token: str
    ident: Identity
    created: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)
    client: Any = None  # asyncua.Client, only touched on the link's loop
    lock: asyncio.Lock | None = None


class OpcuaCellLink:
    def __init__(
        self,
        url: str,
        home: Path,
        monitor: Identity | None,
        refresh_s: float = 0.5,
        cell_name: str | None = None,
        security: bool = True,
        timeout_s: float = 4.0,
    ) -> None:
        self.url = url
        self.home = home
        self.monitor = monitor
        self.refresh_s = refresh_s
        self.security = security
        self.timeout_s = timeout_s
        self._cell_name = cell_name
        self._lock = threading.Lock()
        self._snap = CellSnapshot(url=url, connected=False, error="connecting to the cell ...")
        self._trend: deque[TrendPoint] = deque(maxlen=TREND_POINTS)
        self._sessions: dict[str, _UserSession] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._nodes: CellNodes | None = None
        self._view_wanted_at = 0.0

    # --- thread-safe API (any thread) ------------------------------------------------------------
    def start(self) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._thread_main, args=(ready,), name="hmi-opcua-link", daemon=True)
        self._thread.start()
        ready.wait(5.0)

    def stop(self) -> None:
        """Ends the link (tests; the HMI server process simply exits)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)

    def snapshot(self) -> CellSnapshot:
        with self._lock:
            return self._snap

    def want_view(self) -> None:
        self._view_wanted_at = time.monotonic()

    def open_session(self, user: str, password: str) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._sessions[token] = _UserSession(token, Identity(user, password))
        # connect in the background so the first command is quick; failures surface on send
        self._submit(self._ensure_user_client(token))
        return token

    def close_session(self, token: str) -> None:
        with self._lock:
            sess = self._sessions.pop(token, None)
        if sess is not None and sess.client is not None:
            self._submit(self._disconnect(sess.client))

    def session_user(self, token: str) -> str | None:
        with self._lock:
            sess = self._sessions.get(token)
            if sess is None:
                return None
            if time.monotonic() - sess.created > SESSION_MAX_S:
                self._sessions.pop(token, None)
                return None
            return sess.ident.user

    def send(self, token: str, command: Command) -> CommandResult:
        fut = self._submit(self._send(token, command))
        if fut is None:
            return CommandResult(False, "The HMI's cell link is not running.")
        try:
            result: CommandResult = fut.result(timeout=COMMAND_TIMEOUT_S + 2.0)
            return result
        except FutureTimeout:
            fut.cancel()
            return CommandResult(False, f"No answer from the cell within {COMMAND_TIMEOUT_S:.0f} s.")

    # --- the loop --------------------------------------------------------------------------------
    def _submit(self, coro: Any) -> Any:
        if self._loop is None or self._loop.is_closed():
            coro.close()
            return None
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def _thread_main(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        ready.set()
        try:
            loop.run_until_complete(self._monitor_forever())
            loop.run_until_complete(self._close_all())
        finally:
            loop.close()

    async def _close_all(self) -> None:
        with self._lock:
            clients = [s.client for s in self._sessions.values() if s.client is not None]
            for s in self._sessions.values():
                s.client = None
        for c in clients:
            await self._disconnect(c)
        me = asyncio.current_task()
        rest = [t for t in asyncio.all_tasks() if t is not me]
        for t in rest:
            t.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    async def _new_client(self, ident: Identity | None) -> Any:
        from asyncua import Client
        from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

        client = Client(self.url, timeout=self.timeout_s)
        client.application_uri = HMI_APPLICATION_URI
        client.name = "ironcell HMI"
        if ident is not None:
            client.set_user(ident.user)
            client.set_password(ident.password)
        if self.security:
            cert, key = await asyncio.to_thread(ensure_client_certificate, self.home)
            await client.set_security(SecurityPolicyBasic256Sha256, cert, key)
        return client

    async def _connect(self, ident: Identity | None) -> Any:
        client = await self._new_client(ident)
        await asyncio.wait_for(client.connect(), timeout=self.timeout_s * 2)
        return client

    @staticmethod
    async def _disconnect(client: Any) -> None:
        # a dead socket cannot say goodbye; nothing to keep
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.disconnect(), timeout=3.0)

    async def _resolve_nodes(self, client: Any) -> CellNodes:
        ns = await client.get_namespace_index(NAMESPACE_URI)
        name = self._cell_name
        if name is None:
            folder = client.get_node(f"ns={ns};s={MACHINES_FOLDER}")
            children = await folder.get_children()
            if not children:
                raise RuntimeError("the server has no machine under Objects/Machines")
            name = (await children[0].read_browse_name()).Name
        return CellNodes(cell=str(name), ns=ns)

    def _publish(self, snap: CellSnapshot) -> None:
        with self._lock:
            self._snap = snap

    async def _monitor_forever(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            client = None
            try:
                client = await self._connect(self.monitor)
                nodes = await self._resolve_nodes(client)
                self._nodes = nodes
                backoff = 0.5
                await self._poll(client, nodes)
            except Exception as exc:
                msg = explain(exc, connecting=client is None)
                if client is None and msg.startswith("The cell rejected"):
                    who = self.monitor.user if self.monitor else "(none)"
                    msg = (
                        f"the cell rejected the HMI's monitor account {who!r}; share IRONCELL_HOME with the cell "
                        "or set IRONCELL_HMI_USER and IRONCELL_HMI_PASSWORD to a viewer of the cell"
                    )
                log.info("cell link: %s", msg)
                prev = self.snapshot()
                self._publish(replace(prev, connected=False, error=msg, render_png=None))
            finally:
                if client is not None:
                    await self._disconnect(client)
            await self._expire_idle_users()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2.0, 5.0)

    async def _poll(self, client: Any, nodes: CellNodes) -> None:
        from asyncua import ua

        plan = decode.poll_plan(nodes)
        keys = list(plan)
        node_objs = [client.get_node(plan[k]) for k in keys]
        last_trend = 0.0
        last_expiry = time.monotonic()
        while not self._stop.is_set():
            dvs = await asyncio.wait_for(client.read_attributes(node_objs, ua.AttributeIds.Value), self.timeout_s)
            values = {
                k: dv.Value.Value for k, dv in zip(keys, dvs, strict=True) if dv.StatusCode.is_good() and dv.Value
            }
            now = time.time()
            robot = decode.robot(values)
            cnt = decode.counters(values)
            if now - last_trend >= 1.0:
                last_trend = now
                force = robot.contact_force_n if robot else None
                self._trend.append(TrendPoint(now, cnt.get("ProcessedCount", 0), cnt.get("DefectiveCount", 0), force))
            png, note = await self._camera(client, nodes)
            self._publish(
                CellSnapshot(
                    url=self.url,
                    connected=True,
                    read_at_unix_s=now,
                    state=decode.packml_state(values.get("state")),
                    cell_name=nodes.cell,
                    counters=cnt,
                    last_result=decode.last_result(values),
                    robot=robot,
                    alarms=decode.alarms(values.get("alarms")),
                    trend=tuple(self._trend),
                    render_png=png,
                    render_note=note,
                    last_command=str(values.get("last_command") or ""),
                )
            )
            if time.monotonic() - last_expiry > 30.0:
                last_expiry = time.monotonic()
                await self._expire_idle_users()
            await asyncio.sleep(self.refresh_s)

    async def _camera(self, client: Any, nodes: CellNodes) -> tuple[bytes | None, str]:
        """Robot/CameraImage while a page wants it, else a frame the robot left under IRONCELL_HOME."""

        if time.monotonic() - self._view_wanted_at > VIEW_WANTED_S:
            return None, "Fetching the robot's view ..."
        dv = (await client.read_attributes([client.get_node(nodes.robot_var("CameraImage"))]))[0]
        if dv.StatusCode.is_good() and dv.Value is not None and dv.Value.Value:
            return bytes(dv.Value.Value), ""
        png, note = latest_render(self.home)
        if png is None and dv.StatusCode.is_good():
            note = "No live view yet: the cell has not rendered a frame (robot.render_fps 0, or no OpenGL)."
        return png, note

    async def _expire_idle_users(self) -> None:
        """Idle users' clients disconnect (they reconnect on the next command); sessions of tabs closed
        without logging out are forgotten, password included, after SESSION_MAX_S."""
        now = time.monotonic()
        with self._lock:
            expired = [t for t, s in self._sessions.items() if now - s.created > SESSION_MAX_S]
            gone = [self._sessions.pop(t) for t in expired]
            idle = [s for s in self._sessions.values() if s.client is not None and now - s.last_used > USER_IDLE_S]
        for s in gone + idle:
            client, s.client = s.client, None
            if client is not None:
                await self._disconnect(client)

    async def _ensure_user_client(self, token: str) -> _UserSession | None:
        with self._lock:
            sess = self._sessions.get(token)
        if sess is None:
            return None
        if sess.lock is None:
            sess.lock = asyncio.Lock()
        async with sess.lock:
            if sess.client is None:
                try:
                    sess.client = await self._connect(sess.ident)
                except Exception as exc:
                    log.info("user %s: no OPC UA session: %s", sess.ident.user, explain(exc, connecting=True))
                    raise
        return sess

    async def _send(self, token: str, command: Command) -> CommandResult:
        try:
            sess = await self._ensure_user_client(token)
        except Exception as exc:
            return CommandResult(False, explain(exc, connecting=True))
        if sess is None:
            return CommandResult(False, "Your HMI session has ended; log in again.")
        sess.last_used = time.monotonic()
        nodes = self._nodes
        if nodes is None:
            return CommandResult(False, "The HMI has not reached the cell yet.")
        try:
            await asyncio.wait_for(call(sess.client, nodes, command), COMMAND_TIMEOUT_S)
        except Exception as exc:
            if type(exc).__name__ == "BadInvalidState":
                reason = await self._last_command_result(sess.client, nodes)
                return CommandResult(False, f"The cell refused {command.kind.value}: {reason or 'not allowed now'}.")
            if not type(exc).__name__.startswith("Bad"):
                # the session may have died under us: drop it so the next command reconnects
                client, sess.client = sess.client, None
                if client is not None:
                    await self._disconnect(client)
            return CommandResult(False, explain(exc))
        return CommandResult(True, f"{command.kind.value.replace('_', ' ').capitalize()} sent.")

    @staticmethod
    async def _last_command_result(client: Any, nodes: CellNodes) -> str:
        try:
            return str(await client.get_node(nodes.last_command_result).read_value() or "")
        except Exception:
            return ""
