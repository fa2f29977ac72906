"""Synthetic anomalies and training samples: reproducible, labelled where they are visible, on the part."""

from __future__ import annotations

import numpy as np
import pytest

from models.anomaly.data import PatchDataset, make_sample
from models.anomaly.synth import SHAPES, noise_sigma, paste_anomalies, shape_profile
from tests.unit.models.synthetic_parts import synthetic_part
from vision.anomaly import FEATURE_CHANNELS


def test_same_seed_same_patch_and_mask() -> None:
    part = synthetic_part(np.random.default_rng(0))
    a = make_sample(part, np.random.default_rng(42), 64, anomaly_prob=1.0)
    b = make_sample(part, np.random.default_rng(42), 64, anomaly_prob=1.0)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("kind", SHAPES)
def test_every_shape_gives_a_bounded_profile(kind: str) -> None:
    prof = shape_profile(np.random.default_rng(3), 96, 96, 48.0, 48.0, kind)
    assert prof.shape == (96, 96) and prof.min() >= 0.0 and prof.max() <= 1.0
    assert (prof > 0.3).any()


def test_mask_marks_changed_pixels_only() -> None:
    rng = np.random.default_rng(1)
    img = np.clip(0.5 + rng.normal(0, 0.01, (128, 128)), 0, 1).astype(np.float32)
    material = np.ones_like(img, bool)
    hits = 0
    for seed in range(20):
        out, mask = paste_anomalies(img, np.random.default_rng(seed), material, count=2)
        assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
        untouched = ~mask
        # Outside the mask the image is (almost) unchanged; inside it visibly differs.
        assert np.abs(out - img)[untouched].mean() < 0.01
        if mask.any():
            hits += 1
            # Faint anomalies are drawn on purpose, but every labelled pixel stands above the noise.
            assert np.abs(out - img)[mask].mean() > noise_sigma(img)
    assert hits >= 15


def test_anomalies_stay_on_the_part_mostly() -> None:
    part = synthetic_part(np.random.default_rng(5))
    on, total = 0, 0
    for seed in range(30):
        _, mask = paste_anomalies(part.image01, np.random.default_rng(seed), part.material, count=1)
        on += int((mask & part.material).sum())
        total += int(mask.sum())
    assert total > 0 and on / total > 0.8


def test_patch_dataset_epochs_differ_but_repeat() -> None:
    parts = [synthetic_part(np.random.default_rng(i)) for i in range(2)]
    ds = PatchDataset(parts, patch_px=64, length=4, seed=0)
    x0 = ds[1][0].numpy().copy()
    ds.epoch = 1
    x1 = ds[1][0].numpy().copy()
    ds.epoch = 0
    np.testing.assert_array_equal(ds[1][0].numpy(), x0)
    assert not np.array_equal(x0, x1)
    img, mask, material = ds[2]
    # Features of the half-resolution patch (one per channel), masks at the same resolution.
    assert img.shape == (FEATURE_CHANNELS, 64, 64) and mask.shape == material.shape == (1, 64, 64)


def test_patch_size_must_suit_the_net() -> None:
    with pytest.raises(ValueError, match="multiple of 16"):
        PatchDataset([synthetic_part(np.random.default_rng(0))], patch_px=60, length=1, seed=0)


def test_hard_negatives_are_peaks_inside_each_image_and_patches_centre_on_them() -> None:
    import torch

    from models.anomaly.mining import mine_hard_negatives, peak_responses
    from models.anomaly.net import AnomalySegNet

    torch.manual_seed(0)
    parts = [synthetic_part(np.random.default_rng(i)) for i in range(3)]
    net = AnomalySegNet(width=8)
    hard = mine_hard_negatives(net, parts, per_image=4, min_prob=0.0)
    assert 0 < len(hard) <= 12
    for k, y, x in hard:
        h, w = parts[k].image01.shape
        assert 0 <= k < 3 and 0 <= y < h and 0 <= x < w
    peaks = peak_responses(net, parts)
    assert len(peaks) == 3 and all(0.0 <= p <= 1.0 for p in peaks)
    assert net.training  # mining leaves the net in the mode it found it

    ds = PatchDataset(parts, patch_px=64, length=8, seed=0, anomaly_prob=0.0)
    ds.hard, ds.hard_share = [(1, 40, 48)], 1.0  # half-resolution coordinates, as mining gives them
    img, mask, _ = ds[0]
    assert img.shape == (FEATURE_CHANNELS, 64, 64) and float(mask.sum()) == 0.0
