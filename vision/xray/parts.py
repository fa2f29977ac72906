"""Part geometry: material path-length maps (mm of aluminium along each ray) of a wheel and a ribbed housing.

Shapes are drawn in the part frame (mm), posed by one affine map (rotation, tilt, scale, framing) and rasterised
with OpenCV at a reduced resolution; a distance transform turns each solid's footprint into a rounded
cross-section (cast fillets and drafts), and the map is upsampled to the detector grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from vision.types import PartFamily
from vision.xray.canvas import Canvas, View
from vision.xray.casting import add_markings, cast_variation, fixture
from vision.xray.housing import draw_housing
from vision.xray.wheel import draw_wheel


@dataclass(frozen=True)
class PartGeometry:
    family: PartFamily
    thickness_mm: np.ndarray  # float32 (H, W): aluminium path length along each ray
    fixture_mm: np.ndarray | None  # float32 (H, W): aluminium-equivalent path through fixtures (steel), or None
    view: View


def geometry_factor(width_px: int, height_px: int) -> int:
    """Coarse-grid factor: geometry is smooth, so ~500 px across is enough before upsampling."""
    return max(1, math.ceil(max(width_px, height_px) / 560))


def draw_view(
    family: PartFamily,
    rng: np.random.Generator,
    width_px: int,
    height_px: int,
    randomise: float,
    close_up_share: float | None = None,
) -> View:
    """Random framing: full views and close-ups (spokes and rim filling the frame, as on wheel lines)."""
    if close_up_share is None:
        close_up_share = 0.65 if family == PartFamily.WHEEL else 0.5
    rot = rng.uniform(0, 2 * math.pi)
    # wheel lines turn and tilt the wheel between shots; housings are shot nearly face-on (and their walls are
    # plates in this model, so steep tilts would show bosses leaning out of walls that do not lean)
    max_tilt = 50.0 if family == PartFamily.WHEEL else 12.0
    tilt = math.radians(rng.uniform(0.0, max_tilt * randomise + 5.0))
    axis = rng.uniform(0, math.pi)
    short = min(width_px, height_px)
    if family == PartFamily.WHEEL:
        if rng.random() >= close_up_share:
            mmpp = 2 * 205.0 * rng.uniform(0.8, 1.15) / short
            centre = (rng.normal(0, 15.0), rng.normal(0, 15.0))
        else:
            mmpp = math.exp(rng.uniform(math.log(60.0), math.log(260.0))) / width_px
            r, a = rng.uniform(40.0, 230.0), rng.uniform(0, 2 * math.pi)
            centre = (r * math.cos(a), r * math.sin(a))
    elif rng.random() >= close_up_share:
        mmpp = 240.0 * rng.uniform(0.8, 1.3) / width_px
        centre = (rng.normal(0, 10.0), rng.normal(0, 10.0))
    else:
        mmpp = math.exp(rng.uniform(math.log(50.0), math.log(160.0))) / width_px
        centre = (rng.uniform(-100.0, 100.0), rng.uniform(-60.0, 60.0))
    return View(mmpp, centre, rot, tilt, axis)


def render_part(
    family: PartFamily,
    rng: np.random.Generator,
    width_px: int,
    height_px: int,
    randomise: float = 1.0,
    close_up_share: float | None = None,
) -> PartGeometry:
    g = geometry_factor(width_px, height_px)
    gh, gw = math.ceil(height_px / g), math.ceil(width_px / g)
    for _ in range(4):  # a close-up that misses the part is redrawn (an operator would not shoot air)
        view = draw_view(family, rng, width_px, height_px, randomise, close_up_share)
        matrix = view.matrix(width_px, height_px, g)
        cv = Canvas((gh, gw), matrix, view.mm_per_px * g, view.tilt_rad, view.drift_dir())
        if family == PartFamily.WHEEL:
            draw_wheel(cv, rng)
        else:
            draw_housing(cv, rng)
        metal = (cv.acc[::4, ::4] > 0.3) | (cv.through[::4, ::4] > 0.3)
        if np.count_nonzero(metal) > 0.1 * metal.size:
            break
    add_markings(cv.acc, rng, cv.mm_per_px, randomise)
    # oblique rays cross more metal of plate-like features; traced bodies already hold their exact path
    combined = np.maximum(cv.acc * np.float32(1.0 / math.cos(view.tilt_rad)) + cv.through, 0.0)
    small = cast_variation(combined, rng, cv.mm_per_px, randomise)
    if g > 1:  # no coarse-grid stair steps on edges once upsampled
        small = cv2.GaussianBlur(small, (0, 0), 0.5)
    thickness = cv2.resize(small, (width_px, height_px), interpolation=cv2.INTER_LINEAR)
    clamp = fixture(rng, width_px, height_px, randomise)
    return PartGeometry(family, thickness, clamp, view)
