"""Turn the values read from the cell's address space (cell_control.opcua.names) into HMI views.

Pure functions of plain Python values, so they are tested without a server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from cell_control.opcua.names import CellNodes
from cell_control.types import PackMLState
from hmi.model import AlarmView, LastResultView, RobotView

COUNTERS = ("ProcessedCount", "DefectiveCount", "ReviewCount", "OkCount")


def poll_plan(nodes: CellNodes) -> dict[str, str]:
    """Key -> NodeId string of everything the HMI reads on each refresh (one Read request)."""
    return {
        "state": nodes.state_current,
        "ProcessedCount": nodes.processed_count,
        "DefectiveCount": nodes.defective_count,
        "ReviewCount": nodes.review_count,
        "OkCount": nodes.ok_count,
        "last_cycle_s": nodes.last_cycle_time,
        "speed_ppm": nodes.cur_mach_speed,
        "last_command": nodes.last_command_result,
        "res_job": nodes.last_result("JobId"),
        "res_part": nodes.last_result("PartId"),
        "res_verdict": nodes.last_result("Verdict"),
        "res_flaws": nodes.last_result("FlawCount"),
        "robot_mode": nodes.robot_var("Mode"),
        "robot_tcp": nodes.robot_var("TcpPose"),
        "robot_force": nodes.robot_var("ContactForce"),
        "robot_pstop": nodes.robot_var("ProtectiveStop"),
        "alarms": nodes.active_alarms,
    }


def packml_state(value: Any) -> PackMLState | None:
    try:
        return PackMLState(int(value))
    except (TypeError, ValueError):
        return None


def counters(values: Mapping[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key in COUNTERS:
        v = values.get(key)
        if isinstance(v, int | float):
            out[key] = int(v)
    return out


def last_result(values: Mapping[str, Any]) -> LastResultView | None:
    job = values.get("res_job")
    if not job:
        return None
    flaws = values.get("res_flaws")
    return LastResultView(
        job_id=str(job),
        part_serial=str(values.get("res_part") or ""),
        verdict=str(values.get("res_verdict") or ""),
        flaw_count=int(flaws) if isinstance(flaws, int | float) else 0,
    )


def robot(values: Mapping[str, Any]) -> RobotView | None:
    mode = values.get("robot_mode")
    if mode is None and values.get("robot_force") is None:
        return None
    tcp = values.get("robot_tcp")
    pos: tuple[float, float, float] | None = None
    if isinstance(tcp, Sequence) and not isinstance(tcp, str) and len(tcp) >= 3:
        pos = (float(tcp[0]), float(tcp[1]), float(tcp[2]))
    force = values.get("robot_force")
    return RobotView(
        mode=str(mode or ""),
        tcp_position_m=pos,
        contact_force_n=float(force) if isinstance(force, int | float) else None,
        protective_stop=bool(values.get("robot_pstop")),
    )


def alarms(raw: Any) -> tuple[AlarmView, ...]:
    """ActiveAlarms is a JSON list of objects with ALARM_JSON_KEYS; anything unreadable gives none."""
    if not raw:
        return ()
    try:
        items = json.loads(raw) if isinstance(raw, str | bytes) else raw
    except ValueError:
        return ()
    out = []
    for a in items if isinstance(items, list) else []:
        if not isinstance(a, dict) or "id" not in a:
            continue
        sev = a.get("severity", 0)
        out.append(
            AlarmView(
                alarm_id=str(a["id"]),
                code=str(a.get("code", "")),
                message=str(a.get("message", "")),
                severity=int(sev) if isinstance(sev, int | float) else 0,
                state=str(a.get("state", "")),
                since=str(a.get("changed_at") or a.get("raised_at") or ""),
                part_serial=a.get("part_serial"),
            )
        )
    # most severe first, then newest: what the operator must see first (ISA-18.2 prioritisation)
    out.sort(key=lambda x: x.since, reverse=True)
    out.sort(key=lambda x: x.severity, reverse=True)
    return tuple(out)
