"""`ironcell inspect` end to end through the CLI, with a tiny hand-made ONNX "detector" (fixed answer) so the
test is fast and knows exactly which box must come back, in the image's own pixels."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from cell_control.cli.main import app
from tests.integration.vision.onnx_fakes import fixed_answer_model


@pytest.fixture
def images(tmp_path: Path) -> Path:
    d = tmp_path / "imgs"
    d.mkdir()
    rng = np.random.default_rng(0)
    cv2.imwrite(str(d / "a_16bit.png"), rng.normal(30000, 800, (300, 400)).astype(np.uint16))
    cv2.imwrite(str(d / "b_8bit.tif"), rng.normal(120, 5, (256, 256)).astype(np.uint8))
    (d / "c_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (d / "d_empty.png").write_bytes(b"")
    return d


def test_inspect_json_schema_and_batch_goes_on(tmp_path: Path, images: Path, home: Path) -> None:
    model = tmp_path / "model"
    # a 10 px porosity box at (100, 80): 10 px * 0.2 mm / 1.25 = 1.6 mm
    fixed_answer_model(model, (100.0, 80.0, 10.0, 10.0), cls=0, score=0.9)
    ann = tmp_path / "ann"
    res = CliRunner().invoke(
        app, ["inspect", str(images), "--json", "--model", str(model), "--no-anomaly", "--annotate", str(ann)]
    )
    assert res.exit_code == 1, res.output  # two files failed, the batch still ran to the end
    lines = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert [Path(o["image"]).name for o in lines] == ["a_16bit.png", "b_8bit.tif", "c_broken.png", "d_empty.png"]
    for o in lines:
        assert set(o) >= {"image", "verdict", "defects", "anomaly_score", "latency_ms"}
        assert o["verdict"] in ("OK", "NOK", "REVIEW")
        assert isinstance(o["latency_ms"], float)
    good = lines[0]
    assert good["error"] is None
    (d,) = good["defects"]
    assert set(d) >= {"class", "score", "bbox_xyxy", "size_mm"}
    assert d["class"] == "porosity" and d["score"] == pytest.approx(0.9)
    assert d["bbox_xyxy"] == [95.0, 75.0, 105.0, 85.0]
    assert d["size_mm"] == pytest.approx(1.6)
    assert len(good["image_sha256"]) == 64
    assert lines[2]["verdict"] == "REVIEW" and "truncated" in lines[2]["error"]
    assert lines[3]["verdict"] == "REVIEW" and "empty" in lines[3]["error"]
    assert sorted(p.name for p in ann.iterdir()) == ["a_16bit_annotated.png", "b_8bit_annotated.png"]


def test_inspect_table_output(tmp_path: Path, images: Path, home: Path) -> None:
    model = tmp_path / "model"
    fixed_answer_model(model, (50.0, 50.0, 30.0, 4.0), cls=2, score=0.95)  # a crack: never allowed
    res = CliRunner().invoke(app, ["inspect", str(images / "a_16bit.png"), "--model", str(model), "--no-anomaly"])
    assert res.exit_code == 0, res.output
    row = res.stdout.splitlines()[1]
    assert "NOK" in row and "crack_not_allowed" in row


def test_inspect_missing_model_is_a_clear_error(tmp_path: Path, images: Path, home: Path) -> None:
    res = CliRunner().invoke(app, ["inspect", str(images), "--model", str(tmp_path / "nope")])
    assert res.exit_code == 2
    assert "detector model not found" in res.output
