"""Parameters of the X-ray simulator: one frozen, validated model (bad values fail with a clear message)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vision.types import DetectorMode, FlawClass, PartFamily

# Flaw kinds the anomaly model must find although no detector class describes them. They never get a YOLO
# label; they are recorded in the manifest and in the instance masks (for pixel AUROC).
ANOMALY_KINDS: tuple[str, ...] = ("foreign_object", "cold_shut", "surface_gas_hole")

DEFAULT_FLAW_MIX: dict[FlawClass, float] = {
    FlawClass.POROSITY: 0.4,
    FlawClass.SHRINKAGE: 0.25,
    FlawClass.CRACK: 0.2,
    FlawClass.INCLUSION: 0.15,
}

# Size bands (true size, mm) used by the data-set card and by evaluations that band by size.
SIZE_BANDS_MM: tuple[tuple[float, float], ...] = ((0.0, 1.0), (1.0, 2.0), (2.0, 5.0), (5.0, 1e9))


def size_band(size_mm: float) -> str:
    for lo, hi in SIZE_BANDS_MM:
        if lo <= size_mm < hi:
            return f"{lo:g}-{hi:g}mm" if hi < 1e8 else f">={lo:g}mm"
    return "unknown"


class XraySimParams(BaseModel):
    """Everything that shapes a simulated radiograph except the random draw itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kv_min: float = Field(60.0, ge=40.0, le=450.0, description="lowest tube voltage drawn, kV")
    kv_max: float = Field(150.0, ge=40.0, le=450.0, description="highest tube voltage drawn, kV")
    detector_mode: DetectorMode = DetectorMode.IMAGE_INTENSIFIER
    width_px: int = Field(768, ge=64, le=8192)
    height_px: int = Field(572, ge=64, le=8192)
    families: tuple[PartFamily, ...] = (PartFamily.WHEEL, PartFamily.HOUSING)
    family_weights: tuple[float, ...] | None = Field(None, description="draw weights of `families`; None: equal")
    flaw_free_share: float = Field(0.3, ge=0.0, le=1.0, description="share of parts drawn with no flaw")
    flaw_mix: dict[FlawClass, float] = Field(default_factory=lambda: dict(DEFAULT_FLAW_MIX))
    max_flaws: int = Field(4, ge=1, le=30, description="most flaws in one flawed part")
    flaw_size_mm: tuple[float, float] = Field((0.5, 11.0), description="true flaw size range, mm")
    min_cnr: float = Field(
        2.5, ge=0.0, le=100.0, description="flaws whose contrast-to-noise ratio is below are not rendered"
    )
    min_snr: float = Field(
        8.0, ge=0.0, le=1000.0, description="flaws whose whole-flaw SNR (Rose criterion) is below are not rendered"
    )
    conspicuity_shift_px: int = Field(
        1,
        ge=0,
        le=4,
        description="a flaw's contrast counts only where it leaves the grey-level range of its flaw-free "
        "surroundings shifted by up to this many pixels (a part edge moved by a pixel shows no flaw); 0: off",
    )
    min_contrast_gl: float = Field(
        2.0, ge=0.0, le=255.0, description="8-bit displays: flaws changing the grey level less than this are dropped"
    )
    anomaly_kinds: tuple[str, ...] = Field((), description=f"anomaly-only kinds to add, from {ANOMALY_KINDS}")
    anomaly_share: float = Field(0.5, ge=0.0, le=1.0, description="share of flawed parts with anomaly kinds")
    noise_scale: float = Field(1.0, ge=0.0, le=10.0, description="multiplies quantum and read noise")
    randomise: float = Field(1.0, ge=0.0, le=1.0, description="domain randomisation strength (0: nominal look)")
    close_up_share: float | None = Field(
        None, ge=0.0, le=1.0, description="share of close-up framings (None: 0.65 for wheels, 0.5 for housings)"
    )
    detector_seed: int = Field(0, ge=0, description="seeds the pool of detectors (fixed-pattern gain/offset)")
    detector_pool: int = Field(4, ge=1, le=64, description="number of distinct detectors drawn from")

    @field_validator("anomaly_kinds")
    @classmethod
    def _known_kinds(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [k for k in v if k not in ANOMALY_KINDS]
        if bad:
            raise ValueError(f"unknown anomaly kind(s) {bad}; allowed: {list(ANOMALY_KINDS)}")
        return tuple(dict.fromkeys(v))

    @field_validator("flaw_mix")
    @classmethod
    def _mix_non_negative(cls, v: dict[FlawClass, float]) -> dict[FlawClass, float]:
        for k, w in v.items():
            if not w >= 0.0:
                raise ValueError(f"flaw_mix weight of {k.value} must be >= 0, got {w}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> XraySimParams:
        if self.kv_min > self.kv_max:
            raise ValueError(f"kv_min ({self.kv_min}) must be <= kv_max ({self.kv_max})")
        if not self.families:
            raise ValueError("families must name at least one part family")
        if self.family_weights is not None and (
            len(self.family_weights) != len(self.families)
            or min(self.family_weights) < 0
            or sum(self.family_weights) <= 0
        ):
            raise ValueError("family_weights needs one non-negative weight per family, not all zero")
        lo, hi = self.flaw_size_mm
        if not (0.1 <= lo <= hi <= 50.0):
            raise ValueError(f"flaw_size_mm must satisfy 0.1 <= min <= max <= 50, got {self.flaw_size_mm}")
        has_classes = sum(self.flaw_mix.values()) > 0
        if self.flaw_free_share < 1.0 and not has_classes and not self.anomaly_kinds:
            raise ValueError("flaw_mix has no positive weight and no anomaly_kinds: flawed parts are impossible")
        return self

    @property
    def bit_depth(self) -> int:
        return 16 if self.detector_mode == DetectorMode.FLAT_PANEL else 8

    @property
    def has_flaw_classes(self) -> bool:
        return sum(self.flaw_mix.values()) > 0


def parse_flaw_mix(text: str) -> dict[FlawClass, float]:
    """'porosity=0.5,crack=0.5' (or 'none') -> mix; unnamed classes get weight 0."""
    text = text.strip()
    mix = dict.fromkeys(FlawClass, 0.0)
    if text.lower() in ("", "none"):
        return mix
    for item in text.split(","):
        name, sep, value = item.partition("=")
        name = name.strip().lower()
        if name not in {c.value for c in FlawClass}:
            raise ValueError(f"unknown flaw class {name!r} in flaw mix; allowed: {[c.value for c in FlawClass]}")
        try:
            mix[FlawClass(name)] = float(value) if sep else 1.0
        except ValueError as exc:
            raise ValueError(f"flaw mix weight for {name!r} is not a number: {value!r}") from exc
    return mix


def params_from_config(cfg: Any, **overrides: Any) -> XraySimParams:
    """Build params from `vision.config.XraySimConfig` (duck-typed so this module stays import-light)."""
    kv = float(cfg.tube_kv)
    jitter = float(getattr(cfg, "kv_jitter", 0.0))
    values: dict[str, Any] = {
        "kv_min": max(40.0, kv - jitter),
        "kv_max": min(450.0, kv + jitter),
        "detector_mode": DetectorMode(cfg.detector_mode),
        "width_px": cfg.image_width_px,
        "height_px": cfg.image_height_px,
        "flaw_free_share": cfg.flaw_free_share,
    }
    for key in ("min_cnr", "randomise", "detector_seed", "max_flaws"):
        if hasattr(cfg, key):
            values[key] = getattr(cfg, key)
    values.update(overrides)
    return XraySimParams(**values)
