from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.preprocess import CalibrationError, FlatField, Preprocessor, window_to_unit


def test_window_maps_to_unit_range_robustly() -> None:
    rng = np.random.default_rng(0)
    img = rng.normal(30000, 2000, (256, 256)).astype(np.uint16)
    img[0, 0] = 65535  # a hot pixel must not set the window
    img[1, 1] = 0
    out = window_to_unit(img)
    assert out.dtype == np.float32 and out.min() >= 0.0 and out.max() <= 1.0
    assert 0.4 < float(np.median(out)) < 0.6
    assert np.percentile(out, 90) - np.percentile(out, 10) > 0.3


def test_eight_and_sixteen_bit_of_the_same_scene_look_alike() -> None:
    rng = np.random.default_rng(1)
    scene = rng.uniform(0.2, 0.8, (128, 128))
    a = window_to_unit((scene * 255).astype(np.uint8))
    b = window_to_unit((scene * 65535).astype(np.uint16))
    assert float(np.abs(a - b).mean()) < 0.01


def test_flat_image_does_not_divide_by_zero() -> None:
    out = window_to_unit(np.full((64, 64), 1234, np.uint16))
    assert np.isfinite(out).all()


def test_flat_field_removes_detector_gain_pattern(tmp_path: Path) -> None:
    h, w = 64, 80
    gain_pattern = np.linspace(0.6, 1.4, w)[None, :].repeat(h, 0)
    dark = np.full((h, w), 500.0)
    gain_frame = dark + 40000 * gain_pattern
    obj = np.full((h, w), 0.5)
    raw = dark + 40000 * gain_pattern * obj
    cv2.imwrite(str(tmp_path / "dark.png"), dark.astype(np.uint16))
    cv2.imwrite(str(tmp_path / "gain.png"), gain_frame.astype(np.uint16))
    ff = FlatField.from_files(tmp_path / "dark.png", tmp_path / "gain.png")
    assert ff is not None
    corrected = ff.apply(raw.astype(np.uint16))
    assert corrected.std() / corrected.mean() < 0.01  # the column ramp is gone
    assert Preprocessor(flat_field=ff)(raw.astype(np.uint16)).shape == (h, w)


def test_flat_field_configuration_errors(tmp_path: Path) -> None:
    assert FlatField.from_files(None, None) is None
    with pytest.raises(CalibrationError, match="both"):
        FlatField.from_files(tmp_path / "dark.png", None)
    cv2.imwrite(str(tmp_path / "d.png"), np.zeros((10, 10), np.uint16))
    cv2.imwrite(str(tmp_path / "g.png"), np.full((12, 10), 100, np.uint16))
    with pytest.raises(CalibrationError, match="differ in size"):
        FlatField.from_files(tmp_path / "d.png", tmp_path / "g.png")


def test_detector_channels_make_a_faint_pore_stand_out_on_a_thickness_ramp() -> None:
    from vision.preprocess import detector_channels

    rng = np.random.default_rng(3)
    h, w = 200, 300
    ramp = np.linspace(0.2, 0.8, w, dtype=np.float32)[None, :].repeat(h, 0)
    img = ramp + rng.normal(0, 0.01, (h, w)).astype(np.float32)
    yy, xx = np.mgrid[:h, :w]
    pore = (yy - 100) ** 2 + (xx - 150) ** 2 < 6**2
    img[pore] += 0.02  # two noise sigmas brighter: invisible next to the ramp in channel 0
    ch = detector_channels(np.clip(img, 0, 1))
    assert ch.shape == (h, w, 3) and ch.dtype == np.float32
    assert ch.min() >= 0.0 and ch.max() <= 1.0

    def separation(channel: np.ndarray) -> float:
        return float((channel[pore].mean() - channel[~pore].mean()) / channel[~pore].std())

    # hidden by the ramp in the windowed image, well above the background in the band-pass channel
    assert separation(ch[..., 0]) < 0.5
    assert separation(ch[..., 1]) > 3.0
    assert abs(ch[:, 50:100, 1].mean() - ch[:, 200:250, 1].mean()) < 0.02  # the ramp is gone
