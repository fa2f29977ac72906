"""Small synthetic radiographs for anomaly tests: a disc part with holes, Beer-Lambert grey values, noise."""

from __future__ import annotations

import numpy as np

from models.anomaly.data import FlawFreeImage


def synthetic_part(rng: np.random.Generator, h: int = 160, w: int = 192) -> FlawFreeImage:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = h / 2 + rng.uniform(-8, 8), w / 2 + rng.uniform(-8, 8)
    r = np.hypot(yy - cy, xx - cx)
    radius = min(h, w) * rng.uniform(0.38, 0.45)
    thickness = np.where(r < radius, 20.0 * np.sqrt(np.clip(1 - (r / radius) ** 2, 0, 1)) + 4.0, 0.0)
    for k in range(4):
        a = k * np.pi / 2 + rng.uniform(-0.2, 0.2)
        hy, hx = cy + 0.55 * radius * np.sin(a), cx + 0.55 * radius * np.cos(a)
        thickness[np.hypot(yy - hy, xx - hx) < radius * 0.12] = 0.0
    material = thickness > 0
    intensity = np.exp(-0.08 * thickness) + rng.normal(0, 0.01, (h, w))
    lo, hi = np.percentile(intensity, [0.5, 99.5])
    img = np.clip((intensity - lo) / (hi - lo), 0, 1).astype(np.float32)
    return FlawFreeImage(img, material)


def synthetic_parts(count: int, seed: int) -> list[FlawFreeImage]:
    return [synthetic_part(np.random.default_rng((seed, i))) for i in range(count)]
