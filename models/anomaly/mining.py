"""Hard-negative mining: where does the current net fire on flaw-free parts?

Synthetic anomalies teach "round, ring-like, line-like things are suspicious"; a part's own bosses, cored
holes, rib junctions and the noisy plateau of the direct beam look like that too. Every few epochs the
net is run over whole flaw-free training radiographs and its strongest responses become extra training
patches labelled normal, so the false-alarm floor that decides image AUROC is what gets trained down.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import cv2
import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from models.anomaly.data import FlawFreeImage
from models.anomaly.net import OUTPUT_STRIDE, SIZE_MULTIPLE, AnomalySegNet
from vision.anomaly import anomaly_features

log = logging.getLogger(__name__)


def _features(half01: np.ndarray, net: AnomalySegNet) -> torch.Tensor:
    """Net input of a whole half-resolution image, padded by reflection like the runtime pads it."""
    h, w = half01.shape
    img = cv2.copyMakeBorder(
        np.ascontiguousarray(half01, dtype=np.float32),
        0,
        -h % SIZE_MULTIPLE,
        0,
        -w % SIZE_MULTIPLE,
        cv2.BORDER_REFLECT_101,
    )
    device = next(net.parameters()).device
    return torch.from_numpy(anomaly_features(img))[None].to(device)


@torch.no_grad()
def mine_hard_negatives(
    net: AnomalySegNet, images: Sequence[FlawFreeImage], per_image: int = 6, min_prob: float = 0.05
) -> list[tuple[int, int, int]]:
    """(image index, y, x) of the `per_image` strongest separate responses on each flaw-free image.

    `images` are at the net's (half) resolution, as `PatchDataset.images` holds them.
    """
    was_training = net.training
    net.eval()
    out: list[tuple[int, int, int]] = []
    try:
        for k, item in enumerate(images):
            h, w = item.image01.shape
            prob = torch.sigmoid(net(_features(item.image01, net))[:, :1])
            # Peaks only: a cell that is the maximum of its 5x5 neighbourhood (about 20 px).
            peaks = (prob == F.max_pool2d(prob, 5, stride=1, padding=2)) & (prob > min_prob)
            scores = torch.where(peaks, prob, torch.zeros_like(prob)).flatten()
            top = torch.topk(scores, min(per_image, scores.numel()))
            wc = prob.shape[-1]
            for v, idx in zip(top.values.tolist(), top.indices.tolist(), strict=True):
                if v <= 0:
                    break
                cy = min((idx // wc) * OUTPUT_STRIDE + OUTPUT_STRIDE // 2, h - 1)
                cx = min((idx % wc) * OUTPUT_STRIDE + OUTPUT_STRIDE // 2, w - 1)
                out.append((k, int(cy), int(cx)))
    finally:
        net.train(was_training)
    return out


def _peak(net: AnomalySegNet, half01: np.ndarray, material: np.ndarray) -> float:
    """Highest anomaly probability on the part (material grown by one cell): the image score, unsmoothed."""
    h, w = half01.shape
    prob = torch.sigmoid(net(_features(half01, net))[0, 0])[: -(-h // OUTPUT_STRIDE), : -(-w // OUTPUT_STRIDE)]
    mat = torch.from_numpy(np.ascontiguousarray(material, dtype=np.float32))[None, None].to(prob.device)
    mat = F.max_pool2d(F.max_pool2d(mat, OUTPUT_STRIDE, ceil_mode=True), 3, stride=1, padding=1)[0, 0]
    return float((prob * mat[: prob.shape[0], : prob.shape[1]]).max())


@torch.no_grad()
def peak_responses(net: AnomalySegNet, images: Sequence[FlawFreeImage]) -> list[float]:
    """Image score (highest anomaly probability on the part) of each flaw-free half-resolution image."""
    was_training = net.training
    net.eval()
    try:
        return [_peak(net, item.image01, item.material) for item in images]
    finally:
        net.train(was_training)


@torch.no_grad()
def synthetic_image_auroc(
    net: AnomalySegNet, images: Sequence[FlawFreeImage], seed: int, pastes_per_image: int = 2
) -> tuple[float, float]:
    """(image AUROC, mean flaw-free peak): flaw-free validation images against the same images with one
    synthetic anomaly pasted (fixed draws, so epochs compare). It measures what decides the image score,
    false alarms on the part's own features included, without touching the held-out flaw kinds."""
    from models.anomaly.metrics import auroc
    from models.anomaly.synth import paste_anomalies

    was_training = net.training
    net.eval()
    clean: list[float] = []
    flawed: list[float] = []
    try:
        for i, item in enumerate(images):
            clean.append(_peak(net, item.image01, item.material))
            for j in range(pastes_per_image):
                img, mask = paste_anomalies(item.image01, np.random.default_rng((seed, i, j)), item.material)
                if mask.any():
                    flawed.append(_peak(net, img, item.material))
    finally:
        net.train(was_training)
    if not flawed:
        return 0.5, float(np.mean(clean))
    scores = np.asarray(clean + flawed)
    labels = np.r_[np.zeros(len(clean), bool), np.ones(len(flawed), bool)]
    return auroc(scores, labels), float(np.mean(clean))


class HardNegativeMiner(pl.Callback):
    """Re-mines hard negatives at the start of every `every_n_epochs`-th epoch (from `start_epoch`)."""

    def __init__(self, every_n_epochs: int, per_image: int, share: float, start_epoch: int = 0) -> None:
        self.every = every_n_epochs
        self.per_image = per_image
        self.share = share
        self.start = start_epoch
        self.last_count = 0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        e = trainer.current_epoch
        if self.every <= 0 or e < self.start or (e - self.start) % self.every:
            return
        dm = getattr(trainer, "datamodule", None)
        if dm is None or not hasattr(dm, "train_set"):
            return
        ds = dm.train_set
        ds.hard = mine_hard_negatives(pl_module.net, ds.images, self.per_image)  # type: ignore[arg-type]
        ds.hard_share = self.share
        self.last_count = len(ds.hard)
        log.info("epoch %d: %d hard negatives mined from %d flaw-free images", e, self.last_count, len(ds.images))
