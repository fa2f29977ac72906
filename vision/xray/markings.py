"""Cast-in markings: part numbers, cavity numbers and date clocks, raised or sunk by a millimetre or two.

Real castings carry them and they show on radiographs as faint letters and rings: exactly the kind of sharp,
small, bright-or-dark structure a flaw detector must learn not to report.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

_CHARS = "0123456789ABCDEFHJKLMNPRSTUVWXYZ-"
_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_PLAIN)


def _text_patch(rng: np.random.Generator, height_px: float) -> np.ndarray:
    text = "".join(rng.choice(list(_CHARS), int(rng.integers(2, 8))))
    font = _FONTS[int(rng.integers(0, len(_FONTS)))]
    scale = height_px / cv2.getTextSize("0", font, 1.0, 1)[0][1]
    thick = max(1, round(height_px / 7))
    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    img = np.zeros((th + base + 4, tw + 4), np.uint8)  # putText draws on 8-bit images only
    cv2.putText(img, text, (2, th + 2), font, scale, 255, thick, cv2.LINE_AA)
    return img.astype(np.float32) * np.float32(1 / 255)


def _clock_patch(rng: np.random.Generator, height_px: float) -> np.ndarray:
    """Date clock: a ring with an arrow and hour marks."""
    r = height_px * rng.uniform(1.0, 1.8)
    n = int(2 * r + 6)
    img = np.zeros((n, n), np.uint8)
    c = n / 2
    thick = max(1, round(r / 8))
    cv2.circle(img, (round(c), round(c)), round(r), 255, thick, cv2.LINE_AA)
    a = rng.uniform(0, 2 * math.pi)
    tip = (round(c + 0.75 * r * math.cos(a)), round(c + 0.75 * r * math.sin(a)))
    cv2.arrowedLine(img, (round(c), round(c)), tip, 255, thick, cv2.LINE_AA, 0, 0.3)
    for k in range(12):
        b = 2 * math.pi * k / 12
        cv2.circle(img, (round(c + 0.9 * r * math.cos(b)), round(c + 0.9 * r * math.sin(b))), thick, 255, -1)
    return img.astype(np.float32) * np.float32(1 / 255)


def add_markings(acc: np.ndarray, rng: np.random.Generator, mm_per_px: float, randomise: float) -> None:
    """Adds 0-2 markings in place on metal at least 4 mm thick (path length map in mm, coarse grid)."""
    if rng.random() >= 0.15 + 0.45 * randomise:
        return
    h, w = acc.shape
    for _ in range(int(rng.integers(1, 3))):
        height_px = rng.uniform(4.0, 12.0) / mm_per_px
        if not 5.0 <= height_px <= min(h, w) / 3:
            continue
        patch = _text_patch(rng, height_px) if rng.random() < 0.65 else _clock_patch(rng, height_px)
        ph, pw = patch.shape
        d = int(math.hypot(ph, pw)) + 2
        m = cv2.getRotationMatrix2D((pw / 2, ph / 2), rng.uniform(0, 360), 1.0)
        m[:, 2] += (d / 2 - pw / 2, d / 2 - ph / 2)
        turned: np.ndarray = cv2.warpAffine(patch, m, (d, d))
        ys, xs = rng.integers(0, h, 64), rng.integers(0, w, 64)
        ok = np.flatnonzero(acc[ys, xs] > 4.0)
        if ok.size == 0:
            continue
        cy, cx = int(ys[ok[0]]) - d // 2, int(xs[ok[0]]) - d // 2
        y0, x0, y1, x1 = max(cy, 0), max(cx, 0), min(cy + d, h), min(cx + d, w)
        if y1 <= y0 or x1 <= x0:
            continue
        region = acc[y0:y1, x0:x1]
        relief = np.float32(rng.uniform(0.5, 2.0) * rng.choice([-1.0, 1.0]))
        mark = turned[y0 - cy : y1 - cy, x0 - cx : x1 - cx] * (region > 4.0)
        region += relief * mark
        np.maximum(region, 0.0, out=region)
