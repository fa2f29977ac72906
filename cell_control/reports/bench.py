"""`ironcell bench report`: generate N part records fast, then time a full report and the CSV stream.

The records go to a throw-away SQLite file through SQLAlchemy Core executemany (chunks, so generation
stays small in memory); the report then runs in a child process so that its peak RSS is its own.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, create_engine, event, insert

from cell_control.store.schema import (
    AlarmRow,
    Base,
    DefectRow,
    InspectionRow,
    InterventionRow,
    PartRow,
    ReviewRow,
    RobotTaskRow,
)

T0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
CLASSES = ("porosity", "shrinkage", "crack", "inclusion")
CLASS_P = (0.55, 0.25, 0.08, 0.12)
ZONES = ("rim", "spoke", "hub", "flange")
MODELS = {"detector": "yolo11n-xray-2026.11.1", "detector_sha256": "5f" * 32, "anomaly": "padim-2026.11.1"}


def _engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _fast(dbapi_conn: Any, _record: Any) -> None:
        # A throw-away benchmark file: durability does not matter here, generation speed does.
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=OFF")
        cur.execute("PRAGMA synchronous=OFF")
        cur.close()

    return engine


def generate(engine: Engine, n: int, seed: int = 7, chunk: int = 50_000) -> None:
    """n parts, one inspection and one robot task each; a few % NOK/REVIEW with findings and reviews."""
    Base.metadata.create_all(engine)
    rng = np.random.default_rng(seed)
    part_t, insp_t, def_t = insert(PartRow), insert(InspectionRow), insert(DefectRow)
    task_t, rev_t = insert(RobotTaskRow), insert(ReviewRow)
    defect_id, last_t = 0, 0.0
    with engine.begin() as conn:
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            ids = np.arange(start + 1, start + m + 1)
            # a stop of 20 min every ~5000 parts, otherwise one part every ~2 s
            gaps = rng.normal(2.0, 0.2, m).clip(1.0) + (rng.random(m) < 1 / 5000) * 1200.0
            t_s = np.cumsum(gaps) + last_t
            last_t = float(t_s[-1])
            flawed = rng.random(m) < 0.04
            u = rng.random(m)
            verdict = np.where(flawed, np.where(u < 0.9, "NOK", np.where(u < 0.97, "REVIEW", "OK")), "OK")
            false_call = (~flawed) & (rng.random(m) < 0.025)
            verdict = np.where(false_call, np.where(rng.random(m) < 0.5, "NOK", "REVIEW"), verdict)
            arrived = [T0 + timedelta(seconds=float(t)) for t in t_s]
            finished = [a + timedelta(seconds=6.0) for a in arrived]
            conn.execute(
                part_t,
                [
                    {
                        "id": int(i),
                        "serial": f"W{i:09d}",
                        "family": "wheel",
                        "recipe": "wheel",
                        "lot": f"LOT{(i - 1) // 10000:04d}",
                        "arrived_at": a,
                        "ground_truth": {"verdict": "NOK" if f else "OK", "flaws": []},
                    }
                    for i, a, f in zip(ids, arrived, flawed, strict=True)
                ],
            )
            conn.execute(
                insp_t,
                [
                    {
                        "id": int(i),
                        "part_id": int(i),
                        "job_id": f"J{i}",
                        "finished_at": f,
                        "verdict": str(v),
                        "anomaly_score": 0.1,
                        "latency_ms": 45.0,
                        "model_versions": MODELS,
                        "image_sha256": "",
                        "anomaly_map_sha256": "",
                        "config_sha256": "c0" * 32,
                        "error": None,
                    }
                    for i, f, v in zip(ids, finished, verdict, strict=True)
                ],
            )
            defects = []
            for i, v, fl in zip(ids, verdict, flawed, strict=True):
                if v == "OK" and not fl:
                    continue
                for _ in range(1 + int(rng.random() < 0.3)):
                    defect_id += 1
                    x, y = float(rng.uniform(0, 700)), float(rng.uniform(0, 500))
                    defects.append(
                        {
                            "id": defect_id,
                            "inspection_id": int(i),
                            "flaw_class": str(rng.choice(CLASSES, p=CLASS_P)),
                            "score": float(rng.uniform(0.3, 0.99)),
                            "x0_px": x,
                            "y0_px": y,
                            "x1_px": x + 20.0,
                            "y1_px": y + 15.0,
                            "size_mm": float(rng.uniform(1, 11)),
                            "zone": str(rng.choice(ZONES)),
                            "rule_broken": "max_size_mm" if v == "NOK" else None,
                            "source": "detector",
                        }
                    )
            if defects:
                conn.execute(def_t, defects)
            cycle = rng.normal(7.5, 0.8, m).clip(4.0)
            regr = (rng.random(m) < 0.05).astype(int)
            force = rng.normal(35.0, 8.0, m).clip(0.0)
            conn.execute(
                task_t,
                [
                    {
                        "id": int(i),
                        "part_id": int(i),
                        "task_id": f"T{i}",
                        "target": "ok_conveyor" if v == "OK" else "nok_bin" if v == "NOK" else "review_bin",
                        "outcome": "success" if rg == 0 or c < 9 else "failed_recoverable",
                        "finished_at": f,
                        "cycle_s": float(c),
                        "regrasp_count": int(rg),
                        "protective_stops": 0,
                        "max_contact_force_n": float(fo),
                        "reason": "",
                    }
                    for i, f, v, c, rg, fo in zip(ids, finished, verdict, cycle, regr, force, strict=True)
                ],
            )
            reviews = [
                {
                    "inspection_id": int(i),
                    "created_at": f + timedelta(minutes=30),
                    "user": "quality1",
                    "disposition": "NOK" if fl else "OK",
                    "reason": "confirmed on the radiograph" if fl else "surface mark, not a flaw",
                }
                for i, f, v, fl in zip(ids, finished, verdict, flawed, strict=True)
                if v == "REVIEW" and rng.random() < 0.8
            ]
            if reviews:
                conn.execute(rev_t, reviews)
            every = max(1, m // 100)
            conn.execute(
                insert(InterventionRow),
                [
                    {"at": finished[j], "kind": "protective_stop_reset", "reason": "bench", "user": "op1"}
                    for j in range(0, m, every * 5)
                ],
            )
            conn.execute(
                insert(AlarmRow),
                [
                    {"code": "ROBOT_PSTOP", "message": "protective stop", "severity": 750, "raised_at": finished[j]}
                    for j in range(0, m, every * 10)
                ],
            )


def _child(db: str, out_dir: str) -> None:
    """Runs in its own process: time the PDF report and the CSV, print one JSON line."""
    from cell_control.reports.content import open_report
    from cell_control.reports.pdf import build_pdf
    from cell_control.reports.tabular import write_csv
    from cell_control.store.images import ImageStore
    from cell_control.store.store import Store, make_engine

    store = Store(make_engine(f"sqlite:///{db}"), ImageStore(Path(out_dir) / "radiographs"))
    # Wall time is what a user waits; CPU time shows how much of it the shared machine's load added.
    t, c = time.perf_counter(), time.process_time()
    with open_report(store, None) as (_, content):
        build_pdf(content, store.images, Path(out_dir) / "report.pdf")
    report_s, report_cpu_s = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    rows = write_csv(store, None, Path(out_dir) / "parts.csv")
    csv_s, csv_cpu_s = time.perf_counter() - t, time.process_time() - c
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    k = content.kpis
    print(
        json.dumps(
            {
                "report_s": round(report_s, 2),
                "report_cpu_s": round(report_cpu_s, 2),
                "csv_s": round(csv_s, 2),
                "csv_cpu_s": round(csv_cpu_s, 2),
                "csv_rows": rows,
                "peak_rss_mb": round(peak_kb / 1024.0, 1),
                "csv_mb": round(os.path.getsize(Path(out_dir) / "parts.csv") / 2**20, 1),
                "report_parts": k.parts,
                "yield_ratio": round(k.yield_ratio or 0.0, 5),
                "ppm_nok": round(k.ppm_nok or 0.0, 1),
            }
        )
    )


def run_bench(quick: bool = False) -> dict[str, Any]:
    n = 20_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory(prefix="ironcell-bench-report-") as tmp:
        db = Path(tmp) / "bench.db"
        t = time.perf_counter()
        generate(_engine(db), n)
        gen_s = time.perf_counter() - t
        proc = subprocess.run(
            [sys.executable, "-m", "cell_control.reports.bench", "--child", str(db), tmp],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "MPLBACKEND": "Agg"},
        )
        if proc.returncode != 0:
            raise RuntimeError(f"report benchmark child failed: {proc.stderr.strip()[-2000:]}")
        child = json.loads(proc.stdout.strip().splitlines()[-1])
        db_mb = round(db.stat().st_size / 2**20, 1)
    return {"parts": n, "generate_s": round(gen_s, 1), "db_mb": db_mb, **child}


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3])
    else:
        print(json.dumps(run_bench(quick="--quick" in sys.argv), sort_keys=True))
