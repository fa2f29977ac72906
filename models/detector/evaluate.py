"""`ironcell evaluate detector`: the shipped runtime (ONNX Runtime, whole images, grading) on a labelled data set.

Definitions (also printed in the README):
- AP@0.5 per class: all-point interpolated average precision, a detection matches a same-class truth box at
  IoU >= 0.5, each truth box at most once; mAP50 is the mean over classes present.
- recall (by class, by true-size band): share of true flaws found by a detection of any class with score >=
  accept_confidence and IoU >= 0.3 (a flaw the cell flags, whatever it calls it, is not missed).
- part level, with the acceptance rules of the part family and each image's own mm per pixel:
  false_reject_rate = NOK share of flaw-free parts; false_call_rate = not-OK share of flaw-free parts;
  escape_rate = OK share of parts whose true flaws break a rule (the truth graded as certain findings);
  escape_rate_any_flaw = OK share of parts with any true flaw (some are acceptable by the rules).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vision.acceptance import PartRules, load_rules_dir
from vision.detector_onnx import OnnxYoloDetector
from vision.grading import Thresholds, grade
from vision.image_io import load_pixels
from vision.preprocess import Preprocessor
from vision.tiling import overlap_matrices
from vision.types import Detection, FlawClass, PartFamily, Verdict

SIZE_BANDS_MM: tuple[tuple[float, float], ...] = ((0.0, 1.0), (1.0, 2.0), (2.0, 5.0), (5.0, 1e9))
RECALL_IOU = 0.3
# Contrast-to-noise bands: recall per band is the probability-of-detection curve of radiography (POD vs CNR)
CNR_BANDS: tuple[tuple[float, float], ...] = ((0.0, 4.0), (4.0, 8.0), (8.0, 16.0), (16.0, 1e9))


def _band(value: float, bands: tuple[tuple[float, float], ...], prefix: str = "", unit: str = "") -> str:
    """Label of the half-open band [lo, hi) holding value; the last band is open-ended (">=lo")."""
    for lo, hi in bands:
        if lo <= value < hi:
            return f"{prefix}{lo:g}-{hi:g}{unit}" if hi < 1e8 else f"{prefix}>={lo:g}{unit}"
    return "unknown"


def cnr_band(cnr: float) -> str:
    return _band(cnr, CNR_BANDS, prefix="cnr ")


def size_band(size_mm: float) -> str:
    return _band(size_mm, SIZE_BANDS_MM, unit="mm")


def average_precision(scores: list[float], hits: list[bool], n_truth: int) -> float:
    """All-point interpolated AP from scored detections (hit = matched a truth box) and the truth count."""
    if n_truth == 0:
        return float("nan")
    if not scores:
        return 0.0
    order = np.argsort(-np.asarray(scores))
    tp = np.asarray(hits, dtype=np.float64)[order]
    ctp, cfp = np.cumsum(tp), np.cumsum(1.0 - tp)
    recall = ctp / n_truth
    precision = ctp / np.maximum(ctp + cfp, 1e-9)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[1.0], precision, [0.0]])
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))
    idx = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    iou, _ = overlap_matrices(np.vstack([a, b]))
    return iou[: len(a), len(a) :]


def _match_class(dets: list[Detection], truth: list[dict[str, Any]], cls: FlawClass) -> list[tuple[float, bool]]:
    """(score, hit) of each detection of one class, greedy by score, IoU >= 0.5 against same-class truth."""
    d = sorted((x for x in dets if x.flaw_class is cls), key=lambda x: -x.score)
    t = [f for f in truth if f["class"] == cls.value]
    if not d:
        return []
    iou = _iou(np.array([x.bbox_xyxy_px for x in d]), np.array([f["bbox_xyxy_px"] for f in t]).reshape(-1, 4))
    used = np.zeros(len(t), bool)
    out = []
    for i, x in enumerate(d):
        hit = False
        if len(t):
            cand = np.where(used, -1.0, iou[i])
            j = int(np.argmax(cand))
            if cand[j] >= 0.5:
                used[j] = True
                hit = True
        out.append((x.score, hit))
    return out


def truth_verdict(
    truth: list[dict[str, Any]], hw: tuple[int, int], mm_per_px: float, rules: PartRules, th: Thresholds
) -> Verdict:
    """The verdict the rules give the true flaws (as certain findings)."""
    as_dets = [Detection(FlawClass(f["class"]), 1.0, tuple(f["bbox_xyxy_px"])) for f in truth]  # type: ignore[arg-type]
    return grade(as_dets, hw, mm_per_px, rules, th)[0]


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def dataset_dirs(data_dir: Path) -> list[Path]:
    """The data set (a folder with manifest.json), or each such sub-folder of it (a set of variants)."""
    if (data_dir / "manifest.json").is_file():
        return [data_dir]
    subs = sorted(p for p in data_dir.iterdir() if (p / "manifest.json").is_file()) if data_dir.is_dir() else []
    if not subs:
        raise FileNotFoundError(f"{data_dir}: no manifest.json here or in its sub-folders (see simulate-xray)")
    return subs


@dataclass(frozen=True)
class Collected:
    """Raw detections (score >= 0.01) of every image of a data set, with its truth: grade as often as wanted."""

    items: tuple[tuple[dict[str, Any], tuple[Detection, ...]], ...]
    latencies_ms: tuple[float, ...]
    detector_version: str
    data: str


def collect(model_dir: Path, data_dir: Path, tile_overlap: float = 0.2, limit: int | None = None) -> Collected:
    entries: list[tuple[Path, dict[str, Any]]] = []
    for d in dataset_dirs(data_dir):
        images = json.loads((d / "manifest.json").read_text())["images"]
        entries.extend((d, e) for e in (images[:limit] if limit else images))
    detector = OnnxYoloDetector(model_dir, conf_threshold=0.01, tile_overlap=tile_overlap)
    pre = Preprocessor()
    items = []
    latencies = []
    for base, e in entries:
        raw = load_pixels(base / e["file"])
        t0 = time.perf_counter()
        dets = detector.detect(pre(raw))
        latencies.append((time.perf_counter() - t0) * 1000.0)
        items.append((e, tuple(dets)))
    return Collected(tuple(items), tuple(latencies), detector.version, str(data_dir))


def score(collected: Collected, rules: dict[PartFamily, PartRules], th: Thresholds) -> dict[str, Any]:
    """The figures of one set of thresholds (see the module docstring for the definitions)."""
    per_class: dict[FlawClass, list[tuple[float, bool]]] = defaultdict(list)
    n_truth: dict[FlawClass, int] = defaultdict(int)
    found_cls: dict[str, list[bool]] = defaultdict(list)
    found_band: dict[str, list[bool]] = defaultdict(list)
    found_cnr: dict[str, list[bool]] = defaultdict(list)
    found_ge2: list[bool] = []
    counts = {"flaw_free": 0, "flaw_free_nok": 0, "flaw_free_not_ok": 0, "truth_nok": 0, "truth_nok_ok": 0}
    counts |= {"flawed": 0, "flawed_ok": 0, "truth_nok_caught_nok": 0}
    for e, dets_t in collected.items:
        dets = list(dets_t)
        truth = [f for f in e["flaws"] if f.get("class")]
        for cls in FlawClass:
            per_class[cls].extend(_match_class(dets, truth, cls))
            n_truth[cls] += sum(1 for f in truth if f["class"] == cls.value)
        kept = [d for d in dets if d.score >= th.accept_confidence]
        iou = _iou(
            np.array([f["bbox_xyxy_px"] for f in truth]).reshape(-1, 4),
            np.array([d.bbox_xyxy_px for d in kept]).reshape(-1, 4),
        )
        for i, f in enumerate(truth):
            hit = bool(iou.shape[1] and iou[i].max() >= RECALL_IOU)
            found_cls[f["class"]].append(hit)
            found_band[size_band(f["size_mm"])].append(hit)
            if "cnr" in f:
                found_cnr[cnr_band(float(f["cnr"]))].append(hit)
            if f["size_mm"] >= 2.0:
                found_ge2.append(hit)
        hw = (int(e["height"]), int(e["width"]))
        family_rules = rules[PartFamily(e["family"])]
        verdict = grade(dets, hw, float(e["mm_per_px"]), family_rules, th)[0]
        if not truth:
            counts["flaw_free"] += 1
            counts["flaw_free_nok"] += verdict is Verdict.NOK
            counts["flaw_free_not_ok"] += verdict is not Verdict.OK
            continue
        counts["flawed"] += 1
        counts["flawed_ok"] += verdict is Verdict.OK
        if truth_verdict(truth, hw, float(e["mm_per_px"]), family_rules, th) is Verdict.NOK:
            counts["truth_nok"] += 1
            counts["truth_nok_ok"] += verdict is Verdict.OK
            counts["truth_nok_caught_nok"] += verdict is Verdict.NOK
    ap = {
        c.value: average_precision([s for s, _ in per_class[c]], [h for _, h in per_class[c]], n_truth[c])
        for c in FlawClass
    }
    present = [v for c, v in ap.items() if n_truth[FlawClass(c)] > 0]
    lat = collected.latencies_ms
    return {
        "images": len(collected.items),
        "map50": round(float(np.mean(present)), 4) if present else None,
        "ap50_per_class": {k: (None if np.isnan(v) else round(v, 4)) for k, v in ap.items()},
        "truth_per_class": {c.value: n_truth[c] for c in FlawClass},
        "recall_per_class": {k: _rate(sum(v), len(v)) for k, v in sorted(found_cls.items())},
        "recall_per_size_band": {k: _rate(sum(v), len(v)) for k, v in sorted(found_band.items())},
        "recall_per_cnr_band": {k: _rate(sum(v), len(v)) for k, v in sorted(found_cnr.items())},
        "recall_ge_2mm": _rate(sum(found_ge2), len(found_ge2)),
        "flaws_ge_2mm": len(found_ge2),
        "flaw_free_parts": counts["flaw_free"],
        "false_reject_rate": _rate(counts["flaw_free_nok"], counts["flaw_free"]),
        "false_call_rate": _rate(counts["flaw_free_not_ok"], counts["flaw_free"]),
        "rejectable_parts": counts["truth_nok"],
        "escape_rate": _rate(counts["truth_nok_ok"], counts["truth_nok"]),
        "nok_catch_rate": _rate(counts["truth_nok_caught_nok"], counts["truth_nok"]),
        "flawed_parts": counts["flawed"],
        "escape_rate_any_flaw": _rate(counts["flawed_ok"], counts["flawed"]),
        "accept_confidence": th.accept_confidence,
        "reject_confidence": th.reject_confidence,
        "detect_ms_p50": round(float(np.percentile(lat, 50)), 1) if lat else None,
        "detector_version": collected.detector_version,
        "data": collected.data,
    }


SWEEP: tuple[tuple[float, float], ...] = (
    (0.05, 0.25),
    (0.1, 0.3),
    (0.1, 0.5),
    (0.1, 0.7),
    (0.15, 0.4),
    (0.25, 0.5),
    (0.3, 0.6),
)


def sweep(collected: Collected, rules: dict[PartFamily, PartRules]) -> list[dict[str, Any]]:
    """Part-level figures for several (accept, reject) pairs: what moving the thresholds trades."""
    keys = (
        "accept_confidence",
        "reject_confidence",
        "recall_ge_2mm",
        "false_reject_rate",
        "false_call_rate",
        "escape_rate",
        "escape_rate_any_flaw",
    )
    return [{k: score(collected, rules, Thresholds(a, r))[k] for k in keys} for a, r in SWEEP]


def evaluate_detector(
    model_dir: Path,
    data_dir: Path,
    rules_dir: Path,
    thresholds: Thresholds | None = None,
    tile_overlap: float = 0.2,
    limit: int | None = None,
) -> dict[str, Any]:
    collected = collect(model_dir, data_dir, tile_overlap, limit)
    return score(collected, load_rules_dir(rules_dir), thresholds or Thresholds())
