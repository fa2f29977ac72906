"""Data for anomaly training: flaw-free radiographs cut into patches, anomalies pasted on the fly.

Everything here works at the net's half resolution: whole images are reduced once, patches are cut with a
margin so the band-pass features of the patch see real surroundings (as they do in a whole image at
runtime), anomalies are pasted, features computed by the runtime's own `anomaly_features`, margin dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from models.anomaly.synth import paste_anomalies
from vision.anomaly import INPUT_SCALE, anomaly_features, downscale

# Context around a training patch for its features: two sigmas of the widest band-pass.
MARGIN_PX = 32


@dataclass(frozen=True, eq=False)
class FlawFreeImage:
    """One flaw-free radiograph as the runtime sees it (preprocessed, float in [0, 1]) and its material."""

    image01: np.ndarray
    material: np.ndarray  # bool, True where the part is


def half_resolution(item: FlawFreeImage) -> FlawFreeImage:
    """The image as the net sees it (2x2 area mean, odd last row/column dropped) and its material there."""
    h, w = item.image01.shape
    h2, w2 = h - h % INPUT_SCALE, w - w % INPUT_SCALE
    img = downscale(np.ascontiguousarray(item.image01[:h2, :w2], dtype=np.float32))
    cover = cv2.resize(
        item.material[:h2, :w2].astype(np.float32), (w2 // INPUT_SCALE, h2 // INPUT_SCALE), interpolation=cv2.INTER_AREA
    )
    return FlawFreeImage(img, cover > 0.5)


def _crop(
    item: FlawFreeImage, rng: np.random.Generator, side: int, centre: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    img, mat = item.image01, item.material
    h, w = img.shape
    ph, pw = min(side, h), min(side, w)
    if centre is not None:
        # Around a hard negative, with jitter so it is not always in the middle of the patch.
        cy, cx = centre
        j = side // 8
        y = int(np.clip(cy - ph // 2 + rng.integers(-j, j + 1), 0, h - ph))
        x = int(np.clip(cx - pw // 2 + rng.integers(-j, j + 1), 0, w - pw))
    else:
        # Patches mostly on the part: air-only patches teach little.
        for _ in range(8):
            y = int(rng.integers(0, h - ph + 1))
            x = int(rng.integers(0, w - pw + 1))
            if mat[y : y + ph, x : x + pw].mean() > 0.15:
                break
    p = img[y : y + ph, x : x + pw].astype(np.float32)
    m = mat[y : y + ph, x : x + pw]
    if ph < side or pw < side:
        p = np.pad(p, ((0, side - ph), (0, side - pw)), mode="reflect")
        m = np.pad(m, ((0, side - ph), (0, side - pw)), mode="reflect")
    k = int(rng.integers(0, 4))
    p, m = np.rot90(p, k), np.rot90(m, k)
    if rng.random() < 0.5:
        p, m = p[:, ::-1], m[:, ::-1]
    return np.ascontiguousarray(p), np.ascontiguousarray(m)


def _photometric(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gamma/gain/noise jitter: windowing, dose and detectors vary from line to line."""
    p = np.clip(p, 0.0, 1.0) ** rng.uniform(0.8, 1.25)
    p = p * rng.uniform(0.85, 1.15) + rng.uniform(-0.05, 0.05)
    if rng.random() < 0.3:
        p = p + rng.standard_normal(p.shape).astype(np.float32) * rng.uniform(0.0, 0.01)
    return np.clip(p, 0.0, 1.0).astype(np.float32)


def make_sample(
    item: FlawFreeImage,
    rng: np.random.Generator,
    patch_px: int,
    anomaly_prob: float,
    centre: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features C x P x P, anomaly mask P x P, material mask P x P), float32, from a half-resolution image."""
    side = patch_px + 2 * MARGIN_PX
    p, m = _crop(item, rng, side, centre)
    p = _photometric(p, rng)
    if rng.random() < anomaly_prob:
        inner = np.zeros_like(m, dtype=bool)
        inner[MARGIN_PX:-MARGIN_PX, MARGIN_PX:-MARGIN_PX] = True
        p, mask = paste_anomalies(p, rng, m, count=int(rng.integers(1, 4)), centres=inner)
    else:
        mask = np.zeros_like(p, dtype=bool)
    core = slice(MARGIN_PX, MARGIN_PX + patch_px)
    feats = anomaly_features(p)[:, core, core]
    return (
        np.ascontiguousarray(feats),
        mask[core, core].astype(np.float32),
        m[core, core].astype(np.float32),
    )


Sample = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class PatchDataset(Dataset[Sample]):
    """`length` patches per epoch; sample i of epoch e is drawn from Generator((seed, e, i)).

    `images` are full-resolution; the dataset keeps their half-resolution versions (`self.images`).
    """

    def __init__(
        self, images: Sequence[FlawFreeImage], patch_px: int, length: int, seed: int, anomaly_prob: float = 0.6
    ) -> None:
        if not images:
            raise ValueError("anomaly training needs at least one flaw-free image")
        if patch_px % 16:
            raise ValueError(f"patch_px must be a multiple of 16, got {patch_px}")
        self.images = [half_resolution(im) for im in images]
        self.patch_px = patch_px
        self.length = length
        self.seed = seed
        self.anomaly_prob = anomaly_prob
        self.epoch = 0
        # (image index, y, x) at half resolution where the current net fires on flaw-free parts (mining.py).
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
        feats, mask, material = make_sample(item, rng, self.patch_px, self.anomaly_prob, centre)
        return torch.from_numpy(feats), torch.from_numpy(mask)[None], torch.from_numpy(material)[None]


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
        workers: int = 0,
    ) -> None:
        super().__init__()
        self.train_set = PatchDataset(train_images, patch_px, patches_per_epoch, seed)
        # Validation patches never change between epochs (fixed epoch index), so val_loss is comparable.
        self.val_set = PatchDataset(val_images, patch_px, val_patches, seed + 1_000_003, anomaly_prob=0.5)
        self.batch_size = batch_size
        self.workers = workers

    def set_epoch(self, epoch: int) -> None:
        self.train_set.epoch = epoch

    def train_dataloader(self) -> DataLoader[Sample]:
        # Workers are re-created each epoch (not persistent) so they pick up the epoch and the mined patches.
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=False, num_workers=self.workers)

    def val_dataloader(self) -> DataLoader[Sample]:
        return DataLoader(self.val_set, batch_size=self.batch_size, shuffle=False, num_workers=0)
