"""The station set: radiographs of the cell's own X-ray station (vision.xray_sim), for `evaluate detector`."""

from __future__ import annotations

import json
from pathlib import Path

from models.detector.heldout import STATION_SEED, make_station_set
from vision.config import XraySimConfig


def test_station_set_is_rendered_with_the_cells_own_settings(tmp_path: Path) -> None:
    station = XraySimConfig(tube_kv=110, image_width_px=160, image_height_px=128, detector_seed=7, max_flaws=2)
    make_station_set(tmp_path, station, count=3, workers=1)
    manifest = json.loads((tmp_path / "station" / "manifest.json").read_text())
    params, summary = manifest["params"], manifest["summary"]
    assert (params["kv_min"], params["kv_max"], params["detector_seed"], params["max_flaws"]) == (110, 110, 7, 2)
    assert (summary["width"], summary["height"], summary["count"], summary["seed"]) == (160, 128, 3, STATION_SEED)
    assert len(list((tmp_path / "station" / "images").glob("*.png"))) == 3


def test_selection_set_renders_the_training_variants_with_unused_seeds(tmp_path: Path) -> None:
    from models.detector.config import DataConfig
    from models.detector.heldout import HELDOUT_SEED, SELECTION_SEED, make_selection_set

    small = {"width_px": 160, "height_px": 128}
    data = DataConfig(
        workers=1,
        variants=(
            {"name": "a", "share": 0.75, "params": small | {"detector_mode": "image_intensifier", "kv_min": 90}},
            {"name": "b", "share": 0.25, "params": small | {"detector_mode": "flat_panel"}},
        ),
    )
    make_selection_set(tmp_path, data, count=4)
    seen = {}
    for name, count in (("a", 3), ("b", 1)):
        manifest = json.loads((tmp_path / name / "manifest.json").read_text())
        assert manifest["summary"]["count"] == count and manifest["params"]["detector_mode"] == (
            "image_intensifier" if name == "a" else "flat_panel"
        )
        seen[name] = manifest["summary"]["seed"]
    assert seen == {"a": SELECTION_SEED, "b": SELECTION_SEED + 1000}
    # Seeds of training (train_seed/val_seed + 1000 k) and of the held-out and station sets stay clear of them.
    used = {data.train_seed + 1000 * k for k in range(2)} | {data.val_seed + 1000 * k for k in range(2)}
    assert not used & set(seen.values()) and SELECTION_SEED < HELDOUT_SEED < STATION_SEED
