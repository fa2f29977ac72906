"""Edge conversions: OPC UA values to views, 16-bit radiographs to 8-bit, flaw boxes, render files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from cell_control.opcua.names import CellNodes
from cell_control.types import PackMLState
from hmi import decode, fmt, overlay, render
from hmi.records import DefectView


def test_poll_plan_uses_the_contract_node_ids() -> None:
    plan = decode.poll_plan(CellNodes("XrayCell1", 2))
    assert plan["state"] == "ns=2;s=XrayCell1.PackML.Status.StateCurrent"
    assert plan["ProcessedCount"] == "ns=2;s=XrayCell1.PackML.Admin.ProdProcessedCount"
    assert plan["alarms"] == "ns=2;s=XrayCell1.Alarms.ActiveAlarms"


def test_values_to_views() -> None:
    assert decode.packml_state(6) is PackMLState.EXECUTE
    assert decode.packml_state(99) is None and decode.packml_state(None) is None
    assert decode.counters({"ProcessedCount": 5, "DefectiveCount": "x"}) == {"ProcessedCount": 5}
    r = decode.robot({"robot_mode": "protective_stop", "robot_pstop": True, "robot_tcp": [0.1, 0.2, 0.3, 1, 0, 0, 0]})
    assert r is not None and r.protective_stop and r.tcp_position_m == (0.1, 0.2, 0.3)
    assert decode.robot({}) is None
    assert decode.last_result({"res_job": ""}) is None


def test_alarms_most_severe_first_and_garbage_ignored() -> None:
    raw = json.dumps(
        [
            {"id": 1, "code": "A", "severity": 250, "state": "unacknowledged", "changed_at": "2026-11-21T10:00:00"},
            {"id": 2, "code": "B", "severity": 1000, "state": "acknowledged", "changed_at": "2026-11-21T09:00:00"},
            {"code": "no id"},
            "not an object",
        ]
    )
    assert [a.code for a in decode.alarms(raw)] == ["B", "A"]
    assert decode.alarms("{not json") == ()
    assert decode.alarms(None) == ()


def test_isa101_colour_only_for_abnormal_states() -> None:
    assert fmt.state_salience(PackMLState.EXECUTE) is fmt.Salience.NORMAL
    assert fmt.state_salience(PackMLState.STOPPED) is fmt.Salience.NORMAL
    assert fmt.state_salience(PackMLState.HELD) is fmt.Salience.ATTENTION
    assert fmt.state_salience(PackMLState.ABORTED) is fmt.Salience.ALARM
    assert fmt.state_words(PackMLState.EXECUTE) == "Execute"


def test_sixteen_bit_radiograph_windowed_and_flaws_drawn(tmp_path: Path) -> None:
    img = np.full((100, 120), 20000, np.uint16)
    img[40:60, 40:60] = 40000
    p = tmp_path / "r.png"
    cv2.imwrite(str(p), img)
    g = overlay.load_gray8(p)
    assert g is not None and g.dtype == np.uint8 and g.shape == (100, 120)
    assert g[50, 50] > g[5, 5]
    d = DefectView("porosity", 0.9, (10.0, 10.0, 30.0, 30.0), 3.0, "rim", "rule", "detector")
    rgb = overlay.draw_flaws(g, [d])
    assert rgb.shape == (100, 120, 3)
    assert not np.array_equal(rgb[10, 10:30, 0], rgb[10, 10:30, 1])  # the box edge is coloured
    heat = overlay.anomaly_overlay(g, np.random.default_rng(0).random((50, 60)))
    assert heat.shape == (100, 120, 3)


def test_render_file_fallback_and_staleness(tmp_path: Path) -> None:
    png, note = render.latest_render(tmp_path)
    assert png is None and "No live view" in note
    f = tmp_path / "robot" / "render.png"
    f.parent.mkdir()
    f.write_bytes(b"\x89PNG fake")
    os.utime(f, (1000.0, 1000.0))
    png, note = render.latest_render(tmp_path, now_unix_s=1005.0)
    assert png == b"\x89PNG fake" and note == ""
    _, note = render.latest_render(tmp_path, now_unix_s=1100.0)
    assert "stopped rendering" in note
