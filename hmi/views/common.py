"""Helpers every page uses: the tab's login, command feedback that survives refreshes, banners."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import streamlit as st

from hmi import auth, fmt
from hmi.auth import Login
from hmi.model import CellSnapshot, Command, CommandKind, CommandResult
from hmi.runtime import HmiContext, context

if TYPE_CHECKING:
    from cell_control.store import Store

_FEEDBACK = "hmi_feedback"
FEEDBACK_S = 15.0


def session() -> tuple[HmiContext, Login]:
    """The context and the tab's login; a tab without a login never reaches a page."""
    ctx = context()
    login = auth.current(ctx)
    if login is None:
        st.warning("Your session has ended. Log in again.")
        st.stop()
    assert login is not None
    return ctx, login


def send(ctx: HmiContext, login: Login, command: Command) -> CommandResult:
    with st.spinner(f"{command_label(command.kind)} ..."):
        result = auth.send(ctx, login, command)
    st.session_state[_FEEDBACK] = (time.time(), result.ok, result.message)
    return result


def show_feedback() -> None:
    """The last command's answer, kept for a while: live fragments rerun every second."""
    fb = st.session_state.get(_FEEDBACK)
    if not fb or time.time() - fb[0] > FEEDBACK_S:
        return
    _, ok, msg = fb
    if ok:
        st.success(msg, icon=None)
    else:
        st.error(msg)


def link_banner(snap: CellSnapshot) -> None:
    if not snap.connected:
        st.error(
            f"**Cell not reachable** at `{snap.url}`: {snap.error or 'no answer'}. "
            "Showing the last known values; the HMI reconnects by itself.",
        )


def store_or_note(ctx: HmiContext) -> Store | None:
    store = ctx.store()
    if store is None:
        st.info(ctx.store_error or "The record store is not available.")
    return store


def command_label(kind: CommandKind) -> str:
    return kind.value.replace("_", " ").capitalize()


def state_badge(snap: CellSnapshot) -> None:
    words = fmt.state_words(snap.state) if snap.connected else f"{fmt.state_words(snap.state)} (stale)"
    st.markdown(fmt.badge_html(words, fmt.state_salience(snap.state), "packml-state"), unsafe_allow_html=True)
