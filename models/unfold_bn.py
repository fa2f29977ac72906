"""Batch norms given back to convolutions that an ONNX export folded them into, so training can go on.

The registry keeps only `model.onnx` (what the cell runs), whose convolutions carry their batch norms folded in
(W' = W gamma / sqrt(var + eps), b' = beta + (b - mean) gamma / sqrt(var + eps)). To train again, each folded
layer gets its batch norm back without changing what the network computes: with the folded W' in the
convolution, the batch norm is set to mean = m and var = v, the per-channel mean and variance of W' x over
calibration inputs, gamma = sqrt(v + eps) and beta = m + b'. In eval mode that is exactly W' x + b'; in training
mode, where a batch's own statistics replace m and v, it stays close to it for batches like the calibration
ones, so a continued run starts from the shipped model instead of from scratch. Used by the detector's and the
anomaly model's recovery (`models/detector/recover.py`, `models/anomaly/recover.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REGISTRY_ONNX = "model.onnx"  # the one weights file a registry folder keeps (detector and anomaly model alike)


def registry_onnx(path: Path) -> Path | None:
    """Weights to continue from, given as a registry folder or its ONNX file: that ONNX file's path (not checked
    for existence: the caller says what is missing); None for anything else (a training checkpoint)."""
    if path.is_dir():
        return path / REGISTRY_ONNX
    return path if path.suffix == ".onnx" else None


def onnx_initializers(onnx_path: Any) -> tuple[Any, dict[str, np.ndarray]]:
    """(graph, {initializer name: array}) of an ONNX file."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    return graph, {i.name: numpy_helper.to_array(i) for i in graph.initializer}


def unfold_batchnorms(folded: dict[str, tuple[Any, Any, Any, Any]], run_calibration: Callable[[], None]) -> None:
    """`folded`: name -> (conv, batch norm, folded weight W', folded bias b') as torch modules and tensors.

    Sets each convolution to W' and its batch norm first to the identity plus b' (so the network computes the
    folded function), runs `run_calibration` (a forward pass over calibration inputs, eval mode, no grad) to
    record each convolution's own output, then gives each batch norm those statistics (see the module docstring).
    """
    import torch

    with torch.no_grad():
        for conv, bn, w, b in folded.values():
            conv.weight.copy_(w)
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
            bn.weight.fill_(1.0)
            bn.bias.copy_(b)
    outputs: dict[str, list[torch.Tensor]] = {}

    def hook(name: str) -> Callable[[Any, Any, torch.Tensor], None]:
        def grab(_mod: Any, _inp: Any, out: torch.Tensor) -> None:
            outputs.setdefault(name, []).append(out.detach().transpose(0, 1).reshape(out.shape[1], -1))

        return grab

    handles = [conv.register_forward_hook(hook(name)) for name, (conv, _, _, _) in folded.items()]
    try:
        run_calibration()
    finally:
        for h in handles:
            h.remove()
    missing = [name for name in folded if name not in outputs]
    if missing:
        raise ValueError(f"calibration pass never reached {', '.join(missing[:5])}")
    with torch.no_grad():
        for name, (_conv, bn, _w, b) in folded.items():
            z = torch.cat(outputs[name], dim=1)
            mean, var = z.mean(dim=1), z.var(dim=1, unbiased=False)
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(var)
            bn.weight.copy_(torch.sqrt(var + bn.eps))
            bn.bias.copy_(mean + b)
