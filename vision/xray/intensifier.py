"""8-bit image-intensifier chain: camera shading, veiling glare, vignetting, display curve and windowing,
pincushion distortion, optional circular field of view. Every step is monotone in the signal, so voids stay
brighter and inclusions darker than their surroundings."""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from vision.xray.physics import DetectorFrames, Exposure, lowpass


@functools.lru_cache(maxsize=8)
def _radius2(height_px: int, width_px: int) -> np.ndarray:
    """Squared radius from the image centre, normalised to 1 at the corners."""
    y = (np.arange(height_px, dtype=np.float32) - (height_px - 1) / 2)[:, None]
    x = (np.arange(width_px, dtype=np.float32) - (width_px - 1) / 2)[None, :]
    r2 = (x * x + y * y) / np.float32((width_px / 2) ** 2 + (height_px / 2) ** 2)
    r2.setflags(write=False)
    return r2


@functools.lru_cache(maxsize=16)
def pincushion_maps(height_px: int, width_px: int, k_milli: int) -> tuple[np.ndarray, np.ndarray]:
    """cv2.remap maps for pincushion distortion r' = r (1 + k r^2), k = k_milli / 1000 (sampled inverse)."""
    k = k_milli / 1000.0
    cy, cx = (height_px - 1) / 2, (width_px - 1) / 2
    y, x = np.mgrid[0:height_px, 0:width_px].astype(np.float32)
    r2 = _radius2(height_px, width_px)
    f = 1.0 - np.float32(k) * r2
    mx, my = (cx + (x - cx) * f).astype(np.float32), (cy + (y - cy) * f).astype(np.float32)
    mx.setflags(write=False)
    my.setflags(write=False)
    return mx, my


def draw_distortion_k(rng: np.random.Generator, randomise: float) -> int:
    """Pincushion strength in thousandths, quantised so remap grids can be cached."""
    return round(rng.uniform(0.0, 0.01 + 0.05 * randomise) * 100) * 10


def intensifier_display(
    quanta: np.ndarray,
    e: Exposure,
    det: DetectorFrames,
    material: np.ndarray,
    rng: np.random.Generator,
    randomise: float,
) -> np.ndarray:
    """Quanta -> displayed grey level in [0, 1] (before distortion), as the camera on an intensifier sees it."""
    r = randomise
    h, w = quanta.shape
    s: np.ndarray = quanta * np.float32(1.0 / e.photons_open)
    glare = rng.uniform(0.01, 0.02 + 0.06 * r)
    s = s + np.float32(glare) * lowpass(s, 0.12 * max(h, w))
    # short-range glare (light scattered in the output window and lens): bright air blooms over metal edges
    bloom = rng.uniform(0.0, 0.02 + 0.1 * r)
    if bloom > 0.01:
        s = (s + np.float32(bloom) * lowpass(s, rng.uniform(4.0, 16.0))) * np.float32(1.0 / (1.0 + bloom))
    vignette = rng.uniform(0.05, 0.1 + 0.3 * r)
    s = s * (1.0 - np.float32(vignette) * _radius2(h, w)) * det.gain + det.offset
    # display curve: from nearly linear to logarithmic (many intensifier cameras compress highlights)
    a = math.exp(rng.uniform(math.log(1.0 + 4.0 * (1 - r)), math.log(5.0 + 60.0 * r)))
    y = np.log1p(np.maximum(s, 0.0) * np.float32(a)) * np.float32(1.0 / math.log1p(a))
    if rng.random() < 0.5 * r:  # image enhancement many radioscopy stations apply: unsharp mask, wide kernel
        y = y + np.float32(rng.uniform(0.3, 1.5)) * (y - lowpass(y, rng.uniform(8.0, 40.0)))
    sample = y[::7, ::7][material[::7, ::7]]
    if sample.size < 200:
        sample = y[::7, ::7].ravel()
    # window on the metal in view; thin edges may saturate white and the thickest sections black
    q_lo, q_hi = rng.uniform(0.0, 0.02 + 0.15 * r), rng.uniform(0.98 - 0.18 * r, 1.0)
    lo_q, hi_q = (float(v) for v in np.quantile(sample, [q_lo, q_hi]))
    y_air = float(np.quantile(y[::7, ::7], 0.995))
    # never stretch less than ~0.8 units of attenuation over the window (a uniform plate would show only noise)
    s_med = float(np.median(s[::7, ::7][material[::7, ::7]])) if material[::7, ::7].any() else 0.5
    span_min = math.log1p(a * s_med) - math.log1p(a * s_med * math.exp(-0.8))
    span = max(hi_q - lo_q, span_min / math.log1p(a), 1e-3)
    if hi_q - lo_q < span:
        mid = (hi_q + lo_q) / 2 + rng.uniform(-0.25, 0.25) * span
        lo_q, hi_q = mid - span / 2, mid + span / 2
    lo = lo_q - span * rng.uniform(0.0, 0.05 + 0.3 * r)
    if rng.random() < 0.75:  # usual line setting: window on the metal, air saturates white
        hi = hi_q + rng.uniform(0.0, 0.05 + 0.25 * r) * span
    else:
        hi = hi_q + rng.uniform(0.05, 0.3 + 0.7 * r) * max(span, y_air - hi_q)
    y = np.clip((y - np.float32(lo)) * np.float32(1.0 / max(hi - lo, 1e-4)), 0.0, 1.0)
    gamma = math.exp(rng.uniform(-0.1 - 0.35 * r, 0.1 + 0.35 * r))
    if abs(gamma - 1.0) > 0.02:
        y = cv2.pow(y, gamma)
    return y


def circular_field(height_px: int, width_px: int, rng: np.random.Generator) -> np.ndarray:
    """The round output screen of an intensifier when the camera frames it fully: dark outside."""
    r2 = _radius2(height_px, width_px)
    radius = rng.uniform(0.8, 1.0)
    return (r2 < radius * radius).astype(np.float32)
