from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.detector.data import crop_origins, cut, read_yolo_labels
from models.detector.evaluate import average_precision


def test_labels_round_trip_to_pixels(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("2 0.5 0.25 0.1 0.2\n")
    (row,) = read_yolo_labels(f, 200, 100)
    assert np.allclose(row, [2, 90, 15, 110, 35])
    assert read_yolo_labels(tmp_path / "missing.txt", 10, 10).shape == (0, 5)


def test_cut_clips_boxes_and_drops_mostly_hidden_ones() -> None:
    img = np.zeros((100, 100, 3), np.uint8)
    boxes = np.array([[0, 40, 40, 60, 60], [1, 90, 10, 110, 30], [3, 95, 50, 130, 70]], float)
    tile, lines = cut(img, boxes, 36, 0, 64, min_visible=0.45)
    assert tile.shape == (64, 64, 3)
    # box 0 whole; box 1 is 50 % inside the image and crop (kept, clipped); box 2 only 14 % visible: dropped
    assert [line.split()[0] for line in lines] == ["0", "1"]
    _, cx, _, w, _ = (float(v) for v in lines[1].split())
    assert np.isclose(w * 64, 10.0) and np.isclose(cx * 64, 95.0 - 36.0)  # clipped to the image edge at x = 100
    assert all(0.0 <= float(v) <= 1.0 for line in lines for v in line.split()[1:])


def test_crop_origins_stay_inside_and_favour_flaws() -> None:
    rng = np.random.default_rng(0)
    boxes = np.array([[0, 500, 300, 520, 320]], float)
    origins = crop_origins(572, 768, boxes, 320, 200, 1.0, rng)
    assert all(0 <= x <= 768 - 320 and 0 <= y <= 572 - 320 for x, y in origins)
    assert all(x <= 500 and x + 320 >= 520 for x, _ in origins)  # the flaw is in every flaw-centred crop


def test_average_precision_known_values() -> None:
    assert average_precision([0.9, 0.8], [True, True], 2) == 1.0
    assert average_precision([0.9, 0.8], [False, True], 1) == 0.5
    assert average_precision([], [], 3) == 0.0
    assert np.isnan(average_precision([0.5], [False], 0))


def test_model_yaml_resolves_repository_paths_and_refuses_missing_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from models.detector.train import model_yaml

    monkeypatch.chdir(tmp_path)  # a repository path resolves from the repository root, whatever the working folder
    resolved = Path(model_yaml("models/detector/yolo11-cell.yaml"))
    assert resolved.is_absolute() and resolved.is_file()
    assert model_yaml("yolo11n.yaml") == "yolo11n.yaml"  # one ultralytics ships, by name
    with pytest.raises(FileNotFoundError, match=r"models/detector/nope\.yaml"):
        model_yaml("models/detector/nope.yaml")


def test_size_and_contrast_bands_cover_every_value() -> None:
    from models.detector.evaluate import cnr_band, size_band

    assert [size_band(v) for v in (0.5, 1.0, 4.9, 11.0)] == ["0-1mm", "1-2mm", "2-5mm", ">=5mm"]
    assert [cnr_band(v) for v in (2.5, 4.0, 15.9, 999.0)] == ["cnr 0-4", "cnr 4-8", "cnr 8-16", "cnr >=16"]


def test_training_seeds_stay_clear_of_the_evaluation_seeds(repo_root: Path) -> None:
    from cell_control.config import load_model
    from models.detector.config import EVALUATION_SEEDS_FROM, TrainDetectorConfig
    from models.detector.heldout import HELDOUT_SEED, SELECTION_SEED, STATION_SEED

    assert min(SELECTION_SEED, HELDOUT_SEED, STATION_SEED) >= EVALUATION_SEEDS_FROM
    raw = load_model(TrainDetectorConfig, repo_root / "configs/train_detector.yaml").model_dump()
    top = EVALUATION_SEEDS_FROM - 1000 * (len(raw["data"]["variants"]) - 1) - 1
    raw["data"]["train_seed"] = top
    assert TrainDetectorConfig.model_validate(raw).data.train_seed == top
    raw["data"]["train_seed"] = top + 1
    with pytest.raises(ValueError, match=f"train_seed: .*use a base of at most {top}"):
        TrainDetectorConfig.model_validate(raw)
