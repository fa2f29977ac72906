"""Part geometry: material path-length maps (mm of aluminium along each ray) of a wheel and a ribbed housing.

Shapes are drawn in the part frame (mm), posed by one affine map (rotation, tilt, scale, framing) and rasterised
with OpenCV at a reduced resolution; a distance transform turns each solid's footprint into a rounded
cross-section (cast fillets and drafts), and the map is upsampled to the detector grid.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from vision.types import PartFamily
from vision.xray.casting import add_markings, cast_variation, fixture

_SHIFT = 4  # sub-pixel bits for cv2 polygon drawing
_ONE = 1 << _SHIFT


@dataclass(frozen=True)
class View:
    """Where the part sits in the image: object-plane scale, the part point at the image centre, pose."""

    mm_per_px: float
    centre_mm: tuple[float, float]
    rotation_rad: float
    tilt_rad: float
    tilt_axis_rad: float

    def matrix(self, width_px: int, height_px: int, factor: int = 1) -> np.ndarray:
        """2x3 affine from part mm to pixel coordinates of a grid `factor` times coarser than the image."""
        c, s = math.cos(self.rotation_rad), math.sin(self.rotation_rad)
        rot = np.array([[c, -s], [s, c]])
        ca, sa = math.cos(self.tilt_axis_rad), math.sin(self.tilt_axis_rad)
        axis = np.array([[ca, -sa], [sa, ca]])
        squash = axis @ np.diag([1.0, math.cos(self.tilt_rad)]) @ axis.T
        lin = squash @ rot / (self.mm_per_px * factor)
        centre_full = np.array([width_px / 2.0, height_px / 2.0])
        centre = (centre_full + 0.5) / factor - 0.5
        off = centre - lin @ np.asarray(self.centre_mm)
        return np.hstack([lin, off[:, None]])


@dataclass(frozen=True)
class PartGeometry:
    family: PartFamily
    thickness_mm: np.ndarray  # float32 (H, W): aluminium path length along each ray
    fixture_mm: np.ndarray | None  # float32 (H, W): aluminium-equivalent path through fixtures (steel), or None
    view: View


class _Canvas:
    """Draws footprints in part mm onto a coarse grid and accumulates rounded solids."""

    def __init__(self, shape_hw: tuple[int, int], affine: np.ndarray, mm_per_px: float) -> None:
        self.shape = shape_hw
        self.affine = affine
        self.mm_per_px = mm_per_px
        self.acc = np.zeros(shape_hw, np.float32)

    def to_px(self, pts_mm: np.ndarray) -> np.ndarray:
        p = pts_mm @ self.affine[:, :2].T + self.affine[:, 2]
        return np.round(p * _ONE).astype(np.int32)

    def poly(self, mask: np.ndarray, pts_mm: np.ndarray, value: int = 255) -> None:
        cv2.fillPoly(mask, [self.to_px(pts_mm)], value, cv2.LINE_8, _SHIFT)

    def circle(self, mask: np.ndarray, centre: tuple[float, float], r_mm: float, value: int = 255) -> None:
        self.poly(mask, _circle_pts(centre, r_mm), value)

    def line(self, mask: np.ndarray, p0: tuple[float, float], p1: tuple[float, float], width_mm: float) -> None:
        a, b = self.to_px(np.array([p0, p1], np.float64))
        w = max(1, round(width_mm / self.mm_per_px))
        cv2.line(mask, tuple(int(v) for v in a), tuple(int(v) for v in b), 255, w, cv2.LINE_8, _SHIFT)

    def polyline(self, mask: np.ndarray, pts_mm: np.ndarray, width_mm: float) -> None:
        w = max(1, round(width_mm / self.mm_per_px))
        cv2.polylines(mask, [self.to_px(pts_mm)], True, 255, w, cv2.LINE_8, _SHIFT)

    def footprint(self, draw: Callable[[np.ndarray], None]) -> np.ndarray:
        mask = np.zeros(self.shape, np.uint8)
        draw(mask)
        return mask

    def profile(self, mask: np.ndarray, height_mm: float, edge_mm: float) -> np.ndarray:
        """Rounded solid: full height inside, a quarter-circle fillet of radius edge_mm at the border."""
        if edge_mm / self.mm_per_px < 0.75:
            return (mask > 0).astype(np.float32) * height_mm
        dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
        x = np.minimum(dist * (self.mm_per_px / edge_mm), 1.0)
        return np.sqrt(x * (2.0 - x)) * np.float32(height_mm)

    def solid(
        self,
        draw: Callable[[np.ndarray], None],
        height_mm: float,
        edge_mm: float,
        clip: np.ndarray | None = None,
        scale: np.ndarray | None = None,
    ) -> np.ndarray:
        """Union with a rounded solid; `scale` (per pixel) shapes its height (tapers, domes)."""
        mask = self.footprint(draw)
        if clip is not None:
            mask &= clip
        solid = self.profile(mask, height_mm, edge_mm)
        if scale is not None:
            solid *= scale
        np.maximum(self.acc, solid, out=self.acc)
        return mask

    def radius_mm(self) -> np.ndarray:
        """Distance of each grid pixel from the part origin, in part mm (inverse of the pose map)."""
        h, w = self.shape
        inv = cv2.invertAffineTransform(self.affine)
        x = np.arange(w, dtype=np.float32)[None, :]
        y = np.arange(h, dtype=np.float32)[:, None]
        u = inv[0, 0] * x + inv[0, 1] * y + inv[0, 2]
        v = inv[1, 0] * x + inv[1, 1] * y + inv[1, 2]
        return np.sqrt(u * u + v * v).astype(np.float32)

    def pocket(self, draw: Callable[[np.ndarray], None], depth_mm: float, edge_mm: float, keep_mm: float) -> None:
        cut = self.profile(self.footprint(draw), depth_mm, edge_mm)
        np.maximum(self.acc - cut, np.minimum(self.acc, keep_mm), out=self.acc)

    def holes(self, draw: Callable[[np.ndarray], None]) -> None:
        mask = self.footprint(draw)
        self.acc[mask > 0] = 0.0


def _circle_pts(centre: tuple[float, float], r: float, n: int = 72) -> np.ndarray:
    a = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    return np.stack([centre[0] + r * np.cos(a), centre[1] + r * np.sin(a)], axis=1)


def _annulus(cv: _Canvas, r_out: float, r_in: float) -> Callable[[np.ndarray], None]:
    def draw(m: np.ndarray) -> None:
        cv.circle(m, (0.0, 0.0), r_out, 255)
        cv.circle(m, (0.0, 0.0), r_in, 0)

    return draw


def _draw_wheel(cv: _Canvas, rng: np.random.Generator) -> float:
    """Wheel seen along its axis: rim bands, spokes (optionally twin, with pockets), hub, bore and bolt holes."""
    radius = rng.uniform(170.0, 240.0)
    rim_w = rng.uniform(18.0, 36.0)
    edges = np.sort(rng.uniform(0.15, 0.85, size=int(rng.integers(1, 3))))
    bounds = [radius, *(radius - rim_w * e for e in edges), radius - rim_w]
    for r_out, r_in in itertools.pairwise(bounds):
        cv.solid(_annulus(cv, r_out, r_in), rng.uniform(12.0, 70.0), min(4.0, (r_out - r_in) / 2))
    r_hub = rng.uniform(55.0, 95.0)
    n_spokes = int(rng.choice([4, 5, 5, 6, 6, 7, 8, 10]))
    twin = n_spokes <= 6 and rng.random() < 0.3
    twin_sep = rng.uniform(0.10, 0.22)
    phase = rng.uniform(0, 2 * math.pi)
    w_root, w_tip = rng.uniform(28.0, 50.0), rng.uniform(16.0, 34.0)
    if twin:
        w_root, w_tip = w_root * 0.6, w_tip * 0.6
    h_spoke = rng.uniform(18.0, 45.0)
    sweep = rng.uniform(-0.25, 0.25)  # curved-looking spokes: the tip leads the root
    r0, r1 = r_hub * 0.8, radius - rim_w + 3.0
    angles = [phase + 2 * math.pi * k / n_spokes for k in range(n_spokes)]
    if twin:
        angles = [a + s * twin_sep for a in angles for s in (-1, 1)]

    def spoke_pts(a: float, w0: float, w1: float, ra: float, rb: float) -> np.ndarray:
        b = a + sweep
        u0, u1 = np.array([math.cos(a), math.sin(a)]), np.array([math.cos(b), math.sin(b)])
        n0, n1 = np.array([-u0[1], u0[0]]), np.array([-u1[1], u1[0]])
        rm = (ra + rb) / 2
        um = np.array([math.cos((a + b) / 2), math.sin((a + b) / 2)])
        nm = np.array([-um[1], um[0]])
        wm = (w0 + w1) / 2
        left = [ra * u0 + n0 * w0 / 2, rm * um + nm * wm / 2, rb * u1 + n1 * w1 / 2]
        right = [rb * u1 - n1 * w1 / 2, rm * um - nm * wm / 2, ra * u0 - n0 * w0 / 2]
        return np.array(left + right)

    def spokes(m: np.ndarray) -> None:
        for a in angles:
            cv.poly(m, spoke_pts(a, w_root, w_tip, r0, r1))

    # spokes thin out towards the rim and the hub domes: the smooth shading of real wheel radiographs
    radius_map = cv.radius_mm()
    taper = rng.uniform(0.0, 0.6)
    along = np.clip((radius_map - r0) / max(r1 - r0, 1.0), 0.0, 1.0)
    cv.solid(spokes, h_spoke, min(w_root, w_tip) / 2, scale=1.0 + taper * (0.5 - along))
    if rng.random() < 0.5 and not twin:
        depth = h_spoke * rng.uniform(0.3, 0.6)

        def spoke_pockets(m: np.ndarray) -> None:
            for a in angles:
                cv.poly(m, spoke_pts(a, w_root * 0.45, w_tip * 0.4, r_hub + 12.0, r1 - 18.0))

        cv.pocket(spoke_pockets, depth, 3.0, 3.0)
    dome = 1.0 + rng.uniform(0.0, 0.35) * (1.0 - np.minimum(radius_map / r_hub, 1.0) ** 2)
    cv.solid(lambda m: cv.circle(m, (0.0, 0.0), r_hub), rng.uniform(35.0, 75.0), 12.0, scale=dome)
    r_bore = rng.uniform(22.0, 38.0)
    n_bolts = int(rng.choice([4, 5, 5, 6]))
    pcd = rng.uniform(r_bore + 16.0, max(r_bore + 17.0, r_hub - 12.0))
    r_bolt = rng.uniform(6.0, 9.5)
    bolt_phase = rng.uniform(0, 2 * math.pi)
    cv.pocket(lambda m: cv.circle(m, (0.0, 0.0), pcd + r_bolt + 4.0), rng.uniform(0.0, 15.0), 4.0, 8.0)
    bolts = [(pcd * math.cos(a), pcd * math.sin(a)) for a in bolt_phase + 2 * math.pi * np.arange(n_bolts) / n_bolts]
    seat = r_bolt + rng.uniform(2.0, 5.0)  # lug-nut seats: bright rings around the bolt holes

    def seats(m: np.ndarray) -> None:
        for b in bolts:
            cv.circle(m, b, seat)

    cv.pocket(seats, rng.uniform(2.0, 10.0), 1.5, 6.0)
    valve = rng.uniform(0, 2 * math.pi)
    r_valve = radius - rim_w * rng.uniform(0.3, 0.7)

    def holes(m: np.ndarray) -> None:
        cv.circle(m, (0.0, 0.0), r_bore)
        for b in bolts:
            cv.circle(m, b, r_bolt)
        cv.circle(m, (r_valve * math.cos(valve), r_valve * math.sin(valve)), 5.0)

    cv.holes(holes)
    return radius


def _rounded_rect(w: float, h: float, r: float, cx: float = 0.0, cy: float = 0.0) -> np.ndarray:
    r = min(r, w / 2, h / 2)
    pts = []
    for (qx, qy), a0 in zip(((1, 1), (-1, 1), (-1, -1), (1, -1)), (0.0, 90.0, 180.0, 270.0), strict=True):
        ccx, ccy = cx + qx * (w / 2 - r), cy + qy * (h / 2 - r)
        for a in np.radians(np.linspace(a0, a0 + 90.0, 7)):
            pts.append((ccx + r * math.cos(a), ccy + r * math.sin(a)))
    return np.array(pts)


def _draw_housing(cv: _Canvas, rng: np.random.Generator) -> tuple[float, float]:
    """Ribbed housing or bracket: base plate, outer wall, ribs, bosses with cored holes, pockets, ears."""
    length = rng.uniform(120.0, 320.0)
    width = length * rng.uniform(0.45, 0.9)
    outline = _rounded_rect(length, width, rng.uniform(4.0, 25.0))
    if rng.random() < 0.35:  # bracket: one corner cut away (L shape)
        cx, cy = length / 2 - rng.uniform(0.3, 0.6) * length, width / 2 - rng.uniform(0.3, 0.6) * width
        hl, hw = length / 2, width / 2
        outline = np.array([(-hl, -hw), (hl, -hw), (hl, cy), (cx, cy), (cx, hw), (-hl, hw)])
        outline = outline @ np.diag([rng.choice([-1, 1]), rng.choice([-1, 1])])
    h_base = rng.uniform(3.0, 10.0)
    h_wall = rng.uniform(20.0, 70.0)
    w_wall = rng.uniform(3.0, 8.0)
    n_ears = int(rng.integers(0, 5))
    ears = []
    for _ in range(n_ears):
        ex = rng.choice([-1, 1]) * (length / 2 + rng.uniform(4.0, 14.0))
        ey = rng.uniform(-0.4, 0.4) * width
        if rng.random() < 0.5:
            ex, ey = rng.uniform(-0.4, 0.4) * length, rng.choice([-1, 1]) * (width / 2 + rng.uniform(4.0, 14.0))
        ears.append((ex, ey, rng.uniform(7.0, 13.0)))

    def base(m: np.ndarray) -> None:
        cv.poly(m, outline)
        for ex, ey, er in ears:
            cv.poly(m, _rounded_rect(2.6 * er, 2.6 * er, er, ex, ey))

    base_mask = cv.solid(base, h_base, 1.5)
    cv.solid(lambda m: cv.polyline(m, outline, w_wall), h_wall, w_wall / 2)
    x_in, y_in = length / 2 - w_wall, width / 2 - w_wall
    n_pockets = int(rng.integers(0, 4))
    for _ in range(n_pockets):
        px, py = rng.uniform(-0.3, 0.3) * length, rng.uniform(-0.3, 0.3) * width
        pw, ph = rng.uniform(0.1, 0.35) * length, rng.uniform(0.1, 0.35) * width
        rect = _rounded_rect(pw, ph, rng.uniform(2.0, 10.0), px, py)

        def pocket(m: np.ndarray, r: np.ndarray = rect) -> None:
            cv.poly(m, r)

        cv.pocket(pocket, h_base * rng.uniform(0.3, 0.6), 2.0, 1.5)
    n_ribs = int(rng.integers(1, 7))
    w_rib = rng.uniform(2.0, 6.0)
    h_rib = rng.uniform(8.0, h_wall)

    def ribs(m: np.ndarray) -> None:
        for _ in range(n_ribs):
            kind = rng.random()
            if kind < 0.4:
                y = rng.uniform(-y_in, y_in)
                cv.line(m, (-x_in, y), (x_in, y), w_rib)
            elif kind < 0.8:
                x = rng.uniform(-x_in, x_in)
                cv.line(m, (x, -y_in), (x, y_in), w_rib)
            else:
                cv.line(m, (-x_in, rng.uniform(-y_in, y_in)), (x_in, rng.uniform(-y_in, y_in)), w_rib)

    cv.solid(ribs, h_rib, w_rib / 2, clip=base_mask)
    bosses = [(rng.uniform(-x_in, x_in) * 0.9, rng.uniform(-y_in, y_in) * 0.9) for _ in range(int(rng.integers(2, 8)))]
    radii = [rng.uniform(6.0, 16.0) for _ in bosses]

    def boss_solids(m: np.ndarray) -> None:
        for b, r in zip(bosses, radii, strict=True):
            cv.circle(m, b, r)

    cv.solid(boss_solids, h_wall, 3.0)
    through = [rng.random() < 0.6 for _ in bosses]
    core = [r * rng.uniform(0.3, 0.6) for r in radii]
    blind = [(b, c) for b, c, t in zip(bosses, core, through, strict=True) if not t]

    def blind_cores(m: np.ndarray) -> None:
        for b, c in blind:
            cv.circle(m, b, c)

    if blind:
        cv.pocket(blind_cores, h_wall * 0.7, 0.8, h_base)
    n_holes = int(rng.integers(0, 4))
    holes_xy = [(rng.uniform(-x_in, x_in) * 0.8, rng.uniform(-y_in, y_in) * 0.8) for _ in range(n_holes)]
    holes_r = [rng.uniform(4.0, 15.0) for _ in holes_xy]

    def holes(m: np.ndarray) -> None:
        for b, c, t in zip(bosses, core, through, strict=True):
            if t:
                cv.circle(m, b, c)
        for b, r in zip(holes_xy, holes_r, strict=True):
            cv.circle(m, b, r)
        for ex, ey, er in ears:
            cv.circle(m, (ex, ey), er * 0.45)

    cv.holes(holes)
    return length, width


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
    tilt = math.radians(rng.uniform(0.0, 35.0 * randomise + 5.0))
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
        cv = _Canvas((gh, gw), view.matrix(width_px, height_px, g), view.mm_per_px * g)
        if family == PartFamily.WHEEL:
            _draw_wheel(cv, rng)
        else:
            _draw_housing(cv, rng)
        if np.count_nonzero(cv.acc[::4, ::4] > 0.3) > 0.1 * cv.acc[::4, ::4].size:
            break
    add_markings(cv.acc, rng, cv.mm_per_px, randomise)
    small = cast_variation(cv.acc, rng, cv.mm_per_px, randomise)
    small /= np.float32(math.cos(view.tilt_rad))  # oblique rays cross more metal
    thickness = cv2.resize(small, (width_px, height_px), interpolation=cv2.INTER_LINEAR)
    clamp = fixture(rng, width_px, height_px, randomise)
    return PartGeometry(family, thickness, clamp, view)
