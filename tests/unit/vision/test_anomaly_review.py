"""Fusion: a finding of the anomaly model alone sends the part to REVIEW, never to a silent OK."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from vision.acceptance import load_rules_dir
from vision.anomaly import load_anomaly_scorer
from vision.inspector import XrayInspector
from vision.types import AnomalyOutput, Detection, PartFamily, PartIdentity, Verdict, XrayImage

REPO = Path(__file__).resolve().parents[3]


class NothingFound:
    """Fake detector: the flaw is of a kind it has no class for."""

    version = "blind-detector@1"

    def detect(self, image01: np.ndarray) -> list[Detection]:
        return []


class FixedAnomaly:
    version = "fixed-anomaly@1"

    def __init__(self, score: float, threshold: float = 0.5) -> None:
        self.value, self.threshold = score, threshold

    def score(self, image01: np.ndarray) -> AnomalyOutput:
        return AnomalyOutput(self.value, self.threshold, np.zeros_like(image01), ((40.0, 40.0, 80.0, 72.0),))


@pytest.fixture(scope="module")
def rules():
    return load_rules_dir(REPO / "configs/parts")


def part_radiograph(spot: bool) -> XrayImage:
    """uint16 radiograph: a darker part on a bright background, optionally with a bright foreign spot."""
    rng = np.random.default_rng(1)
    px = np.full((240, 320), 60000.0)
    px[40:200, 60:260] = 20000.0
    if spot:
        px[110:124, 150:164] = 52000.0
    px += rng.normal(0, 200, px.shape)
    return XrayImage(
        np.clip(px, 0, 65535).astype(np.uint16), 16, 0.2, 1.25, 90.0, "t", PartIdentity("A1", PartFamily.WHEEL)
    )


def test_anomaly_only_finding_makes_review_and_reports_score(rules) -> None:
    insp = XrayInspector(NothingFound(), rules, anomaly=FixedAnomaly(0.9))
    res = insp.inspect(part_radiograph(spot=True))
    assert res.verdict is Verdict.REVIEW
    assert res.anomaly_score == pytest.approx(0.9)
    assert [d.source for d in res.defects] == ["anomaly"]
    assert res.anomaly_map is not None and res.model_versions["anomaly"] == "fixed-anomaly@1"


def test_score_below_threshold_keeps_ok(rules) -> None:
    res = XrayInspector(NothingFound(), rules, anomaly=FixedAnomaly(0.2)).inspect(part_radiograph(spot=False))
    assert res.verdict is Verdict.OK and res.anomaly_score == pytest.approx(0.2)


def test_onnx_scorer_in_the_inspector_sends_the_spotted_part_to_review(rules, tmp_path: Path) -> None:
    # A hand-built ONNX 'model' whose anomaly channel is the local grey level and whose material channel
    # says 'part' where the image is darker than the background: bright inside the part = anomaly.
    pool = helper.make_node("AveragePool", ["image"], ["g"], kernel_shape=[4, 4], strides=[4, 4])
    half = helper.make_tensor("half", TensorProto.FLOAT, [], [0.8])
    less = helper.make_node("Less", ["g", "half"], ["m_bool"])
    cast = helper.make_node("Cast", ["m_bool"], ["m"], to=TensorProto.FLOAT)
    cat = helper.make_node("Concat", ["g", "m"], ["anomaly"], axis=1)
    graph = helper.make_graph(
        [pool, less, cast, cat],
        "grey",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 1, "h", "w"])],
        [helper.make_tensor_value_info("anomaly", TensorProto.FLOAT, ["n", 2, "h4", "w4"])],
        initializer=[half],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "model.onnx")
    (tmp_path / "model_card.json").write_text(
        json.dumps({"version": "grey@1", "threshold": 0.55, "false_alarm_rate": 0.01})
    )
    scorer = load_anomaly_scorer(tmp_path)
    assert scorer is not None
    insp = XrayInspector(NothingFound(), rules, anomaly=scorer)
    clean = insp.inspect(part_radiograph(spot=False))
    assert clean.verdict is Verdict.OK, clean
    flawed = insp.inspect(part_radiograph(spot=True))
    assert flawed.verdict is Verdict.REVIEW
    (x0, y0, x1, y1), *_ = [d.bbox_xyxy_px for d in flawed.defects if d.source == "anomaly"]
    assert x0 <= 154 and y0 <= 114 and x1 >= 160 and y1 >= 120
