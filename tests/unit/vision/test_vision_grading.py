from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vision.acceptance import PartRules, RulesError, load_part_rules, load_rules_dir, severity_of
from vision.grading import Thresholds, grade
from vision.types import AnomalyOutput, Detection, FlawClass, PartFamily, Verdict

REPO = Path(__file__).resolve().parents[3]
MM_PER_PX = 0.2 / 1.25  # pixel pitch / magnification
HW = (1000, 1000)
CENTRE = 500.0


@pytest.fixture(scope="module")
def wheel() -> PartRules:
    return load_part_rules(REPO / "configs/parts/wheel.yaml")


def pore(
    radius_from_centre_px: float, size_mm: float, score: float = 0.9, cls: FlawClass = FlawClass.POROSITY, dy=0.0
) -> Detection:
    s = size_mm / MM_PER_PX
    cx, cy = CENTRE + radius_from_centre_px, CENTRE + dy
    return Detection(cls, score, (cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2))


def run(dets: list[Detection], rules: PartRules, anomaly: AnomalyOutput | None = None):
    return grade(dets, HW, MM_PER_PX, rules, Thresholds(0.25, 0.5), anomaly=anomaly)


def test_sizes_are_in_millimetres_and_zones_assigned(wheel: PartRules) -> None:
    verdict, defects = run([pore(0, 0.5), pore(250, 1.0), pore(450, 1.0), pore(-440, 1.0, dy=-440)], wheel)
    assert verdict is Verdict.OK
    assert [d.zone for d in defects] == ["hub", "spokes", "rim", "rest"]
    assert [round(d.size_mm, 3) for d in defects] == [0.5, 1.0, 1.0, 1.0]


def test_hub_is_strictest_zone(wheel: PartRules) -> None:
    verdict, defects = run([pore(50, 1.5)], wheel)
    assert verdict is Verdict.NOK
    assert defects[0].rule_broken is not None and defects[0].rule_broken.startswith("hub:max_pore_diameter_mm 1.50 > 1")
    assert run([pore(250, 1.5)], wheel)[0] is Verdict.OK  # the same pore is fine in the spokes


def test_spokes_pore_diameter_and_severity_level(wheel: PartRules) -> None:
    verdict, defects = run([pore(250, 2.6)], wheel)
    assert verdict is Verdict.NOK
    assert defects[0].rule_broken == "spokes:max_pore_diameter_mm 2.60 > 2 (severity level 3)"


def test_rim_count_limit_from_zone_override(wheel: PartRules) -> None:
    # Six 0.8 mm pores around the rim, far apart: the rim allows 5.
    angles = np.linspace(0, 2 * np.pi, 6, endpoint=False)
    dets = []
    for a in angles:
        s = 0.8 / MM_PER_PX
        cx, cy = CENTRE + 450 * np.cos(a), CENTRE + 450 * np.sin(a)
        dets.append(Detection(FlawClass.POROSITY, 0.9, (cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2)))
    verdict, defects = run(dets, wheel)
    assert verdict is Verdict.NOK
    assert all(d.rule_broken == "rim:max_count 6 > 5" for d in defects)
    assert run(dets[:5], wheel)[0] is Verdict.OK


def test_total_area_limit(wheel: PartRules) -> None:
    # Three 1.9 mm pores in the spokes (level 2: 6 mm2 in all), each 2.84 mm2, far apart.
    dets = [pore(200, 1.9, dy=-150), pore(250, 1.9, dy=150), pore(-250, 1.9)]
    verdict, defects = run(dets, wheel)
    assert verdict is Verdict.NOK
    assert all(d.rule_broken and d.rule_broken.startswith("spokes:max_total_area_mm2 8.51 > 6") for d in defects)


def test_min_spacing_between_pores(wheel: PartRules) -> None:
    close = [pore(250, 1.0), pore(250 + 3.0 / MM_PER_PX, 1.0)]  # centres 3 mm apart: 2 mm gap < 6 mm
    verdict, defects = run(close, wheel)
    assert verdict is Verdict.NOK
    assert {d.rule_broken for d in defects} == {"spokes:min_spacing_mm 2.00 < 6"}
    far = [pore(250, 1.0, dy=-100), pore(250, 1.0, dy=100)]  # 200 px = 32 mm apart
    assert run(far, wheel)[0] is Verdict.OK


def test_cracks_are_never_allowed_in_any_zone(wheel: PartRules) -> None:
    for r in (0, 250, 450):
        verdict, defects = run([pore(r, 0.6, cls=FlawClass.CRACK)], wheel)
        assert verdict is Verdict.NOK
        assert defects[0].rule_broken is not None and ":crack_not_allowed" in defects[0].rule_broken


def test_shrinkage_has_its_own_limit(wheel: PartRules) -> None:
    assert run([pore(250, 1.8, cls=FlawClass.POROSITY)], wheel)[0] is Verdict.OK
    verdict, defects = run([pore(250, 1.8, cls=FlawClass.SHRINKAGE)], wheel)
    assert verdict is Verdict.NOK and defects[0].rule_broken.startswith("spokes:max_shrinkage_mm")  # type: ignore[union-attr]


def test_confidence_bands(wheel: PartRules) -> None:
    assert run([pore(50, 3.0, score=0.2)], wheel) == (Verdict.OK, ())  # below accept: ignored
    verdict, defects = run([pore(50, 3.0, score=0.4)], wheel)
    assert verdict is Verdict.REVIEW and defects[0].rule_broken is None  # uncertain: a human decides
    assert run([pore(50, 3.0, score=0.4), pore(250, 3.0, score=0.9)], wheel)[0] is Verdict.NOK


def test_anomaly_only_finding_goes_to_review(wheel: PartRules) -> None:
    amap = np.zeros(HW, np.float32)
    anomalous = AnomalyOutput(0.9, 0.5, amap, regions_xyxy_px=((100.0, 100.0, 140.0, 130.0),))
    verdict, defects = run([], wheel, anomaly=anomalous)
    assert verdict is Verdict.REVIEW
    assert defects[0].source == "anomaly" and defects[0].bbox_xyxy_px == (100.0, 100.0, 140.0, 130.0)
    # explained by a certain, acceptable detector finding at the same place: no extra finding
    det = Detection(FlawClass.POROSITY, 0.9, (105.0, 105.0, 112.0, 112.0))
    assert run([det], wheel, anomaly=AnomalyOutput(0.9, 0.5, amap, ((104.0, 104.0, 113.0, 113.0),)))[0] is Verdict.OK
    assert run([], wheel, anomaly=AnomalyOutput(0.1, 0.5, amap))[0] is Verdict.OK


def test_zone_geometry_follows_image_aspect(wheel: PartRules) -> None:
    # 572 x 768 image: the hub disc has radius 0.16 * 572 px around the centre in both directions.
    h, w = 572, 768
    r = 0.16 * h
    inside = Detection(FlawClass.POROSITY, 0.9, (w / 2 + r - 6, h / 2 - 2, w / 2 + r - 2, h / 2 + 2))
    outside = Detection(FlawClass.POROSITY, 0.9, (w / 2 + r + 2, h / 2 - 2, w / 2 + r + 6, h / 2 + 2))
    _, defects = grade([inside, outside], (h, w), MM_PER_PX, wheel, Thresholds())
    assert [d.zone for d in defects] == ["hub", "spokes"]


def test_severity_levels() -> None:
    assert [severity_of(s) for s in (0.5, 1.5, 3.0, 4.9, 7.0)] == [1, 2, 3, 4, 5]


def test_rules_files_load_and_bad_rules_are_refused(tmp_path: Path) -> None:
    rules = load_rules_dir(REPO / "configs/parts")
    assert set(rules) == {PartFamily.WHEEL, PartFamily.HOUSING}
    bad = tmp_path / "bad.yaml"
    bad.write_text("family: wheel\nzones:\n  - {name: hub, shape: {kind: annulus, r_outer: 0.2}, severity_level: 1}\n")
    with pytest.raises(RulesError, match="last zone must have shape kind 'everywhere'"):
        load_part_rules(bad)
    bad.write_text(
        "family: wheel\ncracks_allowed: true\nzones:\n  - {name: a, shape: {kind: everywhere}, severity_level: 1}\n"
    )
    with pytest.raises(RulesError, match="cracks_allowed"):
        load_part_rules(bad)
    bad.write_text("family: wheel\nzones:\n  - {name: a, shape: {kind: everywhere}, severity_level: 7}\n")
    with pytest.raises(RulesError, match="severity_level = 7"):
        load_part_rules(bad)
