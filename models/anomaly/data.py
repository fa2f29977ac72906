"""Data for anomaly training: flaw-free radiographs cut into patches, anomalies pasted on the fly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from models.anomaly.synth import paste_anomalies


@dataclass(frozen=True, eq=False)
class FlawFreeImage:
    """One flaw-free radiograph as the runtime sees it (preprocessed, float in [0, 1]) and its material."""

    image01: np.ndarray
    material: np.ndarray  # bool, True where the part is


def _crop(
    item: FlawFreeImage, rng: np.random.Generator, patch_px: int, centre: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    img, mat = item.image01, item.material
    h, w = img.shape
    ph, pw = min(patch_px, h), min(patch_px, w)
    if centre is not None:
        # Around a hard negative, with jitter so it is not always in the middle of the patch.
        cy, cx = centre
        y = int(np.clip(cy - ph // 2 + rng.integers(-ph // 4, ph // 4 + 1), 0, h - ph))
        x = int(np.clip(cx - pw // 2 + rng.integers(-pw // 4, pw // 4 + 1), 0, w - pw))
    else:
        # Patches mostly on the part: air-only patches teach little.
        for _ in range(8):
            y = int(rng.integers(0, h - ph + 1))
            x = int(rng.integers(0, w - pw + 1))
            if mat[y : y + ph, x : x + pw].mean() > 0.15:
                break
    p = img[y : y + ph, x : x + pw].astype(np.float32)
    m = mat[y : y + ph, x : x + pw]
    if ph < patch_px or pw < patch_px:
        p = np.pad(p, ((0, patch_px - ph), (0, patch_px - pw)), mode="reflect")
        m = np.pad(m, ((0, patch_px - ph), (0, patch_px - pw)), mode="reflect")
    k = int(rng.integers(0, 4))
    p, m = np.rot90(p, k), np.rot90(m, k)
    if rng.random() < 0.5:
        p, m = p[:, ::-1], m[:, ::-1]
    return np.ascontiguousarray(p), np.ascontiguousarray(m)


def _photometric(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gain/gamma/noise jitter: windowing and dose vary from line to line."""
    p = np.clip(p, 0.0, 1.0) ** rng.uniform(0.8, 1.25)
    p = p * rng.uniform(0.85, 1.15) + rng.uniform(-0.05, 0.05)
    if rng.random() < 0.3:
        p = p + rng.standard_normal(p.shape).astype(np.float32) * rng.uniform(0.0, 0.015)
    return np.clip(p, 0.0, 1.0).astype(np.float32)


def make_sample(
    item: FlawFreeImage,
    rng: np.random.Generator,
    patch_px: int,
    anomaly_prob: float,
    centre: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(patch, anomaly mask, material mask), float32, all patch_px x patch_px."""
    p, m = _crop(item, rng, patch_px, centre)
    p = _photometric(p, rng)
    if rng.random() < anomaly_prob:
        p, mask = paste_anomalies(p, rng, m, count=int(rng.integers(1, 4)))
    else:
        mask = np.zeros_like(p, dtype=bool)
    return p.astype(np.float32), mask.astype(np.float32), m.astype(np.float32)


Sample = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class PatchDataset(Dataset[Sample]):
    """`length` patches per epoch; sample i of epoch e is drawn from Generator((seed, e, i))."""

    def __init__(
        self, images: Sequence[FlawFreeImage], patch_px: int, length: int, seed: int, anomaly_prob: float = 0.6
    ) -> None:
        if not images:
            raise ValueError("anomaly training needs at least one flaw-free image")
        if patch_px % 16:
            raise ValueError(f"patch_px must be a multiple of 16, got {patch_px}")
        self.images = list(images)
        self.patch_px = patch_px
        self.length = length
        self.seed = seed
        self.anomaly_prob = anomaly_prob
        self.epoch = 0
        # (image index, y, x) where the current net fires on flaw-free parts; see models.anomaly.mining.
        self.hard: list[tuple[int, int, int]] = []
        self.hard_share = 0.5

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> Sample:
        rng = np.random.default_rng((self.seed, self.epoch, i))
        centre = None
        if self.hard and rng.random() < self.hard_share:
            k, cy, cx = self.hard[int(rng.integers(0, len(self.hard)))]
            item, centre = self.images[k], (cy, cx)
        else:
            item = self.images[int(rng.integers(0, len(self.images)))]
        p, mask, material = make_sample(item, rng, self.patch_px, self.anomaly_prob, centre)
        return torch.from_numpy(p)[None], torch.from_numpy(mask)[None], torch.from_numpy(material)[None]


class AnomalyDataModule(pl.LightningDataModule):
    def __init__(
        self,
        train_images: Sequence[FlawFreeImage],
        val_images: Sequence[FlawFreeImage],
        patch_px: int = 128,
        batch_size: int = 16,
        patches_per_epoch: int = 1024,
        val_patches: int = 256,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.train_set = PatchDataset(train_images, patch_px, patches_per_epoch, seed)
        # Validation patches never change between epochs (fixed epoch index), so val_loss is comparable.
        self.val_set = PatchDataset(val_images, patch_px, val_patches, seed + 1_000_003, anomaly_prob=0.5)
        self.batch_size = batch_size

    def set_epoch(self, epoch: int) -> None:
        self.train_set.epoch = epoch

    def train_dataloader(self) -> DataLoader[Sample]:
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=False, num_workers=0)

    def val_dataloader(self) -> DataLoader[Sample]:
        return DataLoader(self.val_set, batch_size=self.batch_size, shuffle=False, num_workers=0)
