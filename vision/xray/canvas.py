"""Drawing in the part frame: a pose (View) maps part millimetres to pixels; a Canvas rasterises footprints with
OpenCV on a coarse grid and turns them into rounded solids (distance transform -> fillet profile)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

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

    def drift_dir(self) -> tuple[float, float]:
        """Unit direction (part frame) in which a ray drifts as it rises out of the part plane (tilted view)."""
        c, s = math.cos(self.rotation_rad), math.sin(self.rotation_rad)
        ca, sa = math.cos(self.tilt_axis_rad), math.sin(self.tilt_axis_rad)
        # rot^T applied to the squashed image axis (-sin a, cos a)
        return (c * -sa + s * ca, -s * -sa + c * ca)


class Canvas:
    """Draws footprints in part mm onto a coarse grid and accumulates rounded solids."""

    def __init__(
        self,
        shape_hw: tuple[int, int],
        affine: np.ndarray,
        mm_per_px: float,
        tilt_rad: float = 0.0,
        drift_dir: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        self.shape = shape_hw
        self.affine = affine
        self.mm_per_px = mm_per_px
        self.tilt_rad = tilt_rad
        self.drift = drift_dir
        self.acc = np.zeros(shape_hw, np.float32)  # plate-like features: path = height / cos(tilt)
        self.through = np.zeros(shape_hw, np.float32)  # exact path lengths (bodies traced along the ray)
        self._uv: tuple[np.ndarray, np.ndarray] | None = None

    def to_px(self, pts_mm: np.ndarray) -> np.ndarray:
        p = pts_mm @ self.affine[:, :2].T + self.affine[:, 2]
        return np.round(p * _ONE).astype(np.int32)

    def poly(self, mask: np.ndarray, pts_mm: np.ndarray, value: int = 255) -> None:
        cv2.fillPoly(mask, [self.to_px(pts_mm)], value, cv2.LINE_8, _SHIFT)

    def circle(self, mask: np.ndarray, centre: tuple[float, float], r_mm: float, value: int = 255) -> None:
        self.poly(mask, circle_pts(centre, r_mm), value)

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

    def plane_mm(self) -> tuple[np.ndarray, np.ndarray]:
        """Part-plane coordinates (mm) where each grid pixel's ray crosses z = 0 (inverse of the pose map)."""
        if self._uv is None:
            h, w = self.shape
            inv = cv2.invertAffineTransform(self.affine).astype(np.float32)
            x = np.arange(w, dtype=np.float32)[None, :]
            y = np.arange(h, dtype=np.float32)[:, None]
            self._uv = (inv[0, 0] * x + inv[0, 1] * y + inv[0, 2], inv[1, 0] * x + inv[1, 1] * y + inv[1, 2])
        return self._uv

    def radius_mm(self) -> np.ndarray:
        u, v = self.plane_mm()
        return np.sqrt(u * u + v * v)

    def tilted_hole(self, centre: tuple[float, float], r_mm: float, height_mm: float) -> None:
        """Corrects a through hole (already cut from the plate at z = 0) for a tilted view: rays entering it run
        into the wall, rays beside it cross the hole. Seen obliquely, a hole through a thick section closes into
        a bright slit or disappears, as on real radiographs; face-on it stays open."""
        sin_t = math.sin(self.tilt_rad)
        if sin_t < 0.02 or height_mm <= 0:
            return
        tan_t, cos_t = math.tan(self.tilt_rad), math.cos(self.tilt_rad)
        cx, cy = self.affine @ np.array([centre[0], centre[1], 1.0])
        reach = (r_mm + height_mm * tan_t) / self.mm_per_px + 2
        h, w = self.shape
        x0, x1 = max(0, int(cx - reach)), min(w, int(cx + reach) + 1)
        y0, y1 = max(0, int(cy - reach)), min(h, int(cy + reach) + 1)
        if x1 <= x0 or y1 <= y0:
            return
        u, v = self.plane_mm()
        du = u[y0:y1, x0:x1] - np.float32(centre[0])
        dv = v[y0:y1, x0:x1] - np.float32(centre[1])
        b = du * np.float32(self.drift[0]) + dv * np.float32(self.drift[1])
        r2 = du * du + dv * dv
        disc = b * b - (r2 - np.float32(r_mm * r_mm))
        s = np.sqrt(np.maximum(disc, 0.0))
        seg = np.minimum(-b + s, np.float32(height_mm * tan_t)) - np.maximum(-b - s, np.float32(0.0))
        in_hole = np.maximum(seg, 0.0) * np.float32(1.0 / sin_t)
        plate = np.float32(height_mm / cos_t)
        # the footprint is what `holes` cut from the plate (rasterised), not the exact circle: no seam at its rim
        near = np.float32((r_mm + 1.5 * self.mm_per_px) ** 2)
        cut = (self.acc[y0:y1, x0:x1] <= 0.0) & (r2 <= near)
        self.through[y0:y1, x0:x1] += np.where(cut, plate - in_hole, -in_hole)

    def shell(
        self,
        r_in: float,
        r_out: float,
        z_ranges: list[tuple[float, float]],
        centre: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        """Adds the path through an axisymmetric shell r_in..r_out over the given axial ranges (mm from the part
        plane). Traced exactly along each tilted ray: face-on the barrel of a rim is its full width of metal; tilted
        it opens into the crescents of the near and far wall. Also used for bored bosses (r_in = the core)."""
        u, v = self.plane_mm()
        if centre != (0.0, 0.0):
            u, v = u - np.float32(centre[0]), v - np.float32(centre[1])
        r2 = u * u + v * v
        sin_t, tan_t = math.sin(self.tilt_rad), math.tan(self.tilt_rad)
        if sin_t < 0.02:
            inside = ((r2 >= r_in * r_in) & (r2 <= r_out * r_out)).astype(np.float32)
            self.through += inside * np.float32(sum(z1 - z0 for z0, z1 in z_ranges))
            return
        b = u * np.float32(self.drift[0]) + v * np.float32(self.drift[1])
        path = np.zeros(self.shape, np.float32)
        for radius, sign in ((r_out, 1.0), (r_in, -1.0)):
            disc = b * b - (r2 - np.float32(radius * radius))
            s = np.sqrt(np.maximum(disc, 0.0))
            lo, hi = -b - s, -b + s  # the ray's xy track is inside the disc between these drift distances
            for z0, z1 in z_ranges:
                seg = np.minimum(hi, np.float32(z1 * tan_t)) - np.maximum(lo, np.float32(z0 * tan_t))
                path += np.float32(sign) * np.maximum(seg, 0.0)
        self.through += np.maximum(path, 0.0) * np.float32(1.0 / sin_t)

    def pocket(self, draw: Callable[[np.ndarray], None], depth_mm: float, edge_mm: float, keep_mm: float) -> None:
        cut = self.profile(self.footprint(draw), depth_mm, edge_mm)
        np.maximum(self.acc - cut, np.minimum(self.acc, keep_mm), out=self.acc)

    def holes(self, draw: Callable[[np.ndarray], None]) -> None:
        mask = self.footprint(draw)
        self.acc[mask > 0] = 0.0


def circle_pts(centre: tuple[float, float], r: float, n: int = 72) -> np.ndarray:
    a = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    return np.stack([centre[0] + r * np.cos(a), centre[1] + r * np.sin(a)], axis=1)


def rounded_rect(w: float, h: float, r: float, cx: float = 0.0, cy: float = 0.0) -> np.ndarray:
    r = min(r, w / 2, h / 2)
    pts = []
    for (qx, qy), a0 in zip(((1, 1), (-1, 1), (-1, -1), (1, -1)), (0.0, 90.0, 180.0, 270.0), strict=True):
        ccx, ccy = cx + qx * (w / 2 - r), cy + qy * (h / 2 - r)
        for a in np.radians(np.linspace(a0, a0 + 90.0, 7)):
            pts.append((ccx + r * math.cos(a), ccy + r * math.sin(a)))
    return np.array(pts)
