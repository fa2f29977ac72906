"""`evaluate anomaly --cell`: the whole inspection's verdicts on the held-out parts, by kind and by source."""

from __future__ import annotations

import numpy as np
import pytest

from models.anomaly.evaluate import evaluate_scorer
from models.anomaly.sim_data import EvalSample
from vision.types import (
    AnomalyOutput,
    Defect,
    FlawClass,
    InspectionResult,
    PartFamily,
    PartIdentity,
    Verdict,
    XrayImage,
)


class MeanScorer:
    """Image score = the image's mean grey level; the map is the image itself."""

    threshold = 0.5
    version = "mean@1"
    calibration_scores: tuple[float, ...] = ()

    def score(self, image01: np.ndarray) -> AnomalyOutput:
        return AnomalyOutput(float(image01.mean()), self.threshold, image01.astype(np.float32))


class ScriptedInspector:
    """Verdicts keyed by the radiograph's source name, as a fake for the cell's inspector."""

    def __init__(self, script: dict[str, tuple[Verdict, str | None]]) -> None:
        self.script = script
        self.seen: list[str] = []

    def inspect(self, image: XrayImage) -> InspectionResult:
        self.seen.append(image.source)
        verdict, source = self.script[image.source]
        defects = () if source is None else (Defect(FlawClass.POROSITY, 0.9, (1, 1, 3, 3), 1.0, source=source),)
        return InspectionResult(verdict, defects, 0.0)


def _sample(name: str, level: float, kinds: tuple[str, ...], with_xray: bool = True) -> EvalSample:
    img = np.full((8, 8), level, np.float32)
    mask = np.zeros((8, 8), bool)
    mask[2:4, 2:4] = bool(kinds)
    xray = XrayImage(img, 16, 0.2, 1.25, 90.0, name, PartIdentity(name, PartFamily.WHEEL)) if with_xray else None
    return EvalSample(img, mask, None, kinds, xray=xray)


def test_cell_verdicts_escapes_and_what_stopped_each_part() -> None:
    samples = [
        _sample("ok-part", 0.2, ()),
        _sample("clean-but-review", 0.3, ()),
        _sample("cold-by-anomaly", 0.7, ("cold_shut",)),
        _sample("cold-by-detector", 0.6, ("cold_shut",)),
        _sample("hole-missed", 0.4, ("surface_gas_hole",)),
        _sample("washer-nok", 0.8, ("foreign_object",)),
    ]
    insp = ScriptedInspector(
        {
            "ok-part": (Verdict.OK, None),
            "clean-but-review": (Verdict.REVIEW, "anomaly"),
            "cold-by-anomaly": (Verdict.REVIEW, "anomaly"),
            "cold-by-detector": (Verdict.NOK, "detector"),
            "hole-missed": (Verdict.OK, None),
            "washer-nok": (Verdict.NOK, "detector"),
        }
    )
    r = evaluate_scorer(MeanScorer(), samples, insp)  # type: ignore[arg-type]
    assert insp.seen == [s.xray.source for s in samples if s.xray is not None]
    assert r["cell_verdicts_flaw_free"] == {"OK": 0.5, "NOK": 0.0, "REVIEW": 0.5}
    assert r["cell_verdicts_anomalous"] == {"OK": 0.25, "NOK": 0.5, "REVIEW": 0.25}
    assert r["cell_escape_rate_anomalous"] == 0.25
    assert r["cell_stopped_by_anomaly_alone"] == 0.25
    assert r["cell_stopped_cold_shut"] == 1.0 and r["cell_stopped_surface_gas_hole"] == 0.0
    assert r["cell_stopped_foreign_object"] == 1.0
    assert r["image_auroc"] == 1.0  # the scorer's own figures stay as they were


def test_without_an_inspector_there_are_no_cell_figures_and_without_geometry_it_refuses() -> None:
    samples = [_sample("a", 0.2, ()), _sample("b", 0.7, ("cold_shut",))]
    assert not any(k.startswith("cell_") for k in evaluate_scorer(MeanScorer(), samples))  # type: ignore[arg-type]
    bare = [_sample("a", 0.2, (), with_xray=False), _sample("b", 0.7, ("cold_shut",), with_xray=False)]
    with pytest.raises(ValueError, match="geometry and part family"):
        evaluate_scorer(MeanScorer(), bare, ScriptedInspector({}))  # type: ignore[arg-type]


def test_operating_points_follow_the_calibration_scores() -> None:
    from models.anomaly.evaluate import operating_points

    cal = np.linspace(0.0, 0.99, 100)  # flaw-free scores 0.00 .. 0.99
    scores = np.array([0.5, 0.97, 0.93, 0.96, 0.985, 0.2])
    labels = np.array([False, False, True, True, True, True])
    pts = {p["target_false_alarm_rate"]: p for p in operating_points(scores, labels, cal)}
    assert pts[0.01]["threshold"] == pytest.approx(0.985) and pts[0.01]["detection_rate"] == 0.25
    assert pts[0.05]["threshold"] == pytest.approx(0.945) and pts[0.05]["detection_rate"] == 0.5
    assert pts[0.05]["false_alarm_rate"] == 0.5 and pts[0.1]["detection_rate"] == 0.75


def test_simulated_eval_parts_carry_their_family_so_the_cell_grades_them_by_their_own_rules() -> None:
    from models.anomaly.sim_data import eval_samples

    samples = list(eval_samples(2, 2, seed=7, width_px=192, height_px=160, families=("wheel", "housing")))
    assert len(samples) == 4
    families = [s.xray.part.family for s in samples if s.xray is not None and s.xray.part is not None]
    assert len(families) == 4 and set(families) <= {PartFamily.WHEEL, PartFamily.HOUSING}
    # the flaw-free stream alternates families by index: both rule sets are exercised
    assert families[:2] == [PartFamily.WHEEL, PartFamily.HOUSING]
