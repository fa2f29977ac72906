from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.image_io import ImageLoadError
from vision.roles import ImageSource
from vision.sources import CameraImageSource, FolderImageSource, SourceError
from vision.types import PartFamily, PartIdentity

PART = PartIdentity("S-1", PartFamily.WHEEL)


def test_folder_source_serves_in_order_skips_past_bad_files_and_loops(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), np.full((20, 30), 5, np.uint8))
    (tmp_path / "b.png").write_bytes(b"")
    cv2.imwrite(str(tmp_path / "c.tif"), np.full((20, 30), 500, np.uint16))
    src = FolderImageSource(tmp_path, pixel_pitch_mm=0.2, magnification=1.25)
    assert isinstance(src, ImageSource)
    first = src.acquire(PART)
    assert first.bit_depth == 8 and first.part == PART and first.source.endswith("a.png")
    with pytest.raises(ImageLoadError, match="empty"):
        src.acquire(PART)
    assert src.acquire(PART).bit_depth == 16
    assert src.acquire(PART).source.endswith("a.png")  # wrapped around


def test_folder_source_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found"):
        FolderImageSource(tmp_path / "nope", 0.2, 1.25)
    with pytest.raises(SourceError, match="no image files"):
        FolderImageSource(tmp_path, 0.2, 1.25)
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((10, 10), np.uint8))
    once = FolderImageSource(tmp_path, 0.2, 1.25, loop=False)
    once.acquire(PART)
    with pytest.raises(SourceError, match="served"):
        once.acquire(PART)


class FakeCapture:
    def __init__(self, frames: list[np.ndarray | None]) -> None:
        self.frames = frames

    def isOpened(self) -> bool:
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        f = self.frames.pop(0)
        return f is not None, f

    def release(self) -> None:
        pass


def test_camera_source_converts_colour_to_grey_and_reports_lost_frames() -> None:
    bgr = np.zeros((48, 64, 3), np.uint8)
    bgr[..., 1] = 200
    cam = CameraImageSource(0, 0.2, 1.25, capture=FakeCapture([bgr, None]))
    img = cam.acquire(PART)
    assert img.pixels.shape == (48, 64) and img.bit_depth == 8 and img.source == "camera:0"
    with pytest.raises(SourceError, match="no frame"):
        cam.acquire(PART)
