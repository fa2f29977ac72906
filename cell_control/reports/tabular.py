"""CSV (one row per part, streamed) and XLSX (Summary, Parts, Flaws, Alarms) exports."""

from __future__ import annotations

import csv
from itertools import islice
from pathlib import Path
from typing import Any

from cell_control.reports.content import ReportContent, iter_alarms, open_report
from cell_control.reports.kpi_table import kpi_lines
from cell_control.reports.rows import FLAW_COLUMNS, PART_COLUMNS, iter_flaw_rows, iter_part_rows
from cell_control.reports.selection import Selection
from cell_control.reports.window import ReportWindow
from cell_control.store.store import Store

EXCEL_MAX_ROWS = 1_048_576


def write_csv(store: Store, window: ReportWindow | None, out: Path) -> int:
    """One row per part (header first); streams, so memory stays flat. Returns the number of parts."""
    from cell_control.reports.selection import select_parts

    n = 0
    with select_parts(store, window or ReportWindow()) as sel, open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(PART_COLUMNS)
        rows = iter_part_rows(sel)
        while chunk := list(islice(rows, 5000)):
            w.writerows(chunk)
            n += len(chunk)
    return n


def _summary_sheet(wb: Any, c: ReportContent) -> None:
    ws = wb.add_worksheet("Summary")
    bold = wb.add_format({"bold": True})
    ws.set_column(0, 0, 52)
    ws.set_column(1, 2, 30)
    ident = c.identity
    head = [
        ("Cell", ident.name),
        ("Serial number", ident.serial_number),
        ("Since (UTC)", c.window.since.isoformat() if c.window.since else "(first record)"),
        ("Until (UTC)", c.window.until.isoformat() if c.window.until else "(last record)"),
        ("Lot", c.window.lot or "all lots"),
        ("Generated (UTC)", c.generated_at.isoformat(timespec="seconds")),
        ("Software version", c.traceability.software_version),
        ("Report config SHA-256", c.traceability.report_config_sha256),
    ]
    r = 0
    for k, v in head:
        ws.write(r, 0, k, bold)
        ws.write(r, 1, v)
        r += 1
    if c.kpis.empty:
        ws.write(r, 0, "No parts were inspected in this window.", bold)
        r += 1
    r += 1
    ws.write_row(r, 0, ["KPI", "Value", "Shown as"], bold)
    r += 1
    for ln in kpi_lines(c.kpis):
        ws.write(r, 0, ln.label)
        if ln.value is None:
            ws.write_blank(r, 1, None)
        else:
            ws.write(r, 1, ln.value)
        ws.write(r, 2, ln.text)
        r += 1
    for note in c.kpis.notes:
        ws.write(r, 0, "Note: " + note)
        r += 1
    r += 1
    ws.write_row(r, 0, ["Models", "Inspections"], bold)
    r += 1
    for use in c.traceability.model_versions:
        ws.write(r, 0, "; ".join(f"{k}: {v}" for k, v in sorted(use.versions.items())) or "(none recorded)")
        ws.write(r, 1, use.inspections)
        r += 1
    for h, n in c.traceability.config_sha256_used:
        ws.write(r, 0, f"cell config SHA-256 {h}")
        ws.write(r, 1, n)
        r += 1


def _stream_sheet(wb: Any, name: str, columns: tuple[str, ...], rows: Any) -> int:
    ws = wb.add_worksheet(name)
    bold = wb.add_format({"bold": True})
    ws.write_row(0, 0, columns, bold)
    r = 1
    for row in rows:
        if r >= EXCEL_MAX_ROWS - 1:
            ws.write(r, 0, "truncated at Excel's row limit: the CSV export has every row")
            break
        ws.write_row(r, 0, ["" if v is None else v for v in row])
        r += 1
    return r - 1


def write_xlsx_from(sel: Selection, content: ReportContent, out: Path) -> None:
    import xlsxwriter

    # constant_memory writes each row to disk as it comes: a million parts do not sit in memory.
    wb = xlsxwriter.Workbook(str(out), {"constant_memory": True, "strings_to_numbers": False})
    try:
        _summary_sheet(wb, content)
        _stream_sheet(wb, "Parts", PART_COLUMNS, iter_part_rows(sel))
        _stream_sheet(wb, "Flaws", FLAW_COLUMNS, iter_flaw_rows(sel))
        k = content.kpis
        alarms = (tuple(a.values()) for a in iter_alarms(sel, k.first_arrival_at, k.last_finish_at))
        cols = ("alarm_id", "code", "severity", "raised_at", "part_serial", "message", "state", "state_at", "state_by")
        _stream_sheet(wb, "Alarms", cols, alarms)
    finally:
        wb.close()


def write_xlsx(store: Store, window: ReportWindow | None, out: Path, cfg: Any = None) -> ReportContent:
    """Workbook with sheets Summary, Parts, Flaws, Alarms; returns the report content."""
    with open_report(store, window, cfg) as (sel, content):
        write_xlsx_from(sel, content, Path(out))
        return content
