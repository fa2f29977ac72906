"""`ironcell bench xray`: radiographs per second of the simulator (render only, no PNG writing).

Wall-clock rates depend on what else runs on the machine, so the CPU time per image is reported too (one
OpenCV thread per worker); `*_cpu_bound` is the rate the given workers reach on otherwise idle cores.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import cv2
import numpy as np

from vision.types import DetectorMode
from vision.xray.params import XraySimParams
from vision.xray.simulator import XraySimulator


def _render_n(width: int, height: int, mode: str, start: int, n: int) -> tuple[float, float]:
    sim = XraySimulator(XraySimParams(width_px=width, height_px=height, detector_mode=DetectorMode(mode)))
    for i in range(3):  # warm caches (detector pool, distortion grids)
        sim.render(np.random.default_rng(10**6 + start * 10 + i))
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        sim.render(np.random.default_rng(np.random.SeedSequence([start, i])))
    return time.perf_counter() - t0, time.process_time() - c0


def _measure(width: int, height: int, mode: str, n: int, workers: int) -> tuple[float, float]:
    """(images per second wall clock, CPU ms per image)."""
    per = max(1, n // workers)
    with ProcessPoolExecutor(workers, initializer=cv2.setNumThreads, initargs=(1,)) as pool:
        args = ([width] * workers, [height] * workers, [mode] * workers, range(workers), [per] * workers)
        results = list(pool.map(_render_n, *args))
    wall = max(w for w, _ in results)  # workers run side by side; pool start-up is excluded
    cpu = sum(c for _, c in results)
    return per * workers / wall, 1000.0 * cpu / (per * workers)


def run_bench(quick: bool = False) -> dict[str, Any]:
    n = 24 if quick else 160
    workers = min(2, os.cpu_count() or 1)
    out: dict[str, Any] = {"workers": workers, "cpu_count": os.cpu_count(), "images_measured": n}
    out["load_avg_1min_before"] = round(os.getloadavg()[0], 2)
    for key, (w, h, mode) in {
        "1024": (1024, 1024, "image_intensifier"),
        "1024_flat_panel": (1024, 1024, "flat_panel"),
        "768x572": (768, 572, "image_intensifier"),
    }.items():
        rate, cpu_ms = _measure(w, h, mode, n, workers)
        out[f"images_per_s_{key}"] = round(rate, 2)
        out[f"cpu_ms_per_image_{key}"] = round(cpu_ms, 1)
        out[f"images_per_s_{key}_cpu_bound"] = round(workers * 1000.0 / cpu_ms, 1)
    out["load_avg_1min_after"] = round(os.getloadavg()[0], 2)
    return out
