"""A tiny offline training run through the whole detector pipeline: simulated data -> crops -> YOLO from its
model YAML -> ONNX -> registry card -> run-time detector -> evaluation. One epoch on a handful of images; the
model learns nothing useful, the point is that every stage runs offline and the stages agree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from models.detector.config import TrainDetectorConfig

pytestmark = pytest.mark.filterwarnings("ignore")


def tiny_config(tmp: Path) -> TrainDetectorConfig:
    return TrainDetectorConfig.model_validate(
        {
            "name": "detector-tiny",
            "out_dir": str(tmp / "registry" / "detector-tiny"),
            "work_dir": str(tmp / "work"),
            "data": {
                "train_images": 8,
                "val_images": 3,
                "crop_px": 96,
                "crops_per_image": 2,
                "workers": 1,
                "variants": [
                    {
                        "name": "ii",
                        "share": 0.5,
                        "params": {"detector_mode": "image_intensifier", "width_px": 200, "height_px": 160},
                    },
                    {
                        "name": "fp",
                        "share": 0.5,
                        "params": {"detector_mode": "flat_panel", "width_px": 160, "height_px": 200},
                    },
                ],
            },
            "train": {"model": "models/detector/yolo11-cell.yaml",
                      "imgsz": 96, "epochs": 1, "max_minutes": None, "batch": 4, "workers": 0, "device": "cpu",
                      "threads": 1, "mosaic": 0.0, "close_mosaic": 0},
            "export": {"max_tile_px": 128},
        }
    )  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from models.detector.train import train_detector

    tmp = tmp_path_factory.mktemp("det")
    cfg = tiny_config(tmp)
    card = train_detector(cfg, command="pytest tiny run")
    return {"cfg": cfg, "card": card, "tmp": tmp}


def test_registry_folder_is_complete(trained: dict[str, Any]) -> None:
    from vision.detector_onnx import file_sha256

    out = trained["cfg"].out_dir
    card = json.loads((out / "model_card.json").read_text())
    assert card["onnx_sha256"] == file_sha256(out / "model.onnx")
    assert card["class_names"] == ["porosity", "shrinkage", "crack", "inclusion"]
    assert card["command"] == "pytest tiny run" and card["seed"] == 0
    assert card["ultralytics_version"] and card["torch_version"]
    assert card["data"]["train_crops"] == 16 and card["data"]["val_crops"] == 8  # round(0.5 * 3) = 2 images per variant
    md = (out / "model_card.md").read_text()
    assert card["onnx_sha256"] in md and "pytest tiny run" in md


def test_training_crops_carry_clipped_labels(trained: dict[str, Any]) -> None:
    root = trained["cfg"].work_dir / "yolo" / "train"
    images = sorted((root / "images").glob("*.png"))
    assert len(images) == 16
    img = cv2.imread(str(images[0]), cv2.IMREAD_UNCHANGED)
    assert img.shape == (96, 96, 3) and img.dtype == np.uint8
    for lab in (root / "labels").glob("*.txt"):
        for line in lab.read_text().splitlines():
            c, *xywh = line.split()
            assert 0 <= int(c) < 4
            cx, cy, w, h = map(float, xywh)
            assert min(cx - w / 2, cy - h / 2) >= -1e-6
            assert max(cx + w / 2, cy + h / 2) <= 1 + 1e-6


def test_onnx_runtime_and_ultralytics_give_the_same_boxes(trained: dict[str, Any]) -> None:
    """The same crop through ultralytics (PyTorch weights) and through our ONNX Runtime decode."""
    from ultralytics import YOLO

    from vision.detector_onnx import OnnxYoloDetector

    run_dir = Path(trained["card"]["run_dir"])
    weights = run_dir / "weights" / "best.pt"
    crop = sorted((trained["cfg"].work_dir / "yolo" / "val" / "images").glob("*.png"))[0]
    bgr = cv2.imread(str(crop), cv2.IMREAD_COLOR)
    conf = 0.001
    res = YOLO(str(weights)).predict(str(crop), imgsz=96, conf=conf, iou=0.5, device="cpu", verbose=False)[0]
    ul = sorted(
        zip(
            res.boxes.conf.numpy().tolist(),
            res.boxes.xyxy.numpy().tolist(),
            res.boxes.cls.numpy().tolist(),
            strict=True,
        ),
        key=lambda t: -t[0],
    )[:10]
    det = OnnxYoloDetector(trained["cfg"].out_dir, conf_threshold=conf, iou_threshold=0.5)
    ours = sorted(det.run_tile(bgr[..., ::-1].astype(np.float32) / 255.0), key=lambda d: -d.score)[:10]
    assert ul, "the model gave no box at all even at conf 0.001"
    assert len(ours) == len(ul)
    for (s, box, c), d in zip(ul, ours, strict=True):
        assert d.score == pytest.approx(s, abs=2e-3)
        assert int(c) == d.flaw_class.class_index
        assert np.allclose(d.bbox_xyxy_px, box, atol=1.0)


def test_evaluate_runs_on_the_validation_images(trained: dict[str, Any], repo_root: Path) -> None:
    from models.detector.evaluate import evaluate_detector

    sims = trained["cfg"].work_dir / "sim"
    res = evaluate_detector(trained["cfg"].out_dir, sims / "val_ii", repo_root / "configs" / "parts")
    assert res["images"] == 2
    assert set(res["ap50_per_class"]) == {"porosity", "shrinkage", "crack", "inclusion"}
    for key in ("false_reject_rate", "escape_rate", "recall_per_size_band", "recall_per_cnr_band", "map50"):
        assert key in res


def _conv_weight_gap(a: str, b: str) -> float:
    """Largest difference between the convolution kernels of two ultralytics checkpoints (biases and batch-norm
    statistics move during warm-up whatever the learning rate)."""
    import torch

    sa, sb = (torch.load(p, map_location="cpu", weights_only=False)["model"].float().state_dict() for p in (a, b))
    keys = [k for k, v in sa.items() if k.endswith("conv.weight") and v.ndim == 4]
    assert keys
    return max(float((sa[k] - sb[k]).abs().max()) for k in keys)


def _onnx_conv_gap(onnx_file: Path, pt: str) -> float:
    """Largest difference between the folded convolutions of an ONNX file and a checkpoint's convolutions, relative
    to each tensor's largest weight (ultralytics stores checkpoints in float16)."""
    import onnx
    import torch
    from onnx import numpy_helper

    folded = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(onnx_file)).graph.initializer}
    state = torch.load(pt, map_location="cpu", weights_only=False)["model"].float().state_dict()
    keys = [k for k in state if k.endswith(".conv.weight") and k in folded]
    assert len(keys) > 20
    return max(float(np.abs(state[k].numpy() - folded[k]).max() / np.abs(folded[k]).max()) for k in keys)


def test_training_continues_from_an_earlier_run_and_the_card_names_it(trained: dict[str, Any]) -> None:
    from models.detector.train import train_detector

    first = trained["card"]
    cfg = trained["cfg"]
    raw = cfg.model_dump()
    raw["name"] = "detector-tiny-continued"
    raw["out_dir"] = str(trained["tmp"] / "registry" / "detector-tiny-continued")
    raw["train"]["init_weights"] = first["weights"]
    raw["train"]["lr0"] = 1e-12  # the continued weights stay where they started: the earlier run's
    card = train_detector(
        type(cfg).model_validate(raw), command="pytest continued run", reuse_data=True, note="stage 2"
    )
    assert card["continued_from"]["weights"] == first["weights"]
    assert _conv_weight_gap(first["weights"], card["weights"]) < 1e-7
    assert card["continued_from"]["command"] == "pytest tiny run"
    assert card["note"] == "stage 2"
    md = (Path(raw["out_dir"]) / "model_card.md").read_text()
    assert "Continued from" in md and "pytest tiny run" in md
    # A registry model (only its ONNX file is kept) continues too: rebuilt with its batch norms restored.
    registry = Path(cfg.out_dir)
    raw["name"] = "detector-tiny-from-registry"
    raw["out_dir"] = str(trained["tmp"] / "registry" / "detector-tiny-from-registry")
    raw["train"]["init_weights"] = str(registry)
    card = train_detector(type(cfg).model_validate(raw), command="pytest registry run", reuse_data=True)
    assert card["continued_from"]["weights"] == str(registry)
    assert card["continued_from"]["command"] == "pytest tiny run"
    assert _onnx_conv_gap(registry / "model.onnx", card["weights"]) < 2e-3  # float16 rounding, no more
    raw["train"]["init_weights"] = str(trained["tmp"] / "missing.pt")
    with pytest.raises(FileNotFoundError, match=r"missing\.pt"):
        train_detector(type(cfg).model_validate(raw), command="pytest", reuse_data=True)


def test_exporting_a_finished_run_again_keeps_its_training_facts(trained: dict[str, Any]) -> None:
    from models.detector.train import publish

    first = trained["card"]
    run_weights = Path(first["weights"]).parent
    cfg = trained["cfg"].model_copy(update={"out_dir": trained["tmp"] / "registry" / "detector-tiny-export"})
    card = publish(run_weights / "last.pt", cfg, command="pytest export")
    assert card["command"] == first["command"] == "pytest tiny run"
    assert card["train_minutes"] == first["train_minutes"] and card["exported_by"] == "pytest export"
    assert card["weights"].endswith("last.pt")
    md = (cfg.out_dir / "model_card.md").read_text()
    assert "pytest export" in md and "last.pt" in md
