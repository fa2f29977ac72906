"""The defect detector at run time: a YOLO model exported to ONNX, run by ONNX Runtime on tiles.

No torch or ultralytics here. A registry folder holds `model.onnx` and `model_card.json`; the input size,
class names and version come from the card (or from the ONNX metadata ultralytics writes).

A model exported with a fixed input (e.g. 640x640) sees tiles of that size. A model exported with dynamic
height/width sees each image whole, padded to a multiple of the stride, up to `max_tile_px`; larger images are
tiled. Either way the image keeps its own resolution: a flaw has the pixel size it had in training.
"""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from vision.preprocess import detector_channels
from vision.tiling import detect_tiled
from vision.types import Detection, FlawClass

# Ultralytics pads letterboxed training images with grey 114; padded tiles use the same fill.
PAD_VALUE = 114.0 / 255.0
DEFAULT_MAX_TILE_PX = 1024


class ModelLoadError(RuntimeError):
    """The detector model is missing or unusable."""


MAX_NMS_CANDIDATES = 500


def nms_xyxy(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression (boxes N x 4 xyxy), best score first."""
    order = np.argsort(-scores)
    b = boxes[order].astype(np.float32)
    x0 = np.maximum(b[:, None, 0], b[None, :, 0])
    y0 = np.maximum(b[:, None, 1], b[None, :, 1])
    x1 = np.minimum(b[:, None, 2], b[None, :, 2])
    y1 = np.minimum(b[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    over = inter / np.maximum(area[:, None] + area[None, :] - inter, 1e-9) >= iou_threshold
    suppressed = np.zeros(len(b), dtype=bool)
    keep: list[int] = []
    for i in range(len(b)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= over[i]
    return order[np.array(keep, dtype=np.int64)]


def decode_yolo_output(
    out: np.ndarray, conf_threshold: float, iou_threshold: float, max_det: int = 300
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (xyxy, input pixels), scores and class indices from a YOLO ONNX output.

    Two layouts: (1, 4+nc, N) raw head (cx, cy, w, h, class scores; needs NMS), or (1, K, 6) end-to-end
    (x0, y0, x1, y1, score, class; already suppressed).
    """
    a = out[0]
    if a.ndim == 2 and a.shape[1] == 6 and a.shape[0] != 6:
        keep = a[:, 4] >= conf_threshold
        a = a[keep]
        return a[:, :4].astype(np.float64), a[:, 4].astype(np.float64), a[:, 5].astype(np.int64)
    preds = a.T  # N x (4 + nc)
    cls_scores = preds[:, 4:]
    cls = np.argmax(cls_scores, axis=1)
    scores = cls_scores[np.arange(len(cls)), cls]
    keep = np.flatnonzero(scores >= conf_threshold)
    if len(keep) > MAX_NMS_CANDIDATES:  # an untrained or confused model: the best candidates are enough
        keep = keep[np.argsort(-scores[keep])[:MAX_NMS_CANDIDATES]]
    preds, cls, scores = preds[keep], cls[keep], scores[keep]
    if not len(scores):
        return np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64)
    cx, cy, w, h = preds[:, 0], preds[:, 1], preds[:, 2], preds[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float64)
    # Class-wise NMS in one pass: shift each class into its own region of the plane.
    offset = cls[:, None].astype(np.float64) * 1e5
    keep_idx = nms_xyxy(boxes + offset, scores.astype(np.float64), iou_threshold)[:max_det]
    return boxes[keep_idx], scores[keep_idx].astype(np.float64), cls[keep_idx].astype(np.int64)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_card(model_dir: Path) -> dict[str, Any]:
    card = model_dir / "model_card.json"
    if not card.is_file():
        return {}
    try:
        data = json.loads(card.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{card}: unreadable model card: {exc}") from exc
    return data if isinstance(data, dict) else {}


class OnnxYoloDetector:
    """`vision.roles.Detector` over an ONNX YOLO model; tiles images larger than the model input."""

    def __init__(
        self,
        model_path: Path | str,
        conf_threshold: float = 0.1,
        iou_threshold: float = 0.5,
        tile_overlap: float = 0.2,
        num_threads: int = 2,
        max_tile_px: int | None = None,
    ) -> None:
        import onnxruntime as ort

        p = Path(model_path)
        onnx_path = p / "model.onnx" if p.is_dir() else p
        if not onnx_path.is_file():
            raise ModelLoadError(f"detector model not found: {onnx_path} (train one with `ironcell train detector`)")
        card = _read_card(onnx_path.parent)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = num_threads
        opts.inter_op_num_threads = 1
        # No busy-waiting between operators: the cores are shared with the cell loop and the robot process.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own exception types for corrupt or foreign files
            raise ModelLoadError(f"{onnx_path}: not a loadable ONNX model: {exc}") from exc
        inp = self._session.get_inputs()[0]
        self._input_name = inp.name
        shape = inp.shape
        meta = self._session.get_modelmeta().custom_metadata_map
        self.stride = int(meta.get("stride", 32))
        self.static_hw: tuple[int, int] | None = None
        if isinstance(shape[2], int) and isinstance(shape[3], int):
            self.static_hw = (int(shape[2]), int(shape[3]))
            self.tile_px = min(self.static_hw)
        else:
            self.tile_px = int(max_tile_px or card.get("max_tile_px", DEFAULT_MAX_TILE_PX))
        self.train_imgsz = int(card.get("imgsz", self.tile_px))
        self.class_names = self._class_names(card, meta)
        sha = card.get("onnx_sha256") or file_sha256(onnx_path)
        self.version = f"{card.get('name', onnx_path.parent.name)}@{str(sha)[:12]}"
        self.model_path = onnx_path
        self.card = card
        self.conf_threshold = conf_threshold
        self.iou_threshold = iou_threshold
        self.tile_overlap = tile_overlap

    @staticmethod
    def _class_names(card: dict[str, Any], meta: dict[str, str]) -> list[str]:
        names = card.get("class_names")
        if isinstance(names, list) and names:
            return [str(n) for n in names]
        if "names" in meta:
            parsed = ast.literal_eval(meta["names"])
            return [str(parsed[i]) for i in sorted(parsed)]
        return [c.value for c in FlawClass]

    def _to_flaw_class(self, idx: int) -> FlawClass | None:
        if 0 <= idx < len(self.class_names):
            try:
                return FlawClass(self.class_names[idx])
            except ValueError:
                return None
        return None

    def run_tile(self, tile: np.ndarray) -> list[Detection]:
        """Detections in one tile (H, W, 3 detector channels) no larger than the model input (tile pixels)."""
        h, w = tile.shape[:2]
        if self.static_hw is not None:
            ih, iw = self.static_hw
        else:
            ih, iw = -(-h // self.stride) * self.stride, -(-w // self.stride) * self.stride
        if h > ih or w > iw:
            raise ValueError(f"tile {w}x{h} larger than model input {iw}x{ih}")
        batch = np.full((1, 3, ih, iw), PAD_VALUE, dtype=np.float32)
        batch[0, :, :h, :w] = tile.transpose(2, 0, 1)
        out = self._session.run(None, {self._input_name: batch})[0]
        boxes, scores, classes = decode_yolo_output(out, self.conf_threshold, self.iou_threshold)
        dets: list[Detection] = []
        for b, s, c in zip(boxes, scores, classes, strict=True):
            fc = self._to_flaw_class(int(c))
            x0, x1 = float(np.clip(b[0], 0, w)), float(np.clip(b[2], 0, w))
            y0, y1 = float(np.clip(b[1], 0, h)), float(np.clip(b[3], 0, h))
            if fc is None or x1 - x0 < 1.0 or y1 - y0 < 1.0:
                continue  # box wholly in the padding, or a class this product does not know
            dets.append(Detection(flaw_class=fc, score=float(s), bbox_xyxy_px=(x0, y0, x1, y1)))
        return dets

    def detect(self, image01: np.ndarray) -> list[Detection]:
        if image01.ndim != 2:
            raise ValueError(f"detector needs a one-channel image, got shape {image01.shape}")
        channels = detector_channels(image01)
        return detect_tiled(channels, self.run_tile, self.tile_px, self.tile_overlap)
