"""`ironcell train anomaly`: render flaw-free data, fit, export ONNX, calibrate, evaluate, write the card."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from models.anomaly.config import TrainAnomalyConfig
from models.anomaly.data import FlawFreeImage

log = logging.getLogger(__name__)

# (count, stream) -> images; the simulator by default, synthetic arrays in tests.
ImageProvider = Callable[[int, int], Sequence[FlawFreeImage]]


def simulator_provider(cfg: TrainAnomalyConfig) -> ImageProvider:
    from models.anomaly.sim_data import flaw_free_images

    d = cfg.data

    def provide(count: int, stream: int) -> Sequence[FlawFreeImage]:
        return flaw_free_images(count, cfg.seed, stream, d.width_px, d.height_px, d.families)

    return provide


def fit(cfg: TrainAnomalyConfig, train: Sequence[FlawFreeImage], val: Sequence[FlawFreeImage]) -> dict[str, Any]:
    """Train with Lightning; returns the best checkpoint's path and the run's facts."""
    import pytorch_lightning as pl
    import torch
    from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
    from pytorch_lightning.loggers import CSVLogger

    from models.anomaly.data import AnomalyDataModule
    from models.anomaly.mining import HardNegativeMiner
    from models.anomaly.module import AnomalyLitModule

    torch.set_num_threads(cfg.train.threads)
    pl.seed_everything(cfg.seed, workers=True)
    t = cfg.train
    dm = AnomalyDataModule(
        train, val, t.patch_px, t.batch_size, t.patches_per_epoch, t.val_patches, seed=cfg.seed, workers=t.workers
    )
    module = AnomalyLitModule(width=cfg.model.width, lr=t.lr, weight_decay=t.weight_decay)
    work = Path(cfg.work_dir)
    if cfg.init_checkpoint is not None:
        from models.unfold_bn import registry_onnx

        init = Path(cfg.init_checkpoint)
        if registry_onnx(init) is not None:
            # A registry model keeps only its ONNX file: rebuild a checkpoint from it (batch norms calibrated on
            # a few of the training images).
            from models.anomaly.recover import checkpoint_from_registry

            init = checkpoint_from_registry(init, train[:8], work / "recovered" / "init.ckpt", cfg.model.width, t.lr)
        state = torch.load(str(init), map_location="cpu", weights_only=False)["state_dict"]
        module.load_state_dict(state)
        log.info("initialised from %s", cfg.init_checkpoint)
    ckpt = ModelCheckpoint(
        dirpath=work / "checkpoints",
        filename="anomaly-{epoch:03d}-{val_objective:.4f}",
        monitor="val_objective",
        save_last=True,
    )
    # With a monitor, save_last only follows improvements; this one keeps the latest epoch whatever it scored.
    latest = ModelCheckpoint(dirpath=work / "checkpoints", filename="latest", monitor=None, save_top_k=1)
    stop = EarlyStopping(monitor="val_objective", patience=t.patience, mode="min")
    miner = HardNegativeMiner(
        t.hard_negative_every, t.hard_negative_per_image, t.hard_negative_share, t.hard_negative_start
    )
    logger = CSVLogger(str(work), name="logs")
    trainer = pl.Trainer(
        max_epochs=t.max_epochs,
        max_time=timedelta(minutes=t.max_minutes),
        accelerator="auto",
        devices=1,
        callbacks=[miner, ckpt, latest, stop],
        logger=logger,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=10,
        deterministic=False,
    )
    started = time.monotonic()
    trainer.fit(module, datamodule=dm)
    best = ckpt.best_model_path or ckpt.last_model_path
    return {
        "best_checkpoint": best,
        "best_val_objective": float(ckpt.best_model_score) if ckpt.best_model_score is not None else None,
        "epochs": int(trainer.current_epoch),
        "minutes": round((time.monotonic() - started) / 60.0, 2),
        "accelerator": type(trainer.accelerator).__name__,
        "log_dir": logger.log_dir,
        "init_checkpoint": str(cfg.init_checkpoint) if cfg.init_checkpoint else None,
        "hard_negatives_last_mined": miner.last_count,
    }


def export_onnx(checkpoint: str | Path, out_path: Path) -> None:
    """Best checkpoint -> ONNX (probabilities, dynamic batch and size)."""
    import torch

    from models.anomaly.module import AnomalyLitModule
    from models.anomaly.net import ExportWrapper
    from vision.anomaly import FEATURE_CHANNELS

    module = AnomalyLitModule.load_from_checkpoint(str(checkpoint), map_location="cpu")
    wrapper = ExportWrapper(module.net).eval()
    channels = FEATURE_CHANNELS
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            wrapper,
            (torch.rand(1, channels, 256, 256),),
            str(out_path),
            dynamo=False,
            input_names=["features"],
            output_names=["anomaly"],
            dynamic_axes={"features": {0: "n", 2: "h", 3: "w"}, "anomaly": {0: "n", 2: "h4", 3: "w4"}},
            opset_version=17,
        )


def calibration_scores(model_path: Path, images: Sequence[FlawFreeImage], ignore_border_px: int = 0) -> list[float]:
    from vision.anomaly import FEATURE_KIND, OnnxAnomalyScorer

    scorer = OnnxAnomalyScorer(
        model_path, threshold=float("inf"), feature_kind=FEATURE_KIND, ignore_border_px=ignore_border_px
    )
    return [scorer.image_score(im.image01) for im in images]


def checkpoint_facts(cfg: TrainAnomalyConfig) -> dict[str, Any]:
    """Run facts when the fit is skipped: the weights come from `init_checkpoint` as they are."""
    import torch

    from models.anomaly.card import sha256_file

    assert cfg.init_checkpoint is not None
    ck = torch.load(str(cfg.init_checkpoint), map_location="cpu", weights_only=False)
    facts: dict[str, Any] = {
        "best_checkpoint": str(cfg.init_checkpoint),
        "fit": "skipped: exported from init_checkpoint as it is",
        "init_checkpoint": str(cfg.init_checkpoint),
        "init_checkpoint_sha256": sha256_file(Path(cfg.init_checkpoint)),
        "checkpoint_epoch": int(ck.get("epoch", -1)),
    }
    previous = Path(cfg.work_dir) / "last_card.json"
    if previous.is_file():
        # The run that produced the checkpoint, so the card keeps the whole history of the weights.
        prev = json.loads(previous.read_text())
        facts["previous_stage"] = {"command": prev.get("command"), "training": prev.get("training")}
    return facts


def train_anomaly(
    cfg: TrainAnomalyConfig,
    command: str,
    provider: ImageProvider | None = None,
    evaluate: Callable[[Path], dict[str, Any]] | None = None,
    skip_fit: bool = False,
) -> dict[str, Any]:
    """The whole pipeline; returns the model card written to `cfg.out_dir`.

    `skip_fit` (needs `init_checkpoint`) only exports, calibrates, evaluates and writes the card.
    """
    from models.anomaly.card import write_card
    from models.anomaly.sim_data import STREAM_CAL, STREAM_TRAIN, STREAM_VAL
    from vision.anomaly import MODEL_FILE, calibrate_threshold

    provider = provider or simulator_provider(cfg)
    if skip_fit:
        if cfg.init_checkpoint is None:
            raise ValueError("skipping the fit needs init_checkpoint (the weights to export)")
        run = checkpoint_facts(cfg)
    else:
        t0 = time.monotonic()
        train = provider(cfg.data.train_images, STREAM_TRAIN)
        val = provider(cfg.data.val_images, STREAM_VAL)
        log.info("rendered %d training and %d validation images in %.0f s", len(train), len(val), time.monotonic() - t0)
        run = fit(cfg, train, val)
        del train
    out_dir = Path(cfg.out_dir)
    model_path = out_dir / MODEL_FILE
    export_onnx(run["best_checkpoint"], model_path)
    cal_images = provider(cfg.calibration.images, STREAM_CAL)
    scores = calibration_scores(model_path, cal_images, cfg.calibration.ignore_border_px)
    threshold = calibrate_threshold(scores, cfg.calibration.false_alarm_rate)
    card = write_card(
        out_dir, cfg=cfg, command=command, run=run, threshold=threshold, flaw_free_scores=scores, metrics={}
    )
    if evaluate is not None:
        # The evaluation loads the model the way the cell does, so it needs the card written first.
        metrics = evaluate(out_dir)
        card = write_card(
            out_dir, cfg=cfg, command=command, run=run, threshold=threshold, flaw_free_scores=scores, metrics=metrics
        )
    Path(cfg.work_dir).mkdir(parents=True, exist_ok=True)
    (Path(cfg.work_dir) / "last_card.json").write_text(json.dumps(card, indent=2))
    return card


def recalibrate(
    cfg: TrainAnomalyConfig,
    command: str,
    provider: ImageProvider | None = None,
    evaluate: Callable[[Path], dict[str, Any]] | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """A registry model's scoring rule (the config's calibration section) and threshold set anew, weights untouched.

    The card keeps its training history; calibration scores, threshold, rule and metrics are replaced, and the
    earlier calibration is recorded under `recalibrations`, with `note` (why it was run) when given.
    """
    from models.anomaly.card import CARD_JSON, CARD_MD, IMAGE_SCORE_RULE, render_markdown
    from models.anomaly.sim_data import STREAM_CAL
    from vision.anomaly import MODEL_FILE, calibrate_threshold

    out_dir = Path(cfg.out_dir)
    card_file = out_dir / CARD_JSON
    if not card_file.is_file() or not (out_dir / MODEL_FILE).is_file():
        raise FileNotFoundError(f"no anomaly model to recalibrate in {out_dir} (need {MODEL_FILE} and {CARD_JSON})")
    card = json.loads(card_file.read_text())
    provider = provider or simulator_provider(cfg)
    cal = cfg.calibration
    scores = calibration_scores(out_dir / MODEL_FILE, provider(cal.images, STREAM_CAL), cal.ignore_border_px)
    before = {k: card.get(k) for k in ("threshold", "false_alarm_rate", "ignore_border_px", "image_score")}
    before["metrics"] = {k: v for k, v in (card.get("metrics") or {}).items() if not isinstance(v, (list, dict))}
    row = {"utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "command": command, "before": before}
    card.setdefault("recalibrations", []).append(row | ({"note": note} if note else {}))
    card["threshold"] = calibrate_threshold(scores, cal.false_alarm_rate)
    card["false_alarm_rate"] = cal.false_alarm_rate
    card["ignore_border_px"] = cal.ignore_border_px
    card["image_score"] = IMAGE_SCORE_RULE
    card["calibration"] |= {
        "images": len(scores),
        "score_quantiles": quantiles(scores),
        "flaw_free_scores": [float(x) for x in scores],
    }
    card["config"]["calibration"] = cal.model_dump(mode="json")
    card_file.write_text(json.dumps(card, indent=2) + "\n")
    if evaluate is not None:
        card["metrics"] = evaluate(out_dir)
        card_file.write_text(json.dumps(card, indent=2) + "\n")
    (out_dir / CARD_MD).write_text(render_markdown(card))
    return card


def quantiles(scores: Sequence[float]) -> dict[str, float]:
    s = np.asarray(scores, np.float64)
    return {f"p{q}": round(float(np.percentile(s, q)), 5) for q in (50, 90, 99)} | {"max": round(float(s.max()), 5)}
