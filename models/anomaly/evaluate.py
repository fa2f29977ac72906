"""`ironcell evaluate anomaly`: image and pixel AUROC on held-out parts with anomaly-only flaws."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from models.anomaly.config import TrainAnomalyConfig
from models.anomaly.metrics import BinnedAuroc, auroc
from models.anomaly.sim_data import EvalSample
from vision.anomaly import OnnxAnomalyScorer, calibrate_threshold
from vision.config import VisionConfig
from vision.roles import Inspector
from vision.types import Verdict


class _CellTally:
    """Verdicts of the whole inspection (detector, anomaly model, acceptance rules) on the held-out parts."""

    def __init__(self, inspector: Inspector) -> None:
        self.inspector = inspector
        self.verdicts: dict[bool, list[Verdict]] = {False: [], True: []}
        self.by_anomaly_alone = 0
        self.by_kind: dict[str, list[bool]] = {}

    def add(self, s: EvalSample) -> None:
        if s.xray is None:
            raise ValueError("the cell evaluation needs each radiograph's geometry and part family (simulated sets)")
        r = self.inspector.inspect(s.xray)
        if r.error:
            raise RuntimeError(f"inspection failed: {r.error}")
        self.verdicts[s.is_anomalous].append(r.verdict)
        if s.is_anomalous:
            stopped = r.verdict is not Verdict.OK
            self.by_anomaly_alone += stopped and all(d.source == "anomaly" for d in r.defects)
            for kind in set(s.kinds):
                self.by_kind.setdefault(kind, []).append(stopped)

    def result(self) -> dict[str, Any]:
        def shares(vs: list[Verdict]) -> dict[str, float]:
            return {v.value: round(sum(x is v for x in vs) / len(vs), 4) for v in Verdict} if vs else {}

        bad = self.verdicts[True]
        return {
            "cell_verdicts_flaw_free": shares(self.verdicts[False]),
            "cell_verdicts_anomalous": shares(bad),
            # OK on a part with a flaw no detector class describes: the escape this model exists to prevent
            "cell_escape_rate_anomalous": round(sum(v is Verdict.OK for v in bad) / len(bad), 4) if bad else None,
            "cell_stopped_by_anomaly_alone": round(self.by_anomaly_alone / len(bad), 4) if bad else None,
            **{f"cell_stopped_{k}": round(sum(v) / len(v), 4) for k, v in sorted(self.by_kind.items())},
        }


def evaluate_scorer(
    scorer: OnnxAnomalyScorer, samples: Iterable[EvalSample], inspector: Inspector | None = None
) -> dict[str, Any]:
    """Image AUROC (image score, flaw-free vs anomalous parts) and pixel AUROC (every pixel of every image).

    `pixel_auroc_material` counts only pixels on the part: air is easy to call normal and inflates the
    all-pixel figure. Rates at the calibrated threshold show what the cell would do. With `inspector` (the
    cell's, holding this scorer) each part is also inspected whole and the `cell_*` keys give its verdicts.
    """
    cell = _CellTally(inspector) if inspector is not None else None
    img_scores: list[float] = []
    img_labels: list[bool] = []
    kinds: list[tuple[str, ...]] = []
    pix = BinnedAuroc()
    pix_mat = BinnedAuroc()
    ms: list[float] = []
    shape_hw: tuple[int, ...] = (0, 0)
    for s in samples:
        shape_hw = s.image01.shape
        t = time.perf_counter()
        out = scorer.score(s.image01)
        ms.append((time.perf_counter() - t) * 1000.0)
        img_scores.append(out.image_score)
        img_labels.append(s.is_anomalous)
        kinds.append(s.kinds)
        pix.add(out.anomaly_map, s.anomaly_mask)
        if s.material is not None:
            pix_mat.add(out.anomaly_map[s.material], s.anomaly_mask[s.material])
        if cell is not None:
            cell.add(s)
    scores = np.asarray(img_scores)
    labels = np.asarray(img_labels)
    if labels.all() or not labels.any():
        raise ValueError("evaluation needs both flaw-free and anomalous images")
    result: dict[str, Any] = {
        "image_auroc": round(auroc(scores, labels), 4),
        "pixel_auroc": round(pix.value(), 4),
        "pixel_auroc_material": round(pix_mat.value(), 4) if pix_mat.pos.sum() and pix_mat.neg.sum() else None,
        "normal_images": int((~labels).sum()),
        "anomalous_images": int(labels.sum()),
        "threshold": round(scorer.threshold, 5),
        "false_alarm_rate_at_threshold": round(float((scores[~labels] >= scorer.threshold).mean()), 4),
        "detection_rate_at_threshold": round(float((scores[labels] >= scorer.threshold).mean()), 4),
        "score_ms_p50": round(float(np.percentile(ms, 50)), 1),
        "image_size_px": [shape_hw[1], shape_hw[0]],
    }
    for kind in sorted({k for ks in kinds for k in ks}):
        sel = np.array([(not lab) or (kind in ks) for lab, ks in zip(labels, kinds, strict=True)])
        if labels[sel].any():
            result[f"image_auroc_{kind}"] = round(auroc(scores[sel], labels[sel]), 4)
    if scorer.calibration_scores:
        result["operating_points"] = operating_points(scores, labels, scorer.calibration_scores)
    if cell is not None:
        result |= cell.result()
    return result


OPERATING_RATES = (0.01, 0.02, 0.05, 0.1)


def operating_points(
    scores: np.ndarray, labels: np.ndarray, calibration_scores: Iterable[float]
) -> list[dict[str, float]]:
    """What other `vision.anomaly_false_alarm_rate` settings would trade: each rate's threshold from the flaw-free
    calibration scores, and the false-alarm and detection rates it gives on this set."""
    cal = tuple(calibration_scores)
    out = []
    for rate in OPERATING_RATES:
        t = calibrate_threshold(cal, rate)
        out.append(
            {
                "target_false_alarm_rate": rate,
                "threshold": round(t, 5),
                "false_alarm_rate": round(float((scores[~labels] >= t).mean()), 4),
                "detection_rate": round(float((scores[labels] >= t).mean()), 4),
            }
        )
    return out


def evaluate_model_dir(
    model_dir: Path,
    *,
    normal: int,
    anomalous: int,
    seed: int,
    width_px: int,
    height_px: int,
    families: tuple[str, ...],
    data_dir: Path | None = None,
    cell: VisionConfig | None = None,
) -> dict[str, Any]:
    """`cell`: also inspect each part as the cell configured so would (its detector, rules, thresholds and
    false-alarm rate, with this anomaly model)."""
    from models.anomaly.sim_data import eval_samples, load_eval_dir
    from vision.anomaly import load_anomaly_scorer

    scorer = load_anomaly_scorer(model_dir)
    if scorer is None:
        raise FileNotFoundError(f"no anomaly model in {model_dir} (run `ironcell train anomaly` first)")
    inspector = None
    if cell is not None:
        from vision.inspector import build_inspector

        cell_scorer = load_anomaly_scorer(model_dir, false_alarm_rate=cell.anomaly_false_alarm_rate)
        inspector = build_inspector(cell, anomaly=cell_scorer)
    if data_dir is not None:
        samples: Iterable[EvalSample] = load_eval_dir(data_dir)
        source = str(data_dir)
    else:
        samples = eval_samples(normal, anomalous, seed, width_px, height_px, families)
        source = f"simulator, seed {seed}"
    result = evaluate_scorer(scorer, samples, inspector)
    result["data"] = source
    result["model_version"] = scorer.version
    return result


def evaluate_for_config(
    model_dir: Path,
    cfg: TrainAnomalyConfig,
    *,
    count: int | None = None,
    data_dir: Path | None = None,
    cell: VisionConfig | None = None,
) -> dict[str, Any]:
    """The held-out evaluation a training config names (count overrides both class sizes)."""
    ev, d = cfg.evaluation, cfg.data
    return evaluate_model_dir(
        model_dir,
        normal=count or ev.normal_images,
        anomalous=count or ev.anomalous_images,
        seed=ev.seed,
        width_px=d.width_px,
        height_px=d.height_px,
        families=d.families,
        data_dir=data_dir,
        cell=cell,
    )
