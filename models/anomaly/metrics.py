"""AUROC without scikit-learn: the Mann-Whitney U statistic, ties counted half."""

from __future__ import annotations

import numpy as np


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count 1/2)."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).astype(bool).ravel()
    if s.shape != y.shape:
        raise ValueError(f"scores {s.shape} and labels {y.shape} differ in length")
    n_pos = int(y.sum())
    n_neg = int(y.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUROC needs at least one positive and one negative")
    order = np.argsort(s, kind="mergesort")
    s_sorted = s[order]
    # Average ranks over ties (1-based).
    uniq_start = np.r_[True, s_sorted[1:] != s_sorted[:-1]]
    group = np.cumsum(uniq_start) - 1
    first = np.flatnonzero(uniq_start)
    counts = np.diff(np.r_[first, s.size])
    avg_rank = first + (counts + 1) / 2.0
    ranks = np.empty(s.size, dtype=np.float64)
    ranks[order] = avg_rank[group]
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


class BinnedAuroc:
    """AUROC of millions of pixel scores in [0, 1], accumulated image by image in histograms.

    Exact up to the bin width (ties inside a bin count half), with memory independent of the pixel count.
    """

    def __init__(self, bins: int = 4096) -> None:
        self.bins = bins
        self.pos = np.zeros(bins, np.float64)
        self.neg = np.zeros(bins, np.float64)

    def add(self, scores: np.ndarray, labels: np.ndarray) -> None:
        s = np.clip(np.asarray(scores, dtype=np.float64).ravel(), 0.0, 1.0)
        y = np.asarray(labels).astype(bool).ravel()
        if s.shape != y.shape:
            raise ValueError(f"scores {s.shape} and labels {y.shape} differ in length")
        idx = np.minimum((s * self.bins).astype(np.int64), self.bins - 1)
        self.pos += np.bincount(idx[y], minlength=self.bins)
        self.neg += np.bincount(idx[~y], minlength=self.bins)

    def value(self) -> float:
        if self.pos.sum() == 0 or self.neg.sum() == 0:
            raise ValueError("AUROC needs at least one positive and one negative")
        neg_below = np.cumsum(self.neg) - self.neg
        u = float((self.pos * (neg_below + 0.5 * self.neg)).sum())
        return u / (float(self.pos.sum()) * float(self.neg.sum()))
