"""Model card of an exported anomaly model: model_card.json (read by the runtime) and model_card.md."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from models.anomaly.config import TrainAnomalyConfig

CARD_JSON = "model_card.json"
CARD_MD = "model_card.md"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


IMAGE_SCORE_RULE = (
    "max of the material-masked, Gaussian-smoothed (sigma 1 map cell) probability map, leaving out the map cells "
    "within ignore_border_px of the image border"
)


def write_card(
    out_dir: Path,
    *,
    cfg: TrainAnomalyConfig,
    command: str,
    run: dict[str, Any],
    threshold: float,
    flaw_free_scores: Sequence[float],
    metrics: dict[str, Any],
) -> dict[str, Any]:
    from models.anomaly.net import IMAGE_STRIDE
    from models.anomaly.sim_data import ANOMALY_KINDS, STREAM_CAL, STREAM_TRAIN, STREAM_VAL
    from models.anomaly.train import quantiles
    from vision.anomaly import FEATURE_CHANNELS, FEATURE_KIND, INPUT_SCALE, MODEL_FILE

    model = Path(out_dir) / MODEL_FILE
    digest = sha256_file(model)
    name = Path(out_dir).name
    card: dict[str, Any] = {
        "name": name,
        "version": f"{name}@{digest[:12]}",
        "task": "anomaly segmentation of preprocessed radiographs (flaws no detector class describes)",
        "created_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command,
        "seed": cfg.seed,
        "model_file": MODEL_FILE,
        "sha256": digest,
        "size_bytes": model.stat().st_size,
        "architecture": f"AnomalySegNet(width={cfg.model.width}): 2x2 patchify stem, depthwise-separable U-Net "
        f"with dilated context, one map cell per {IMAGE_STRIDE}x{IMAGE_STRIDE} image pixels, sigmoid",
        "features": {"kind": FEATURE_KIND, "input_scale": INPUT_SCALE, "channels": FEATURE_CHANNELS},
        "input": {
            "name": "features",
            "shape": f"N x {FEATURE_CHANNELS} x H/{INPUT_SCALE} x W/{INPUT_SCALE}, sides multiples of 16",
            "computed_by": "vision.anomaly.anomaly_features(vision.anomaly.downscale(image in [0, 1])): centred "
            "grey level, three band-passes (~3, ~10, ~32 px) over the local noise (asinh-compressed) and two "
            "linear clipped residuals (fine band, 5x5 median) over the local noise",
            "preprocess": "vision.preprocess.Preprocessor (robust window 0.5-99.5 percentile)",
        },
        "output": {
            "name": "anomaly",
            "shape": f"N x 2 x H/{IMAGE_STRIDE} x W/{IMAGE_STRIDE} (anomaly, material)",
            "range": "[0, 1] probability",
        },
        "image_score": IMAGE_SCORE_RULE,
        "smooth_sigma_px": 1.0,
        "ignore_border_px": cfg.calibration.ignore_border_px,
        "threshold": threshold,
        "false_alarm_rate": cfg.calibration.false_alarm_rate,
        "data": {
            "source": "vision.xray simulator, flaw-free parts only (self-supervised: generic synthetic anomalies "
            "pasted on half-resolution patches: smooth-noise blobs, ellipses, random polygons, random-walk "
            "strokes, dot clusters, foreign texture; brighter and darker, 3 to 80 local noise sigmas and above the "
            "Rose criterion; none modelled on the simulator's flaw generators)",
            "train_images": cfg.data.train_images,
            "val_images": cfg.data.val_images,
            "image_size_px": [cfg.data.width_px, cfg.data.height_px],
            "families": list(cfg.data.families),
            "seed_streams": {
                "train": [cfg.seed, STREAM_TRAIN],
                "val": [cfg.seed, STREAM_VAL],
                "calibration": [cfg.seed, STREAM_CAL],
            },
        },
        "training": {k: v for k, v in run.items() if k not in ("best_checkpoint", "log_dir")}
        | {
            "patch_px": cfg.train.patch_px,
            "batch_size": cfg.train.batch_size,
            "patches_per_epoch": cfg.train.patches_per_epoch,
            "max_epochs": cfg.train.max_epochs,
            "max_minutes": cfg.train.max_minutes,
            "lr": cfg.train.lr,
            "threads": cfg.train.threads,
            "workers": cfg.train.workers,
        },
        "calibration": {
            "images": len(flaw_free_scores),
            "what": "flaw-free simulated parts, seeds disjoint from training",
            "score_quantiles": quantiles(flaw_free_scores),
            "flaw_free_scores": [float(s) for s in flaw_free_scores],
        },
        "evaluation": {
            "held_out_seed": cfg.evaluation.seed,
            "anomaly_kinds": list(ANOMALY_KINDS),
            "what": "flaw-free parts vs parts with only anomaly-kind flaws (no detector class), unseen seeds",
        },
        "metrics": metrics,
        "config": cfg.model_dump(mode="json"),
        "limitations": "trained and evaluated on simulated radiographs only; real detectors and parts will "
        "need recalibration (ironcell train anomaly with real flaw-free images) before production use",
    }
    Path(out_dir, CARD_JSON).write_text(json.dumps(card, indent=2) + "\n")
    Path(out_dir, CARD_MD).write_text(render_markdown(card))
    return card


def _recalibrations(card: dict[str, Any]) -> str:
    rows = card.get("recalibrations") or []
    if not rows:
        return ""
    lines = [f"- {r['utc']}: `{r['command']}` (before: threshold {r['before'].get('threshold')}, image AUROC "
             f"{r['before'].get('metrics', {}).get('image_auroc')})" + (f": {r['note']}" if r.get("note") else "")
             for r in rows]  # fmt: skip
    return "\n\nScoring rule and threshold set anew, weights unchanged:\n\n" + "\n".join(lines)


def render_markdown(card: dict[str, Any]) -> str:
    m = card.get("metrics", {})
    metric_rows = "\n".join(f"| {k} | {v} |" for k, v in m.items() if not isinstance(v, dict | list)) or "| - | - |"
    q = card["calibration"]["score_quantiles"]
    w, h = card["data"]["image_size_px"]
    return f"""# Model card: {card["name"]}

- **Version**: `{card["version"]}`
- **Task**: {card["task"]}
- **File**: `{card["model_file"]}` ({card["size_bytes"]} bytes), SHA-256 `{card["sha256"]}`
- **Created**: {card["created_utc"]}
- **Command**: `{card["command"]}`
- **Seed**: {card["seed"]}
- **Architecture**: {card["architecture"]}

## Data

{card["data"]["source"]}. {card["data"]["train_images"]} training and {card["data"]["val_images"]} validation
radiographs of {", ".join(card["data"]["families"])} at {w}x{h} px.
No real flaw and no pretrained weight was used.

## Threshold

Image score: {card["image_score"]} (ignore_border_px = {card.get("ignore_border_px", 0)}).
Threshold **{card["threshold"]:.5f}**, calibrated on
{card["calibration"]["images"]} flaw-free parts to a target false-alarm rate of
{card["false_alarm_rate"]:.2%} (flaw-free score quantiles: {q}). The runtime recomputes it from the stored
calibration scores when `vision.anomaly_false_alarm_rate` asks for another rate.{_recalibrations(card)}

## Evaluation

Held-out set ({card["evaluation"]["what"]}; kinds: {", ".join(card["evaluation"]["anomaly_kinds"])};
seed {card["evaluation"]["held_out_seed"]}):

| metric | value |
| --- | --- |
{metric_rows}

## Training

{json.dumps(card["training"])}

## Limitations

{card["limitations"]}.
"""
