"""Synthetic anomalies pasted onto flaw-free radiograph patches (DRAEM-style self-supervision).

The net never sees a real flaw in training: it learns "this region does not fit its surroundings" from
generic shapes pasted here: smooth-noise blobs, ellipses, random polygons, random-walk strokes, dot
clusters and foreign texture, brighter or darker, from barely visible to obvious. None is modelled on the
simulator's flaw generators, least of all on the held-out kinds (foreign bodies, cold shuts, surface gas
holes): the evaluation must measure flaws the model has never seen. Sizes are in pixels of the
half-resolution image the net works on. Effects follow Beer-Lambert: a void multiplies the transmitted
intensity (brighter), a dense body divides it (darker). Every draw comes from the injected Generator.
"""

from __future__ import annotations

import cv2
import numpy as np

SHAPES = ("ellipse", "blob", "polygon", "stroke", "cluster", "texture")
MIN_CNR = 3.0
MAX_CNR = 80.0
ROSE_SNR = 8.0
LABEL_LEVEL = 0.35  # share of the peak change that counts as the anomaly's extent


def _soft(mask: np.ndarray, blur_px: float) -> np.ndarray:
    m = mask.astype(np.float32)
    if blur_px <= 0.3:
        return m
    return np.clip(cv2.GaussianBlur(m, (0, 0), blur_px), 0.0, 1.0).astype(np.float32)


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _ellipse(rng: np.random.Generator, h: int, w: int, cy: float, cx: float) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    ry, rx = _log_uniform(rng, 1.0, 14.0), _log_uniform(rng, 1.0, 14.0)
    cv2.ellipse(m, (round(cx), round(cy)), (round(rx), round(ry)), rng.uniform(0, 180), 0, 360, 1, -1)
    return m.astype(np.float32)


def _blob(rng: np.random.Generator, h: int, w: int, cy: float, cx: float) -> np.ndarray:
    """Odd, lumpy shape: thresholded smooth noise under a window around the centre."""
    rad = _log_uniform(rng, 2.0, 16.0)
    half = int(3 * rad) + 4
    y0, y1 = max(0, int(cy) - half), min(h, int(cy) + half + 1)
    x0, x1 = max(0, int(cx) - half), min(w, int(cx) + half + 1)
    out = np.zeros((h, w), np.float32)
    if y1 <= y0 or x1 <= x0:
        return out
    raw = rng.standard_normal((y1 - y0, x1 - x0)).astype(np.float32)
    noise = cv2.GaussianBlur(raw, (0, 0), max(0.7, rad * rng.uniform(0.2, 0.6)))
    noise = noise / (noise.std() + 1e-6)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    window = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * rad * rad))
    out[y0:y1, x0:x1] = (noise * 0.6 + window * 2.0 > rng.uniform(1.0, 1.6)).astype(np.float32)
    return out


def _polygon(rng: np.random.Generator, h: int, w: int, cy: float, cx: float) -> np.ndarray:
    """Random polygon around the centre: convex, jagged or spiky as the radii happen to fall."""
    n = int(rng.integers(3, 12))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    r = _log_uniform(rng, 1.5, 14.0)
    radii = r * rng.uniform(0.2, 1.0, n)
    pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1)
    m = np.zeros((h, w), np.uint8)
    cv2.fillPoly(m, [np.round(pts * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    return m.astype(np.float32)


def _stroke(rng: np.random.Generator, h: int, w: int, cy: float, cx: float) -> np.ndarray:
    """Random-walk polyline: straight to tortuous, short to long, hairline to a few pixels wide."""
    n = int(rng.integers(2, 14))
    step = _log_uniform(rng, 1.5, 12.0)
    turn = _log_uniform(rng, 0.01, 1.0)
    heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0.0, turn, n))
    pts = np.cumsum(np.stack([np.cos(heading), np.sin(heading)], axis=1) * step, axis=0)
    pts = pts - pts[rng.integers(0, n)] + np.array([cx, cy])
    m = np.zeros((h, w), np.uint8)
    cv2.polylines(m, [np.round(pts * 16).astype(np.int32)], False, 1, int(rng.integers(1, 4)), cv2.LINE_8, 4)
    return m.astype(np.float32)


def _cluster(rng: np.random.Generator, h: int, w: int, cy: float, cx: float) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    spread = _log_uniform(rng, 1.5, 10.0)
    for _ in range(int(rng.integers(2, 12))):
        x, y = cx + rng.normal(0, spread), cy + rng.normal(0, spread)
        cv2.circle(m, (round(x), round(y)), int(rng.integers(0, 3)), 1, -1)
    return m.astype(np.float32)


def shape_profile(rng: np.random.Generator, h: int, w: int, cy: float, cx: float, kind: str) -> np.ndarray:
    """A soft footprint/thickness profile in [0, 1] of one anomaly."""
    makers = {
        "ellipse": _ellipse,
        "blob": _blob,
        "texture": _blob,
        "polygon": _polygon,
        "stroke": _stroke,
        "cluster": _cluster,
    }
    if kind not in makers:
        raise ValueError(f"unknown anomaly shape {kind!r}; known: {', '.join(SHAPES)}")
    footprint = makers[kind](rng, h, w, cy, cx)
    if kind != "texture" and rng.random() < 0.5 and footprint.any():
        # Thickness that grows towards the inside (a rounded body) instead of a flat plate.
        dist = cv2.distanceTransform(footprint.astype(np.uint8), cv2.DIST_L2, 3)
        footprint = np.clip(dist / max(float(dist.max()), 1e-6), 0.0, 1.0) ** rng.uniform(0.3, 1.0)
    # Blur from none to more than the radiograph's own unsharpness: sharpness alone must not give a paste away.
    return _soft(footprint, _log_uniform(rng, 0.2, 2.0))


def noise_sigma(img: np.ndarray) -> float:
    """Robust pixel noise of a patch: MAD of its high-pass, floored at a fraction of an 8-bit grey level.

    Pasted contrast is drawn in units of it, so an anomaly is faint-but-visible or obvious, never
    invisible yet labelled.
    """
    x = img.astype(np.float32)
    hp = x - cv2.GaussianBlur(x, (0, 0), 1.5)
    return max(float(1.4826 * np.median(np.abs(hp - np.median(hp)))), 0.0015)


def paste_anomalies(
    img: np.ndarray,
    rng: np.random.Generator,
    material: np.ndarray | None = None,
    count: int = 1,
    centres: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Paste `count` anomalies onto a float image in [0, 1]; returns (image, binary mask of visible change).

    `material` (bool, same shape) says where the part is: anomalies are centred there (within `centres`,
    bool, when given), a share of them on its boundary (flaws open to the surface), so the net learns that
    a normal edge is not a flaw but a notch in it is.
    """
    h, w = img.shape
    out = img.astype(np.float32).copy()
    sigma = noise_sigma(img)
    labels = np.zeros((h, w), bool)
    for _ in range(count):
        cy, cx = _centre(rng, material, centres, h, w)
        kind = SHAPES[int(rng.integers(0, len(SHAPES)))]
        prof = shape_profile(rng, h, w, cy, cx, kind)
        if material is not None and rng.random() < 0.85:
            prof = prof * material  # a flaw lives in metal; sometimes let it spill (matter on the surface)
        peak = float(prof.max())
        if peak <= 0.05:
            continue
        prof = prof / peak
        if kind == "texture":
            before = out
            out = _texture(out, prof, rng, sigma)
            labels |= (prof > 0.3) & (np.abs(out - before) > sigma)
            continue
        # Peak contrast in units of noise, log-uniform: faint-but-visible as often as obvious. "Visible" is the
        # Rose criterion: contrast x sqrt(area) / noise >= ROSE_SNR, so a small anomaly needs more contrast
        # and nothing labelled is buried in the noise (labels on invisible change teach the net to fire on
        # noise, and noise is everywhere in a flaw-free part).
        area = max(float(prof.sum()), 1.0)
        cnr = max(_log_uniform(rng, MIN_CNR, MAX_CNR), ROSE_SNR / np.sqrt(area))
        core = prof > 0.5
        level = float(np.mean(out[core])) if core.any() else 0.5
        amp = min(cnr * sigma / max(level, 0.05), 2.0)
        sign = 1.0 if rng.random() < 0.5 else -1.0
        out = out * np.exp(sign * amp * prof)
        labels |= prof > LABEL_LEVEL
    out = np.clip(out, 0.0, 1.0).astype(np.float32)
    # Clipping (a void in a section already at the white point) can erase a paste: label visible change only.
    mask = labels & (np.abs(out - img) > 0.5 * sigma)
    mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)).astype(bool)
    return out, mask


def _texture(img: np.ndarray, prof: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Replace the region with foreign texture: a shifted, flipped copy of the image or coloured noise."""
    h, w = img.shape
    if rng.random() < 0.5:
        src = np.roll(img, (int(rng.integers(h // 4, h)), int(rng.integers(w // 4, w))), axis=(0, 1))
        src = np.flip(src, axis=int(rng.integers(0, 2)))
    else:
        grain = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), rng.uniform(0.5, 2.0))
        src = img + grain / (grain.std() + 1e-6) * sigma * _log_uniform(rng, 2.0, 20.0)
    alpha = rng.uniform(0.5, 1.0)
    return img * (1.0 - alpha * prof) + src * alpha * prof


def _centre(
    rng: np.random.Generator, material: np.ndarray | None, centres: np.ndarray | None, h: int, w: int
) -> tuple[float, float]:
    region = np.ones((h, w), bool) if centres is None else centres
    m = region if material is None else region & material
    if material is not None and rng.random() < 0.35:
        mat = material.astype(np.uint8)
        edge = (mat - cv2.erode(mat, np.ones((3, 3), np.uint8))).astype(bool) & region
        if edge.any():
            m = edge
    if not m.any():
        m = region if region.any() else np.ones((h, w), bool)
    ys, xs = np.nonzero(m)
    i = int(rng.integers(0, len(ys)))
    return float(ys[i]), float(xs[i])
