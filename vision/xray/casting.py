"""What real castings and stations add to the CAD path-length map: wall-thickness drift, surface mottle, cast-in
markings (part numbers, date clocks) and steel fixtures. Markings show on radiographs as faint letters and rings:
exactly the kind of small, sharp, bright-or-dark structure a flaw detector must learn not to report.
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


def cast_variation(acc: np.ndarray, rng: np.random.Generator, mm_per_px: float, randomise: float) -> np.ndarray:
    """Real castings are not CAD: wall thickness drifts over the part and the surface is mottled. Both give
    the background texture a detector must learn to ignore."""
    h, w = acc.shape
    drift = cv2.resize(rng.uniform(-1.0, 1.0, (5, 5)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    out = acc * (1.0 + np.float32(rng.uniform(0.03, 0.05 + 0.15 * randomise)) * drift)
    amp = rng.uniform(0.0, 0.05 + 0.15 * randomise)  # mm
    if amp > 0.05:
        grain = np.frombuffer(rng.bytes(h * w), np.uint8).reshape(h, w).astype(np.float32) - np.float32(127.5)
        sigma = max(0.7, rng.uniform(0.6, 2.5) / mm_per_px)
        blurred: np.ndarray = cv2.GaussianBlur(grain, (0, 0), sigma)
        mottle = blurred * np.float32(amp / (float(blurred.std()) + 1e-6))
        out += mottle * np.minimum(acc, np.float32(2.0)) * np.float32(0.5)
    return np.maximum(out, 0.0)


def fixture(rng: np.random.Generator, width_px: int, height_px: int, randomise: float) -> np.ndarray | None:
    """Steel clamps or holder bars entering from the image border (dark, never flawed)."""
    if rng.random() >= 0.3 * randomise:
        return None
    g = 4
    m = np.zeros((math.ceil(height_px / g), math.ceil(width_px / g)), np.float32)
    for _ in range(int(rng.integers(1, 3))):
        side = int(rng.integers(0, 4))
        along = rng.uniform(0.1, 0.9)
        w, depth = rng.uniform(0.04, 0.15), rng.uniform(0.05, 0.3)
        h, wd = m.shape
        if side in (0, 1):
            x0, x1 = int((along - w / 2) * wd), int((along + w / 2) * wd)
            y0, y1 = (0, int(depth * h)) if side == 0 else (int((1 - depth) * h), h)
        else:
            y0, y1 = int((along - w / 2) * h), int((along + w / 2) * h)
            x0, x1 = (0, int(depth * wd)) if side == 2 else (int((1 - depth) * wd), wd)
        m[max(0, y0) : y1, max(0, x0) : x1] = rng.uniform(40.0, 200.0)  # steel ~5x aluminium per mm
    soft = cv2.GaussianBlur(m, (0, 0), 1.0)
    return cv2.resize(soft, (width_px, height_px), interpolation=cv2.INTER_LINEAR)
