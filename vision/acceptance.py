"""Acceptance rules per part family and drawing zone (`configs/parts/<family>.yaml`).

Zones are shapes in normalised image coordinates (x / width, y / height; circle radii as a share of the
shorter image side), tried in order; a defect belongs to the first zone that holds its box centre, and the
last zone must be `everywhere`. Each zone names an ASTM E505-style severity level (1 strictest .. 4); the
level gives the default limits, and any limit written in the zone overrides it. Cracks are never allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vision.types import PartFamily


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ZoneLimits(_Strict):
    """What a zone tolerates of gas/shrinkage porosity and inclusions (certain findings only)."""

    max_pore_diameter_mm: float = Field(gt=0.0, le=100.0, description="largest single pore (porosity)")
    max_shrinkage_mm: float = Field(gt=0.0, le=100.0, description="largest shrinkage cavity")
    max_inclusion_mm: float = Field(gt=0.0, le=100.0, description="largest inclusion")
    max_count: int = Field(ge=0, le=1000, description="most indications in the zone")
    max_total_area_mm2: float = Field(ge=0.0, le=1e5, description="summed projected area of indications")
    min_spacing_mm: float = Field(ge=0.0, le=1000.0, description="smallest edge-to-edge gap between two pores")


# ASTM E505 grades die-casting radiographs against reference images at severity levels 1 (best) to 4.
# These are the millimetre limits this product reads into the levels for its parts.
SEVERITY_LEVELS: dict[int, ZoneLimits] = {
    1: ZoneLimits(
        max_pore_diameter_mm=1.0,
        max_shrinkage_mm=0.8,
        max_inclusion_mm=0.8,
        max_count=2,
        max_total_area_mm2=2.0,
        min_spacing_mm=10.0,
    ),
    2: ZoneLimits(
        max_pore_diameter_mm=2.0,
        max_shrinkage_mm=1.5,
        max_inclusion_mm=1.5,
        max_count=4,
        max_total_area_mm2=6.0,
        min_spacing_mm=6.0,
    ),
    3: ZoneLimits(
        max_pore_diameter_mm=3.5,
        max_shrinkage_mm=2.5,
        max_inclusion_mm=2.5,
        max_count=8,
        max_total_area_mm2=20.0,
        min_spacing_mm=4.0,
    ),
    4: ZoneLimits(
        max_pore_diameter_mm=5.0,
        max_shrinkage_mm=4.0,
        max_inclusion_mm=4.0,
        max_count=15,
        max_total_area_mm2=50.0,
        min_spacing_mm=2.0,
    ),
}


def severity_of(size_mm: float, limit_field: str = "max_pore_diameter_mm") -> int:
    """The strictest severity level whose limit still admits a single indication of this size (5: beyond 4)."""
    for level, lim in SEVERITY_LEVELS.items():
        if size_mm <= getattr(lim, limit_field):
            return level
    return 5


class Everywhere(_Strict):
    kind: Literal["everywhere"]

    def contains(self, x: float, y: float, aspect: float) -> bool:
        return True


class Rect(_Strict):
    kind: Literal["rect"]
    x0: float = Field(ge=0.0, le=1.0)
    y0: float = Field(ge=0.0, le=1.0)
    x1: float = Field(ge=0.0, le=1.0)
    y1: float = Field(ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> Rect:
        if self.x0 >= self.x1 or self.y0 >= self.y1:
            raise ValueError("rect needs x0 < x1 and y0 < y1")
        return self

    def contains(self, x: float, y: float, aspect: float) -> bool:
        return self.x0 <= x <= self.x1 and self.y0 <= y <= self.y1


class Annulus(_Strict):
    """Ring (or disc when r_inner is 0) around (cx, cy); radii as a share of the shorter image side."""

    kind: Literal["annulus"]
    cx: float = Field(0.5, ge=0.0, le=1.0)
    cy: float = Field(0.5, ge=0.0, le=1.0)
    r_inner: float = Field(0.0, ge=0.0, le=2.0)
    r_outer: float = Field(gt=0.0, le=2.0)

    @model_validator(mode="after")
    def _ordered(self) -> Annulus:
        if self.r_inner >= self.r_outer:
            raise ValueError("annulus needs r_inner < r_outer")
        return self

    def contains(self, x: float, y: float, aspect: float) -> bool:
        # aspect = width / height; distances in units of the shorter side.
        if aspect >= 1.0:
            dx, dy = (x - self.cx) * aspect, y - self.cy
        else:
            dx, dy = x - self.cx, (y - self.cy) / aspect
        r = (dx * dx + dy * dy) ** 0.5
        return self.r_inner <= r < self.r_outer


Shape = Annotated[Everywhere | Rect | Annulus, Field(discriminator="kind")]


class Zone(_Strict):
    name: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    description: str = ""
    shape: Shape
    severity_level: int = Field(ge=1, le=4, description="ASTM E505-style level: 1 strictest .. 4")
    max_pore_diameter_mm: float | None = Field(None, gt=0.0, le=100.0)
    max_shrinkage_mm: float | None = Field(None, gt=0.0, le=100.0)
    max_inclusion_mm: float | None = Field(None, gt=0.0, le=100.0)
    max_count: int | None = Field(None, ge=0, le=1000)
    max_total_area_mm2: float | None = Field(None, ge=0.0, le=1e5)
    min_spacing_mm: float | None = Field(None, ge=0.0, le=1000.0)

    def limits(self) -> ZoneLimits:
        """The severity level's limits with this zone's own values written over them."""
        base = SEVERITY_LEVELS[self.severity_level].model_dump()
        for key in base:
            v = getattr(self, key)
            if v is not None:
                base[key] = v
        return ZoneLimits(**base)


class PartRules(_Strict):
    family: PartFamily
    drawing: str = Field("", description="drawing number and revision the zones come from")
    cracks_allowed: Literal[False] = Field(False, description="cracks are never allowed; kept to say so")
    zones: tuple[Zone, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _zones_ok(self) -> PartRules:
        names = [z.name for z in self.zones]
        if len(set(names)) != len(names):
            raise ValueError(f"zone names must be unique, got {names}")
        if not isinstance(self.zones[-1].shape, Everywhere):
            raise ValueError("the last zone must have shape kind 'everywhere' so every defect has a zone")
        return self

    def zone_at(self, x_norm: float, y_norm: float, aspect: float) -> Zone:
        """The first zone holding the point (normalised image coordinates); aspect = width / height."""
        for z in self.zones:
            if z.shape.contains(x_norm, y_norm, aspect):
                return z
        return self.zones[-1]


class RulesError(ValueError):
    """An acceptance rules file is missing or invalid (the message names file, key and value)."""


def load_part_rules(path: Path) -> PartRules:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise RulesError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise RulesError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return PartRules.model_validate(data or {})
    except ValidationError as exc:
        lines = [f"{path}: {'.'.join(str(p) for p in e['loc'])} = {e.get('input')!r}: {e['msg']}" for e in exc.errors()]
        raise RulesError("\n".join(lines)) from exc


def load_rules_dir(parts_dir: Path) -> dict[PartFamily, PartRules]:
    """Every `<family>.yaml` in the folder, keyed by family; a family with no file is an error at use."""
    if not parts_dir.is_dir():
        raise RulesError(f"acceptance rules folder not found: {parts_dir}")
    out: dict[PartFamily, PartRules] = {}
    for f in sorted(parts_dir.glob("*.yaml")):
        rules = load_part_rules(f)
        if rules.family in out:
            raise RulesError(f"{f}: family {rules.family.value} already defined by another file")
        out[rules.family] = rules
    return out
