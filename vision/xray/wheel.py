"""Cast aluminium wheel seen along (or tilted from) its axis: rim, spokes, hub, bore, bolt holes."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np

from vision.xray.canvas import Canvas


def _annulus(cv: Canvas, r_out: float, r_in: float) -> Callable[[np.ndarray], None]:
    def draw(m: np.ndarray) -> None:
        cv.circle(m, (0.0, 0.0), r_out, 255)
        cv.circle(m, (0.0, 0.0), r_in, 0)

    return draw


def draw_wheel(cv: Canvas, rng: np.random.Generator) -> float:
    """Wheel seen along its axis: rim bands, spokes (optionally twin, with pockets), hub, bore and bolt holes."""
    radius = rng.uniform(170.0, 240.0)
    if rng.random() < 0.6:  # rim as a barrel with two flanges, traced along the (tilted) rays
        flange, wall = rng.uniform(8.0, 18.0), rng.uniform(4.0, 8.0)
        width, lip = rng.uniform(150.0, 250.0), rng.uniform(8.0, 15.0)
        z0 = -rng.uniform(0.0, 40.0) if rng.random() < 0.5 else -width + rng.uniform(0.0, 40.0)
        cv.shell(radius - flange - wall, radius - flange, [(z0, z0 + width)])
        cv.shell(radius - flange, radius, [(z0, z0 + lip), (z0 + width - lip, z0 + width)])
        rim_w = flange + wall
    else:  # rim as concentric bands of fixed height (an older, simpler look kept for variety)
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
    h_hub = rng.uniform(35.0, 75.0)
    cv.solid(lambda m: cv.circle(m, (0.0, 0.0), r_hub), h_hub, 12.0, scale=dome)
    r_bore = rng.uniform(22.0, 38.0)
    n_bolts = int(rng.choice([4, 5, 5, 6]))
    pcd = rng.uniform(r_bore + 16.0, max(r_bore + 17.0, r_hub - 12.0))
    r_bolt = rng.uniform(6.0, 9.5)
    bolt_phase = rng.uniform(0, 2 * math.pi)
    recess = rng.uniform(0.0, 15.0)
    cv.pocket(lambda m: cv.circle(m, (0.0, 0.0), pcd + r_bolt + 4.0), recess, 4.0, 8.0)
    bolts = [(pcd * math.cos(a), pcd * math.sin(a)) for a in bolt_phase + 2 * math.pi * np.arange(n_bolts) / n_bolts]
    seat = r_bolt + rng.uniform(2.0, 5.0)  # lug-nut seats: bright rings around the bolt holes

    def seats(m: np.ndarray) -> None:
        for b in bolts:
            cv.circle(m, b, seat)

    seat_depth = rng.uniform(2.0, 10.0)
    cv.pocket(seats, seat_depth, 1.5, 6.0)
    valve = rng.uniform(0, 2 * math.pi)
    r_valve = radius - rim_w * rng.uniform(0.3, 0.7)

    def holes(m: np.ndarray) -> None:
        cv.circle(m, (0.0, 0.0), r_bore)
        for b in bolts:
            cv.circle(m, b, r_bolt)
        cv.circle(m, (r_valve * math.cos(valve), r_valve * math.sin(valve)), 5.0)

    cv.holes(holes)
    cv.tilted_hole((0.0, 0.0), r_bore, max(8.0, h_hub - recess))
    for b in bolts:
        cv.tilted_hole(b, r_bolt, max(6.0, h_hub - recess - seat_depth))
    return radius
