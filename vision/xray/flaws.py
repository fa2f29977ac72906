"""Casting flaws as small patches of path-length change, placed only inside material.

Each generator works in the flaw's own mm frame on a supersampled patch (so sub-pixel pores and hairline cracks
keep their partial-volume contrast) and returns the flaw body's extent along the ray. Placement clips that
extent to the local wall so no flaw pierces the part (except surface gas holes, which open at its edge).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from vision.types import FlawClass

_MIN_WALL_MM = 0.5  # metal left on the ray above and below an internal void
_MATERIAL_MM = 0.3  # a pixel with less aluminium than this along the ray counts as air


@dataclass(frozen=True, eq=False)
class FlawDraft:
    """One flaw before rendering: patch origin, path-length change (mm of Al equivalent, < 0 for voids)."""

    kind: str
    flaw_class: FlawClass | None
    x0: int
    y0: int
    delta_mm: np.ndarray
    mask: np.ndarray
    size_mm: float
    depth_mm: float

    @property
    def window(self) -> tuple[slice, slice]:
        h, w = self.delta_mm.shape
        return slice(self.y0, self.y0 + h), slice(self.x0, self.x0 + w)


@dataclass(frozen=True)
class _Body:
    """A flaw body in its own frame: extent along the ray on a supersampled grid, and its Al-equivalent factor."""

    depth_ss: np.ndarray
    ss: int
    size_mm: float
    factor: float  # delta = factor * depth: -1 for voids, ratio-1 for dense/light inclusions
    reach_surface: bool = False


def _local_grid(half_px: int, ss: int, mmpp: float, angle: float) -> tuple[np.ndarray, np.ndarray]:
    n = (2 * half_px + 1) * ss
    c = (np.arange(n, dtype=np.float32) + 0.5) / ss - (half_px + 0.5)
    x, y = np.meshgrid(c * mmpp, c * mmpp)
    ca, sa = math.cos(angle), math.sin(angle)
    return x * ca + y * sa, -x * sa + y * ca


def _ss_for(half_px: int) -> int:
    return 4 if half_px <= 24 else 2 if half_px <= 64 else 1


def _ellipsoids(x: np.ndarray, y: np.ndarray, centres: np.ndarray, axes: np.ndarray, union: bool) -> np.ndarray:
    out = np.zeros_like(x)
    for (cx, cy), (a, b, c) in zip(centres, axes, strict=True):
        q = 1.0 - ((x - cx) / a) ** 2 - ((y - cy) / b) ** 2
        d = 2.0 * c * np.sqrt(np.maximum(q, 0.0))
        if union:
            np.maximum(out, d, out=out)
        else:
            out += d
    return out


def _half_px(extent_mm: float, mmpp: float) -> int:
    return max(2, math.ceil(extent_mm / 2 / mmpp) + 2)


def _porosity(rng: np.random.Generator, size: float, mmpp: float) -> tuple[_Body, int]:
    if rng.random() < 0.6 or size < 1.5:  # single gas pore, nearly round
        a = size / 2
        # gas pores are round in plane; along the ray they range from flattened to elongated (solidification)
        axes = np.array([[a, a * rng.uniform(0.6, 1.0), a * rng.uniform(0.6, 1.5)]])
        half = _half_px(size, mmpp)
        ss = _ss_for(half)
        x, y = _local_grid(half, ss, mmpp, rng.uniform(0, math.pi))
        if rng.random() < 0.2:  # flat-bottomed void (drilled reference holes, blowholes along the ray): sharp disc
            inside = (x / axes[0, 0]) ** 2 + (y / axes[0, 1]) ** 2 <= 1.0
            disc = inside.astype(np.float32) * np.float32(2 * axes[0, 2])
            return _Body(disc, ss, float(max(size, 2 * axes[0, 2])), -1.0), half
        return _Body(_ellipsoids(x, y, np.zeros((1, 2)), axes, True), ss, size, -1.0), half
    # clustered micro-porosity: many small pores inside an envelope of the drawn size
    n = int(rng.integers(6, 10 + int(4 * size)))
    radius = np.exp(rng.uniform(math.log(0.15), math.log(max(0.2, min(1.0, size / 6))), n))
    ang, rad = rng.uniform(0, 2 * math.pi, n), np.sqrt(rng.random(n)) * (size / 2 - radius)
    centres = np.stack([rad * np.cos(ang), rad * np.sin(ang) * rng.uniform(0.5, 1.0)], axis=1)
    axes = np.stack([radius, radius * rng.uniform(0.7, 1.0, n), radius * rng.uniform(1.0, 2.0, n)], axis=1)
    true = float(np.max(np.ptp(centres, axis=0)) + 2 * radius.max())
    half = _half_px(size, mmpp)
    ss = _ss_for(half)
    x, y = _local_grid(half, ss, mmpp, rng.uniform(0, math.pi))
    return _Body(_ellipsoids(x, y, centres, axes, False), ss, true, -1.0), half


def _dendrite(rng: np.random.Generator, size: float) -> tuple[np.ndarray, np.ndarray]:
    """Branched shrinkage skeleton: random walks with persistence; radius falls along each branch."""
    pts: list[tuple[float, float]] = []
    radii: list[float] = []
    r0 = max(0.15, size * rng.uniform(0.06, 0.12))
    stack = [(0.0, 0.0, rng.uniform(0, 2 * math.pi), r0, size / 2)]
    while stack and len(pts) < 400:
        x, y, heading, r, budget = stack.pop()
        step = max(0.1, r * 0.8)
        while budget > 0 and r > 0.08 and len(pts) < 400:
            pts.append((x, y))
            radii.append(r)
            heading += rng.normal(0, 0.45)
            x, y = x + step * math.cos(heading), y + step * math.sin(heading)
            budget -= step
            r *= rng.uniform(0.93, 0.99)
            if rng.random() < 0.12:
                stack.append((x, y, heading + rng.choice([-1, 1]) * rng.uniform(0.5, 1.3), r * 0.8, budget * 0.7))
        if len(stack) < 2 and len(pts) < 8:
            stack.append((0.0, 0.0, rng.uniform(0, 2 * math.pi), r0, size / 2))
    return np.array(pts, np.float32), np.array(radii, np.float32)


def _shrinkage(rng: np.random.Generator, size: float, mmpp: float) -> tuple[_Body, int]:
    half = _half_px(size * 1.25, mmpp)
    ss = _ss_for(half)
    x, y = _local_grid(half, ss, mmpp, rng.uniform(0, 2 * math.pi))
    pts, radii = _dendrite(rng, size)
    axes = np.stack([radii, radii * 0.8, radii * rng.uniform(2.0, 5.0)], axis=1)
    depth = _ellipsoids(x, y, pts, axes, True)
    if rng.random() < 0.6:  # spongy core: thresholded smooth noise inside an envelope
        n = x.shape[0]
        white = rng.standard_normal((n, n)).astype(np.float32)
        field: np.ndarray = cv2.GaussianBlur(white, (0, 0), max(1.0, 0.25 / mmpp * ss))
        field = field / (field.std() + 1e-6)
        env = 1.0 - (x**2 + y**2) / (size * rng.uniform(0.25, 0.45)) ** 2
        sponge = np.clip(field - 0.6 + 0.8 * env, 0.0, None) * size * rng.uniform(0.3, 0.7) * (env > 0)
        depth = np.maximum(depth, sponge.astype(np.float32))
    ext = np.ptp(pts, axis=0) if len(pts) > 1 else np.zeros(2)
    true = float(max(ext.max() + 2 * radii.max(), size * 0.5))
    return _Body(depth, ss, min(true, size * 1.25), -1.0), half


def _curve(rng: np.random.Generator, length: float, wiggle: float, n: int = 24) -> np.ndarray:
    heading = np.cumsum(rng.normal(0, wiggle, n)) + rng.uniform(0, 2 * math.pi)
    step = length / n
    p = np.cumsum(np.stack([np.cos(heading), np.sin(heading)], axis=1) * step, axis=0)
    return (p - p.mean(axis=0)).astype(np.float32)


def _line_body(
    curves: list[np.ndarray], width_mm: float, extent_mm: float, mmpp: float, taper: bool
) -> tuple[np.ndarray, int, int]:
    """Rasterise thin curves with partial-pixel coverage; returns (depth on supersampled grid, ss, half)."""
    ext = max(float(np.abs(c).max()) for c in curves) * 2 + width_mm
    half = _half_px(ext, mmpp)
    ss = _ss_for(half)
    n = (2 * half + 1) * ss
    px_mm = mmpp / ss
    img = np.zeros((n, n), np.float32)
    for k, pts in enumerate(curves):
        p = np.round((pts / px_mm + n / 2) * 16).astype(np.int32)
        for i in range(len(p) - 1):
            f = math.sin(math.pi * (i + 0.5) / (len(p) - 1)) if taper else 1.0
            w = width_mm * (0.3 + 0.7 * f) * (0.7 if k else 1.0)
            thick = max(1, round(w / px_mm))
            cv2.line(img, tuple(p[i]), tuple(p[i + 1]), min(1.0, w / (thick * px_mm)), thick, cv2.LINE_AA, 4)
    return np.minimum(img, 1.0) * np.float32(extent_mm), ss, half


def _crack(rng: np.random.Generator, size: float, mmpp: float) -> tuple[_Body, int]:
    """Crack (smooth, hairline) or hot tear (jagged, wider, often branched); extent along the ray 1.5-9 mm."""
    hot_tear = rng.random() < 0.4
    wiggle = rng.uniform(0.25, 0.6) if hot_tear else rng.uniform(0.05, 0.25)
    pts = _curve(rng, size, wiggle)
    curves = [pts]
    width = rng.uniform(0.2, 0.8) if hot_tear else rng.uniform(0.06, 0.35)
    if hot_tear and rng.random() < 0.6:
        k = int(rng.integers(4, len(pts) - 4))
        branch = _curve(rng, size * rng.uniform(0.2, 0.45), wiggle, 10)
        curves.append(branch - branch[0] + pts[k])
    depth, ss, half = _line_body(curves, width, rng.uniform(1.5, 9.0), mmpp, taper=True)
    return _Body(depth, ss, size, -1.0), half


def _inclusion(rng: np.random.Generator, size: float, mmpp: float, dense: bool = True) -> tuple[_Body, int]:
    half = _half_px(size * 1.3, mmpp)
    ss = _ss_for(half)
    x, y = _local_grid(half, ss, mmpp, rng.uniform(0, 2 * math.pi))
    theta, rho = np.arctan2(y, x), np.sqrt(x**2 + y**2)
    r = np.full_like(x, size / 2 * 0.8)
    for k in (2, 3, 5):
        r *= 1.0 + rng.uniform(0.0, 0.18) * np.cos(k * theta + rng.uniform(0, 2 * math.pi))
    q = 1.0 - (rho / r) ** 2
    depth = 2.0 * (size / 2) * rng.uniform(0.4, 0.9) * np.sqrt(np.maximum(q, 0.0))
    ratio = rng.uniform(2.0, 6.0) if dense else rng.uniform(0.0, 0.5)  # mu(inclusion) / mu(Al)
    return _Body(depth.astype(np.float32), ss, size, ratio - 1.0), half


def _foreign_object(rng: np.random.Generator, size: float, mmpp: float) -> tuple[_Body, int]:
    """Odd-shaped foreign body (wire, chip, ring, star), dense (steel) or light (sand, slag)."""
    half = _half_px(size * 1.1, mmpp)
    ss = _ss_for(half)
    n = (2 * half + 1) * ss
    px_mm = mmpp / ss
    img = np.zeros((n, n), np.float32)
    c = n / 2
    shape = int(rng.integers(0, 4))
    s = size / 2 / px_mm
    if shape == 0:  # star / spiky chip
        k = int(rng.integers(4, 8))
        a = np.linspace(0, 2 * math.pi, 2 * k, endpoint=False) + rng.uniform(0, 1)
        rr = np.where(np.arange(2 * k) % 2 == 0, s, s * rng.uniform(0.25, 0.5))
        pts = np.stack([c + rr * np.cos(a), c + rr * np.sin(a)], axis=1)
        cv2.fillPoly(img, [np.round(pts * 16).astype(np.int32)], 1.0, cv2.LINE_AA, 4)
    elif shape == 1:  # ring (washer)
        cv2.circle(img, (round(c), round(c)), max(1, round(s * 0.75)), 1.0, max(1, round(s * 0.35)), cv2.LINE_AA)
    elif shape == 2:  # L-shaped chip
        w = max(1, round(s * 0.35))
        p0 = (round(c - s * 0.8), round(c - s * 0.8))
        cv2.line(img, p0, (round(c + s * 0.8), p0[1]), 1.0, w, cv2.LINE_AA)
        cv2.line(img, p0, (p0[0], round(c + s * 0.8)), 1.0, w, cv2.LINE_AA)
    else:  # wire piece
        pts = _curve(rng, size, 0.15, 12) / px_mm + c
        cv2.polylines(img, [np.round(pts * 16).astype(np.int32)], False, 1.0, max(1, round(s * 0.2)), cv2.LINE_AA, 4)
    ang = rng.uniform(0, 360)
    turned = cv2.warpAffine(img, cv2.getRotationMatrix2D((c, c), ang, 1.0), (n, n))
    depth = turned * np.float32(rng.uniform(0.8, 4.0))
    dense = rng.random() < 0.5
    ratio = rng.uniform(3.0, 8.0) if dense else rng.uniform(0.0, 0.4)
    return _Body(depth, ss, size, ratio - 1.0), half


def _cold_shut(rng: np.random.Generator, size: float, mmpp: float) -> tuple[_Body, int]:
    """Long smooth seam where two metal fronts met without fusing: a gently curved faint line."""
    length = max(size, rng.uniform(15.0, 45.0))
    pts = _curve(rng, length, 0.03, 20)
    depth, ss, half = _line_body([pts], rng.uniform(0.15, 0.5), rng.uniform(1.0, 4.0), mmpp, taper=False)
    return _Body(depth, ss, length, -1.0), half


def _surface_gas_hole(rng: np.random.Generator, size: float, mmpp: float) -> tuple[_Body, int]:
    body, half = _porosity(rng, max(size, 1.5), mmpp)
    return _Body(body.depth_ss * 1.5, body.ss, body.size_mm, -1.0, reach_surface=True), half


GENERATORS = {
    FlawClass.POROSITY.value: (_porosity, (0.5, 11.0)),
    FlawClass.SHRINKAGE.value: (_shrinkage, (2.0, 11.0)),
    FlawClass.CRACK.value: (_crack, (2.0, 11.0)),
    FlawClass.INCLUSION.value: (_inclusion, (0.5, 8.0)),
    "foreign_object": (_foreign_object, (2.0, 14.0)),
    "cold_shut": (_cold_shut, (15.0, 45.0)),
    "surface_gas_hole": (_surface_gas_hole, (1.5, 8.0)),
}


def draw_size(rng: np.random.Generator, kind: str, size_range_mm: tuple[float, float]) -> float:
    """Log-uniform true size within the kind's natural range intersected with the requested range."""
    lo_k, hi_k = GENERATORS[kind][1]
    lo, hi = max(lo_k, size_range_mm[0]), min(hi_k, size_range_mm[1])
    if kind in ANOMALY_ONLY:
        lo, hi = lo_k, hi_k
    if lo > hi:
        lo = hi = min(max(size_range_mm[0], lo_k), hi_k)
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


ANOMALY_ONLY = ("foreign_object", "cold_shut", "surface_gas_hole")


def _spots(
    rng: np.random.Generator, thickness: np.ndarray, occupied: np.ndarray, half: int, edge: bool
) -> list[tuple[int, int]]:
    """Random free spots inside material (for surface holes: next to air)."""
    h, w = thickness.shape
    if w <= 2 * half + 2 or h <= 2 * half + 2:
        return []
    xs = rng.integers(half + 1, w - half - 1, 256)
    ys = rng.integers(half + 1, h - half - 1, 256)
    ok = thickness[ys, xs] > 2.0 * _MATERIAL_MM
    if edge:
        r = max(2, half // 2)
        near_air = np.zeros_like(ok)
        for dx, dy in ((r, 0), (-r, 0), (0, r), (0, -r)):
            near_air |= thickness[ys + dy, xs + dx] < _MATERIAL_MM
        ok &= near_air
    out = []
    for i in np.flatnonzero(ok)[:64]:
        x, y = int(xs[i]), int(ys[i])
        if not occupied[y - half : y + half + 1, x - half : x + half + 1].any():
            out.append((x, y))
            if len(out) >= 24:
                break
    return out


def _fit(depth: np.ndarray, t: np.ndarray, body: np.ndarray, surface: bool) -> float:
    """Scale (<= 1) the flaw's extent along the ray needs to fit the local wall; 0 when it does not fit.

    The footprint must lie in metal thick enough everywhere (a 6 mm pore does not fit in a 4 mm rib seen
    edge-on); a flaw may be flattened to 35 % of its drawn extent along the ray (pores in thin plates are)."""
    if surface:
        return 1.0 if float(np.mean(t[body] > _MATERIAL_MM)) >= 0.3 else 0.0
    room = t[body] - _MIN_WALL_MM
    if float(np.mean(room > 0.2)) < 0.97:
        return 0.0
    scale = float(np.quantile(np.maximum(room, 0.0) / np.maximum(depth[body], 1e-3), 0.05))
    return min(1.0, scale) if scale >= 0.35 else 0.0


def make_flaw(
    rng: np.random.Generator,
    kind: str,
    thickness: np.ndarray,
    occupied: np.ndarray,
    mm_per_px: float,
    size_range_mm: tuple[float, float],
    size_mm: float | None = None,
) -> FlawDraft | None:
    """Draws one flaw of `kind` at a free spot inside material where it fits; None when it cannot be placed."""
    fn, _ = GENERATORS[kind]
    size = draw_size(rng, kind, size_range_mm) if size_mm is None else size_mm
    body, half = fn(rng, size, mm_per_px)
    n = 2 * half + 1
    depth = body.depth_ss
    if body.ss > 1:
        depth = cv2.resize(depth, (n, n), interpolation=cv2.INTER_AREA)
    peak0 = float(depth.max())
    if peak0 <= 0.02:
        return None
    footprint = depth >= 0.15 * peak0
    for x, y in _spots(rng, thickness, occupied, half, edge=body.reach_surface):
        window = (slice(y - half, y + half + 1), slice(x - half, x + half + 1))
        t = thickness[window]
        scale = _fit(depth, t, footprint, body.reach_surface)
        if scale > 0:
            break
    else:
        return None
    wall = 0.0 if body.reach_surface else _MIN_WALL_MM
    placed = np.minimum(depth * np.float32(scale), np.maximum(t - wall, 0.0))
    peak = float(placed.max())
    if peak <= 0.02:
        return None
    mask = (placed >= max(0.02, 0.15 * peak)) & (t > _MATERIAL_MM)
    if not mask.any():
        return None
    flaw_class = None if kind in ANOMALY_ONLY else FlawClass(kind)
    delta = (placed * np.float32(body.factor)).astype(np.float32)
    return FlawDraft(kind, flaw_class, x - half, y - half, delta, mask, round(body.size_mm, 3), round(peak, 3))
