"""OnnxAnomalyScorer around a hand-built ONNX graph (no torch): the 'anomaly probability' is the mean grey
value of each 4x4 cell, so a bright spot on a dark part is an anomaly and the bright air around it must not be."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from vision.anomaly import OnnxAnomalyScorer, load_anomaly_scorer, material_mask
from vision.roles import AnomalyScorer


def _pool_model(path: Path) -> Path:
    node = helper.make_node("AveragePool", ["image"], ["anomaly"], kernel_shape=[4, 4], strides=[4, 4])
    graph = helper.make_graph(
        [node],
        "pool",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 1, "h", "w"])],
        [helper.make_tensor_value_info("anomaly", TensorProto.FLOAT, ["n", 1, "h4", "w4"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    _pool_model(tmp_path / "model.onnx")
    card = {
        "version": "pool@test",
        "threshold": 0.6,
        "false_alarm_rate": 0.01,
        "smooth_sigma_px": 1.0,
        "calibration": {"flaw_free_scores": [0.30 + 0.001 * i for i in range(100)]},
    }
    (tmp_path / "model_card.json").write_text(json.dumps(card))
    return tmp_path


def part_image(h: int = 200, w: int = 300, spot: bool = False) -> np.ndarray:
    """Dark part (0.3) on saturated air (1.0), optionally with a bright 12x12 spot inside the part."""
    img = np.ones((h, w), np.float32)
    img[40:160, 60:240] = 0.3
    if spot:
        img[90:102, 140:152] = 0.95
    return img


def test_scorer_is_an_anomaly_scorer_and_flags_the_spot_not_the_air(model_dir: Path) -> None:
    scorer = load_anomaly_scorer(model_dir)
    assert scorer is not None and isinstance(scorer, AnomalyScorer)
    assert scorer.version == "pool@test" and scorer.threshold == pytest.approx(0.6)
    clean = scorer.score(part_image())
    # The air (1.0 here, the worst case) is masked beyond a one-cell rim kept for flaws open to the surface.
    assert clean.image_score < 0.6
    assert not clean.is_anomalous and clean.regions_xyxy_px == ()
    assert clean.anomaly_map[10, 10] == 0.0 and clean.anomaly_map[190, 290] == 0.0
    flawed = scorer.score(part_image(spot=True))
    assert flawed.is_anomalous
    assert flawed.anomaly_map.shape == (200, 300) and flawed.anomaly_map.dtype == np.float32
    (x0, y0, x1, y1), *_ = flawed.regions_xyxy_px
    assert x0 <= 144 and y0 <= 94 and x1 >= 148 and y1 >= 98  # covers the spot (to one 4-px map cell)
    assert x1 - x0 < 60 and y1 - y0 < 60  # ... and not the whole part
    assert flawed.anomaly_map[96, 146] > flawed.anomaly_map[20, 20]


def test_sizes_not_multiple_of_16_are_padded_and_map_matches_input(model_dir: Path) -> None:
    scorer = load_anomaly_scorer(model_dir)
    assert scorer is not None
    out = scorer.score(part_image(203, 317, spot=True))
    assert out.anomaly_map.shape == (203, 317)
    assert all(0 <= r[0] < r[2] <= 317 and 0 <= r[1] < r[3] <= 203 for r in out.regions_xyxy_px)


def test_other_false_alarm_rate_recomputes_threshold_from_calibration(model_dir: Path) -> None:
    strict = load_anomaly_scorer(model_dir, false_alarm_rate=0.01)
    loose = load_anomaly_scorer(model_dir, false_alarm_rate=0.2)
    assert strict is not None and loose is not None
    assert strict.threshold == pytest.approx(0.6)  # the card's own rate keeps the card's threshold
    assert loose.threshold == pytest.approx(0.3795)  # 20 of the 100 calibration scores may alarm


def test_missing_model_means_no_scorer(tmp_path: Path) -> None:
    assert load_anomaly_scorer(None) is None
    assert load_anomaly_scorer(tmp_path / "nothing-here") is None


@pytest.mark.parametrize(
    "bad",
    [np.zeros((10, 10), np.float32), np.zeros((64, 64, 3), np.float32), np.zeros((64, 64), np.uint16)],
)
def test_bad_images_get_a_clear_error(model_dir: Path, bad: np.ndarray) -> None:
    scorer = OnnxAnomalyScorer(model_dir / "model.onnx", threshold=0.5)
    with pytest.raises(ValueError, match="anomaly scorer"):
        scorer.score(bad)


def test_nan_pixels_are_refused(model_dir: Path) -> None:
    scorer = OnnxAnomalyScorer(model_dir / "model.onnx", threshold=0.5)
    img = part_image()
    img[5, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        scorer.score(img)


def test_material_mask_keeps_whole_image_when_there_is_no_air() -> None:
    rng = np.random.default_rng(0)
    assert material_mask(rng.uniform(0.2, 0.4, (50, 60)).astype(np.float32)).all()
    m = material_mask(part_image()[::4, ::4])
    assert m[25, 37] and not m[2, 2]


def test_features_are_half_resolution_and_do_not_depend_on_window_gain_or_offset() -> None:
    from vision.anomaly import FEATURE_CHANNELS, anomaly_features, downscale

    rng = np.random.default_rng(4)
    img = (part_image(128, 160, spot=True) * 0.6 + rng.normal(0, 0.01, (128, 160))).astype(np.float32)
    half = downscale(img)
    assert half.shape == (64, 80)
    f = anomaly_features(half)
    assert f.shape == (FEATURE_CHANNELS, 64, 80) and f.dtype == np.float32 and np.isfinite(f).all()
    # Band channels are divided by the local noise: another window (gain, offset) gives the same input.
    g = anomaly_features(half * 0.5 + 0.2)
    np.testing.assert_allclose(g[1:], f[1:], atol=2e-3)
    # The bright spot (image rows 90-102, columns 140-152) stands out of the flat part in the fine band.
    spot = np.abs(f[1, 45:51, 70:76]).max()
    flat = np.percentile(np.abs(f[1, 25:40, 35:60]), 99)
    assert spot > 3 * flat


def test_a_response_at_the_image_border_is_not_scored_when_the_card_says_so(model_dir: Path) -> None:
    img = np.full((200, 300), 0.3, np.float32)  # a part filling the whole image
    img[0:8, 100:112] = 0.95  # a bright rim touching the top border
    card_file = model_dir / "model_card.json"
    plain = load_anomaly_scorer(model_dir)
    assert plain is not None and plain.score(img).image_score > 0.5
    card = json.loads(card_file.read_text()) | {"ignore_border_px": 8}
    card_file.write_text(json.dumps(card))
    ruled = load_anomaly_scorer(model_dir)
    assert ruled is not None and ruled.ignore_border_px == 8
    out = ruled.score(img)
    assert out.image_score < 0.45 and not out.regions_xyxy_px
    img[60:72, 140:152] = 0.95  # the same spot inside the image is still found
    assert ruled.score(img).image_score > 0.5
