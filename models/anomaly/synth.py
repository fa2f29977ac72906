"""Synthetic anomalies pasted onto flaw-free radiograph patches (DRAEM-style self-supervision).

The net never sees a real flaw in training: it learns "this region does not fit its surroundings"
from shapes and textures pasted here. Effects follow Beer-Lambert where it matters: a void of depth d
multiplies the transmitted intensity by exp(mu*d) (brighter), a dense inclusion divides it (darker).
Every draw comes from the injected Generator: same seed, same patch.
"""

from __future__ import annotations

import cv2
import numpy as np

SHAPES = ("ellipse", "blob", "polygon", "star", "ring", "curve", "seam", "cluster", "texture")


def _soft(mask: np.ndarray, blur_px: float) -> np.ndarray:
    m = mask.astype(np.float32)
    if blur_px <= 0.3:
        return m
    return np.clip(cv2.GaussianBlur(m, (0, 0), blur_px), 0.0, 1.0).astype(np.float32)


def _ellipse(rng: np.random.Generator, h: int, w: int, cy: float, cx: float) -> np.ndarray:
    ry, rx = rng.uniform(2.0, 22.0), rng.uniform(2.0, 22.0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, np.pi)
    dy, dx = yy - cy, xx - cx
    u = (dx * np.cos(ang) + dy * np.sin(ang)) / rx
    v = (-dx * np.sin(ang) + dy * np.cos(ang)) / ry
    r2 = u * u + v * v
    # Spherical thickness profile: a round void is deepest at its centre.
    return np.sqrt(np.clip(1.0 - r2, 0.0, 1.0)).astype(np.float32)


def _blob(rng: np.random.Generator, h: int, w: int, cy: float, cx: float) -> np.ndarray:
    """Odd, lumpy shape: thresholded smooth noise, windowed around the centre."""
    raw = rng.standard_normal((h, w)).astype(np.float32)
    noise = cv2.GaussianBlur(raw, (0, 0), rng.uniform(2.0, 6.0))
    noise = noise / (noise.std() + 1e-6)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rad = rng.uniform(5.0, 28.0)
    window = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * rad * rad))
    field = noise * 0.6 + window * 2.0
    return (field > rng.uniform(1.0, 1.6)).astype(np.float32)


def _polygon(rng: np.random.Generator, h: int, w: int, cy: float, cx: float) -> np.ndarray:
    n = int(rng.integers(3, 9))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = rng.uniform(3.0, 24.0, n)
    pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1).round().astype(np.int32)
    m = np.zeros((h, w), np.uint8)
    cv2.fillPoly(m, [pts], 1)
    return m.astype(np.float32)


def _curve(rng: np.random.Generator, h: int, w: int, cy: float, cx: float) -> np.ndarray:
    """Thin wandering line: cold shuts, laps, cracks."""
    n = int(rng.integers(3, 8))
    step = rng.uniform(6.0, 22.0)
    ang = rng.uniform(0, 2 * np.pi)
    pts = [(cx, cy)]
    for _ in range(n):
        ang += rng.normal(0.0, 0.5)
        x, y = pts[-1]
        pts.append((x + step * np.cos(ang), y + step * np.sin(ang)))
    m = np.zeros((h, w), np.uint8)
    arr = np.array(pts).round().astype(np.int32)
    cv2.polylines(m, [arr], False, 1, thickness=int(rng.integers(1, 4)))
    return m.astype(np.float32)


def _star(rng: np.random.Generator, h: int, w: int, cy: float, cx: float) -> np.ndarray:
    k = int(rng.integers(3, 8))
    a = np.linspace(0, 2 * np.pi, 2 * k, endpoint=False) + rng.uniform(0, 1)
    r_out = rng.uniform(5.0, 30.0)
    rr = np.where(np.arange(2 * k) % 2 == 0, r_out, r_out * rng.uniform(0.2, 0.5))
    pts = np.stack([cx + rr * np.cos(a), cy + rr * np.sin(a)], axis=1).round().astype(np.int32)
    m = np.zeros((h, w), np.uint8)
    cv2.fillPoly(m, [pts], 1)
    return m.astype(np.float32)


def _ring(rng: np.random.Generator, h: int, w: int, cy: float, cx: float) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    r = rng.uniform(3.0, 25.0)
    cv2.ellipse(
        m,
        (round(cx), round(cy)),
        (round(r), round(r * rng.uniform(0.5, 1.0))),
        rng.uniform(0, 180),
        0,
        rng.uniform(200, 360),
        1,
        max(1, round(r * rng.uniform(0.15, 0.4))),
    )
    return m.astype(np.float32)


def _seam(rng: np.random.Generator, h: int, w: int, cy: float, cx: float) -> np.ndarray:
    """Long, gently curved, thin line: a cold shut where two metal fronts met."""
    n = 16
    length = rng.uniform(60.0, 260.0)
    heading = np.cumsum(rng.normal(0.0, 0.04, n)) + rng.uniform(0, 2 * np.pi)
    steps = np.stack([np.cos(heading), np.sin(heading)], axis=1) * (length / n)
    pts = np.cumsum(steps, axis=0)
    pts = pts - pts.mean(axis=0) + np.array([cx, cy])
    m = np.zeros((h, w), np.uint8)
    cv2.polylines(m, [pts.round().astype(np.int32)], False, 1, thickness=int(rng.integers(1, 3)))
    return m.astype(np.float32)


def _cluster(rng: np.random.Generator, h: int, w: int, cy: float, cx: float) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    spread = rng.uniform(4.0, 18.0)
    for _ in range(int(rng.integers(3, 12))):
        x, y = cx + rng.normal(0, spread), cy + rng.normal(0, spread)
        cv2.circle(m, (round(x), round(y)), int(rng.integers(1, 4)), 1, -1)
    return m.astype(np.float32)


def shape_profile(rng: np.random.Generator, h: int, w: int, cy: float, cx: float, kind: str) -> np.ndarray:
    """A soft footprint/thickness profile in [0, 1] of one anomaly."""
    if kind == "ellipse":
        return _ellipse(rng, h, w, cy, cx)
    if kind in ("blob", "texture"):
        return _soft(_blob(rng, h, w, cy, cx), rng.uniform(0.0, 1.5))
    if kind == "polygon":
        return _soft(_polygon(rng, h, w, cy, cx), rng.uniform(0.0, 1.2))
    if kind == "star":
        return _soft(_star(rng, h, w, cy, cx), rng.uniform(0.0, 1.0))
    if kind == "ring":
        return _soft(_ring(rng, h, w, cy, cx), rng.uniform(0.0, 1.0))
    if kind == "seam":
        return _soft(_seam(rng, h, w, cy, cx), rng.uniform(0.0, 0.7))
    if kind == "curve":
        return _soft(_curve(rng, h, w, cy, cx), rng.uniform(0.0, 0.8))
    if kind == "cluster":
        return _soft(_cluster(rng, h, w, cy, cx), rng.uniform(0.0, 0.8))
    raise ValueError(f"unknown anomaly shape {kind!r}; known: {', '.join(SHAPES)}")


def noise_sigma(img: np.ndarray) -> float:
    """Robust pixel noise of a patch: MAD of its high-pass, floored at about one 8-bit grey level.

    Pasted contrast is drawn in units of it, so an anomaly is faint-but-visible or obvious, never
    invisible yet labelled (8-bit images quantise a Laplacian to zero, hence the high-pass and the floor).
    """
    x = img.astype(np.float32)
    hp = x - cv2.GaussianBlur(x, (0, 0), 2.0)
    return max(float(1.4826 * np.median(np.abs(hp - np.median(hp)))), 0.004)


def paste_anomalies(
    img: np.ndarray,
    rng: np.random.Generator,
    material: np.ndarray | None = None,
    count: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Paste `count` anomalies onto a float image in [0, 1]; returns (image, binary mask of visible change).

    `material` (bool, same shape) says where the part is: anomalies are centred there, and a share is
    centred on its boundary (flaws open to the surface), so the net learns that a normal edge is
    not a flaw but a notch in it is.
    """
    h, w = img.shape
    out = img.astype(np.float32).copy()
    sigma = noise_sigma(img)
    total = np.zeros((h, w), np.float32)
    for _ in range(count):
        cy, cx = _centre(rng, material, h, w)
        kind = SHAPES[int(rng.integers(0, len(SHAPES)))]
        prof = shape_profile(rng, h, w, cy, cx, kind)
        if material is not None and rng.random() < 0.85:
            prof = prof * material  # a flaw lives in metal; sometimes let it spill (foreign matter on the surface)
        if kind == "texture":
            out = _texture(out, prof, rng)
        else:
            # Contrast drawn in units of noise so faint-but-visible and obvious flaws are both seen.
            core = prof > 0.5
            level = float(np.mean(out[core])) if core.any() else 0.5
            amp = min(float(rng.uniform(2.5, 20.0)) * sigma / max(level, 0.05), 1.5)
            sign = 1.0 if rng.random() < 0.55 else -1.0
            out = out * np.exp(sign * amp * prof)
        total = np.maximum(total, prof)
    out = np.clip(out, 0.0, 1.0).astype(np.float32)
    visible = np.abs(out - img) > 1.5 * sigma
    mask = (total > 0.3) & visible
    # Close pinholes the noise criterion leaves inside a pasted region.
    mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)).astype(bool)
    return out, mask


def _texture(img: np.ndarray, prof: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Replace the region with foreign texture: a shifted copy of the image or coloured noise."""
    h, w = img.shape
    if rng.random() < 0.5:
        src = np.roll(img, (int(rng.integers(h // 4, h)), int(rng.integers(w // 4, w))), axis=(0, 1))
        src = np.flip(src, axis=int(rng.integers(0, 2)))
    else:
        grain = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), rng.uniform(0.7, 3.0))
        src = img + grain / (grain.std() + 1e-6) * rng.uniform(0.03, 0.15)
    alpha = rng.uniform(0.5, 1.0)
    return img * (1.0 - alpha * prof) + src * alpha * prof


def _centre(rng: np.random.Generator, material: np.ndarray | None, h: int, w: int) -> tuple[float, float]:
    if material is None or not material.any():
        return float(rng.uniform(0, h)), float(rng.uniform(0, w))
    m = material.astype(np.uint8)
    if rng.random() < 0.35:
        edge = m - cv2.erode(m, np.ones((3, 3), np.uint8))
        if edge.any():
            m = edge.astype(np.uint8)
    ys, xs = np.nonzero(m)
    i = int(rng.integers(0, len(ys)))
    return float(ys[i]), float(xs[i])
