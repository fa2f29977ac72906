"""Radiograph display: window to 8 bits, draw the flaws found, colour the anomaly map."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from hmi.records import DefectView

# BGR; flaws are abnormal by definition, so they may carry colour on an otherwise grey screen
_CLASS_BGR = {
    "porosity": (40, 40, 230),
    "shrinkage": (0, 140, 255),
    "crack": (200, 0, 200),
    "inclusion": (230, 160, 0),
}
_ANOMALY_BGR = (0, 200, 255)


def load_gray8(path: Path) -> np.ndarray | None:
    """Any 8- or 16-bit single-channel image (PNG/TIFF/.npy) windowed to 8 bits by its 0.5-99.5 % range."""
    if path.suffix == ".npy":
        img = np.load(path, allow_pickle=False)
    else:
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        return None
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.shape[2] == 3 else img[..., 0]
    if img.dtype == np.uint8:
        return img
    f = img.astype(np.float32)
    lo, hi = np.percentile(f, (0.5, 99.5))
    if hi <= lo:
        hi = lo + 1.0
    return np.clip((f - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)


def draw_flaws(gray: np.ndarray, defects: Sequence[DefectView]) -> np.ndarray:
    """RGB image with one numbered box per flaw (numbers match the flaw table)."""
    bgr = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    thick = max(1, round(max(gray.shape) / 400))
    for i, d in enumerate(defects, start=1):
        x0, y0, x1, y1 = (round(v) for v in d.bbox_xyxy_px)
        color = _ANOMALY_BGR if d.source == "anomaly" else _CLASS_BGR.get(d.flaw_class, (0, 0, 255))
        cv2.rectangle(bgr, (x0, y0), (x1, y1), color, thick)
        label = f"{i} {d.flaw_class} {d.size_mm:.1f}mm"
        ty = y0 - 4 if y0 > 14 else y1 + 14
        cv2.putText(bgr, label, (x0, ty), cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, 1, cv2.LINE_AA)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def anomaly_overlay(gray: np.ndarray, anomaly: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """RGB: the radiograph with the anomaly map as a heat map on top (resized to the image)."""
    a = np.asarray(anomaly, dtype=np.float32)
    if a.shape != gray.shape:
        a = np.asarray(cv2.resize(a, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_LINEAR), np.float32)
    lo, hi = float(a.min()), float(a.max())
    a8 = np.zeros_like(gray) if hi <= lo else ((a - lo) * (255.0 / (hi - lo))).astype(np.uint8)
    heat = cv2.applyColorMap(a8, cv2.COLORMAP_INFERNO)
    base = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    mixed = cv2.addWeighted(base, 1.0 - alpha, heat, alpha, 0.0)
    return cv2.cvtColor(mixed, cv2.COLOR_BGR2RGB)
