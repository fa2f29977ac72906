"""Configuration schema of the vision package (loaded by cell_control, passed in validated)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class XraySimConfig(_Strict):
    tube_kv: float = Field(90.0, ge=40.0, le=450.0, description="tube voltage in kV")
    detector_mode: Literal["flat_panel", "image_intensifier"] = "image_intensifier"
    image_width_px: int = Field(768, ge=64, le=8192)
    image_height_px: int = Field(572, ge=64, le=8192)
    flaw_free_share: float = Field(0.6, ge=0.0, le=1.0, description="share of parts with no flaw")
    kv_jitter: float = Field(0.0, ge=0.0, le=100.0, description="tube voltage drawn in tube_kv +/- this, kV")
    randomise: float = Field(0.3, ge=0.0, le=1.0, description="look variation between shots (0: nominal station)")
    min_cnr: float = Field(2.5, ge=0.0, le=100.0, description="flaws fainter than this contrast-to-noise are not made")
    max_flaws: int = Field(4, ge=1, le=30, description="most flaws in one flawed part")
    detector_seed: int = Field(0, ge=0, description="seeds the simulated detector's fixed pattern")


class FlatFieldConfig(_Strict):
    dark_frame: Path | None = None
    gain_frame: Path | None = None


class VisionConfig(_Strict):
    source: Literal["simulator", "folder", "camera"] = "simulator"
    folder: Path | None = Field(None, description="image folder when source is 'folder'")
    camera_index: int = Field(0, ge=0)
    pixel_pitch_mm: float = Field(0.2, gt=0.0, le=10.0)
    magnification: float = Field(1.25, ge=1.0, le=100.0)
    detector_model: Path = Path("models/registry/detector-default")
    anomaly_model: Path | None = Path("models/registry/anomaly-default")
    parts_dir: Path = Path("configs/parts")
    accept_confidence: float = Field(0.25, gt=0.0, lt=1.0, description="below: ignored")
    reject_confidence: float = Field(0.5, gt=0.0, lt=1.0, description="at or above: graded as certain")
    tile_overlap: float = Field(0.2, ge=0.0, lt=0.9)
    anomaly_false_alarm_rate: float = Field(0.01, gt=0.0, lt=0.5)
    inference_workers: int = Field(1, ge=1, le=16)
    flat_field: FlatFieldConfig = FlatFieldConfig()
    xray_sim: XraySimConfig = XraySimConfig()

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> VisionConfig:
        if self.accept_confidence > self.reject_confidence:
            raise ValueError(
                f"accept_confidence ({self.accept_confidence}) must be <= reject_confidence ({self.reject_confidence})"
            )
        if self.source == "folder" and self.folder is None:
            raise ValueError("source 'folder' needs vision.folder")
        return self
