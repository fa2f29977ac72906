"""The signed PDF quality report (reportlab platypus, matplotlib charts)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from cell_control.reports.charts import histogram_png, pareto_png, pchart_png
from cell_control.reports.content import ReportContent, open_report
from cell_control.reports.kpi_table import kpi_lines
from cell_control.reports.thumbs import thumbnail_png
from cell_control.reports.window import ReportWindow
from cell_control.store.images import ImageStore
from cell_control.store.store import Store

_STYLES = getSampleStyleSheet()
_BODY = _STYLES["BodyText"]
_SMALL = ParagraphStyle("small", parent=_BODY, fontSize=7, leading=8.5)
_CELL = ParagraphStyle("cell", parent=_BODY, fontSize=8, leading=9.5)
_H1, _H2 = _STYLES["Title"], _STYLES["Heading2"]
_GRID = TableStyle(
    [
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
)
_WIDTH = A4[0] - 30 * mm


def _p(text: Any, style: ParagraphStyle = _SMALL) -> Paragraph:
    safe = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return Paragraph(safe, style)


def _chart(png: bytes, width_mm: float = 175) -> Image:
    img = Image(io.BytesIO(png))
    scale = width_mm * mm / img.imageWidth
    img.drawWidth, img.drawHeight = img.imageWidth * scale, img.imageHeight * scale
    return img


def _header(c: ReportContent) -> list[Any]:
    ident = c.identity
    rows = [
        ["Cell", f"{ident.name} ({ident.model}, {ident.manufacturer})"],
        ["Serial number / URI", f"{ident.serial_number} / {ident.product_instance_uri}"],
        ["Window (UTC)", c.window.describe()],
        ["Lot", c.window.lot or "all lots"],
        ["Generated (UTC)", c.generated_at.isoformat(timespec="seconds")],
        ["Software version", f"ironcell {c.traceability.software_version}"],
    ]
    t = Table([[_p(a, _BODY), _p(b, _BODY)] for a, b in rows], colWidths=[45 * mm, _WIDTH - 45 * mm])
    t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey)]))
    return [Paragraph(f"Quality report - {ident.name}", _H1), t, Spacer(1, 4 * mm)]


def _kpis(c: ReportContent) -> list[Any]:
    out: list[Any] = [Paragraph("Key figures", _H2)]
    if c.kpis.empty:
        out.append(Paragraph("<b>No parts were inspected in this window.</b> The figures below are empty.", _BODY))
    data = [["KPI", "Value"]] + [[_p(ln.label, _CELL), _p(ln.text, _CELL)] for ln in kpi_lines(c.kpis)]
    t = Table(data, colWidths=[95 * mm, _WIDTH - 95 * mm], repeatRows=1)
    t.setStyle(_GRID)
    out.append(t)
    out.append(_p("Yield, ppm and OEE quality use the final disposition (latest review, else machine verdict)."))
    out.extend(_p("Note: " + n) for n in c.kpis.notes)
    return out


def _charts(c: ReportContent) -> list[Any]:
    return [
        KeepTogether([Paragraph("Charts", _H2), _chart(pchart_png(c.pchart))]),
        _chart(pareto_png(c.pareto_class, "NOK parts by flaw class (Pareto)")),
        _chart(pareto_png(c.pareto_zone, "NOK parts by zone (Pareto)")),
        _chart(histogram_png(c.cycle_hist, "robot cycle time (s)", "Robot pick-and-place cycle time")),
        _chart(histogram_png(c.force_hist, "peak contact force (N)", "Peak robot contact force per task")),
    ]


def _nok_table(c: ReportContent, images: ImageStore) -> list[Any]:
    out: list[Any] = [PageBreak(), Paragraph("NOK parts", _H2)]
    if not c.nok_parts:
        return [*out, Paragraph("No NOK parts in this window.", _BODY)]
    if c.nok_parts_total > len(c.nok_parts):
        out.append(
            _p(f"Showing the first {len(c.nok_parts)} of {c.nok_parts_total} NOK parts; CSV and XLSX list them all.")
        )
    head = ["Radiograph", "Serial / lot", "Finished (UTC)", "Machine -> final", "Findings"]
    rows: list[list[Any]] = [[_p(h) for h in head]]
    for part in c.nok_parts:
        png = thumbnail_png(images, part.image_sha256, part.defects, max_px=200)
        thumb: Any = _chart(png, 32) if png else _p("radiograph not available")
        findings = "; ".join(
            f"{d.flaw_class.value} {d.size_mm:.1f} mm {d.zone or '-'}"
            + (f" breaks {d.rule_broken}" if d.rule_broken else "")
            for d in part.defects
        )
        rows.append(
            [
                thumb,
                _p(f"{part.serial} / {part.lot or '-'}"),
                _p(part.finished_at.strftime("%Y-%m-%d %H:%M:%SZ")),
                _p(f"{part.machine_verdict} -> {part.final_disposition}"),
                _p(findings or "no finding recorded"),
            ]
        )
    t = Table(rows, colWidths=[36 * mm, 32 * mm, 30 * mm, 22 * mm, _WIDTH - 120 * mm], repeatRows=1)
    t.setStyle(_GRID)
    return [*out, t]


def _reviews(c: ReportContent) -> list[Any]:
    out: list[Any] = [Paragraph("Review decisions that changed the machine verdict", _H2)]
    if not c.review_decisions:
        return [*out, Paragraph("No verdict was changed by a reviewer in this window.", _BODY)]
    if c.review_decisions_total > len(c.review_decisions):
        out.append(_p(f"Showing the first {len(c.review_decisions)} of {c.review_decisions_total}; CSV lists all."))
    rows: list[list[Any]] = [[_p(h) for h in ("Serial", "Machine -> final", "Reviewer", "When (UTC)", "Reason")]]
    for d in c.review_decisions:
        rows.append(
            [
                _p(d.serial),
                _p(f"{d.machine_verdict} -> {d.final_disposition}"),
                _p(d.user),
                _p(d.reviewed_at.strftime("%Y-%m-%d %H:%M:%SZ")),
                _p(d.reason),
            ]
        )
    t = Table(rows, colWidths=[28 * mm, 24 * mm, 24 * mm, 32 * mm, _WIDTH - 108 * mm], repeatRows=1)
    t.setStyle(_GRID)
    return [*out, t]


def _alarms(c: ReportContent) -> list[Any]:
    out: list[Any] = [Paragraph("Alarms", _H2)]
    if not c.alarms:
        return [*out, Paragraph("No alarms in this window.", _BODY)]
    rows = [["Code", "Severity", "Count", "Message"]] + [
        [_p(a.code), str(a.severity), str(a.count), _p(a.message)] for a in c.alarms[:30]
    ]
    t = Table(rows, colWidths=[40 * mm, 18 * mm, 15 * mm, _WIDTH - 73 * mm], repeatRows=1)
    t.setStyle(_GRID)
    return [*out, t]


def _trace(c: ReportContent) -> list[Any]:
    tr = c.traceability
    out: list[Any] = [Paragraph("Traceability", _H2)]
    rows: list[list[Any]] = [["Item", "Value", "Inspections"]]
    rows.append([_p("software version"), _p(f"ironcell {tr.software_version}"), ""])
    rows.append([_p("report config SHA-256"), _p(tr.report_config_sha256), ""])
    for h, n in tr.config_sha256_used:
        rows.append([_p("cell config SHA-256"), _p(h), str(n)])
    for use in tr.model_versions:
        text = "; ".join(f"{k}: {v}" for k, v in sorted(use.versions.items())) or "(no model recorded)"
        rows.append([_p("models"), _p(text), str(use.inspections)])
    t = Table(rows, colWidths=[38 * mm, _WIDTH - 60 * mm, 22 * mm], repeatRows=1)
    t.setStyle(_GRID)
    return [*out, t]


def _signatures() -> list[Any]:
    line = "_" * 38
    rows = [
        ["Prepared by", line, "Date", "_" * 16],
        ["Approved by", line, "Date", "_" * 16],
    ]
    t = Table(rows, colWidths=[28 * mm, 80 * mm, 14 * mm, 40 * mm], rowHeights=[12 * mm, 12 * mm])
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "BOTTOM"), ("FONTSIZE", (0, 0), (-1, -1), 9)]))
    return [KeepTogether([Paragraph("Signatures", _H2), t])]


def _footer(canvas: Any, doc: Any) -> None:
    canvas.saveState()
    canvas.setFont("Helvetica", 7)
    canvas.drawString(15 * mm, 8 * mm, doc.title)
    canvas.drawRightString(A4[0] - 15 * mm, 8 * mm, f"page {doc.page}")
    canvas.restoreState()


def build_pdf(content: ReportContent, images: ImageStore, out: Path) -> Path:
    doc = SimpleDocTemplate(
        str(out),
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"ironcell quality report {content.identity.name} {content.window.describe()}",
        author="ironcell",
    )
    story = [
        *_header(content),
        *_kpis(content),
        *_charts(content),
        *_nok_table(content, images),
        *_reviews(content),
        *_alarms(content),
        *_trace(content),
        *_signatures(),
    ]
    doc.build(story, onFirstPage=_footer, onLaterPages=_footer)
    return out


def render_pdf(
    store: Store, window: ReportWindow | None, out: Path, cfg: Any = None, *, nok_limit: int = 100
) -> ReportContent:
    """Write the PDF report of `window` to `out`; returns what it shows."""
    with open_report(store, window, cfg, nok_limit=nok_limit) as (_, content):
        build_pdf(content, store.images, Path(out))
        return content
