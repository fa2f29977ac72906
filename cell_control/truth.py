"""Ground truth of a simulated part: its true flaws graded by the same acceptance rules as the inspector.

A part is truly NOK when its real flaws, measured exactly, break a rule; a flaw the rules accept does
not make a part bad. Escapes (truly NOK, judged OK) and false rejects (truly OK, judged NOK) are counted
against this, never against "has any flaw".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vision.acceptance import PartRules
from vision.grading import Thresholds, grade
from vision.types import Detection, PartFamily, Verdict, XrayImage


class TruthGrader:
    def __init__(self, rules: Mapping[PartFamily, PartRules], default_family: PartFamily = PartFamily.WHEEL) -> None:
        self.rules = dict(rules)
        self.default_family = default_family
        # exact measurements: every true flaw is certain
        self.thresholds = Thresholds(0.01, 0.02)

    def __call__(self, image: XrayImage) -> dict[str, Any] | None:
        if image.part is None and not image.true_flaws:
            return None
        family = image.part.family if image.part is not None else self.default_family
        rules = self.rules.get(family)
        flaws = [
            {"class": f.flaw_class.value, "bbox_xyxy_px": list(f.bbox_xyxy_px), "size_mm": f.size_mm}
            for f in image.true_flaws
        ]
        if rules is None:
            verdict = Verdict.NOK if image.true_flaws else Verdict.OK
        else:
            dets = [Detection(f.flaw_class, 1.0, f.bbox_xyxy_px) for f in image.true_flaws]
            verdict, _ = grade(dets, image.pixels.shape[:2], image.mm_per_px, rules, self.thresholds)
            if verdict == Verdict.REVIEW:  # cannot happen with certain findings; stay on the safe side
                verdict = Verdict.NOK
        return {"verdict": verdict.value, "flaws": flaws}


def truth_grader_from_config(vision_cfg: Any) -> TruthGrader | None:
    from vision.acceptance import load_rules_dir

    try:
        rules = load_rules_dir(vision_cfg.parts_dir)
    except Exception:
        return None
    return TruthGrader(rules)
