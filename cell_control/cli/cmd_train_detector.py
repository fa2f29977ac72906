"""`ironcell train detector` and `ironcell evaluate detector` (owned by the detector work)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import typer

from cell_control.cli.common import ConfigOpt, load_or_exit


def register_detector(train_app: typer.Typer, evaluate_app: typer.Typer) -> None:
    @train_app.command("detector")
    def train_detector_cmd(
        config: Path = typer.Option(Path("configs/train_detector.yaml"), "--config", help="training config YAML"),
        data: list[Path] | None = typer.Option(
            None, "--data", help="train on this simulate-xray data set instead of rendering one (repeatable)"
        ),
        out: Path | None = typer.Option(None, "--out", help="registry folder to write (default: out_dir in config)"),
        name: str | None = typer.Option(None, "--name", help="model name (detector-...)"),
        work_dir: Path | None = typer.Option(None, "--work-dir", help="data, crops and runs (default: config)"),
        train_images: int | None = typer.Option(None, "--train-images", help="override data.train_images"),
        val_images: int | None = typer.Option(None, "--val-images", help="override data.val_images"),
        train_seed: int | None = typer.Option(
            None, "--train-seed", help="override data.train_seed (fresh training images for a continued stage)"
        ),
        epochs: int | None = typer.Option(None, "--epochs", help="override train.epochs"),
        max_minutes: float | None = typer.Option(None, "--max-minutes", help="override train.max_minutes (0: none)"),
        imgsz: int | None = typer.Option(None, "--imgsz", help="override train.imgsz and data.crop_px"),
        device: str | None = typer.Option(None, "--device", help="override train.device (auto|cpu|0)"),
        lr0: float | None = typer.Option(None, "--lr0", help="override train.lr0 (a continued stage may go lower)"),
        from_weights: Path | None = typer.Option(
            None, "--from-weights", help="skip training: export these ultralytics weights (<run>/weights/*.pt)"
        ),
        init_weights: Path | None = typer.Option(
            None,
            "--init-weights",
            help="continue from an earlier run (<run>/weights/last.pt) or a registry model (its folder or model.onnx)",
        ),
        note: str = typer.Option("", "--note", help="free text stored in the model card"),
        reuse_data: bool = typer.Option(False, "--reuse-data", help="keep the crops already in the work dir"),
        json_out: bool = typer.Option(False, "--json", help="print the model card as JSON"),
    ) -> None:
        """Render simulated radiographs, train YOLO from its model YAML, export ONNX, write the registry folder."""
        import logging

        from cell_control.config import ConfigError, load_model
        from models.detector.config import TrainDetectorConfig
        from models.detector.train import publish, train_detector

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        try:
            cfg = load_model(TrainDetectorConfig, config)
            top: dict[str, object] = {}
            if out is not None:
                top["out_dir"] = out
            if name is not None:
                top["name"] = name
            if work_dir is not None:
                top["work_dir"] = work_dir
            data_upd: dict[str, object] = {
                k: v for k, v in {"train_images": train_images, "val_images": val_images}.items() if v
            }
            if train_seed is not None:
                data_upd["train_seed"] = train_seed
            train_upd: dict[str, object] = {}
            if epochs is not None:
                train_upd["epochs"] = epochs
            if max_minutes is not None:
                train_upd["max_minutes"] = max_minutes or None
            if device is not None:
                train_upd["device"] = device
            if lr0 is not None:
                train_upd["lr0"] = lr0
            if init_weights is not None:
                train_upd["init_weights"] = str(init_weights)
            if imgsz is not None:
                train_upd["imgsz"] = imgsz
                data_upd["crop_px"] = imgsz
            raw = cfg.model_dump()
            raw.update(top)
            raw["data"].update(data_upd)
            raw["train"].update(train_upd)
            cfg = TrainDetectorConfig.model_validate(raw)
        except (ConfigError, ValueError) as exc:
            typer.echo(f"config error:\n{exc}", err=True)
            raise typer.Exit(2) from exc
        for d in data or []:
            if not (d / "manifest.json").is_file():
                typer.echo(f"error: {d} is not a simulate-xray data set (no manifest.json)", err=True)
                raise typer.Exit(2)
        command = "ironcell " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        if from_weights is not None:
            if not from_weights.is_file():
                typer.echo(f"error: no weights file {from_weights}", err=True)
                raise typer.Exit(2)
            card = publish(from_weights, cfg, command, config_file=config, note=note)
        else:
            card = train_detector(
                cfg,
                command=command,
                config_file=config,
                external_data=list(data or []) or None,
                reuse_data=reuse_data,
                note=note,
            )
        if json_out:
            typer.echo(json.dumps(card, default=str, sort_keys=True))
        else:
            typer.echo(f"model: {cfg.out_dir}/model.onnx  sha256 {card['onnx_sha256']}")
            typer.echo(f"metrics: {json.dumps(card['metrics'])}  train {card['train_minutes']:.1f} min")

    @evaluate_app.command("detector")
    def evaluate_detector_cmd(
        data: Path = typer.Option(..., "--data", help="labelled data set (simulate-xray layout) or folder of them"),
        model: Path | None = typer.Option(None, "--model", help="registry folder (default: vision.detector_model)"),
        generate_heldout: int = typer.Option(
            0, "--generate-heldout", help="first render the held-out test set of N images into --data"
        ),
        generate_station: int = typer.Option(
            0, "--generate-station", help="first render N images of this cell's station (vision.xray_sim) into --data"
        ),
        generate_selection: int = typer.Option(
            0,
            "--generate-selection",
            help="first render N images of the training variants (--train-config) with unused seeds into --data",
        ),
        train_config: Path = typer.Option(
            Path("configs/train_detector.yaml"), "--train-config", help="training config for --generate-selection"
        ),
        record: str | None = typer.Option(None, "--record", help="store the figures in the model card under NAME"),
        limit: int | None = typer.Option(None, "--limit", help="at most this many images per data set"),
        sweep_thresholds: bool = typer.Option(
            False, "--sweep", help="also list part-level figures for other accept/reject confidence pairs"
        ),
        json_out: bool = typer.Option(False, "--json", help="print one JSON object"),
        config: Path | None = ConfigOpt,
    ) -> None:
        """AP@0.5 per class, recall by class and size band, part-level false rejects and escapes."""
        from models.detector.evaluate import collect, score, sweep
        from models.detector.registry import record_evaluation
        from vision.acceptance import load_rules_dir
        from vision.grading import Thresholds
        from vision.inspector import resolve_path

        cfg = load_or_exit(config)
        v = cfg.vision
        model_dir = resolve_path(model or v.detector_model)
        if generate_heldout:
            from models.detector.heldout import make_heldout

            make_heldout(data, count=generate_heldout)
        if generate_selection:
            from cell_control.config import ConfigError, load_model
            from models.detector.config import TrainDetectorConfig
            from models.detector.heldout import make_selection_set

            try:
                train_cfg = load_model(TrainDetectorConfig, train_config)
            except ConfigError as exc:
                typer.echo(f"config error:\n{exc}", err=True)
                raise typer.Exit(2) from exc
            make_selection_set(data, train_cfg.data, count=generate_selection)
        if generate_station:
            from models.detector.heldout import make_station_set

            make_station_set(data, v.xray_sim, count=generate_station)
        try:
            collected = collect(model_dir, data, v.tile_overlap, limit=limit)
        except FileNotFoundError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        rules = load_rules_dir(resolve_path(v.parts_dir))
        result = score(collected, rules, Thresholds(v.accept_confidence, v.reject_confidence))
        if sweep_thresholds:
            result["threshold_sweep"] = sweep(collected, rules)
        if record:
            command = "ironcell " + " ".join(shlex.quote(a) for a in sys.argv[1:])
            record_evaluation(model_dir if model_dir.is_dir() else model_dir.parent, record, command, result)
        if json_out:
            typer.echo(json.dumps(result, sort_keys=True))
        else:
            for k, val in result.items():
                typer.echo(f"{k:24s} {json.dumps(val) if isinstance(val, dict | list) else val}")
