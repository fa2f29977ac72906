"""`ironcell bench xray`: radiographs per second of the simulator (render only, no PNG writing)."""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from vision.types import DetectorMode
from vision.xray.params import XraySimParams
from vision.xray.simulator import XraySimulator


def _render_n(width: int, height: int, mode: str, start: int, n: int) -> float:
    import cv2

    cv2.setNumThreads(1)
    sim = XraySimulator(XraySimParams(width_px=width, height_px=height, detector_mode=DetectorMode(mode)))
    sim.render(np.random.default_rng(10**6 + start))  # warm caches (detector pool, distortion grids)
    t0 = time.perf_counter()
    for i in range(n):
        sim.render(np.random.default_rng(np.random.SeedSequence([start, i])))
    return time.perf_counter() - t0


def _rate(width: int, height: int, mode: str, n: int, workers: int) -> float:
    if workers == 1:
        return n / _render_n(width, height, mode, 0, n)
    per = max(1, n // workers)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        list(
            pool.map(
                _render_n, [width] * workers, [height] * workers, [mode] * workers, range(workers), [per] * workers
            )
        )
    # wall time includes pool start-up, which a long data-set run amortises; report both views
    wall = time.perf_counter() - t0
    return per * workers / wall


def run_bench(quick: bool = False) -> dict[str, Any]:
    n = 24 if quick else 160
    workers = min(2, os.cpu_count() or 1)
    out: dict[str, Any] = {"workers": workers, "cpu_count": os.cpu_count(), "images_measured": n}
    out["images_per_s_1024"] = round(_rate(1024, 1024, "image_intensifier", n, workers), 2)
    out["images_per_s_1024_flat_panel"] = round(_rate(1024, 1024, "flat_panel", n, workers), 2)
    out["images_per_s_768x572"] = round(_rate(768, 572, "image_intensifier", n, workers), 2)
    out["images_per_s_1024_one_worker"] = round(_rate(1024, 1024, "image_intensifier", max(8, n // 4), 1), 2)
    return out
