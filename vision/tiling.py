"""Tiling of images larger than the model input, and merging of detections across tile borders.

Tiles are cut at the image's own resolution (flaws keep the size in pixels they had in training), overlap
by a configured share, and the last tile in each direction is pulled back to end on the image edge. A flaw
cut by a tile border is seen whole in a neighbouring tile (when the overlap is larger than the flaw) and
partly in the other; both boxes are fused into one by `merge_detections`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from vision.types import Detection


@dataclass(frozen=True)
class Tile:
    x0: int
    y0: int
    x1: int
    y1: int


def _starts(length: int, tile: int, overlap: float) -> list[int]:
    if length <= tile:
        return [0]
    stride = max(1, round(tile * (1.0 - overlap)))
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return sorted(set(starts))


def plan_tiles(height: int, width: int, tile: int, overlap: float) -> list[Tile]:
    """Tiles of at most tile x tile px covering the image; one tile when the image fits."""
    if tile <= 0:
        raise ValueError("tile size must be > 0")
    if not 0.0 <= overlap < 1.0:
        raise ValueError("overlap must be in [0, 1)")
    return [
        Tile(x0=x, y0=y, x1=min(x + tile, width), y1=min(y + tile, height))
        for y in _starts(height, tile, overlap)
        for x in _starts(width, tile, overlap)
    ]


def _area(b: np.ndarray) -> np.ndarray:
    return np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)


def overlap_matrices(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """IoU and intersection-over-smaller-area for every pair of xyxy boxes (N x N each)."""
    x0 = np.maximum(boxes[:, None, 0], boxes[None, :, 0])
    y0 = np.maximum(boxes[:, None, 1], boxes[None, :, 1])
    x1 = np.minimum(boxes[:, None, 2], boxes[None, :, 2])
    y1 = np.minimum(boxes[:, None, 3], boxes[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = _area(boxes)
    union = area[:, None] + area[None, :] - inter
    iou = inter / np.maximum(union, 1e-9)
    iomin = inter / np.maximum(np.minimum(area[:, None], area[None, :]), 1e-9)
    return iou, iomin


def merge_detections(
    detections: Sequence[Detection],
    iou_threshold: float = 0.5,
    containment_threshold: float = 0.7,
    tile_ids: Sequence[int] | None = None,
) -> list[Detection]:
    """Fuse duplicates of one flaw: same class and IoU above iou_threshold, or one box mostly inside the other
    (the cut-off half of a flaw at a tile border lies inside the whole flaw seen by the neighbouring tile).

    Each group keeps the highest score and the union of its boxes, so the cut half never shrinks the flaw.
    With `tile_ids` (the tile each detection came from) only boxes of different tiles are fused: within one
    tile the model's own NMS has already decided, and a small pore next to, or inside the box of, a larger
    flaw of its class is a flaw of its own that must keep its own box and size.
    """
    if not detections:
        return []
    order = sorted(range(len(detections)), key=lambda i: -detections[i].score)
    dets = [detections[i] for i in order]
    boxes = np.array([d.bbox_xyxy_px for d in dets], dtype=np.float64)
    classes = np.array([d.flaw_class.class_index for d in dets])
    iou, iomin = overlap_matrices(boxes)
    same = (classes[:, None] == classes[None, :]) & ((iou >= iou_threshold) | (iomin >= containment_threshold))
    if tile_ids is not None:
        tiles = np.asarray(tile_ids)[order]
        same &= (tiles[:, None] != tiles[None, :]) | np.eye(len(dets), dtype=bool)
    taken = np.zeros(len(dets), dtype=bool)
    out: list[Detection] = []
    for i in range(len(dets)):
        if taken[i]:
            continue
        members = np.flatnonzero(same[i] & ~taken)
        taken[members] = True
        group = boxes[members]
        fused = (
            float(group[:, 0].min()),
            float(group[:, 1].min()),
            float(group[:, 2].max()),
            float(group[:, 3].max()),
        )
        out.append(Detection(flaw_class=dets[i].flaw_class, score=dets[i].score, bbox_xyxy_px=fused))
    return out


TileRunner = Callable[[np.ndarray], list[Detection]]


def detect_tiled(
    image01: np.ndarray,
    run_tile: TileRunner,
    tile: int,
    overlap: float,
    iou_threshold: float = 0.5,
    containment_threshold: float = 0.7,
) -> list[Detection]:
    """Run `run_tile` (boxes in tile pixels) on every tile and return merged boxes in image pixels."""
    h, w = image01.shape[:2]
    found: list[Detection] = []
    tile_ids: list[int] = []
    for k, t in enumerate(plan_tiles(h, w, tile, overlap)):
        for d in run_tile(image01[t.y0 : t.y1, t.x0 : t.x1]):
            tile_ids.append(k)
            x0, y0, x1, y1 = d.bbox_xyxy_px
            box = (
                float(np.clip(x0 + t.x0, 0, w)),
                float(np.clip(y0 + t.y0, 0, h)),
                float(np.clip(x1 + t.x0, 0, w)),
                float(np.clip(y1 + t.y0, 0, h)),
            )
            found.append(Detection(flaw_class=d.flaw_class, score=d.score, bbox_xyxy_px=box))
    return merge_detections(found, iou_threshold, containment_threshold, tile_ids)
