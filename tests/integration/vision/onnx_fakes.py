"""Hand-made ONNX models shaped like a YOLO detector, for fast tests of the run time and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper


def fixed_answer_model(path: Path, box_cxcywh: tuple[float, float, float, float], cls: int, score: float) -> None:
    """An ONNX graph shaped like a YOLO head (1, 4+4, 1) that always reports one box (input-dependent by 0*x)."""
    head = np.zeros((1, 8, 1), np.float32)
    head[0, :4, 0] = box_cxcywh
    head[0, 4 + cls, 0] = score
    nodes = [
        helper.make_node("ReduceSum", ["images"], ["s"], keepdims=0),
        helper.make_node("Mul", ["s", "zero"], ["z"]),
        helper.make_node("Add", ["head", "z"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "fixed",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, "height", "width"])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 8, 1])],
        [
            helper.make_tensor("head", TensorProto.FLOAT, head.shape, head.ravel()),
            helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path / "model.onnx")
    card = {
        "name": "detector-fixed",
        "class_names": ["porosity", "shrinkage", "crack", "inclusion"],
        "max_tile_px": 1024,
    }
    (path / "model_card.json").write_text(json.dumps(card))
