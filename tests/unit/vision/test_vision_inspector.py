from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vision.acceptance import load_rules_dir
from vision.grading import Thresholds
from vision.inspector import XrayInspector
from vision.roles import Inspector
from vision.types import AnomalyOutput, Detection, FlawClass, PartFamily, PartIdentity, Verdict, XrayImage

REPO = Path(__file__).resolve().parents[3]


class FakeDetector:
    """Returns scripted findings and records what it was given."""

    version = "fake-detector@1"

    def __init__(self, detections: list[Detection]) -> None:
        self.detections = detections
        self.seen: list[np.ndarray] = []

    def detect(self, image01: np.ndarray) -> list[Detection]:
        self.seen.append(image01)
        return list(self.detections)


class FailingDetector:
    version = "broken@0"

    def detect(self, image01: np.ndarray) -> list[Detection]:
        raise RuntimeError("model exploded")


class FakeAnomaly:
    version = "fake-anomaly@1"

    def __init__(self, score: float) -> None:
        self.value = score

    def score(self, image01: np.ndarray) -> AnomalyOutput:
        return AnomalyOutput(self.value, 0.5, np.zeros_like(image01), ((10.0, 10.0, 30.0, 30.0),))


def image(family: PartFamily = PartFamily.WHEEL, magnification: float = 1.25) -> XrayImage:
    px = (np.random.default_rng(0).normal(30000, 500, (400, 600))).astype(np.uint16)
    return XrayImage(px, 16, 0.2, magnification, 90.0, "test", PartIdentity("S1", family))


@pytest.fixture(scope="module")
def rules():
    return load_rules_dir(REPO / "configs/parts")


def test_inspector_protocol_and_clean_part(rules) -> None:
    det = FakeDetector([])
    insp = XrayInspector(det, rules)
    assert isinstance(insp, Inspector)
    res = insp.inspect(image())
    assert res.verdict is Verdict.OK and res.defects == () and res.error is None
    assert res.model_versions == {"detector": "fake-detector@1"}
    assert len(res.image_sha256) == 64 and res.latency_ms > 0
    seen = det.seen[0]
    assert seen.dtype == np.float32 and seen.min() >= 0 and seen.max() <= 1


def test_size_uses_pitch_and_magnification(rules) -> None:
    box = (290.0, 190.0, 300.0, 200.0)  # 10 px at the hub
    det = FakeDetector([Detection(FlawClass.POROSITY, 0.9, box)])
    insp = XrayInspector(det, rules)
    assert insp.inspect(image(magnification=1.25)).defects[0].size_mm == pytest.approx(10 * 0.2 / 1.25)
    res = insp.inspect(image(magnification=2.5))
    assert res.defects[0].size_mm == pytest.approx(0.8)
    assert res.verdict is Verdict.OK  # 0.8 mm in the hub is within level 1; at 1.6 mm it was not
    assert insp.inspect(image(magnification=1.25)).verdict is Verdict.NOK


def test_family_selects_rules(rules) -> None:
    box = (295.0, 10.0, 305.0, 20.0)  # top edge, middle: housing sealing band, wheel rim
    det = FakeDetector([Detection(FlawClass.POROSITY, 0.9, box)])
    insp = XrayInspector(det, rules)
    assert insp.inspect(image(PartFamily.HOUSING)).defects[0].zone == "sealing_band"
    assert insp.inspect(image(PartFamily.WHEEL)).defects[0].zone == "rim"


def test_failure_gives_review_with_error_not_ok(rules) -> None:
    res = XrayInspector(FailingDetector(), rules).inspect(image())
    assert res.verdict is Verdict.REVIEW
    assert res.error is not None and "model exploded" in res.error


def test_missing_family_rules_is_an_error_result(rules) -> None:
    only_wheel = {PartFamily.WHEEL: rules[PartFamily.WHEEL]}
    res = XrayInspector(FakeDetector([]), only_wheel).inspect(image(PartFamily.HOUSING))
    assert res.verdict is Verdict.REVIEW and "housing" in (res.error or "")


def test_anomaly_scorer_is_used_and_versioned(rules) -> None:
    insp = XrayInspector(FakeDetector([]), rules, Thresholds(), anomaly=FakeAnomaly(0.9))
    res = insp.inspect(image())
    assert res.verdict is Verdict.REVIEW
    assert res.anomaly_score == pytest.approx(0.9)
    assert res.model_versions["anomaly"] == "fake-anomaly@1"
    assert res.anomaly_map is not None and res.anomaly_map.shape == (400, 600)
    assert XrayInspector(FakeDetector([]), rules, anomaly=FakeAnomaly(0.1)).inspect(image()).verdict is Verdict.OK
