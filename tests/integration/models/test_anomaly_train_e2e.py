"""A tiny anomaly training run end to end, offline: simulator data, Lightning fit, ONNX export, calibration,
model card, the runtime loading it, the evaluation and the CLI. Minutes of real training are in the slow run."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from models.anomaly.config import TrainAnomalyConfig
from models.anomaly.evaluate import evaluate_for_config
from models.anomaly.train import train_anomaly
from vision.anomaly import load_anomaly_scorer
from vision.roles import AnomalyScorer

TINY = {
    "seed": 3,
    "data": {"train_images": 3, "val_images": 1, "width_px": 192, "height_px": 160},
    "model": {"width": 8},
    "train": {"patch_px": 64, "batch_size": 4, "patches_per_epoch": 8, "val_patches": 4, "max_epochs": 1},
    "calibration": {"images": 10},
    "evaluation": {"normal_images": 3, "anomalous_images": 3},
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainAnomalyConfig, dict]:
    root = tmp_path_factory.mktemp("anomaly")
    cfg = TrainAnomalyConfig.model_validate(TINY | {"out_dir": str(root / "out"), "work_dir": str(root / "work")})

    def evaluate(model_dir: Path) -> dict:
        return evaluate_for_config(model_dir, cfg)

    card = train_anomaly(cfg, "pytest tiny run", evaluate=evaluate)
    return cfg, card


def test_tiny_run_writes_model_card_checkpoints_and_logs(trained: tuple[TrainAnomalyConfig, dict]) -> None:
    cfg, card = trained
    out = Path(cfg.out_dir)
    model = out / "model.onnx"
    assert model.is_file() and (out / "model_card.md").is_file()
    on_disk = json.loads((out / "model_card.json").read_text())
    assert on_disk["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert on_disk["command"] == "pytest tiny run" and on_disk["seed"] == 3
    assert on_disk["false_alarm_rate"] == 0.01
    assert len(on_disk["calibration"]["flaw_free_scores"]) == 10
    # 10 calibration parts at 1 %: no flaw-free calibration part may alarm.
    assert max(on_disk["calibration"]["flaw_free_scores"]) < on_disk["threshold"]
    for key in ("image_auroc", "pixel_auroc"):
        assert 0.0 <= on_disk["metrics"][key] <= 1.0
    assert list(Path(cfg.work_dir, "checkpoints").glob("*.ckpt"))
    assert list(Path(cfg.work_dir, "logs").rglob("metrics.csv"))
    assert card["version"] == on_disk["version"]


def test_exported_model_loads_in_the_runtime_and_scores(trained: tuple[TrainAnomalyConfig, dict]) -> None:
    cfg, card = trained
    scorer = load_anomaly_scorer(Path(cfg.out_dir))
    assert scorer is not None and isinstance(scorer, AnomalyScorer)
    assert scorer.version == card["version"] and scorer.threshold == pytest.approx(card["threshold"])
    img = np.random.default_rng(0).uniform(0.2, 0.8, (203, 250)).astype(np.float32)
    out = scorer.score(img)
    assert out.anomaly_map.shape == img.shape and np.isfinite(out.anomaly_map).all()
    assert 0.0 <= out.image_score <= 1.0
    # Same image, same score: the runtime is deterministic.
    assert scorer.score(img).image_score == out.image_score


def test_cli_evaluate_anomaly_prints_the_agreed_json_keys(trained: tuple[TrainAnomalyConfig, dict]) -> None:
    from cell_control.cli.main import app

    cfg, _ = trained
    res = CliRunner().invoke(app, ["evaluate", "anomaly", "--model", str(cfg.out_dir), "--count", "2", "--json"])
    assert res.exit_code == 0, res.output
    result = json.loads(res.output.strip().splitlines()[-1])
    assert {"image_auroc", "pixel_auroc"} <= result.keys()
    assert result["normal_images"] == 2 and result["anomalous_images"] == 2


def test_cli_evaluate_anomaly_cell_inspects_each_part_with_the_cells_detector(
    trained: tuple[TrainAnomalyConfig, dict],
) -> None:
    from cell_control.cli.main import app

    cfg, _ = trained
    args = ["evaluate", "anomaly", "--model", str(cfg.out_dir), "--count", "2", "--cell", "--json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    result = json.loads(res.output.strip().splitlines()[-1])
    for key in ("cell_verdicts_flaw_free", "cell_verdicts_anomalous"):
        assert set(result[key]) == {"OK", "NOK", "REVIEW"} and sum(result[key].values()) == pytest.approx(1.0)
    assert 0.0 <= result["cell_escape_rate_anomalous"] <= 1.0
    bad = CliRunner().invoke(app, [*args, "--cell-config", "no/such/cell.yaml"])
    assert bad.exit_code == 2 and "config error" in bad.output


def test_cli_evaluate_anomaly_reads_a_simulated_folder_with_its_geometry(
    trained: tuple[TrainAnomalyConfig, dict], tmp_path: Path
) -> None:
    from cell_control.cli.main import app

    cfg, _ = trained
    data = tmp_path / "anom"
    sim = ["simulate-xray", "--out", str(data), "--count", "6", "--seed", "5", "--width", "192", "--height", "160"]
    sim += ["--flaw-mix", "none", "--anomaly-kinds", "foreign_object,cold_shut", "--flaw-free-share", "0.5"]
    made = CliRunner().invoke(app, [*sim, "--workers", "1"])
    assert made.exit_code == 0, made.output
    args = ["evaluate", "anomaly", "--model", str(cfg.out_dir), "--data", str(data), "--cell", "--json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    result = json.loads(res.output.strip().splitlines()[-1])
    assert result["data"] == str(data) and result["normal_images"] + result["anomalous_images"] == 6
    assert sum(result["cell_verdicts_anomalous"].values()) == pytest.approx(1.0)


def test_cli_refuses_a_bad_training_config(tmp_path: Path) -> None:
    from cell_control.cli.main import app

    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  patch_px: 100\n")
    res = CliRunner().invoke(app, ["train", "anomaly", "--config", str(bad)])
    assert res.exit_code == 2
    assert "patch_px" in res.output and "multiple of 16" in res.output


def test_skip_fit_exports_a_checkpoint_with_its_history(
    trained: tuple[TrainAnomalyConfig, dict], tmp_path: Path
) -> None:
    cfg, _ = trained
    ckpt = next(Path(cfg.work_dir, "checkpoints").glob("anomaly-*.ckpt"))
    again = cfg.model_copy(update={"out_dir": tmp_path / "again", "init_checkpoint": ckpt})
    card = train_anomaly(again, "pytest skip-fit", skip_fit=True)
    assert card["training"]["fit"].startswith("skipped")
    assert card["training"]["previous_stage"]["command"] == "pytest tiny run"
    scorer = load_anomaly_scorer(tmp_path / "again")
    assert scorer is not None and scorer.threshold == pytest.approx(card["threshold"])
    with pytest.raises(ValueError, match="init_checkpoint"):
        train_anomaly(cfg.model_copy(update={"init_checkpoint": None}), "x", skip_fit=True)


def test_recalibration_keeps_weights_and_history_and_sets_a_new_rule(
    trained: tuple[TrainAnomalyConfig, dict], tmp_path: Path
) -> None:
    import shutil

    from models.anomaly.train import recalibrate
    from vision.anomaly import calibrate_threshold

    cfg, first = trained
    shutil.copytree(cfg.out_dir, tmp_path / "model")
    wider = cfg.calibration.model_copy(update={"ignore_border_px": 48, "false_alarm_rate": 0.2})
    again = cfg.model_copy(update={"out_dir": tmp_path / "model", "calibration": wider})
    card = recalibrate(again, "pytest recalibrate", evaluate=lambda d: evaluate_for_config(d, again), note="why")
    assert card["sha256"] == first["sha256"] and card["training"] == first["training"]
    assert card["ignore_border_px"] == 48 and card["false_alarm_rate"] == 0.2
    scores = card["calibration"]["flaw_free_scores"]
    assert len(scores) == 10 and card["threshold"] == pytest.approx(calibrate_threshold(scores, 0.2))
    assert card["recalibrations"][-1]["command"] == "pytest recalibrate"
    assert card["recalibrations"][-1]["note"] == "why"
    assert card["recalibrations"][-1]["before"]["threshold"] == pytest.approx(first["threshold"])
    assert "image_auroc" in card["metrics"]
    scorer = load_anomaly_scorer(tmp_path / "model")
    assert scorer is not None and scorer.ignore_border_px == 48 and scorer.threshold == pytest.approx(card["threshold"])
    with pytest.raises(FileNotFoundError, match="no anomaly model"):
        recalibrate(cfg.model_copy(update={"out_dir": tmp_path / "none"}), "x")


def test_a_run_continues_from_a_registry_model(trained: tuple[TrainAnomalyConfig, dict], tmp_path: Path) -> None:
    """The registry keeps only the ONNX file: `init_checkpoint` may name the folder, and the run starts from it."""
    cfg, first = trained
    again = cfg.model_copy(
        update={"out_dir": tmp_path / "next", "work_dir": tmp_path / "work", "init_checkpoint": Path(cfg.out_dir)}
    )
    card = train_anomaly(again, "pytest continued")
    assert (tmp_path / "work" / "recovered" / "init.ckpt").is_file()
    assert card["training"]["init_checkpoint"] == str(cfg.out_dir)
    assert card["sha256"] != first["sha256"]  # one more epoch moved the weights
    assert load_anomaly_scorer(tmp_path / "next") is not None
