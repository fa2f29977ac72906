"""Simulator ground truth: flaws only in material and within the wall, boxes from masks, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from vision.roles import ImageSource
from vision.types import DetectorMode, FlawClass, PartFamily, PartIdentity
from vision.xray import ANOMALY_KINDS, SimulatedXraySource, XraySimParams, XraySimulator, parse_flaw_mix
from vision.xray.flaws import GENERATORS, FlawDraft, make_flaw
from vision.xray.physics import Exposure, transmission
from vision.xray.simulator import conspicuous_contrast

SMALL = {"width_px": 320, "height_px": 240}


def _shots(n: int, **kw: object):  # type: ignore[no-untyped-def]
    sim = XraySimulator(XraySimParams(**{**SMALL, "flaw_free_share": 0.0, **kw}))  # type: ignore[arg-type]
    return [sim.render(np.random.default_rng(1000 + i)) for i in range(n)]


@pytest.mark.parametrize("kind", sorted(GENERATORS))
def test_flaw_stays_inside_material_and_within_the_wall(kind: str) -> None:
    """Plate 6 mm with a 40 mm boss and air around; every flaw mask lies in metal, no void pierces the wall."""
    t = np.zeros((200, 200), np.float32)
    t[20:180, 20:180] = 6.0
    yy, xx = np.mgrid[0:200, 0:200]
    t[(yy - 100) ** 2 + (xx - 100) ** 2 < 45**2] = 40.0
    rng = np.random.default_rng(7)
    placed = 0
    for _ in range(25):
        d = make_flaw(rng, kind, t, np.zeros_like(t, bool), 0.15, (0.5, 11.0))
        if d is None:
            continue
        placed += 1
        local = t[d.window]
        assert np.all(local[d.mask] > 0.3), "flaw pixels outside material"
        if kind == "surface_gas_hole":
            assert np.all(-d.delta_mm <= local + 1e-4)
        elif d.flaw_class == FlawClass.INCLUSION or kind == "foreign_object":
            body = np.abs(d.delta_mm) > 0
            assert np.all(local[body] >= 0.5)
        else:
            body = d.delta_mm != 0
            assert np.all(-d.delta_mm[body] <= local[body] - 0.5 + 1e-4), "void deeper than the wall allows"
            assert np.all(d.delta_mm <= 0), "voids remove metal"
        assert d.size_mm > 0 and d.depth_mm > 0
    assert placed >= 5, f"{kind}: only {placed} of 25 flaws could be placed"


def test_inclusions_add_and_voids_remove_metal() -> None:
    t = np.full((200, 200), 30.0, np.float32)
    rng = np.random.default_rng(3)
    inc = make_flaw(rng, "inclusion", t, np.zeros_like(t, bool), 0.2, (2.0, 6.0))
    pore = make_flaw(rng, "porosity", t, np.zeros_like(t, bool), 0.2, (2.0, 6.0))
    assert inc is not None and pore is not None
    assert inc.delta_mm.max() > 0 and inc.delta_mm.min() >= 0
    assert pore.delta_mm.min() < 0 and pore.delta_mm.max() <= 0


@pytest.mark.parametrize("mode", list(DetectorMode))
def test_masks_inside_material_and_boxes_enclose_masks(mode: DetectorMode) -> None:
    shots = _shots(12, detector_mode=mode, anomaly_kinds=ANOMALY_KINDS, anomaly_share=0.3)
    n_instances = 0
    for shot in shots:
        inst = shot.instance_mask
        assert inst.dtype == np.int32 and inst.shape == shot.image.pixels.shape
        assert not np.any((inst > 0) & ~shot.material_mask), "flaw pixels outside material"
        ids = {f.instance_id for f in shot.instances}
        assert set(np.unique(inst[inst > 0]).tolist()) == ids
        for f in shot.instances:
            ys, xs = np.nonzero(inst == f.instance_id)
            x0, y0, x1, y1 = f.bbox_xyxy_px
            assert (x0, y0, x1, y1) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1), "box must be the mask's box"
            assert f.size_mm > 0 and f.cnr >= 1.5 and f.snr >= 5.0
            n_instances += 1
        assert len(shot.image.true_flaws) == sum(1 for f in shot.instances if f.flaw_class is not None)
        assert shot.anomaly_kinds == tuple(f.kind for f in shot.instances if f.flaw_class is None)
    assert n_instances >= 8


def _flaw_and_ring(shot, f):  # type: ignore[no-untyped-def]
    """The flaw's pixels and a 3-pixel ring around its box in metal of the same thickness (within 5 %)."""
    x0, y0, x1, y1 = (int(v) for v in f.bbox_xyxy_px)
    m = shot.instance_mask == f.instance_id
    ring = np.zeros_like(m)
    ring[max(0, y0 - 3) : y1 + 3, max(0, x0 - 3) : x1 + 3] = True
    t_flaw = float(shot.thickness_mm[m].mean())
    ring &= ~m & shot.material_mask & (np.abs(shot.thickness_mm - t_flaw) < 0.05 * t_flaw)
    return m, ring


def test_voids_render_brighter_than_their_surroundings() -> None:
    shots = _shots(20, flaw_mix=parse_flaw_mix("porosity"), detector_mode=DetectorMode.FLAT_PANEL, randomise=0.3)
    brighter, total = 0, 0
    for shot in shots:
        px = shot.image.pixels.astype(np.float64)
        for f in shot.instances:
            m, ring = _flaw_and_ring(shot, f)
            if ring.sum() < 10 or f.cnr < 4:
                continue
            total += 1
            brighter += px[m].mean() > px[ring].mean()
    assert total >= 5 and brighter / total >= 0.85, (brighter, total)


def test_flaw_free_parts_have_no_flaws_and_flaw_free_share_holds() -> None:
    sim = XraySimulator(XraySimParams(**SMALL, flaw_free_share=1.0))  # type: ignore[arg-type]
    shot = sim.render(np.random.default_rng(0))
    assert not shot.instances and not shot.instance_mask.any() and not shot.image.true_flaws
    sim = XraySimulator(XraySimParams(**SMALL, flaw_free_share=0.5))  # type: ignore[arg-type]
    flawed = [sim.render(np.random.default_rng(i), flawed=None).flawed for i in range(30)]
    assert 5 < sum(flawed) < 25


def test_same_generator_state_gives_same_shot_and_other_seed_differs() -> None:
    sim = XraySimulator(XraySimParams(**SMALL))  # type: ignore[arg-type]
    a = sim.render(np.random.default_rng(42))
    b = XraySimulator(XraySimParams(**SMALL)).render(np.random.default_rng(42))  # type: ignore[arg-type]
    c = sim.render(np.random.default_rng(43))
    assert np.array_equal(a.image.pixels, b.image.pixels)
    assert np.array_equal(a.instance_mask, b.instance_mask)
    assert a.instances == b.instances
    assert not np.array_equal(a.image.pixels, c.image.pixels)


@pytest.mark.parametrize(
    "mode,dtype,bits", [(DetectorMode.FLAT_PANEL, np.uint16, 16), ("image_intensifier", np.uint8, 8)]
)
def test_detector_modes_give_their_bit_depth(mode: DetectorMode, dtype: type, bits: int) -> None:
    shot = _shots(1, detector_mode=mode)[0]
    assert shot.image.pixels.dtype == dtype and shot.image.bit_depth == bits
    assert shot.image.pixels.shape == (240, 320)
    assert shot.image.mm_per_px > 0 and shot.image.magnification > 1.0


def test_families_can_be_forced() -> None:
    sim = XraySimulator(XraySimParams(**SMALL, families=(PartFamily.HOUSING,)))  # type: ignore[arg-type]
    assert sim.render(np.random.default_rng(0)).family == PartFamily.HOUSING
    assert sim.render(np.random.default_rng(0), family=PartFamily.WHEEL).family == PartFamily.WHEEL


@pytest.mark.parametrize(
    "bad,words",
    [
        ({"kv_min": 160, "kv_max": 90}, "kv_min"),
        ({"kv_min": 20}, "kv_min"),
        ({"width_px": 10}, "width_px"),
        ({"flaw_free_share": 1.5}, "flaw_free_share"),
        ({"anomaly_kinds": ("alien",)}, "unknown anomaly kind"),
        ({"flaw_mix": {"porosity": -1.0}}, "flaw_mix"),
        ({"flaw_mix": {"porosity": 0.0}, "flaw_free_share": 0.5}, "flawed parts are impossible"),
        ({"flaw_size_mm": (5.0, 2.0)}, "flaw_size_mm"),
        ({"detector_mode": "film"}, "detector_mode"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_parameters_are_rejected_with_a_clear_message(bad: dict, words: str) -> None:
    with pytest.raises(ValidationError) as exc:
        XraySimParams(**bad)
    assert words in str(exc.value)


def test_flaw_mix_parser() -> None:
    mix = parse_flaw_mix("porosity=0.5, crack=2")
    assert mix[FlawClass.POROSITY] == 0.5 and mix[FlawClass.CRACK] == 2.0 and mix[FlawClass.INCLUSION] == 0.0
    assert sum(parse_flaw_mix("none").values()) == 0
    with pytest.raises(ValueError, match="unknown flaw class"):
        parse_flaw_mix("blowhole=1")
    with pytest.raises(ValueError, match="not a number"):
        parse_flaw_mix("crack=lots")


def test_image_source_is_a_pure_function_of_seed_serial_and_family() -> None:
    params = XraySimParams(**SMALL, flaw_free_share=0.0)  # type: ignore[arg-type]
    src = SimulatedXraySource(params, seed=9)
    assert isinstance(src, ImageSource)
    part = PartIdentity(serial="W-000123", family=PartFamily.WHEEL)
    img = src.acquire(part)
    again = SimulatedXraySource(params, seed=9, cache_size=0).acquire(part)
    assert np.array_equal(img.pixels, again.pixels) and img.true_flaws == again.true_flaws
    assert img.part == part and src.truth(part) == img.true_flaws
    other = src.acquire(PartIdentity(serial="W-000124", family=PartFamily.WHEEL))
    assert not np.array_equal(img.pixels, other.pixels)
    assert not np.array_equal(img.pixels, SimulatedXraySource(params, seed=10).acquire(part).pixels)
    assert src.dark_frame().shape == src.gain_frame().shape == (240, 320)


@pytest.mark.parametrize("size", [(64, 64), (2048, 96), (96, 1500)])
def test_extreme_frame_shapes_render(size: tuple[int, int]) -> None:
    w, h = size
    for mode in DetectorMode:
        sim = XraySimulator(XraySimParams(width_px=w, height_px=h, detector_mode=mode, flaw_free_share=0.0))
        shot = sim.render(np.random.default_rng(1))
        assert shot.image.pixels.shape == (h, w)
        assert not np.any((shot.instance_mask > 0) & ~shot.material_mask)


@pytest.mark.parametrize("tilt_deg", [0.0, 25.0, 50.0])
def test_traced_rim_shell_holds_the_metal_volume(tilt_deg: float) -> None:
    """Parallel rays: the path lengths summed over the detector (per unit area across the beam) give the volume."""
    from vision.xray.canvas import Canvas, View

    view = View(1.0, (0.0, 0.0), 0.3, math.radians(tilt_deg), 1.1)
    cv = Canvas((700, 700), view.matrix(700, 700), 1.0, view.tilt_rad, view.drift_dir())
    cv.shell(100.0, 108.0, [(0.0, 120.0)])
    volume = math.pi * (108.0**2 - 100.0**2) * 120.0
    pixel_area_across_beam = 1.0  # mm^2: the pose map is an orthographic projection onto the detector
    assert float(cv.through.sum()) * pixel_area_across_beam == pytest.approx(volume, rel=0.02)
    if tilt_deg == 0.0:
        assert cv.through.max() == pytest.approx(120.0)  # face-on: the full barrel width of metal
    else:  # tilted: most rays cross the walls; only grazing rays run the whole height inside a wall
        hit = cv.through[cv.through > 0]
        assert float(np.median(hit)) < 0.5 * 120.0
        assert float(hit.max()) <= 120.0 / math.cos(view.tilt_rad) * 1.01


@pytest.mark.parametrize("tilt_deg", [0.0, 30.0, 50.0])
def test_through_hole_closes_when_tilted_and_metal_volume_is_kept(tilt_deg: float) -> None:
    from vision.xray.canvas import Canvas, View

    view = View(1.0, (0.0, 0.0), 0.2, math.radians(tilt_deg), 0.7)
    cv = Canvas((600, 600), view.matrix(600, 600), 1.0, view.tilt_rad, view.drift_dir())
    cv.solid(lambda m: cv.circle(m, (0.0, 0.0), 200.0, 255), 40.0, 0.1)
    cv.holes(lambda m: cv.circle(m, (0.0, 0.0), 10.0, 255))
    cv.tilted_hole((0.0, 0.0), 10.0, 40.0)
    path = np.maximum(cv.acc / math.cos(view.tilt_rad) + cv.through, 0.0)
    volume = math.pi * (200.0**2 - 10.0**2) * 40.0
    assert float(path.sum()) == pytest.approx(volume, rel=0.02)
    centre = path[290:311, 290:311]
    if tilt_deg == 0.0:
        assert float(centre.min()) == 0.0  # face-on the hole is open
    else:  # 40 mm deep, 20 mm wide: from 30 deg on no ray gets through
        assert float(path[240:361, 240:361].min()) > 5.0


def _intensifier_porosity(n: int, **kw: object):  # type: ignore[no-untyped-def]
    return _shots(n, flaw_mix=parse_flaw_mix("porosity"), detector_mode=DetectorMode.IMAGE_INTENSIFIER, **kw)


def test_intensifier_labels_only_flaws_seen_in_the_final_grey_levels() -> None:
    """Every labelled pore of an 8-bit frame is brighter than the same-thickness metal around it in the saved
    pixels, not only in the linear signal before the display squeezed it."""
    brighter, total = 0, 0
    for shot in _intensifier_porosity(40, randomise=0.5):
        px = shot.image.pixels.astype(np.float64)
        for f in shot.instances:
            assert f.cnr >= 2.5 and f.snr >= 8.0, f
            m, ring = _flaw_and_ring(shot, f)
            if ring.sum() < 10:
                continue
            total += 1
            brighter += px[m].mean() > px[ring].mean() + 0.5
    assert total >= 10 and brighter / total >= 0.9, (brighter, total)


def test_flaws_too_faint_for_the_display_are_dropped_and_erased() -> None:
    """A grey-level floor no flaw can reach leaves flawed parts with no labels and empty masks; the default
    floor keeps most of them."""
    none_left = _intensifier_porosity(8, min_contrast_gl=250.0)
    assert all(not s.instances and not s.instance_mask.any() for s in none_left)
    kept = _intensifier_porosity(16)  # about 11 of 16 parts are drawn flawed (flaw_free_share 0.3)
    assert sum(len(s.instances) for s in kept) >= 9


def _disc_draft(cx: int, cy: int, r: int, delta_mm: float) -> FlawDraft:
    yy, xx = np.mgrid[-r - 3 : r + 4, -r - 3 : r + 4]
    mask = xx**2 + yy**2 <= r * r
    return FlawDraft("porosity", FlawClass.POROSITY, cx - r - 3, cy - r - 3, np.where(mask, delta_mm, 0.0), mask,
                     2.0 * r * 0.1, abs(delta_mm))  # fmt: skip


def test_a_flaw_that_only_moves_an_edge_has_no_conspicuous_contrast() -> None:
    """A small void cut into the outline of a thick step shifts the step by a pixel: the mean change is large,
    the contrast outside the range of the shifted flaw-free edge is not; in the flat section the same void
    keeps its whole contrast. shift 0 turns the test off."""
    e = Exposure(kv=120.0, mu_per_mm=0.05, hardening_mm=30.0, hardening_exp=0.0, photons_open=1e4,
                 scatter_fraction=0.0, scatter_sigma_px=10.0, focal_blur_px=0.8, detector_blur_px=0.8,
                 read_noise=1.0)  # fmt: skip
    t = np.full((80, 80), 5.0, np.float32)
    t[:, 40:] = 40.0  # a sharp step: thin section left, thick right
    primary = transmission(t, e)
    sigma = math.hypot(e.focal_blur_px, e.detector_blur_px)
    # radius 1 px, 35 mm deep, centred on the first thick column: removes the step's metal there
    on_edge = _disc_draft(40, 40, 1, -35.0)
    flat = _disc_draft(15, 40, 1, -3.0)
    edge_plain = conspicuous_contrast(primary, t, on_edge, e, sigma, 0)
    edge_shift = conspicuous_contrast(primary, t, on_edge, e, sigma, 1)
    assert edge_plain > 0.05  # the mean change alone rates it a strong flaw
    assert edge_shift < 0.3 * edge_plain
    flat_plain = conspicuous_contrast(primary, t, flat, e, sigma, 0)
    assert flat_plain > 0.0
    assert conspicuous_contrast(primary, t, flat, e, sigma, 1) == pytest.approx(flat_plain, rel=1e-3)


def test_conspicuity_shift_is_validated() -> None:
    assert XraySimParams().conspicuity_shift_px == 1
    with pytest.raises(ValidationError, match="conspicuity_shift_px"):
        XraySimParams(conspicuity_shift_px=9)
