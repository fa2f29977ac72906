"""Page logic of each HMI view on a fake cell and a real (temporary) record store."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from cell_control.store.schema import AuditRow, ReviewRow
from hmi.model import CommandKind, RobotView
from hmi.runtime import HmiContext
from tests.unit.hmi.conftest import add_part
from tests.unit.hmi.fakes import FakeCell
from vision.types import Verdict

ROLES = {"olga": "operator", "erik": "engineer", "vera": "viewer"}


def _script(view: str, user: str, role: str) -> None:
    import importlib

    import streamlit as st

    from cell_control.users import Role
    from hmi import runtime
    from hmi.auth import Login

    ctx = runtime.context()
    if "hmi_login" not in st.session_state:
        st.session_state["hmi_login"] = Login(user, Role(role), ctx.link.open_session(user, "unused"))
    importlib.import_module(f"hmi.views.{view}").page()


def open_view(view: str, user: str) -> AppTest:
    at = AppTest.from_function(_script, kwargs={"view": view, "user": user, "role": ROLES[user]}, default_timeout=60)
    return at.run()


def texts(at: AppTest, kind: str) -> list[str]:
    return [str(e.value) for e in getattr(at, kind)]


def _store(ctx: HmiContext) -> Any:
    store = ctx.store()
    assert store is not None
    return store


def test_inspection_shows_latest_part_with_flaw_table_and_rules(ctx: HmiContext) -> None:
    store = _store(ctx)
    add_part(store, "W-OLD", Verdict.OK, minutes_ago=5)
    add_part(store, "W-NEW", Verdict.NOK, minutes_ago=1, flaws=2)
    at = open_view("inspection", "vera")
    assert not at.exception
    assert any("W-NEW · NOK" in m for m in texts(at, "markdown"))
    flaws = at.dataframe[0].value  # the latest part's flaw table comes first
    assert list(flaws["rule broken"]) == ["rim: porosity > 2 mm"] * 2
    assert list(flaws["size mm"]) == [2.5, 2.5]
    history = at.dataframe(key="hist_table").value
    assert list(history["serial"]) == ["W-NEW", "W-OLD"]  # newest first
    add_part(store, "W-NEWEST", Verdict.OK, minutes_ago=0.5)
    at.run()
    assert any("W-NEWEST · OK" in m for m in texts(at, "markdown"))
    at.radio(key="insp_latest").set_value("Latest rejected (NOK or REVIEW)").run()
    assert any("W-NEW · NOK" in m for m in texts(at, "markdown"))


def test_inspection_history_filters_by_verdict(ctx: HmiContext) -> None:
    store = _store(ctx)
    add_part(store, "W-1", Verdict.OK)
    add_part(store, "W-2", Verdict.NOK, flaws=1)
    at = open_view("inspection", "vera")
    at.multiselect(key="hist_verdicts").select("NOK").run()
    assert list(at.dataframe(key="hist_table").value["serial"]) == ["W-2"]
    at.selectbox(key="hist_flaw").select("crack").run()
    assert any("0 part(s)" in c for c in texts(at, "caption"))


def test_review_records_decision_under_the_users_name(ctx: HmiContext) -> None:
    store = _store(ctx)
    iid = add_part(store, "W-R", Verdict.REVIEW, flaws=1)
    at = open_view("review", "olga")
    assert list(at.dataframe[0].value["serial"]) == ["W-R"]
    at.radio(key=f"review_disp_{iid}").set_value("NOK")
    at.text_area(key=f"review_reason_{iid}").input("porosity cluster in the rim, visible at 2x")
    at.button[0].click().run()
    assert not at.exception
    with store.session() as s:
        rows = s.scalars(select(ReviewRow)).all()
        assert [(r.inspection_id, r.user, r.disposition) for r in rows] == [(iid, "olga", "NOK")]
        audit = s.scalars(select(AuditRow).where(AuditRow.action == "review")).all()
        assert [a.user for a in audit] == ["olga"]
    assert any("No part waits for review" in i for i in texts(at, "info"))


def test_review_without_reason_is_refused(ctx: HmiContext) -> None:
    store = _store(ctx)
    iid = add_part(store, "W-R", Verdict.REVIEW)
    at = open_view("review", "olga")
    at.text_area(key=f"review_reason_{iid}").input("   ")
    at.button[0].click().run()
    assert any("reason" in e for e in texts(at, "error"))
    with store.session() as s:
        assert s.scalars(select(ReviewRow)).all() == []


def test_viewer_cannot_decide_a_review(ctx: HmiContext) -> None:
    add_part(_store(ctx), "W-R", Verdict.REVIEW)
    at = open_view("review", "vera")
    assert at.button[0].disabled
    assert any("may look but not decide" in c for c in texts(at, "caption"))


def test_operator_acknowledges_an_alarm_on_the_cell(ctx: HmiContext, cell: FakeCell) -> None:
    cell.add_alarm("7")
    at = open_view("alarms", "olga")
    assert any("Active, unacknowledged" in m for m in texts(at, "markdown"))
    at.button(key="ack_7").click().run()
    assert cell.sent[-1][0] == "olga"
    assert cell.sent[-1][1].kind is CommandKind.ACKNOWLEDGE and cell.sent[-1][1].alarm_id == "7"
    assert cell.snapshot().alarms[0].state == "acknowledged"
    # shelving is an engineer's decision
    assert any("Shelving needs the engineer role" in c for c in texts(at, "caption"))


def test_viewer_gets_no_acknowledge_button(ctx: HmiContext, cell: FakeCell) -> None:
    cell.add_alarm("7")
    at = open_view("alarms", "vera")
    assert "ack_7" not in {b.key for b in at.button}
    assert any("may not acknowledge" in c for c in texts(at, "caption"))


def test_engineer_shelves_with_a_reason_only(ctx: HmiContext, cell: FakeCell) -> None:
    cell.add_alarm("9", state="acknowledged")
    at = open_view("alarms", "erik")
    submit = next(b for b in at.button if b.label == "Shelve")
    submit.click().run()
    assert any("needs a reason" in e for e in texts(at, "error"))
    assert not cell.sent
    at.text_input(key="shelve_reason").input("sensor under maintenance, ticket 4711")
    next(b for b in at.button if b.label == "Shelve").click().run()
    assert cell.sent[-1][1].kind is CommandKind.SHELVE
    assert cell.sent[-1][1].reason == "sensor under maintenance, ticket 4711"
    assert cell.snapshot().alarms[0].state == "shelved"
    at.run()
    at.button(key="unshelve_9").click().run()
    assert cell.sent[-1][1].kind is CommandKind.UNSHELVE and cell.sent[-1][1].alarm_id == "9"


def test_robot_protective_stop_and_reset(ctx: HmiContext, cell: FakeCell) -> None:
    cell.set(
        robot=RobotView(
            mode="protective_stop", tcp_position_m=(0.5, 0.1, 0.2), contact_force_n=151.0, protective_stop=True
        )
    )
    at = open_view("robot", "olga")
    assert any("Protective stop" in m for m in texts(at, "markdown"))
    assert any("No live view" in i for i in texts(at, "info"))
    at.button(key="robot_reset").click().run()
    assert cell.sent[-1][1].kind is CommandKind.RESET_PROTECTIVE_STOP


def test_robot_reset_disabled_without_protective_stop(ctx: HmiContext) -> None:
    at = open_view("robot", "olga")
    assert at.button(key="robot_reset").disabled


@pytest.mark.parametrize("user", ["olga", "vera"])
def test_reports_preview_shows_kpis(ctx: HmiContext, user: str) -> None:
    store = _store(ctx)
    for i in range(6):
        add_part(store, f"W-{i}", Verdict.NOK if i == 0 else Verdict.OK, minutes_ago=30 - i, flaws=int(i == 0))
    at = open_view("reports", user)
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Parts"] == "6"
    assert metrics["Yield (final)"] == "83.3 %"
