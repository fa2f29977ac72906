from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from vision.tiling import detect_tiled, merge_detections, plan_tiles
from vision.types import Detection, FlawClass


def bright_blob_tile_detector(tile01: np.ndarray) -> list[Detection]:
    """A fake tile detector: every bright connected region of the tile is one porosity finding."""
    mask = (tile01 > 0.5).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    out = []
    for i in range(1, n):
        x, y, w, h, _ = stats[i]
        out.append(Detection(FlawClass.POROSITY, 0.9, (float(x), float(y), float(x + w), float(y + h))))
    return out


@pytest.mark.parametrize(("h", "w"), [(100, 100), (572, 768), (1024, 1024), (2048, 1500)])
def test_tiles_cover_image_and_stay_inside(h: int, w: int) -> None:
    tiles = plan_tiles(h, w, tile=320, overlap=0.2)
    covered = np.zeros((h, w), bool)
    for t in tiles:
        assert 0 <= t.x0 < t.x1 <= w and 0 <= t.y0 < t.y1 <= h
        assert t.x1 - t.x0 <= 320 and t.y1 - t.y0 <= 320
        covered[t.y0 : t.y1, t.x0 : t.x1] = True
    assert covered.all()
    if h <= 320 and w <= 320:
        assert len(tiles) == 1


def test_overlap_is_at_least_requested() -> None:
    tiles = plan_tiles(1024, 1024, tile=320, overlap=0.25)
    xs = sorted({t.x0 for t in tiles})
    for a, b in itertools.pairwise(xs):
        assert a + 320 - b >= 80


def test_flaw_cut_by_tile_border_is_found_once_with_full_box() -> None:
    h, w, tile = 600, 900, 320
    tiles = plan_tiles(h, w, tile, overlap=0.2)
    border = tiles[0].x1  # right edge of the first tile: a flaw across it is cut there
    img = np.zeros((h, w), np.float32)
    flaw = (border - 20, 100, border + 15, 130)  # x0, y0, x1, y1 straddling the border
    img[flaw[1] : flaw[3], flaw[0] : flaw[2]] = 1.0
    seen = [d for t in tiles for d in bright_blob_tile_detector(img[t.y0 : t.y1, t.x0 : t.x1])]
    assert len(seen) >= 2  # it is seen by more than one tile, once cut
    found = detect_tiled(img, bright_blob_tile_detector, tile, overlap=0.2)
    assert len(found) == 1
    assert found[0].bbox_xyxy_px == pytest.approx(tuple(float(v) for v in flaw))


def test_separate_flaws_stay_separate_and_boxes_are_in_image_pixels() -> None:
    img = np.zeros((700, 1000), np.float32)
    boxes = [(50, 60, 70, 75), (600, 500, 640, 540), (900, 20, 930, 45)]
    for x0, y0, x1, y1 in boxes:
        img[y0:y1, x0:x1] = 1.0
    found = detect_tiled(img, bright_blob_tile_detector, 320, overlap=0.3)
    got = sorted(tuple(round(v) for v in d.bbox_xyxy_px) for d in found)
    assert got == sorted(boxes)


def test_merge_keeps_classes_apart_and_best_score() -> None:
    a = Detection(FlawClass.POROSITY, 0.6, (10, 10, 20, 20))
    b = Detection(FlawClass.POROSITY, 0.9, (11, 10, 21, 20))
    c = Detection(FlawClass.CRACK, 0.7, (10, 10, 20, 20))
    merged = merge_detections([a, b, c])
    assert sorted((d.flaw_class.value, d.score) for d in merged) == [("crack", 0.7), ("porosity", 0.9)]


def test_only_boxes_of_different_tiles_are_fused() -> None:
    big = Detection(FlawClass.POROSITY, 0.9, (100.0, 100.0, 160.0, 160.0))
    pore = Detection(FlawClass.POROSITY, 0.5, (110.0, 110.0, 125.0, 125.0))  # inside the larger box
    # One tile: the model's NMS kept both, so both are flaws of their own.
    assert sorted(d.score for d in merge_detections([big, pore], tile_ids=[0, 0])) == [0.5, 0.9]
    # Two tiles: the inner box is the cut-off part of the same flaw seen by the neighbouring tile.
    fused = merge_detections([big, pore], tile_ids=[0, 1])
    assert [(d.score, d.bbox_xyxy_px) for d in fused] == [(0.9, big.bbox_xyxy_px)]


def test_a_single_tile_image_keeps_nested_detections_apart() -> None:
    def nested(tile: np.ndarray) -> list[Detection]:
        return [
            Detection(FlawClass.POROSITY, 0.8, (20.0, 20.0, 80.0, 80.0)),
            Detection(FlawClass.POROSITY, 0.4, (30.0, 30.0, 40.0, 40.0)),
        ]

    found = detect_tiled(np.zeros((200, 300), np.float32), nested, 320, overlap=0.3)
    assert len(found) == 2
