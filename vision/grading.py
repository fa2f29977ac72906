"""Grading: detections measured in millimetres, placed in drawing zones, judged against the part's rules.

Findings below `accept_confidence` are dropped. Findings at or above `reject_confidence` are certain: they
are measured and counted, and each one that breaks a rule names it (`<zone>:<rule> value > limit`); any
such finding makes the part NOK. A finding between the two thresholds cannot be trusted either way: the
part goes to REVIEW (unless it is NOK anyway). Anomaly regions that no detector finding explains also send
the part to REVIEW: a flaw no class describes never passes silently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from vision.acceptance import PartRules, ZoneLimits, severity_of
from vision.tiling import overlap_matrices
from vision.types import AnomalyOutput, Defect, Detection, FlawClass, Verdict

_SIZE_LIMIT_FIELD = {
    FlawClass.POROSITY: "max_pore_diameter_mm",
    FlawClass.SHRINKAGE: "max_shrinkage_mm",
    FlawClass.INCLUSION: "max_inclusion_mm",
}


@dataclass(frozen=True)
class Thresholds:
    accept_confidence: float = 0.25
    reject_confidence: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 < self.accept_confidence <= self.reject_confidence < 1.0:
            raise ValueError("need 0 < accept_confidence <= reject_confidence < 1")


def box_size_mm(bbox: tuple[float, float, float, float], mm_per_px: float) -> float:
    """Largest extent of a box: a pore's diameter, a crack's length."""
    return max(bbox[2] - bbox[0], bbox[3] - bbox[1]) * mm_per_px


def box_area_mm2(bbox: tuple[float, float, float, float], mm_per_px: float) -> float:
    """Projected area of the ellipse inscribed in the box."""
    return math.pi / 4.0 * (bbox[2] - bbox[0]) * (bbox[3] - bbox[1]) * mm_per_px * mm_per_px


def _centre(b: tuple[float, float, float, float]) -> tuple[float, float]:
    return (b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0


def _zone_rules(certain: list[Defect], limits: ZoneLimits, zone: str, mm_per_px: float) -> dict[int, str]:
    """Rule broken by each certain defect of one zone (index into `certain` -> rule text)."""
    broken: dict[int, str] = {}
    for i, d in enumerate(certain):
        if d.flaw_class is FlawClass.CRACK:
            broken[i] = f"{zone}:crack_not_allowed length {d.size_mm:.2f} mm"
            continue
        field = _SIZE_LIMIT_FIELD[d.flaw_class]
        limit = float(getattr(limits, field))
        if d.size_mm > limit:
            level = severity_of(d.size_mm, field)
            broken[i] = f"{zone}:{field} {d.size_mm:.2f} > {limit:g} (severity level {level})"
    volumetric = [i for i, d in enumerate(certain) if d.flaw_class is not FlawClass.CRACK]
    if len(volumetric) > limits.max_count:
        for i in volumetric:
            broken.setdefault(i, f"{zone}:max_count {len(volumetric)} > {limits.max_count}")
    total = sum(box_area_mm2(certain[i].bbox_xyxy_px, mm_per_px) for i in volumetric)
    if total > limits.max_total_area_mm2:
        for i in volumetric:
            broken.setdefault(i, f"{zone}:max_total_area_mm2 {total:.2f} > {limits.max_total_area_mm2:g}")
    pores = [i for i in volumetric if certain[i].flaw_class is FlawClass.POROSITY]
    for a_pos, a in enumerate(pores):
        for b in pores[a_pos + 1 :]:
            (ax, ay), (bx, by) = _centre(certain[a].bbox_xyxy_px), _centre(certain[b].bbox_xyxy_px)
            gap = math.hypot(ax - bx, ay - by) * mm_per_px - (certain[a].size_mm + certain[b].size_mm) / 2.0
            if gap < limits.min_spacing_mm:
                text = f"{zone}:min_spacing_mm {max(gap, 0.0):.2f} < {limits.min_spacing_mm:g}"
                broken.setdefault(a, text)
                broken.setdefault(b, text)
    return broken


def _unexplained_regions(
    anomaly: AnomalyOutput, defects: Sequence[Defect], image_hw: tuple[int, int]
) -> list[tuple[float, float, float, float]]:
    """Anomaly regions that overlap no detector finding (the whole image when the scorer gives no regions)."""
    h, w = image_hw
    regions = list(anomaly.regions_xyxy_px) or [(0.0, 0.0, float(w), float(h))]
    if not defects:
        return regions
    found = np.array([d.bbox_xyxy_px for d in defects], dtype=np.float64)
    out = []
    for r in regions:
        boxes = np.vstack([np.array(r, dtype=np.float64)[None, :], found])
        _, iomin = overlap_matrices(boxes)
        if float(iomin[0, 1:].max()) < 0.3:
            out.append(r)
    return out


def grade(
    detections: Sequence[Detection],
    image_hw: tuple[int, int],
    mm_per_px: float,
    rules: PartRules,
    thresholds: Thresholds,
    anomaly: AnomalyOutput | None = None,
) -> tuple[Verdict, tuple[Defect, ...]]:
    """Verdict and graded defects of one radiograph (boxes in the image's own pixels)."""
    h, w = image_hw
    aspect = w / h
    kept = [d for d in detections if d.score >= thresholds.accept_confidence]
    defects: list[Defect] = []
    for d in kept:
        cx, cy = _centre(d.bbox_xyxy_px)
        zone = rules.zone_at(cx / w, cy / h, aspect)
        defects.append(
            Defect(
                flaw_class=d.flaw_class,
                score=d.score,
                bbox_xyxy_px=d.bbox_xyxy_px,
                size_mm=box_size_mm(d.bbox_xyxy_px, mm_per_px),
                zone=zone.name,
            )
        )
    for zone in rules.zones:
        idx = [i for i, d in enumerate(defects) if d.zone == zone.name and d.score >= thresholds.reject_confidence]
        certain = [defects[i] for i in idx]
        for local, rule in _zone_rules(certain, zone.limits(), zone.name, mm_per_px).items():
            defects[idx[local]] = replace(defects[idx[local]], rule_broken=rule)
    if anomaly is not None and anomaly.is_anomalous:
        for r in _unexplained_regions(anomaly, defects, image_hw):
            cx, cy = _centre(r)
            defects.append(
                Defect(
                    # No detector class describes it; the class is a placeholder and `source` says so.
                    flaw_class=FlawClass.POROSITY,
                    score=float(anomaly.image_score),
                    bbox_xyxy_px=r,
                    size_mm=box_size_mm(r, mm_per_px),
                    zone=rules.zone_at(cx / w, cy / h, aspect).name,
                    source="anomaly",
                )
            )
    if any(d.rule_broken for d in defects):
        verdict = Verdict.NOK
    elif any(d.source == "anomaly" or d.score < thresholds.reject_confidence for d in defects):
        verdict = Verdict.REVIEW
    else:
        verdict = Verdict.OK
    return verdict, tuple(defects)
