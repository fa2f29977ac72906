from __future__ import annotations

import numpy as np

from vision.detector_onnx import decode_yolo_output, nms_xyxy


def test_raw_head_decodes_cxcywh_and_suppresses_per_class() -> None:
    # 4 anchors, 2 classes: two overlapping boxes of class 0, one overlapping box of class 1, one weak box
    head = np.zeros((1, 6, 4), np.float32)
    head[0, :4, 0] = (50, 50, 20, 20)
    head[0, 4, 0] = 0.9
    head[0, :4, 1] = (52, 50, 20, 20)
    head[0, 4, 1] = 0.8
    head[0, :4, 2] = (51, 50, 20, 20)
    head[0, 5, 2] = 0.7
    head[0, :4, 3] = (10, 10, 4, 4)
    head[0, 4, 3] = 0.05
    boxes, scores, classes = decode_yolo_output(head, conf_threshold=0.1, iou_threshold=0.5)
    assert scores.tolist() == np.float32([0.9, 0.7]).tolist()
    assert classes.tolist() == [0, 1]
    assert boxes[0].tolist() == [40, 40, 60, 60]


def test_end_to_end_layout_is_read_as_xyxy_score_class() -> None:
    out = np.zeros((1, 300, 6), np.float32)
    out[0, 0] = (10, 20, 30, 40, 0.8, 2)
    out[0, 1] = (1, 1, 2, 2, 0.01, 0)
    boxes, scores, classes = decode_yolo_output(out, conf_threshold=0.25, iou_threshold=0.5)
    assert boxes.tolist() == [[10, 20, 30, 40]] and classes.tolist() == [2]
    assert np.isclose(scores[0], 0.8)


def test_nms_keeps_separate_boxes() -> None:
    b = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], float)
    assert sorted(nms_xyxy(b, np.array([0.9, 0.8, 0.7]), 0.5).tolist()) == [0, 2]
