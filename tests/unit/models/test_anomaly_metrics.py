from __future__ import annotations

import itertools

import numpy as np
import pytest

from models.anomaly.metrics import BinnedAuroc, auroc


def brute_force(scores: np.ndarray, labels: np.ndarray) -> float:
    pos, neg = scores[labels], scores[~labels]
    pairs = list(itertools.product(pos, neg))
    return sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(pairs)


def test_auroc_matches_pair_counting_with_ties() -> None:
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, 60).astype(float)  # many ties
    labels = rng.random(60) < 0.4
    assert auroc(scores, labels) == pytest.approx(brute_force(scores, labels))
    assert auroc(np.array([0.9, 0.8, 0.1]), np.array([True, True, False])) == 1.0


def test_binned_auroc_accumulates_like_the_exact_one() -> None:
    rng = np.random.default_rng(1)
    labels = rng.random(20_000) < 0.1
    scores = np.clip(rng.normal(0.3, 0.1, 20_000) + 0.15 * labels, 0, 1)
    acc = BinnedAuroc()
    for part in np.array_split(np.arange(20_000), 7):
        acc.add(scores[part], labels[part])
    assert acc.value() == pytest.approx(auroc(scores, labels), abs=1e-3)


def test_auroc_needs_both_classes() -> None:
    with pytest.raises(ValueError):
        auroc(np.array([0.1, 0.2]), np.array([True, True]))
    with pytest.raises(ValueError):
        BinnedAuroc().value()
