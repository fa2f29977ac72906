"""`ironcell report --format pdf|csv|xlsx|json --out F [--since T] [--until T] [--lot L]`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cell_control.cli.common import ConfigOpt, load_or_exit

if TYPE_CHECKING:
    from cell_control.config import IroncellConfig
    from cell_control.reports.window import ReportWindow
    from cell_control.store.store import Store


class ReportFormat(StrEnum):
    pdf = "pdf"
    csv = "csv"
    xlsx = "xlsx"
    json = "json"


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        fmt: ReportFormat = typer.Option(
            ..., "--format", "-f", help="pdf (to sign), csv (one row per part), xlsx, json"
        ),
        out: Path = typer.Option(..., "--out", "-o", help="file to write"),
        since: str | None = typer.Option(
            None, "--since", help="ISO 8601 date or time, UTC unless an offset is given (inclusive)"
        ),
        until: str | None = typer.Option(
            None, "--until", help="ISO 8601 date or time (exclusive); a bare date includes that whole day"
        ),
        lot: str | None = typer.Option(None, "--lot", help="only this lot"),
        subgroup: int | None = typer.Option(
            None,
            "--pchart-subgroup",
            min=1,
            help="p-chart subgroups of N parts (default: per hour; about 20 subgroups for windows under 3 h)",
        ),
        config: Path | None = ConfigOpt,
    ) -> None:
        """Export the quality report of a window, shift or lot (KPIs on the final disposition)."""
        from cell_control.config import ironcell_home
        from cell_control.reports.window import ReportWindow, WindowError
        from cell_control.store.store import Store, StoreError

        try:
            window = ReportWindow.parse(since, until, lot)
        except WindowError as exc:
            typer.echo(f"report: {exc}", err=True)
            raise typer.Exit(2) from exc
        if not out.parent.is_dir():
            typer.echo(f"report: --out {out}: folder {out.parent} does not exist", err=True)
            raise typer.Exit(2)
        cfg = load_or_exit(config)
        home = ironcell_home()
        if cfg.store.url is None and not (home / "ironcell.db").is_file():
            typer.echo(f"report: no record store at {home / 'ironcell.db'} (set IRONCELL_HOME or store.url)", err=True)
            raise typer.Exit(1)
        try:
            store = Store.open(home, cfg.store.url, busy_timeout_ms=cfg.store.busy_timeout_ms)
        except StoreError as exc:
            typer.echo(f"report: {exc}", err=True)
            raise typer.Exit(1) from exc
        try:
            parts = _write(store, window, out, fmt, cfg, subgroup)
        finally:
            store.close()
        what = "no parts (the report says so)" if parts == 0 else f"{parts:,} parts"
        typer.echo(f"wrote {fmt.value} report of {window.describe()}: {what} -> {out}")


def _write(
    store: Store, window: ReportWindow, out: Path, fmt: ReportFormat, cfg: IroncellConfig, subgroup: int | None
) -> int:
    from cell_control.reports.content import open_report
    from cell_control.reports.tabular import write_csv

    if fmt is ReportFormat.csv:
        return write_csv(store, window, out)
    nok_limit = 1000 if fmt is ReportFormat.json else 100
    with open_report(store, window, cfg, subgroup_parts=subgroup, nok_limit=nok_limit) as (sel, content):
        if fmt is ReportFormat.pdf:
            from cell_control.reports.pdf import build_pdf

            build_pdf(content, store.images, out)
        elif fmt is ReportFormat.xlsx:
            from cell_control.reports.tabular import write_xlsx_from

            write_xlsx_from(sel, content, out)
        else:
            import json

            from cell_control.reports.jsonout import report_dict

            out.write_text(json.dumps(report_dict(content), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return content.kpis.parts
