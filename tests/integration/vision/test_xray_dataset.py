"""Data-set writer and `ironcell simulate-xray`: YOLO layout, masks, manifest, card, byte-exact determinism."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import typer
import yaml
from typer.testing import CliRunner

from cell_control.cli.main import app
from vision.types import DetectorMode, FlawClass
from vision.xray import XraySimParams, write_dataset

PARAMS = XraySimParams(width_px=256, height_px=192, flaw_free_share=0.2)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _without_path(files: dict[str, bytes]) -> dict[str, bytes]:
    """data.yaml names its own absolute folder; everything else must match byte for byte."""
    return {k: v for k, v in files.items() if k != "data.yaml"}


def test_same_seed_same_bytes_other_seed_differs_and_workers_do_not_matter(tmp_path: Path) -> None:
    a = write_dataset(tmp_path / "a", 6, seed=11, params=PARAMS, workers=1)
    write_dataset(tmp_path / "b", 6, seed=11, params=PARAMS, workers=2)
    write_dataset(tmp_path / "c", 6, seed=12, params=PARAMS, workers=1)
    fa, fb, fc = (_files(tmp_path / n) for n in "abc")
    assert _without_path(fa) == _without_path(fb)
    assert len(fa) == 3 * 6 + 3  # image, label, mask per image + manifest, card, data.yaml
    differing = [k for k in fa if k.startswith("images/") and fa[k] != fc.get(k)]
    assert len(differing) == 6
    assert a["count"] == 6 and a["seed"] == 11


def test_yolo_layout_labels_masks_and_manifest_agree(tmp_path: Path) -> None:
    params = PARAMS.model_copy(update={"flaw_free_share": 0.0})
    out = tmp_path / "ds"
    write_dataset(out, 8, seed=3, params=params, anomaly_kinds=("foreign_object", "cold_shut"))
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert Path(data["path"]).is_absolute() and data["train"] == "images" and data["val"] == "images"
    assert data["names"] == {c.class_index: c.value for c in FlawClass}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["params"]["anomaly_kinds"] == ["foreign_object", "cold_shut"]
    seen_anomaly = False
    for entry in manifest["images"]:
        img = cv2.imread(str(out / entry["file"]), cv2.IMREAD_UNCHANGED)
        mask = cv2.imread(str(out / entry["mask"]), cv2.IMREAD_UNCHANGED)
        assert img is not None and mask is not None
        assert img.shape == mask.shape == (192, 256) and img.dtype == np.uint8 and mask.dtype == np.uint16
        lines = (out / entry["label"]).read_text().splitlines()
        labelled = [f for f in entry["flaws"] if not f["anomaly_only"]]
        assert len(lines) == len(labelled)
        for line, f in zip(lines, labelled, strict=True):
            cls, cx, cy, w, h = line.split()
            assert int(cls) == FlawClass(f["class"]).class_index
            x0, _, x1, _ = f["bbox_xyxy_px"]
            assert abs(float(cx) * 256 - (x0 + x1) / 2) < 0.01 and abs(float(w) * 256 - (x1 - x0)) < 0.01
            assert 0 <= float(cy) <= 1 and 0 < float(h) <= 1
        for f in entry["flaws"]:
            ys, xs = np.nonzero(mask == f["instance_id"])
            assert len(xs) > 0, "every manifest flaw has mask pixels (anomaly-only kinds included)"
            assert [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] == f["bbox_xyxy_px"]
            seen_anomaly |= f["anomaly_only"]
    assert seen_anomaly
    card = (out / "DATASET_CARD.md").read_text()
    assert "Seed 3" in card and "size band" in card


def test_flat_panel_images_are_16_bit_png(tmp_path: Path) -> None:
    params = PARAMS.model_copy(update={"detector_mode": DetectorMode.FLAT_PANEL})
    write_dataset(tmp_path / "fp", 2, seed=1, params=params)
    img = cv2.imread(str(tmp_path / "fp" / "images" / "000000.png"), cv2.IMREAD_UNCHANGED)
    assert img is not None
    assert img.dtype == np.uint16 and int(img.max()) > 255


def test_cli_writes_data_set_and_rejects_bad_parameters(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "cli"
    args = ["simulate-xray", "--out", str(out), "--count", "3", "--seed", "4", "--width", "200", "--height", "150"]
    res = runner.invoke(app, [*args, "--family", "wheel", "--flaw-mix", "porosity=1", "--kv", "70-120"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output.strip().splitlines()[-1])
    assert summary["count"] == 3 and set(summary["images_per_family"]) == {"wheel"}
    assert set(summary["instances_per_class"]) <= {"porosity"}
    # Without --min-cnr/--min-snr the CLI labels by the simulator's own rule, the one training data uses.
    defaults = XraySimParams()
    assert (summary["min_cnr"], summary["min_snr"]) == (defaults.min_cnr, defaults.min_snr)
    command = typer.main.get_command(app).commands["simulate-xray"]  # type: ignore[attr-defined]
    helps = {p.name: p.help or "" for p in command.params}
    assert f"(default {defaults.min_cnr:g})" in helps["min_cnr"]
    assert f"(default {defaults.min_snr:g})" in helps["min_snr"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert all(70 <= e["kv"] <= 120 for e in manifest["images"])
    bad = runner.invoke(app, [*args, "--kv", "150-60"])
    assert bad.exit_code == 2 and "kv_min" in bad.output
    bad = runner.invoke(app, [*args, "--anomaly-kinds", "ufo"])
    assert bad.exit_code == 2 and "unknown anomaly kind" in bad.output
    bad = runner.invoke(app, [*args, "--flaw-mix", "blowhole=1"])
    assert bad.exit_code == 2 and "unknown flaw class" in bad.output


def test_rewriting_a_folder_leaves_no_stale_images(tmp_path: Path) -> None:
    write_dataset(tmp_path / "d", 5, seed=1, params=PARAMS, workers=1)
    write_dataset(tmp_path / "d", 2, seed=1, params=PARAMS, workers=1)
    assert sorted(p.name for p in (tmp_path / "d" / "images").iterdir()) == ["000000.png", "000001.png"]
    assert len(list((tmp_path / "d" / "labels").iterdir())) == 2
