"""Runtime variants of the detector on a labelled set, graded as `ironcell evaluate detector` grades them.

    .venv/bin/python scripts/detector_ab.py var/selection-detector [MODEL_DIR]

Variants, each against lowering the accept threshold (the cheap way to trade reviews for escapes):
- `corroborated`: a finding scored 0.01 up to accept_confidence goes to REVIEW when the anomaly map inside its box
  reaches a level (0.25-0.45); the map of the shipped anomaly model.
- `scale_0.8` / `scale_1.25`: the whole image resized before detection, boxes mapped back.
Prints one JSON line per variant: recall_ge_2mm, escape_rate, false_call_rate, false_reject_rate.
Negative results of 2026-12-04 are in the README (detector section); this script reproduces them.
"""

import json
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from models.detector.evaluate import Collected, dataset_dirs, score
from vision.acceptance import load_rules_dir
from vision.anomaly import load_anomaly_scorer
from vision.detector_onnx import OnnxYoloDetector
from vision.grading import Thresholds
from vision.image_io import load_pixels
from vision.preprocess import Preprocessor

KEYS = ("recall_ge_2mm", "escape_rate", "false_call_rate", "false_reject_rate")
SCALES = (0.8, 1.25)
LEVELS = (0.25, 0.3, 0.35, 0.4, 0.45)
ACCEPT, REJECT = 0.1, 0.7  # the cell's operating point (configs/cell.yaml)
FLOOR = 0.01  # the weakest finding the detector returns here


def box_peak(anomaly_map: np.ndarray, box: tuple[float, float, float, float]) -> float:
    x0, y0, x1, y1 = (round(v) for v in box)
    sub = anomaly_map[max(y0, 0) : max(y1, y0 + 1), max(x0, 0) : max(x1, x0 + 1)]
    return float(sub.max()) if sub.size else 0.0


def main(data: Path, model: Path) -> None:
    det = OnnxYoloDetector(model, conf_threshold=FLOOR, tile_overlap=0.2)
    scorer = load_anomaly_scorer(Path("models/registry/anomaly-default"))
    if scorer is None:
        raise SystemExit("no anomaly model in models/registry/anomaly-default")
    pre = Preprocessor()
    rules = load_rules_dir(Path("configs/parts"))
    base, peaks = [], []
    scaled: dict[float, list] = {s: [] for s in SCALES}
    for d in dataset_dirs(data):
        for e in json.loads((d / "manifest.json").read_text())["images"]:
            im = pre(load_pixels(d / e["file"]))
            dets = det.detect(im)
            amap = scorer.score(im).anomaly_map
            base.append((e, tuple(dets)))
            peaks.append([box_peak(amap, q.bbox_xyxy_px) for q in dets])
            for s in SCALES:
                interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
                sd = det.detect(cv2.resize(im, None, fx=s, fy=s, interpolation=interp))
                back = tuple(replace(q, bbox_xyxy_px=tuple(v / s for v in q.bbox_xyxy_px)) for q in sd)
                scaled[s].append((e, back))

    def report(name: str, items: list, accept: float) -> None:
        r = score(Collected(tuple(items), (0.0,), det.version, str(data)), rules, Thresholds(accept, REJECT))
        print(json.dumps({"variant": name, "accept_confidence": accept, **{k: r[k] for k in KEYS}}))

    for accept in (0.05, 0.07, ACCEPT):
        report("baseline", base, accept)
    for level in LEVELS:
        lifted = [
            (
                e,
                tuple(
                    replace(q, score=ACCEPT) if FLOOR <= q.score < ACCEPT and p >= level else q
                    for q, p in zip(ds, pk, strict=True)
                ),
            )
            for (e, ds), pk in zip(base, peaks, strict=True)
        ]
        report(f"corroborated_{level}", lifted, ACCEPT)
    for s in SCALES:
        report(f"scale_{s}", scaled[s], ACCEPT)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else Path("models/registry/detector-default"))
