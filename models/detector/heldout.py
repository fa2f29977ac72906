"""The held-out test set of the detector: seeds never used in training and a shifted distribution.

Shift against configs/train_detector.yaml: tube voltage 205-260 kV (training 50-200), noise x1.9 (training
0.7-1.5), a detector pool never seen (detector_seed 90), image sizes 700x700 / 1100x900 not trained on, and
both detector types. Seeds start at 900000 (training 1000-6999, validation 5000-10999).

The selection set answers "which stage, which thresholds": the training variants of configs/train_detector.yaml
(the training distribution) with seeds from 800000, never used for training, validation, held-out or station
images, and as many images as one asks (the 75 validation images move in steps of 0.02 recall and 0.036 false
rejects, too coarse to pick between close stages).

The station set is the other question a line asks: how does the detector do on the images of this cell's own
station (configs/cell.yaml vision.xray_sim, as `ironcell run` renders them), with seeds from 950000?
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.detector.config import EVALUATION_SEEDS_FROM

HELDOUT_SEED = 900000
SELECTION_SEED = EVALUATION_SEEDS_FROM  # the lowest evaluation seed: training seeds stay below it
STATION_SEED = 950000
HELDOUT_VARIANTS: tuple[tuple[str, float, dict[str, Any]], ...] = (
    (
        "ii_hot_noisy",
        0.6,
        {"detector_mode": "image_intensifier", "width_px": 700, "height_px": 700, "kv_min": 205, "kv_max": 260,
         "noise_scale": 1.9, "detector_seed": 90, "min_cnr": 2.5},
    ),
    (
        "fp_hot_noisy",
        0.4,
        {"detector_mode": "flat_panel", "width_px": 1100, "height_px": 900, "kv_min": 205, "kv_max": 260,
         "noise_scale": 1.9, "detector_seed": 91, "min_cnr": 2.5},
    ),
)  # fmt: skip


def make_heldout(out_dir: Path, count: int = 300, seed: int = HELDOUT_SEED, workers: int = 2) -> dict[str, Any]:
    """Render the held-out set into out_dir/<variant>/ (YOLO layout + manifest each); returns their summaries."""
    from vision.xray import XraySimParams, write_dataset

    out: dict[str, Any] = {}
    for k, (name, share, params) in enumerate(HELDOUT_VARIANTS):
        n = max(1, round(share * count))
        out[name] = write_dataset(out_dir / name, n, seed + k, XraySimParams(**params), workers=workers)
    return out


def make_station_set(out_dir: Path, xray_sim: Any, count: int = 200, seed: int = STATION_SEED, workers: int = 2) -> Any:
    """Render `count` radiographs of the cell's own station (a vision.config.XraySimConfig) into out_dir/station/."""
    from vision.xray import write_dataset
    from vision.xray.params import params_from_config

    return write_dataset(out_dir / "station", count, seed, params_from_config(xray_sim), workers=workers)


def make_selection_set(out_dir: Path, data_cfg: Any, count: int = 300, seed: int = SELECTION_SEED) -> dict[str, Any]:
    """Render `count` radiographs of the training variants (a models.detector.config.DataConfig), shared as in
    training, into out_dir/<variant>/ with seeds from `seed`; returns their summaries."""
    from models.detector.data import render_variant

    out: dict[str, Any] = {}
    for k, v in enumerate(data_cfg.variants):
        n = max(1, round(v.share * count))
        out[v.name] = str(render_variant(out_dir / v.name, n, seed + 1000 * k, v.params, data_cfg.workers))
    return out
