"""Ribbed housing or L-bracket: base plate, outer wall, ribs, bosses with cored holes, pockets, mounting ears."""

from __future__ import annotations

import cv2
import numpy as np

from vision.xray.canvas import Canvas, rounded_rect


def draw_housing(cv: Canvas, rng: np.random.Generator) -> tuple[float, float]:
    """Ribbed housing or bracket: base plate, outer wall, ribs, bosses with cored holes, pockets, ears."""
    length = rng.uniform(120.0, 320.0)
    width = length * rng.uniform(0.45, 0.9)
    outline = rounded_rect(length, width, rng.uniform(4.0, 25.0))
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
    contour = outline.astype(np.float32).reshape(-1, 1, 2)
    ears = [e for e in ears if cv2.pointPolygonTest(contour, (e[0], e[1]), True) > -16.0]  # attached to the body

    def base(m: np.ndarray) -> None:
        cv.poly(m, outline)
        for ex, ey, er in ears:
            cv.poly(m, rounded_rect(2.6 * er, 2.6 * er, er, ex, ey))

    base_mask = cv.solid(base, h_base, 1.5)
    cv.solid(lambda m: cv.polyline(m, outline, w_wall), h_wall, w_wall / 2)
    x_in, y_in = length / 2 - w_wall, width / 2 - w_wall
    n_pockets = int(rng.integers(0, 4))
    for _ in range(n_pockets):
        px, py = rng.uniform(-0.3, 0.3) * length, rng.uniform(-0.3, 0.3) * width
        pw, ph = rng.uniform(0.1, 0.35) * length, rng.uniform(0.1, 0.35) * width
        rect = rounded_rect(pw, ph, rng.uniform(2.0, 10.0), px, py)

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
    spots = [(rng.uniform(-x_in, x_in) * 0.9, rng.uniform(-y_in, y_in) * 0.9) for _ in range(int(rng.integers(2, 8)))]
    bosses = [b for b in spots if cv2.pointPolygonTest(contour, b, True) > 8.0]  # not in a bracket's cut corner
    radii = [rng.uniform(6.0, 16.0) for _ in bosses]

    through = [rng.random() < 0.6 for _ in bosses]
    core = [r * rng.uniform(0.3, 0.6) for r in radii]
    blind = [(b, c) for b, c, t in zip(bosses, core, through, strict=True) if not t]

    def boss_solids(m: np.ndarray) -> None:  # blind bosses: plates with a drilled pocket
        for b, r, t in zip(bosses, radii, through, strict=True):
            if not t:
                cv.circle(m, b, r)

    cv.solid(boss_solids, h_wall, 3.0)
    for b, r, c, t in zip(bosses, radii, core, through, strict=True):
        if t:  # bored through: traced as a tube, so a tilted view sees its walls and its bore move apart
            cv.shell(c, r, [(0.0, h_wall)], centre=b)

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
    for b, r in zip(holes_xy, holes_r, strict=True):
        cv.tilted_hole(b, r, h_base)
    return length, width
