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
