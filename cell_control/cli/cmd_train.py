"""`ironcell train ...` and `ironcell evaluate ...` (owned by the detector and anomaly work)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import typer

from cell_control.cli.common import load_or_exit


def register(train_app: typer.Typer, evaluate_app: typer.Typer) -> None:
    from cell_control.cli.cmd_train_detector import register_detector

    register_detector(train_app, evaluate_app)
    _register_anomaly(train_app, evaluate_app)


# --- anomaly model (owned by the anomaly work) ---------------------------------------------------------------


def _register_anomaly(train_app: typer.Typer, evaluate_app: typer.Typer) -> None:
    @train_app.command("anomaly")
    def train_anomaly_cmd(
        config: Path = typer.Option(Path("configs/train_anomaly.yaml"), "--config", "-c", help="training config YAML"),
        out: Path | None = typer.Option(None, "--out", help="registry folder to write (default: out_dir in config)"),
        max_minutes: float | None = typer.Option(None, "--max-minutes", help="cap on training time"),
        init_checkpoint: Path | None = typer.Option(
            None,
            "--init-checkpoint",
            help="start from these weights: a run's checkpoint, or a registry model (folder or model.onnx)",
        ),
        skip_fit: bool = typer.Option(
            False, "--skip-fit", help="with --init-checkpoint: only export, calibrate, evaluate and write the card"
        ),
        recalibrate: bool = typer.Option(
            False, "--recalibrate", help="keep the weights: set the scoring rule and threshold anew, evaluate"
        ),
        note: str | None = typer.Option(None, "--note", help="with --recalibrate: why, kept in the card's row"),
        json_out: bool = typer.Option(False, "--json", help="print the model card as JSON"),
    ) -> None:
        """Train the anomaly model on flaw-free simulated parts, export ONNX, calibrate, evaluate, write the card."""
        import logging

        from cell_control.config import ConfigError, load_model
        from models.anomaly.config import TrainAnomalyConfig
        from models.anomaly.evaluate import evaluate_for_config
        from models.anomaly.train import recalibrate as recalibrate_model
        from models.anomaly.train import train_anomaly

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        try:
            cfg = load_model(TrainAnomalyConfig, config)
        except ConfigError as exc:
            typer.echo(f"config error:\n{exc}", err=True)
            raise typer.Exit(2) from exc
        updates: dict[str, object] = {}
        if out is not None:
            updates["out_dir"] = out
        if max_minutes is not None:
            updates["train"] = cfg.train.model_copy(update={"max_minutes": max_minutes})
        if init_checkpoint is not None:
            updates["init_checkpoint"] = init_checkpoint
        cfg = cfg.model_copy(update=updates)

        def evaluate(model_dir: Path) -> dict[str, object]:
            return evaluate_for_config(model_dir, cfg)

        command = "ironcell " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        if skip_fit and cfg.init_checkpoint is None:
            typer.echo("error: --skip-fit needs --init-checkpoint", err=True)
            raise typer.Exit(2)
        if skip_fit and cfg.init_checkpoint is not None and not Path(cfg.init_checkpoint).is_file():
            typer.echo(
                f"error: --skip-fit needs a checkpoint file, not {cfg.init_checkpoint} (a registry model: "
                "use --recalibrate)",
                err=True,
            )
            raise typer.Exit(2)
        if recalibrate:
            try:
                card = recalibrate_model(cfg, command, evaluate=evaluate, note=note)
            except FileNotFoundError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(2) from exc
        else:
            card = train_anomaly(cfg, command, evaluate=evaluate, skip_fit=skip_fit)
        if json_out:
            typer.echo(json.dumps({k: v for k, v in card.items() if k != "calibration"}, indent=2))
        else:
            typer.echo(f"wrote {cfg.out_dir} ({card['version']}), threshold {card['threshold']:.5f}")
            for k, v in card["metrics"].items():
                typer.echo(f"{k:36s} {v}")

    @evaluate_app.command("anomaly")
    def evaluate_anomaly_cmd(
        data: Path | None = typer.Option(
            None, "--data", help="held-out set written by `ironcell simulate-xray --anomaly-kinds ...`"
        ),
        model: Path = typer.Option(Path("models/registry/anomaly-default"), "--model", help="anomaly model folder"),
        config: Path = typer.Option(Path("configs/train_anomaly.yaml"), "--config", "-c", help="training config YAML"),
        count: int | None = typer.Option(None, "--count", help="images per class when simulating (default: config)"),
        cell: bool = typer.Option(
            False, "--cell", help="also inspect each part whole (detector + this model + rules): the cell's verdicts"
        ),
        cell_config: Path | None = typer.Option(
            None, "--cell-config", help="cell config YAML for --cell (default configs/cell.yaml)"
        ),
        json_out: bool = typer.Option(False, "--json", help="print one JSON object"),
    ) -> None:
        """Image and pixel AUROC on held-out parts with flaws no detector class describes."""
        from cell_control.config import ConfigError, load_model
        from models.anomaly.config import TrainAnomalyConfig
        from models.anomaly.evaluate import evaluate_for_config

        try:
            cfg = load_model(TrainAnomalyConfig, config) if config.exists() else TrainAnomalyConfig()
        except ConfigError as exc:
            typer.echo(f"config error:\n{exc}", err=True)
            raise typer.Exit(2) from exc
        vision_cfg = load_or_exit(cell_config).vision if cell else None
        try:
            result = evaluate_for_config(model, cfg, count=count, data_dir=data, cell=vision_cfg)
        except (FileNotFoundError, ValueError, RuntimeError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
        if json_out:
            typer.echo(json.dumps(result, sort_keys=True))
        else:
            for k, v in result.items():
                typer.echo(f"{k:36s} {v}")
