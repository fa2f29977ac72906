"""Image-formation physics of the X-ray simulator: Beer-Lambert, noise statistics, detector response."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from vision.types import DetectorMode, PartFamily
from vision.xray import XraySimParams, XraySimulator
from vision.xray.physics import (
    Exposure,
    attenuation,
    expose,
    flat_panel_counts,
    make_detector,
    mu_al_per_mm,
    noise_sigma_rel,
    transmission,
)


def _exposure(**kw: float) -> Exposure:
    base = {
        "kv": 90.0,
        "mu_per_mm": mu_al_per_mm(90.0),
        "hardening_mm": 40.0,
        "hardening_exp": 0.25,
        "photons_open": 2000.0,
        "scatter_fraction": 0.0,
        "scatter_sigma_px": 50.0,
        "focal_blur_px": 0.0,
        "detector_blur_px": 0.0,
        "read_noise": 0.0,
    }
    base.update(kw)
    return Exposure(**base)  # type: ignore[arg-type]


def test_attenuation_coefficient_falls_with_kv_in_published_range() -> None:
    assert mu_al_per_mm(60) == pytest.approx(0.1, rel=0.01)
    assert 0.04 < mu_al_per_mm(150) < 0.06
    assert mu_al_per_mm(60) > mu_al_per_mm(90) > mu_al_per_mm(150)


def test_thicker_sections_are_darker_and_beam_hardening_is_sublinear() -> None:
    e = _exposure()
    t = np.array([0.0, 5.0, 10.0, 20.0, 40.0, 80.0], np.float32)
    tr = transmission(t, e)
    assert tr[0] == pytest.approx(1.0)
    assert np.all(np.diff(tr) < 0)
    a = attenuation(t, e)
    assert a[5] < 2 * a[4] < 4 * a[3]  # hardened beam: each extra mm absorbs less
    soft = attenuation(t, _exposure(hardening_exp=0.0))
    assert soft[3] == pytest.approx(20.0 * mu_al_per_mm(90.0), rel=1e-5)


def test_quantum_noise_variance_follows_the_signal() -> None:
    e = _exposure(photons_open=4000.0)
    levels = np.array([0.02, 0.1, 0.4, 0.9], np.float32)
    signal = np.repeat(levels, 200 * 200).reshape(4 * 200, 200)
    q = expose(signal, e, np.random.default_rng(1))
    for i, lvl in enumerate(levels):
        block = q[i * 200 : (i + 1) * 200]
        mean, var = float(block.mean()), float(block.var())
        assert mean == pytest.approx(lvl * 4000.0, rel=0.01)
        assert var == pytest.approx(mean, rel=0.06), f"Poisson: variance {var:.1f} should equal mean {mean:.1f}"


def test_noise_estimate_matches_simulated_noise_after_detector_blur() -> None:
    e = _exposure(photons_open=1000.0, detector_blur_px=1.2, read_noise=3.0)
    signal = np.full((300, 300), 0.3, np.float32)
    q = expose(signal, e, np.random.default_rng(2)) / 1000.0
    measured = float(q[20:-20, 20:-20].std())
    assert measured == pytest.approx(noise_sigma_rel(0.3, e), rel=0.15)


def test_flaw_contrast_rises_with_void_depth() -> None:
    """A plate with four voids of growing depth: brighter with depth, in raw counts, through noise and blur."""
    e = _exposure(photons_open=1500.0, focal_blur_px=0.8, detector_blur_px=0.8)
    t = np.full((120, 480), 20.0, np.float32)
    yy, xx = np.mgrid[0:120, 0:480]
    depths = [0.5, 1.0, 2.0, 4.0, 8.0]
    for k, d in enumerate(depths):
        disc = (yy - 60) ** 2 + (xx - (48 + 96 * k)) ** 2 < 20**2
        t[disc] -= d
    det = make_detector(np.random.default_rng(0), 120, 480, DetectorMode.FLAT_PANEL)
    rng = np.random.default_rng(3)
    counts = flat_panel_counts(expose(transmission(t, e), e, rng), e, det, rng).astype(np.float64)
    background = counts[5:15].mean()
    contrast = []
    for k in range(len(depths)):
        disc = (yy - 60) ** 2 + (xx - (48 + 96 * k)) ** 2 < 14**2
        contrast.append(counts[disc].mean() - background)
    assert contrast[0] > 0
    assert all(b > a for a, b in itertools.pairwise(contrast)), contrast


def test_dense_inclusion_is_darker_than_sound_metal() -> None:
    e = _exposure()
    sound = transmission(np.array([20.0], np.float32), e)[0]
    with_inclusion = transmission(np.array([20.0 + 2.0 * (4.0 - 1.0)], np.float32), e)[0]
    assert with_inclusion < sound


def test_flat_field_frames_remove_detector_fixed_pattern() -> None:
    sim = XraySimulator(XraySimParams(detector_mode=DetectorMode.FLAT_PANEL, width_px=128, height_px=96))
    det = sim.detector(0)
    assert det.gain.shape == (96, 128)
    assert 0.005 < float(det.gain.std()) < 0.2  # a pattern worth correcting
    open_quanta = np.full((96, 128), 5000.0, np.float32)
    e = _exposure(photons_open=5000.0)
    raw = flat_panel_counts(open_quanta, e, det, np.random.default_rng(0)).astype(np.float32)
    corrected = (raw - det.offset) / det.gain
    assert float(corrected.std() / corrected.mean()) < 0.2 * float(raw.std() / raw.mean())


@pytest.mark.parametrize("mode", list(DetectorMode))
def test_thicker_part_regions_are_darker_in_rendered_images(mode: DetectorMode) -> None:
    params = XraySimParams(
        detector_mode=mode, width_px=320, height_px=240, randomise=0.0, flaw_free_share=1.0, kv_min=90, kv_max=90
    )
    sim = XraySimulator(params)
    checked = 0
    for seed in range(6):
        shot = sim.render(np.random.default_rng(seed), family=PartFamily.WHEEL)
        t = shot.thickness_mm
        px = shot.image.pixels.astype(np.float64)
        mat = shot.material_mask
        if mat.mean() < 0.2:
            continue
        thin = mat & (t < np.quantile(t[mat], 0.25))
        thick = mat & (t > np.quantile(t[mat], 0.75))
        assert px[thin].mean() > px[thick].mean()
        assert px[~mat].mean() > px[thick].mean()  # air is brightest
        checked += 1
    assert checked >= 3
