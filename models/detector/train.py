"""`ironcell train detector`: simulated data -> ultralytics YOLO from a model YAML -> ONNX -> registry folder.

Offline by construction: ultralytics gets YOLO_OFFLINE, no auto-install, a private settings folder with a local
TrueType font named Arial.ttf (else its dataset check tries to download one), a model YAML (never a .pt it
would fetch; pretrained only to keep --init-weights of our own earlier run), amp=False, plots=False.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import os
import platform
import shutil
import time
from pathlib import Path
from typing import Any

from models.detector.config import TrainDetectorConfig
from models.detector.data import build_training_set
from models.detector.registry import MODEL_FILE, write_card
from models.unfold_bn import registry_onnx
from vision.detector_onnx import file_sha256
from vision.types import FlawClass

log = logging.getLogger(__name__)

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
)


def ultralytics_offline_env(settings_dir: Path) -> None:
    """Environment ultralytics needs to run with no network; call before importing ultralytics."""
    settings_dir.mkdir(parents=True, exist_ok=True)
    font = settings_dir / "Arial.ttf"
    if not font.exists():
        src = next((f for f in FONT_CANDIDATES if f.is_file()), None)
        if src is None:
            raise RuntimeError("no TrueType font found for ultralytics (install Debian fonts-dejavu-core)")
        shutil.copy(src, font)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "0"
    os.environ["YOLO_CONFIG_DIR"] = str(settings_dir)
    os.environ.setdefault("MPLBACKEND", "Agg")


REPO_ROOT = Path(__file__).resolve().parents[2]


def model_yaml(name: str) -> str:
    """A model YAML given as a path (models/detector/yolo11-cell.yaml: from the working directory, else from the
    repository root) as an absolute path; a bare name is one ultralytics ships. A path naming a missing file is an
    error, never a silent fallback to another model."""
    if "/" not in name:
        return name
    for path in (Path(name), REPO_ROOT / name):
        if path.is_file():
            return str(path.resolve())
    raise FileNotFoundError(f"model YAML not found: {name} (train.model in the training config)")


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "0" if torch.cuda.is_available() else "cpu"
    return device


def _last_metrics(results_csv: Path) -> dict[str, float]:
    if not results_csv.is_file():
        return {}
    with results_csv.open() as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    last = {k.strip(): v for k, v in rows[-1].items()}
    out: dict[str, float] = {}
    for key in ("metrics/precision(B)", "metrics/recall(B)", "metrics/mAP50(B)", "metrics/mAP50-95(B)"):
        if key in last:
            out[key.split("/")[1].replace("(B)", "")] = round(float(last[key]), 4)
    out["epochs_logged"] = len(rows)
    return out


def export_onnx(weights: Path, cfg: TrainDetectorConfig) -> Path:
    """Export trained weights to ONNX (one image per call, dynamic height/width when configured)."""
    from ultralytics import YOLO

    model = YOLO(str(weights))
    path = model.export(
        format="onnx",
        imgsz=cfg.train.imgsz,
        opset=cfg.export.opset,
        simplify=cfg.export.simplify,
        dynamic=cfg.export.dynamic,
        batch=1,
        device="cpu",
    )
    return Path(path)


def train_detector(
    cfg: TrainDetectorConfig,
    command: str,
    config_file: Path | None = None,
    external_data: list[Path] | None = None,
    reuse_data: bool = False,
    note: str = "",
) -> dict[str, Any]:
    """Run the whole pipeline; returns the model card (also written next to model.onnx in cfg.out_dir).

    `reuse_data` keeps the crops of the previous run in work_dir (same config, same seeds) instead of cutting
    them again.
    """
    work = cfg.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    ultralytics_offline_env(work / "ultralytics_settings")
    import torch

    torch.set_num_threads(cfg.train.threads)
    from ultralytics import YOLO

    t_data = time.time()
    summary_file = work / "data_summary.json"
    if reuse_data and summary_file.is_file():
        data = json.loads(summary_file.read_text())
    else:
        data = build_training_set(cfg.data, work, external_data)
        data["build_minutes"] = round((time.time() - t_data) / 60.0, 2)
        summary_file.write_text(json.dumps(data, indent=1))
    data_minutes = (time.time() - t_data) / 60.0
    log.info("training set ready in %.1f min: %s", data_minutes, json.dumps(data))

    device = resolve_device(cfg.train.device)
    t = cfg.train
    run_name = f"{cfg.name}-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%S')}"
    if t.init_weights:
        init = _init_checkpoint(Path(t.init_weights), cfg, Path(data["data_yaml"]).parent, run_name)
        model = YOLO(str(init))  # an earlier run of this command continued on a fresh schedule: still our own weights
    else:
        model = YOLO(model_yaml(t.model))
    t0 = time.time()
    model.train(
        data=data["data_yaml"],
        imgsz=t.imgsz,
        epochs=t.epochs,
        time=(t.max_minutes / 60.0) if t.max_minutes else None,
        batch=t.batch,
        workers=t.workers,
        device=device,
        seed=t.seed,
        deterministic=False,
        # ultralytics drops the weights of a loaded checkpoint when pretrained is False: True keeps init_weights
        # (a model built from its YAML has nothing to keep, and nothing is ever downloaded: YOLO_OFFLINE)
        pretrained=bool(t.init_weights),
        amp=False,
        plots=False,
        project=str(work / "runs"),
        name=run_name,
        exist_ok=True,
        patience=t.patience,
        # A continued run starts from trained weights: no warm-up (its bias learning rate of 0.1 is meant for
        # random ones). Either way the first epoch of a continued run dips (validation mAP50 0.30 -> 0.18-0.21
        # measured, with and without warm-up): AdamW's first steps move every weight by about lr0.
        warmup_epochs=0.0 if t.init_weights else 3.0,
        optimizer=t.optimizer,
        lr0=t.lr0,
        cos_lr=t.cos_lr,
        close_mosaic=t.close_mosaic,
        mosaic=t.mosaic,
        scale=t.scale,
        degrees=t.degrees,
        fliplr=t.fliplr,
        flipud=t.flipud,
        hsv_h=0.0,
        hsv_s=0.0,
        hsv_v=t.hsv_v,
        translate=0.1,
        verbose=False,
    )
    train_minutes = (time.time() - t0) / 60.0
    trainer = model.trainer
    if trainer is None:
        raise RuntimeError("ultralytics returned no trainer")
    chosen = Path(trainer.best if cfg.export.weights == "best" else trainer.last)
    weights = chosen if chosen.is_file() else Path(trainer.last)
    return publish(weights, cfg, command, config_file, data, train_minutes, device, note=note)


TRAINING_FACTS = ("command", "config_file", "config", "data", "train_minutes", "device", "seed", "trained_at", "note",
                  "continued_from")  # fmt: skip


def _training_card(run_dir: Path) -> dict[str, Any] | None:
    """The card a finished training run wrote into its run folder, if any."""
    card_file = run_dir / "model_card.json"
    return json.loads(card_file.read_text()) if card_file.is_file() else None


def _init_checkpoint(init: Path, cfg: TrainDetectorConfig, data_dir: Path, run_name: str) -> Path:
    """--init-weights as a checkpoint path: an earlier run's `.pt` as it is, a registry model rebuilt from its ONNX."""
    if not init.exists():
        raise FileNotFoundError(f"init weights not found: {init} (train.init_weights / --init-weights)")
    onnx_file = registry_onnx(init)
    if onnx_file is None:
        return init
    if not onnx_file.is_file():
        raise FileNotFoundError(f"init weights: {init} is a folder without {onnx_file.name}, not a registry model")
    from models.detector.recover import checkpoint_from_registry

    names = dict(enumerate(c.value for c in FlawClass))
    out = cfg.work_dir.resolve() / "recovered" / f"{run_name}.pt"
    return checkpoint_from_registry(onnx_file, model_yaml(cfg.train.model), names, data_dir / "train" / "images", out)


def _earlier_run(init_weights: str | None) -> dict[str, Any] | None:
    """The card of the run a continued training started from: the chain of runs behind a shipped model."""
    if not init_weights:
        return None
    onnx_file = registry_onnx(Path(init_weights))
    if onnx_file is not None:
        card_file = onnx_file.parent / "model_card.json"
    else:
        card_file = Path(init_weights).parent.parent / "model_card.json"
    earlier: dict[str, Any] = {"weights": init_weights}
    if card_file.is_file():
        card = json.loads(card_file.read_text())
        keys = ("command", "train_minutes", "epochs_run", "metrics", "seed", "device", "trained_at", "continued_from")
        earlier |= {k: card.get(k) for k in keys}
    return earlier


def publish(
    weights: Path,
    cfg: TrainDetectorConfig,
    command: str,
    config_file: Path | None = None,
    data: dict[str, Any] | None = None,
    train_minutes: float | None = None,
    device: str = "cpu",
    note: str = "",
) -> dict[str, Any]:
    """Export weights (`<run>/weights/*.pt`) to ONNX and write the registry folder cfg.out_dir with its card."""
    work = cfg.work_dir.resolve()
    ultralytics_offline_env(work / "ultralytics_settings")
    import onnxruntime
    import torch
    import ultralytics

    run_dir = weights.parent.parent
    if data is None:
        summary = work / "data_summary.json"
        data = json.loads(summary.read_text()) if summary.is_file() else {}
    metrics = _last_metrics(run_dir / "results.csv")
    # Exporting weights of a finished run again (`--from-weights`): the facts of its training stay those of the run.
    trained = _training_card(run_dir) if train_minutes is None else None
    if train_minutes is None:
        # a snapshot of a run still going: its age so far
        train_minutes = (weights.stat().st_mtime - (run_dir / "args.yaml").stat().st_mtime) / 60.0
    onnx_path = export_onnx(weights, cfg)
    out = cfg.out_dir
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(onnx_path, out / MODEL_FILE)
    t = cfg.train
    card: dict[str, Any] = {
        "name": cfg.name,
        "task": "detect",
        "class_names": [c.value for c in FlawClass],
        "model_yaml": t.model,
        "imgsz": t.imgsz,
        "input_channels": "0: windowed image; 1, 2: band-pass at 12 px / 40 px (vision.preprocess.detector_channels)",
        "max_tile_px": cfg.export.max_tile_px,
        "opset": cfg.export.opset,
        "dynamic": cfg.export.dynamic,
        "onnx_sha256": file_sha256(out / MODEL_FILE),
        "onnx_bytes": (out / MODEL_FILE).stat().st_size,
        "seed": t.seed,
        "command": command,
        "config_file": str(config_file) if config_file else None,
        "config": json.loads(cfg.model_dump_json()),
        "data": data,
        "metrics": metrics,
        "epochs_run": int(metrics.get("epochs_logged", 0)),
        "weights": str(weights),
        "train_minutes": round(train_minutes, 2),
        "device": "cuda" if device not in ("cpu", "") else f"cpu ({os.cpu_count()} cores, {t.threads} torch threads)",
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "ultralytics_version": ultralytics.__version__,
        "torch_version": torch.__version__,
        "onnxruntime_version": onnxruntime.__version__,
        "python": platform.python_version(),
        "run_dir": str(run_dir),
        "note": note,
        "continued_from": _earlier_run(t.init_weights),
    }
    if trained is not None:
        card |= {k: trained[k] for k in TRAINING_FACTS if k in trained} | {"exported_by": command}
    (run_dir / "model_card.json").write_text(json.dumps(card, indent=1, default=str))
    write_card(out, card)
    log.info("model written to %s (%.1f min training)", out, train_minutes)
    return card
