"""A trainable ultralytics checkpoint rebuilt from a registry model's ONNX file, so that training can go on.

The registry keeps only `model.onnx`; its export keeps the module names (`model.3.conv.weight`), and each folded
convolution gets its batch norm back through `models.unfold_bn` (eval mode computes exactly the ONNX function).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def _onnx_weights(onnx_path: Path) -> dict[str, np.ndarray]:
    from models.unfold_bn import onnx_initializers

    graph, found = onnx_initializers(onnx_path)
    # The exporter's simplifier shares one tensor between equal initializers (an untrained head keeps equal
    # biases), so a bias is found through the convolution that uses it, under its weight's name.
    for node in graph.node:
        if node.op_type == "Conv" and len(node.input) == 3 and node.input[1].endswith(".weight"):
            bias_name = node.input[1][: -len("weight")] + "bias"
            if bias_name not in found and node.input[2] in found:
                found[bias_name] = found[node.input[2]]
    return found


def recover_model(onnx_path: Path, model_yaml: str, nc: int, calib: np.ndarray) -> Any:
    """ONNX file of this project's detector -> ultralytics DetectionModel (batch norms restored), eval mode.

    `calib`: (N, 3, H, W) float32 images in [0, 1] as the model sees them (a few dozen training crops).
    Raises ValueError when the ONNX file does not hold this architecture's weights.
    """
    import torch
    from ultralytics.nn.tasks import DetectionModel

    from models.unfold_bn import unfold_batchnorms

    weights = _onnx_weights(onnx_path)
    net = DetectionModel(model_yaml, ch=3, nc=nc, verbose=False)
    folded = {name: mod for name, mod in net.named_modules() if hasattr(mod, "bn") and hasattr(mod, "conv")}
    problems: list[str] = []

    def take(key: str, shape: torch.Size) -> torch.Tensor | None:
        w = weights.get(key)
        if w is None:
            problems.append(f"{key} missing")
            return None
        if tuple(w.shape) != tuple(shape):
            problems.append(f"{key} has shape {tuple(w.shape)}, the model wants {tuple(shape)}")
            return None
        return torch.from_numpy(w.astype(np.float32))

    layers: dict[str, tuple[Any, Any, Any, Any]] = {}
    for name, mod in folded.items():
        w = take(f"{name}.conv.weight", mod.conv.weight.shape)
        b = take(f"{name}.conv.bias", mod.bn.bias.shape)
        if w is not None and b is not None:
            layers[name] = (mod.conv, mod.bn, w, b)
    inside = {f"{name}.{p}" for name in folded for p in ("conv.weight", "bn.weight", "bn.bias")}
    with torch.no_grad():
        for pname, param in net.named_parameters():
            if pname in inside:
                continue
            w = take(pname, param.shape)
            if w is not None:
                param.copy_(w)
    if problems:
        raise ValueError(f"{onnx_path} does not fit {model_yaml} (nc={nc}): " + "; ".join(problems[:5]))

    def calibrate() -> None:
        net.eval()
        with torch.no_grad():
            net(torch.from_numpy(np.ascontiguousarray(calib, dtype=np.float32)))

    unfold_batchnorms(layers, calibrate)
    net.eval()
    return net


def write_checkpoint(net: Any, out_pt: Path, names: dict[int, str], source: Path) -> Path:
    """Save `net` as an ultralytics checkpoint that `YOLO(path)` (and so `train --init-weights`) loads."""
    import torch
    import ultralytics

    net.names = names
    out_pt.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {
        "epoch": -1,
        "best_fitness": None,
        "model": net.float(),
        "ema": None,
        "updates": None,
        "optimizer": None,
        "train_args": {"task": "detect"},
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "version": ultralytics.__version__,
        "recovered_from": str(source),
    }
    torch.save(ckpt, out_pt)
    return out_pt


def calibration_images(image_dir: Path, count: int = 48, size_px: int = 320, seed: int = 0) -> np.ndarray:
    """(N, 3, size, size) float32 in [0, 1] from the training crops (PNG, channels stored BGR as for ultralytics)."""
    import cv2

    files = sorted(image_dir.glob("*.png"))
    if not files:
        raise FileNotFoundError(f"no PNG crops in {image_dir} to calibrate the batch norms on")
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(files), size=min(count, len(files)), replace=False)
    out = []
    for i in sorted(pick):
        img = cv2.imread(str(files[i]), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"unreadable training crop {files[i]}")
        img = cv2.resize(img, (size_px, size_px), interpolation=cv2.INTER_AREA)[..., ::-1]
        out.append(img.transpose(2, 0, 1).astype(np.float32) / 255.0)
    return np.stack(out)


def checkpoint_from_registry(
    onnx_path: Path, model_yaml: str, names: dict[int, str], image_dir: Path, out_pt: Path
) -> Path:
    """Registry ONNX -> `out_pt` checkpoint, batch norms calibrated on the crops in `image_dir`."""
    calib = calibration_images(image_dir)
    net = recover_model(onnx_path, model_yaml, len(names), calib)
    log.info("recovered a trainable checkpoint from %s (%d calibration crops)", onnx_path, len(calib))
    return write_checkpoint(net, out_pt, names, onnx_path)
