"""The exports open in the readers a quality engineer uses and hold the numbers of the hand-built history."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
import pypdf
from typer.testing import CliRunner

from cell_control.cli.main import app
from cell_control.reports import ReportWindow, render_pdf, write_csv, write_json, write_xlsx
from cell_control.reports.rows import PART_COLUMNS
from cell_control.store import Store
from tests.integration.reports.conftest import CONFIG_SHA, T0


def _pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(str(path)).pages)


def test_pdf_holds_kpis_nok_parts_traceability_and_signatures(sqlite_store: Store, tmp_path: Path) -> None:
    out = tmp_path / "q.pdf"
    render_pdf(sqlite_store, None, out)
    text = _pdf_text(out)
    assert "Quality report - XrayCell1" in text
    assert "IC-0001" in text
    assert "Parts inspected" in text
    assert "50.00 %" in text  # yield
    assert "400,000 ppm" in text
    assert "10.00 % (1)" in text  # false-reject rate
    assert "25.00 % (1 of 4)" in text  # escape rate
    assert "30.0 %" in text  # OEE
    assert "360.0 parts/h" in text
    for serial in ("P2", "P4", "P6", "P7"):  # every final NOK part is listed
        assert f"{serial} /" in text
    assert "radiograph not available" in text  # P7's image is missing: placeholder, no crash
    assert "porosity 4.0 mm rim breaks max_pore_mm" in text
    assert "yolo11n-test-1" in text and "yolo11n-test-2" in text
    assert "d1" * 16 in text.replace("\n", "")
    assert CONFIG_SHA[:32] in text.replace("\n", "")
    assert "ironcell 0.1.0" in text
    assert "Prepared by" in text and "Approved by" in text
    assert "ROBOT_PSTOP" in text
    # releases and late rejections name the reviewer and the reason
    assert "fixture shadow" in text and "porosity visible the detector missed" in text


def test_pdf_of_an_empty_window_says_so(sqlite_store: Store, tmp_path: Path) -> None:
    out = tmp_path / "empty.pdf"
    content = render_pdf(sqlite_store, ReportWindow(since=T0 + timedelta(days=9)), out)
    assert content.kpis.empty
    text = _pdf_text(out)
    assert "No parts were inspected in this window" in text
    assert "No NOK parts in this window" in text
    assert "Prepared by" in text


def test_csv_has_one_row_per_part_with_both_verdicts(sqlite_store: Store, tmp_path: Path) -> None:
    out = tmp_path / "parts.csv"
    assert write_csv(sqlite_store, None, out) == 10
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == PART_COLUMNS
    assert [r["serial"] for r in rows] == [f"P{i}" for i in range(10)]
    p3 = rows[3]
    assert (p3["machine_verdict"], p3["review_disposition"], p3["final_disposition"]) == ("NOK", "OK", "OK")
    assert p3["reviewed_by"] == "alice" and "fixture shadow" in p3["review_reason"]
    p7 = rows[7]
    assert (p7["reviewed_by"], p7["final_disposition"]) == ("bob", "NOK")  # the latest review wins
    assert rows[9]["n_inspections"] == "2" and rows[9]["first_verdict"] == "REVIEW"
    assert datetime.fromisoformat(rows[0]["arrived_at"]) == T0
    assert datetime.fromisoformat(rows[9]["finished_at"]) == T0 + timedelta(seconds=100)
    assert datetime.fromisoformat(p3["reviewed_at"]).tzinfo is not None
    assert rows[1]["gt_flawed"] == "True" and rows[6]["gt_flawed"] == ""
    assert rows[8]["task_outcome"] == ""  # P8 has no robot task


def test_xlsx_sheets_and_values(sqlite_store: Store, tmp_path: Path) -> None:
    out = tmp_path / "q.xlsx"
    write_xlsx(sqlite_store, None, out)
    wb = openpyxl.load_workbook(out, read_only=True)
    assert wb.sheetnames == ["Summary", "Parts", "Flaws", "Alarms"]
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(values_only=True) if r and r[0]}
    assert summary["Parts inspected"] == 10
    assert summary["Yield (final OK / parts)"] == 0.5
    assert summary["NOK (ppm)"] == 400000
    assert summary["OEE"] == 0.3 or abs(summary["OEE"] - 0.3) < 1e-9
    parts = list(wb["Parts"].iter_rows(values_only=True))
    assert parts[0] == PART_COLUMNS and len(parts) == 11
    final = {r[0]: r[PART_COLUMNS.index("final_disposition")] for r in parts[1:]}
    assert final["P6"] == "NOK" and final["P5"] == "REVIEW"
    flaws = list(wb["Flaws"].iter_rows(values_only=True))
    assert len(flaws) == 1 + 6  # P2 x2, P3, P4, P7 x2 on the latest inspections
    alarms = list(wb["Alarms"].iter_rows(values_only=True))
    assert len(alarms) == 1 + 3
    assert {a[1] for a in alarms[1:]} == {"ROBOT_PSTOP", "XRAY_TUBE_TEMP"}
    assert all(a[6] == "acknowledged" for a in alarms[1:])


def test_json_for_machines(sqlite_store: Store, tmp_path: Path) -> None:
    out = tmp_path / "q.json"
    write_json(sqlite_store, ReportWindow(lot="A"), out)
    data = json.loads(out.read_text())
    assert data["schema"] == "ironcell.quality-report/1"
    assert data["window"] == {"since": None, "until": None, "lot": "A"}
    assert data["kpis"]["parts"] == 5
    assert data["kpis"]["final_nok"] == 2  # P2, P4
    assert [p["serial"] for p in data["nok_parts"]] == ["P2", "P4"]
    assert data["nok_parts"][0]["defects"][0]["bbox_xyxy"] == [40.0, 40.0, 90.0, 80.0]
    assert {"pchart", "pareto_flaw_class", "pareto_zone", "cycle_time_histogram_s", "traceability"} <= set(data)
    decisions = {
        d["serial"]: (d["machine_verdict"], d["final_disposition"], d["user"]) for d in data["review_decisions"]
    }
    assert decisions == {"P3": ("NOK", "OK", "alice"), "P4": ("REVIEW", "NOK", "alice")}


def test_cli_writes_each_format_and_refuses_bad_times(sqlite_store: Store, tmp_path: Path) -> None:
    runner = CliRunner()
    for fmt in ("pdf", "csv", "xlsx", "json"):
        out = tmp_path / f"r.{fmt}"
        res = runner.invoke(
            app, ["report", "--format", fmt, "--out", str(out), "--since", "2026-11-21", "--until", "2026-11-21"]
        )
        assert res.exit_code == 0, res.output
        assert out.stat().st_size > 0
        assert "10 parts" in res.output
    empty = tmp_path / "empty.json"
    res = runner.invoke(app, ["report", "--format", "json", "--out", str(empty), "--since", "2027-01-01T00:00:00Z"])
    assert res.exit_code == 0 and json.loads(empty.read_text())["empty"] is True
    res = runner.invoke(app, ["report", "--format", "pdf", "--out", str(tmp_path / "x.pdf"), "--since", "yesterday"])
    assert res.exit_code == 2
    assert "--since 'yesterday'" in res.output and "ISO 8601" in res.output
    assert not (tmp_path / "x.pdf").exists()
    res = runner.invoke(
        app,
        [
            "report",
            "--format",
            "pdf",
            "--out",
            str(tmp_path / "x.pdf"),
            "--since",
            "2026-11-22",
            "--until",
            "2026-11-21",
        ],
    )
    assert res.exit_code == 2 and "is not before" in res.output
    res = runner.invoke(app, ["report", "--format", "pdf", "--out", str(tmp_path / "nope" / "x.pdf")])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_csv_and_xlsx_on_each_database(qstore: Store, tmp_path: Path) -> None:
    out = tmp_path / "parts.csv"
    assert write_csv(qstore, ReportWindow(lot="B"), out) == 5
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["serial"] for r in rows] == ["P5", "P6", "P7", "P8", "P9"]
    assert datetime.fromisoformat(rows[0]["finished_at"]) == T0 + timedelta(seconds=56)
    assert datetime.fromisoformat(rows[1]["reviewed_at"]).tzinfo is not None
    assert [r["gt_flawed"] for r in rows] == ["False", "", "True", "False", ""]
    write_xlsx(qstore, None, tmp_path / "q.xlsx")
    assert openpyxl.load_workbook(tmp_path / "q.xlsx", read_only=True).sheetnames[0] == "Summary"
