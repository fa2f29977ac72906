"""Hard-negative mining: where does the current net fire on flaw-free parts?

Synthetic anomalies teach "round, ring-like, line-like things are suspicious"; a part's own bosses, cored
holes, rib junctions and the noisy plateau of the direct beam look like that too. Every few epochs the
net is run over whole flaw-free training radiographs and its strongest responses become extra training
patches labelled normal, so the false-alarm floor that decides image AUROC is what gets trained down.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from models.anomaly.data import FlawFreeImage
from models.anomaly.net import OUTPUT_STRIDE, SIZE_MULTIPLE, AnomalySegNet

log = logging.getLogger(__name__)


@torch.no_grad()
def mine_hard_negatives(
    net: AnomalySegNet, images: Sequence[FlawFreeImage], per_image: int = 6, min_prob: float = 0.05
) -> list[tuple[int, int, int]]:
    """(image index, y, x) of the `per_image` strongest separate responses on each flaw-free image."""
    was_training = net.training
    net.eval()
    out: list[tuple[int, int, int]] = []
    try:
        for k, item in enumerate(images):
            img = torch.from_numpy(np.ascontiguousarray(item.image01, dtype=np.float32))[None, None]
            h, w = img.shape[-2:]
            img = F.pad(img, (0, -w % SIZE_MULTIPLE, 0, -h % SIZE_MULTIPLE), mode="replicate")
            prob = torch.sigmoid(net(img)[:, :1])
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


@torch.no_grad()
def peak_responses(net: AnomalySegNet, images: Sequence[FlawFreeImage]) -> list[float]:
    """Highest anomaly probability on the part (material grown by one cell) of each flaw-free image."""
    was_training = net.training
    net.eval()
    peaks = []
    try:
        for item in images:
            img = torch.from_numpy(np.ascontiguousarray(item.image01, dtype=np.float32))[None, None]
            h, w = img.shape[-2:]
            img = F.pad(img, (0, -w % SIZE_MULTIPLE, 0, -h % SIZE_MULTIPLE), mode="replicate")
            prob = torch.sigmoid(net(img)[0, 0])[: -(-h // OUTPUT_STRIDE), : -(-w // OUTPUT_STRIDE)]
            mat = torch.from_numpy(np.ascontiguousarray(item.material, dtype=np.float32))[None, None]
            mat = F.max_pool2d(F.max_pool2d(mat, OUTPUT_STRIDE, ceil_mode=True), 3, stride=1, padding=1)[0, 0]
            peaks.append(float((prob * mat[: prob.shape[0], : prob.shape[1]]).max()))
    finally:
        net.train(was_training)
    return peaks


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
