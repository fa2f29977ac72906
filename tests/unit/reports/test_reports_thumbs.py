"""Thumbnails draw the findings where they are, from 8- or 16-bit radiographs, and never crash."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from cell_control.reports.charts import histogram_png, pareto_png, pchart_png
from cell_control.reports.spc import Histogram, Pareto, PChart, build_pchart
from cell_control.reports.thumbs import draw_findings, thumbnail_png
from cell_control.store.images import ImageStore
from vision.types import Defect, FlawClass


def _is_red(px: np.ndarray) -> bool:
    b, g, r = (int(v) for v in px)
    return r > 200 and g < 80 and b < 80


def test_boxes_are_scaled_with_the_image() -> None:
    img = np.full((400, 800), 20000, dtype=np.uint16)
    d = Defect(FlawClass.POROSITY, 0.9, (200.0, 100.0, 400.0, 300.0), 5.0)
    thumb = draw_findings(img, [d], max_px=200)
    assert thumb.shape == (100, 200, 3) and thumb.dtype == np.uint8
    assert _is_red(thumb[25, 50])  # corner (200, 100) / 4
    assert _is_red(thumb[75, 100])  # corner (400, 300) / 4
    assert not _is_red(thumb[50, 75])  # inside the box: the radiograph


def test_missing_or_broken_radiograph_gives_none(tmp_path: Path) -> None:
    images = ImageStore(tmp_path / "img")
    assert thumbnail_png(images, "", []) is None
    assert thumbnail_png(images, "ab" * 32, []) is None
    sha = images.put(b"not a png at all")
    assert thumbnail_png(images, sha, []) is None
    _ok, buf = cv2.imencode(".png", np.zeros((64, 64), np.uint8))
    good = images.put(bytes(buf))
    png = thumbnail_png(images, good, [Defect(FlawClass.CRACK, 0.8, (5, 5, 20, 20), 2.0)])
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"


def test_charts_render_with_and_without_data() -> None:
    for png in (
        pchart_png(build_pchart([("a", 10, 1), ("b", 10, 5)], "hour")),
        pchart_png(PChart("hour", None, ())),
        pareto_png(Pareto("flaw_class", 0, ()), "t"),
        histogram_png(Histogram("x", (0.0, 1.0, 2.0), (3, 4)), "s", "t"),
        histogram_png(Histogram("x", (), ()), "s", "t"),
    ):
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
