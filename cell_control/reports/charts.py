"""Report charts as PNG bytes (matplotlib's object API: no pyplot global state, safe in server threads)."""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cell_control.reports.spc import Histogram, Pareto, PChart

_SIZE_IN = (7.0, 2.8)


def _png(fig: Figure, dpi: int = 110) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def _empty(ax: object, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)  # type: ignore[attr-defined]
    ax.set_axis_off()  # type: ignore[attr-defined]


def pchart_png(chart: PChart) -> bytes:
    fig = Figure(figsize=_SIZE_IN)
    ax = fig.add_subplot()
    if not chart.points or chart.p_bar is None:
        _empty(ax, "no parts in this window")
        return _png(fig)
    x = list(range(len(chart.points)))
    p = [pt.p * 100 for pt in chart.points]
    ax.step(x, [pt.ucl * 100 for pt in chart.points], where="mid", color="tab:red", lw=1, label="UCL / LCL")
    ax.step(x, [pt.lcl * 100 for pt in chart.points], where="mid", color="tab:red", lw=1)
    ax.axhline(chart.p_bar * 100, color="tab:green", lw=1, label=f"p̄ = {chart.p_bar * 100:.2f} %")
    ax.plot(x, p, marker="o", ms=3, lw=1, color="tab:blue", label="fraction NOK")
    bad = [(i, pt.p * 100) for i, pt in enumerate(chart.points) if pt.out_of_control]
    if bad:
        ax.scatter([b[0] for b in bad], [b[1] for b in bad], color="tab:red", zorder=5, s=25, label="out of control")
    step = max(1, len(x) // 8)
    ax.set_xticks(x[::step])
    ax.set_xticklabels([chart.points[i].label for i in x[::step]], rotation=20, ha="right", fontsize=7)
    ax.set_ylabel("NOK %")
    ax.set_xlabel(f"subgroup ({chart.subgroup})")
    ax.set_title("p-chart of final NOK fraction (3-sigma limits)", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    ax.grid(alpha=0.3)
    return _png(fig)


def pareto_png(pareto: Pareto, title: str) -> bytes:
    fig = Figure(figsize=_SIZE_IN)
    ax = fig.add_subplot()
    if not pareto.bars:
        _empty(ax, "no NOK parts in this window")
        return _png(fig)
    names = [b.category for b in pareto.bars]
    ax.bar(names, [b.parts for b in pareto.bars], color="tab:blue")
    ax.set_ylabel("NOK parts")
    ax2 = ax.twinx()
    ax2.plot(names, [b.cumulative_share * 100 for b in pareto.bars], color="tab:orange", marker="o", ms=3)
    ax2.set_ylim(0, 105)
    ax2.set_ylabel("cumulative %")
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="x", labelsize=7, rotation=15)
    return _png(fig)


def histogram_png(hist: Histogram, xlabel: str, title: str) -> bytes:
    fig = Figure(figsize=_SIZE_IN)
    ax = fig.add_subplot()
    if not hist.counts:
        _empty(ax, "no robot tasks in this window")
        return _png(fig)
    edges = hist.edges
    widths = [edges[i + 1] - edges[i] for i in range(len(hist.counts))]
    ax.bar(edges[:-1], hist.counts, width=widths, align="edge", color="tab:blue", edgecolor="white")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("tasks")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    return _png(fig)
