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
from vision.anomaly import OnnxAnomalyScorer


def evaluate_scorer(scorer: OnnxAnomalyScorer, samples: Iterable[EvalSample]) -> dict[str, Any]:
    """Image AUROC (image score, flaw-free vs anomalous parts) and pixel AUROC (every pixel of every image).

    `pixel_auroc_material` counts only pixels on the part: air is easy to call normal and inflates the
    all-pixel figure. Rates at the calibrated threshold show what the cell would do.
    """
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
    return result


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
) -> dict[str, Any]:
    from models.anomaly.sim_data import eval_samples, load_eval_dir
    from vision.anomaly import load_anomaly_scorer

    scorer = load_anomaly_scorer(model_dir)
    if scorer is None:
        raise FileNotFoundError(f"no anomaly model in {model_dir} (run `ironcell train anomaly` first)")
    if data_dir is not None:
        samples: Iterable[EvalSample] = load_eval_dir(data_dir)
        source = str(data_dir)
    else:
        samples = eval_samples(normal, anomalous, seed, width_px, height_px, families)
        source = f"simulator, seed {seed}"
    result = evaluate_scorer(scorer, samples)
    result["data"] = source
    result["model_version"] = scorer.version
    return result


def evaluate_for_config(
    model_dir: Path, cfg: TrainAnomalyConfig, *, count: int | None = None, data_dir: Path | None = None
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
    )
