"""The X-ray inspector: preprocess, detect, score anomalies, measure in mm, grade, verdict.

`build_inspector(cfg, rules)` is what the cell calls; everything it needs comes from `VisionConfig`.
An inspection that fails (bad pixels, model error) returns verdict REVIEW with the error text: the part
goes to a human, never to the OK conveyor, and the record is kept.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path

from vision.acceptance import PartRules, RulesError, load_rules_dir
from vision.config import VisionConfig
from vision.detector_onnx import OnnxYoloDetector
from vision.grading import Thresholds, grade
from vision.image_io import pixels_sha256
from vision.preprocess import FlatField, Preprocessor
from vision.roles import AnomalyScorer, Detector
from vision.types import AnomalyOutput, InspectionResult, PartFamily, Verdict, XrayImage

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent


def resolve_path(p: Path) -> Path:
    """A relative path as given when it exists from the working directory, else from the repository root."""
    if p.is_absolute() or p.exists():
        return p
    return REPO_ROOT / p


class XrayInspector:
    """`vision.roles.Inspector` for radiographs of the families it has rules for."""

    def __init__(
        self,
        detector: Detector,
        rules: Mapping[PartFamily, PartRules],
        thresholds: Thresholds | None = None,
        preprocessor: Preprocessor | None = None,
        anomaly: AnomalyScorer | None = None,
        default_family: PartFamily = PartFamily.WHEEL,
        hash_images: bool = True,
    ) -> None:
        if not rules:
            raise RulesError("no acceptance rules: the inspector needs at least one part family")
        self.detector = detector
        self.rules = dict(rules)
        self.thresholds = thresholds or Thresholds()
        self.preprocessor = preprocessor or Preprocessor()
        self.anomaly = anomaly
        self.default_family = default_family
        self.hash_images = hash_images

    @property
    def model_versions(self) -> dict[str, str]:
        versions = {"detector": self.detector.version}
        if self.anomaly is not None:
            versions["anomaly"] = self.anomaly.version
        return versions

    def _family(self, image: XrayImage) -> PartFamily:
        return image.part.family if image.part is not None else self.default_family

    def inspect(self, image: XrayImage) -> InspectionResult:
        t0 = time.perf_counter()
        sha = ""
        try:
            sha = pixels_sha256(image.pixels) if self.hash_images else ""
            family = self._family(image)
            rules = self.rules.get(family)
            if rules is None:
                raise RulesError(f"no acceptance rules for part family {family.value!r}")
            image01 = self.preprocessor(image.pixels)
            detections = self.detector.detect(image01)
            anomaly: AnomalyOutput | None = self.anomaly.score(image01) if self.anomaly is not None else None
            verdict, defects = grade(
                detections, image01.shape[:2], image.mm_per_px, rules, self.thresholds, anomaly=anomaly
            )
        except Exception as exc:  # any failure must still give a safe, recorded verdict
            log.exception("inspection of %s failed", image.source)
            return InspectionResult(
                verdict=Verdict.REVIEW,
                defects=(),
                anomaly_score=None,
                model_versions=self.model_versions,
                latency_ms=(time.perf_counter() - t0) * 1000.0,
                image_sha256=sha,
                error=f"{type(exc).__name__}: {exc}",
            )
        return InspectionResult(
            verdict=verdict,
            defects=defects,
            anomaly_score=None if anomaly is None else float(anomaly.image_score),
            model_versions=self.model_versions,
            latency_ms=(time.perf_counter() - t0) * 1000.0,
            image_sha256=sha,
            anomaly_map=None if anomaly is None else anomaly.anomaly_map,
        )


def load_anomaly_scorer(cfg: VisionConfig) -> AnomalyScorer | None:
    """The anomaly scorer named by the config, or None when none is configured or trained yet."""
    if cfg.anomaly_model is None:
        return None
    path = resolve_path(cfg.anomaly_model)
    if not path.exists():
        log.warning("anomaly model %s not found: inspecting with the detector only", path)
        return None
    try:
        from vision.anomaly import load_anomaly_scorer as load_onnx_anomaly
    except ImportError:
        log.warning("vision.anomaly is not available: inspecting with the detector only")
        return None
    scorer: AnomalyScorer | None = load_onnx_anomaly(path, false_alarm_rate=cfg.anomaly_false_alarm_rate)
    return scorer


def build_inspector(
    cfg: VisionConfig,
    rules: Mapping[PartFamily, PartRules] | None = None,
    anomaly: AnomalyScorer | bool | None = True,
    default_family: PartFamily = PartFamily.WHEEL,
) -> XrayInspector:
    """The inspector the cell runs: ONNX detector from `cfg.detector_model`, rules from `cfg.parts_dir`
    (or the given ones), flat-field frames when configured, and the anomaly scorer when one is trained.

    `anomaly`: True loads the configured scorer if present, False/None runs without, or pass a scorer.
    """
    detector = OnnxYoloDetector(
        resolve_path(cfg.detector_model),
        conf_threshold=cfg.accept_confidence,
        tile_overlap=cfg.tile_overlap,
    )
    if rules is None:
        rules = load_rules_dir(resolve_path(cfg.parts_dir))
    ff = cfg.flat_field
    flat = FlatField.from_files(
        resolve_path(ff.dark_frame) if ff.dark_frame else None,
        resolve_path(ff.gain_frame) if ff.gain_frame else None,
    )
    if anomaly is True:
        scorer = load_anomaly_scorer(cfg)
    elif anomaly is False or anomaly is None:
        scorer = None
    else:
        scorer = anomaly
    return XrayInspector(
        detector=detector,
        rules=rules,
        thresholds=Thresholds(cfg.accept_confidence, cfg.reject_confidence),
        preprocessor=Preprocessor(flat_field=flat),
        anomaly=scorer,
        default_family=default_family,
    )
