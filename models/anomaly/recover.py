"""A trainable checkpoint rebuilt from a registry anomaly model's ONNX file (`--init-checkpoint` of a registry model).

The registry keeps only `model.onnx`. Its convolutions are those of `AnomalySegNet` in the order the forward pass
runs them (the exporter names the folded weights anonymously, so order and shape are what tie them to modules);
each one that had a batch norm gets it back through `models.unfold_bn`, calibrated on the features of a few
flaw-free radiographs, so the rebuilt net computes what the ONNX file does and a continued run starts from it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.anomaly.data import FlawFreeImage

log = logging.getLogger(__name__)


def _conv_batchnorms(net: Any) -> dict[Any, Any]:
    """Each convolution of the net that is followed by a batch norm -> that batch norm."""
    from models.anomaly.net import _Down, _DSBlock

    pairs = {net.stem[0]: net.stem[1]}
    for mod in net.modules():
        if isinstance(mod, _DSBlock):
            pairs[mod.dw], pairs[mod.pw] = mod.bn1, mod.bn2
        elif isinstance(mod, _Down):
            pairs[mod.pw] = mod.bn
    return pairs


def calibration_batch(images: Sequence[FlawFreeImage], side_px: int = 256) -> np.ndarray:
    """(N, C, S, S) net inputs: features of the top-left part of each flaw-free image at half resolution, S the
    largest multiple of 32 up to `side_px` that every image holds."""
    from vision.anomaly import anomaly_features, downscale

    if not images:
        raise ValueError("recovering the batch norms needs at least one flaw-free calibration image")
    feats = []
    for im in images:
        h, w = im.image01.shape
        feats.append(anomaly_features(downscale(np.ascontiguousarray(im.image01[: h - h % 2, : w - w % 2]))))
    side = min(side_px, *(min(f.shape[1:]) for f in feats)) // 32 * 32
    if side < 32:
        raise ValueError("calibration images must be at least 64 px on each side")
    return np.stack([f[:, :side, :side] for f in feats]).astype(np.float32)


def recover_net(onnx_path: Path, width: int, calib: np.ndarray) -> Any:
    """ONNX file of this project's anomaly model -> `AnomalySegNet` (batch norms restored), eval mode.

    Raises ValueError when the file does not hold an `AnomalySegNet(width)`.
    """
    import torch

    from models.anomaly.net import AnomalySegNet
    from models.unfold_bn import onnx_initializers, unfold_batchnorms

    graph, weights = onnx_initializers(onnx_path)
    onnx_convs = [n for n in graph.node if n.op_type == "Conv"]
    net = AnomalySegNet(width).eval()
    order: list[Any] = []
    hooks = [
        m.register_forward_hook(lambda mod, _i, _o: order.append(mod))
        for m in net.modules()
        if isinstance(m, torch.nn.Conv2d)
    ]
    with torch.no_grad():
        net(torch.zeros(1, calib.shape[1], 32, 32))
    for h in hooks:
        h.remove()
    if len(order) != len(onnx_convs):
        raise ValueError(
            f"{onnx_path} has {len(onnx_convs)} convolutions, AnomalySegNet(width={width}) runs {len(order)}"
        )
    bns = _conv_batchnorms(net)
    folded: dict[str, tuple[Any, Any, Any, Any]] = {}
    with torch.no_grad():
        for i, (conv, node) in enumerate(zip(order, onnx_convs, strict=True)):
            w = weights.get(node.input[1])
            if w is None or tuple(w.shape) != tuple(conv.weight.shape):
                got = None if w is None else tuple(w.shape)
                raise ValueError(
                    f"{onnx_path}: convolution {i} ({node.name}) has weight {got}, the net wants "
                    f"{tuple(conv.weight.shape)} (width {width}?)"
                )
            wt = torch.from_numpy(w.astype(np.float32))
            b = weights.get(node.input[2]) if len(node.input) > 2 else None
            bt = None if b is None else torch.from_numpy(b.astype(np.float32))
            if conv in bns:
                bn = bns[conv]
                folded[f"conv{i}"] = (conv, bn, wt, bt if bt is not None else torch.zeros(bn.num_features))
            else:
                conv.weight.copy_(wt)
                if conv.bias is not None:
                    if bt is None:
                        raise ValueError(f"{onnx_path}: convolution {i} ({node.name}) lacks the bias the net has")
                    conv.bias.copy_(bt)

    def calibrate() -> None:
        with torch.no_grad():
            net(torch.from_numpy(calib))

    unfold_batchnorms(folded, calibrate)
    return net.eval()


def checkpoint_from_registry(
    model_dir: Path, images: Sequence[FlawFreeImage], out_ckpt: Path, width: int, lr: float = 2e-3
) -> Path:
    """Registry folder (or its model.onnx) of an `AnomalySegNet(width)` -> a checkpoint `--init-checkpoint` loads."""
    import pytorch_lightning as pl
    import torch

    from models.anomaly.module import AnomalyLitModule
    from models.unfold_bn import registry_onnx

    onnx_path = registry_onnx(Path(model_dir)) or Path(model_dir)
    if not onnx_path.is_file():
        raise FileNotFoundError(f"no anomaly model to continue from: {onnx_path} not found")
    net = recover_net(onnx_path, width, calibration_batch(images))
    module = AnomalyLitModule(width=width, lr=lr)
    module.net.load_state_dict(net.state_dict())
    out_ckpt.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "state_dict": module.state_dict(),
            "hyper_parameters": dict(module.hparams),
            "pytorch-lightning_version": pl.__version__,
            "recovered_from": str(onnx_path),
        },
        out_ckpt,
    )
    log.info("recovered a trainable anomaly checkpoint from %s (%d calibration images)", onnx_path, len(images))
    return out_ckpt
