"""Domain types the vision package produces. Frozen, with units in field names."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np


class PartFamily(enum.StrEnum):
    WHEEL = "wheel"
    HOUSING = "housing"


class FlawClass(enum.StrEnum):
    """Detector classes; the integer order is the YOLO class index and must stay stable."""

    POROSITY = "porosity"
    SHRINKAGE = "shrinkage"
    CRACK = "crack"
    INCLUSION = "inclusion"

    @property
    def class_index(self) -> int:
        return list(FlawClass).index(self)

    @classmethod
    def from_index(cls, i: int) -> FlawClass:
        return list(cls)[i]


class Verdict(enum.StrEnum):
    OK = "OK"
    NOK = "NOK"
    REVIEW = "REVIEW"


class DetectorMode(enum.StrEnum):
    FLAT_PANEL = "flat_panel"  # 16-bit
    IMAGE_INTENSIFIER = "image_intensifier"  # 8-bit


@dataclass(frozen=True)
class PartIdentity:
    serial: str
    family: PartFamily
    recipe: str = "default"
    lot: str = ""


@dataclass(frozen=True)
class TrueFlaw:
    """Ground truth of one simulated flaw (simulation only)."""

    flaw_class: FlawClass
    bbox_xyxy_px: tuple[float, float, float, float]
    size_mm: float
    depth_mm: float
    cnr: float


@dataclass(frozen=True, eq=False)
class XrayImage:
    """A radiograph: one channel, uint8 or uint16, with the geometry needed to measure in mm."""

    pixels: np.ndarray
    bit_depth: int
    pixel_pitch_mm: float
    magnification: float
    tube_kv: float
    source: str
    part: PartIdentity | None = None
    true_flaws: tuple[TrueFlaw, ...] = ()

    def __post_init__(self) -> None:
        if self.pixels.ndim != 2:
            raise ValueError(f"XrayImage needs one channel (2-D array), got shape {self.pixels.shape}")
        if self.bit_depth not in (8, 12, 14, 16):
            raise ValueError(f"bit_depth must be 8, 12, 14 or 16, got {self.bit_depth}")
        if self.pixel_pitch_mm <= 0 or self.magnification <= 0:
            raise ValueError("pixel_pitch_mm and magnification must be > 0")

    @property
    def mm_per_px(self) -> float:
        """Size in the object plane of one detector pixel."""
        return self.pixel_pitch_mm / self.magnification


@dataclass(frozen=True)
class Defect:
    flaw_class: FlawClass
    score: float
    bbox_xyxy_px: tuple[float, float, float, float]
    size_mm: float
    zone: str = ""
    rule_broken: str | None = None
    source: str = "detector"  # "detector" or "anomaly"


@dataclass(frozen=True)
class InspectionResult:
    verdict: Verdict
    defects: tuple[Defect, ...]
    anomaly_score: float | None
    model_versions: dict[str, str] = field(default_factory=dict)
    latency_ms: float = 0.0
    image_sha256: str = ""
    error: str | None = None
    anomaly_map: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Detection:
    """One raw detector output in the image's own pixel coordinates, before grading."""

    flaw_class: FlawClass
    score: float
    bbox_xyxy_px: tuple[float, float, float, float]


@dataclass(frozen=True, eq=False)
class AnomalyOutput:
    """Image-level score, its calibrated threshold, and a pixel map aligned with the input image."""

    image_score: float
    threshold: float
    anomaly_map: np.ndarray
    regions_xyxy_px: tuple[tuple[float, float, float, float], ...] = ()

    @property
    def is_anomalous(self) -> bool:
        return self.image_score >= self.threshold
