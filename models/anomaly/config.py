"""Validated configuration of anomaly training (`configs/train_anomaly.yaml`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnomalyDataConfig(_Strict):
    train_images: int = Field(200, ge=1, le=100_000, description="flaw-free radiographs rendered for training")
    val_images: int = Field(16, ge=1, le=10_000, description="flaw-free radiographs for validation patches")
    width_px: int = Field(768, ge=64, le=8192)
    height_px: int = Field(572, ge=64, le=8192)
    families: tuple[str, ...] = ("wheel", "housing")


class AnomalyModelConfig(_Strict):
    width: int = Field(24, ge=8, le=128, description="channels of the first stage (x2, x4 deeper)")


class AnomalyTrainLoopConfig(_Strict):
    patch_px: int = Field(
        128, ge=32, le=1024, description="training patch side at the net's half resolution, multiple of 16"
    )
    batch_size: int = Field(16, ge=1, le=512)
    patches_per_epoch: int = Field(1024, ge=1)
    val_patches: int = Field(256, ge=1)
    max_epochs: int = Field(90, ge=1, le=10_000)
    max_minutes: float = Field(42.0, gt=0.0, le=10_000.0, description="wall-clock cap of fit()")
    patience: int = Field(20, ge=1, description="early stopping on val_loss, in epochs")
    lr: float = Field(2e-3, gt=0.0, le=1.0)
    weight_decay: float = Field(1e-4, ge=0.0, le=1.0)
    threads: int = Field(1, ge=1, le=64, description="torch CPU threads (the cell shares 2 cores)")
    workers: int = Field(0, ge=0, le=64, description="data-loader processes making patches (0: in the main one)")
    hard_negative_every: int = Field(4, ge=0, le=1000, description="re-mine hard negatives every N epochs; 0: off")
    hard_negative_start: int = Field(0, ge=0, description="first epoch that mines")
    hard_negative_per_image: int = Field(6, ge=1, le=100)
    hard_negative_share: float = Field(0.5, ge=0.0, le=1.0, description="share of patches centred on them")

    @model_validator(mode="after")
    def _patch_multiple(self) -> AnomalyTrainLoopConfig:
        if self.patch_px % 16:
            raise ValueError(f"patch_px must be a multiple of 16, got {self.patch_px}")
        return self


class AnomalyCalibrationConfig(_Strict):
    images: int = Field(300, ge=10, le=100_000, description="flaw-free parts the threshold is set on")
    false_alarm_rate: float = Field(0.01, gt=0.0, lt=0.5)
    ignore_border_px: int = Field(
        8, ge=0, le=256, description="map cells this close to the image border are not scored (edge artefacts)"
    )


class AnomalyEvalConfig(_Strict):
    normal_images: int = Field(100, ge=1, le=100_000)
    anomalous_images: int = Field(100, ge=1, le=100_000)
    seed: int = Field(20261121, ge=0, description="held-out seed; never used for training or calibration")


class TrainAnomalyConfig(_Strict):
    seed: int = Field(0, ge=0)
    out_dir: Path = Path("models/registry/anomaly-default")
    work_dir: Path = Path("var/train/anomaly")
    init_checkpoint: Path | None = Field(
        None, description="start from these weights: a Lightning checkpoint, or a registry folder or its model.onnx"
    )
    data: AnomalyDataConfig = AnomalyDataConfig()
    model: AnomalyModelConfig = AnomalyModelConfig()
    train: AnomalyTrainLoopConfig = AnomalyTrainLoopConfig()
    calibration: AnomalyCalibrationConfig = AnomalyCalibrationConfig()
    evaluation: AnomalyEvalConfig = AnomalyEvalConfig()

    @model_validator(mode="after")
    def _eval_seed_held_out(self) -> TrainAnomalyConfig:
        if self.evaluation.seed == self.seed:
            raise ValueError("evaluation.seed must differ from seed (the held-out set must be unseen)")
        return self
