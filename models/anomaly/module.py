"""LightningModule: a thin training shell around `AnomalySegNet` (loss, optimiser, logging)."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from models.anomaly.net import OUTPUT_STRIDE, AnomalySegNet

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # image, anomaly mask, material mask
# The material head is an easy auxiliary task; it must not pull capacity from the anomaly head.
MATERIAL_WEIGHT = 0.3
# Patch loss in the checkpoint objective: a tie-breaker between epochs of equal image-level ranking.
VAL_LOSS_SHARE = 0.05


def focal_dice_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Focal BCE (pasted regions are a few % of pixels) plus soft Dice (shape of the region)."""
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p = torch.sigmoid(logits)
    p_t = p * target + (1 - p) * (1 - target)
    focal = ((1 - p_t) ** gamma * bce).mean()
    inter = (p * target).sum()
    dice = 1 - (2 * inter + 1.0) / (p.sum() + target.sum() + 1.0)
    return focal * 10.0 + dice


def target_at_output(mask: torch.Tensor) -> torch.Tensor:
    """0/1 anomaly mask at the net's input resolution -> target per output cell: a cell holding any visible
    anomaly pixel is anomalous (a 2-pixel pore must light its cell, not a sixteenth of it)."""
    return F.max_pool2d(mask, OUTPUT_STRIDE)


def material_at_output(material: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(material, OUTPUT_STRIDE)


class AnomalyLitModule(pl.LightningModule):
    def __init__(
        self,
        width: int = 24,
        lr: float = 2e-3,
        weight_decay: float = 1e-4,
        focal_gamma: float = 2.0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = AnomalySegNet(width)
        self._val_sum, self._val_n = 0.0, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def setup(self, stage: str) -> None:
        # Channels-last runs the depthwise convolutions of this net about 1.6x faster on CPU.
        self.net.to(memory_format=torch.channels_last)

    def _step(self, batch: Batch, stage: str) -> torch.Tensor:
        x, mask, material = batch
        out = self.net(x.contiguous(memory_format=torch.channels_last))
        logits, mat_logits = out[:, :1], out[:, 1:2]
        target = target_at_output(mask)
        anomaly_loss = focal_dice_loss(logits, target, self.hparams["focal_gamma"])
        material_loss = F.binary_cross_entropy_with_logits(mat_logits, material_at_output(material))
        loss = anomaly_loss + MATERIAL_WEIGHT * material_loss
        n = x.shape[0]
        self.log(f"{stage}_loss", loss, prog_bar=True, on_epoch=True, on_step=False, batch_size=n)
        self.log(f"{stage}_anomaly_loss", anomaly_loss, on_epoch=True, on_step=False, batch_size=n)
        self.log(f"{stage}_material_loss", material_loss, on_epoch=True, on_step=False, batch_size=n)
        if stage == "val":
            with torch.no_grad():
                p = torch.sigmoid(logits)
                hit = (p > 0.5).float()
                tgt = (target > 0.5).float()
                iou = (hit * tgt).sum() / ((hit + tgt).clamp(max=1).sum() + 1e-6)
            self.log("val_iou", iou, on_epoch=True, on_step=False, batch_size=n)
        return loss

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def on_validation_epoch_start(self) -> None:
        self._val_sum, self._val_n = 0.0, 0

    def validation_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        loss = self._step(batch, "val")
        self._val_sum += float(loss) * batch[0].shape[0]
        self._val_n += batch[0].shape[0]
        return loss

    def on_validation_epoch_end(self) -> None:
        """val_objective = (1 - image AUROC of synthetic anomalies pasted on whole flaw-free radiographs)
        + a small share of the patch loss.

        The patch loss alone cannot see false alarms on a part's own features (bosses, holes, junctions),
        and those decide the image score; checkpoints and early stopping follow the image-level ranking.
        """
        from models.anomaly.mining import synthetic_image_auroc

        val_set = getattr(getattr(self.trainer, "datamodule", None), "val_set", None)
        images = getattr(val_set, "images", None)
        if not images or not self._val_n:
            return
        seed = int(getattr(val_set, "seed", 0))
        image_auroc, normal_peak = synthetic_image_auroc(self.net, images, seed)
        self.log("val_normal_peak", normal_peak, on_epoch=True)
        self.log("val_synthetic_auroc", image_auroc, on_epoch=True, prog_bar=True)
        self.log("val_objective", 1.0 - image_auroc + VAL_LOSS_SHARE * self._val_sum / self._val_n, on_epoch=True)

    def on_train_epoch_start(self) -> None:
        # Fresh synthetic anomalies every epoch, still reproducible from the seed.
        dm = getattr(self.trainer, "datamodule", None)
        if dm is not None and hasattr(dm, "set_epoch"):
            dm.set_epoch(self.current_epoch)

    def configure_optimizers(self) -> Any:
        opt = torch.optim.AdamW(self.parameters(), lr=self.hparams["lr"], weight_decay=self.hparams["weight_decay"])
        max_epochs = self.trainer.max_epochs if self.trainer.max_epochs and self.trainer.max_epochs > 0 else 50
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max_epochs, eta_min=self.hparams["lr"] * 0.02)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
