"""Real image sources: a folder of radiographs (8/16-bit PNG/TIFF) and an OpenCV capture device.

They are the real counterparts of the X-ray simulator behind `vision.roles.ImageSource`.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.image_io import ImageLoadError, iter_image_files, load_xray
from vision.types import PartIdentity, XrayImage


class SourceError(RuntimeError):
    """The source cannot deliver an image (empty folder, camera gone)."""


class FolderImageSource:
    """Serves the image files of a folder in name order, one per part; wraps around when `loop` is set.

    A file that cannot be read raises ImageLoadError (naming it) and the next call serves the next file.
    """

    def __init__(
        self, folder: Path, pixel_pitch_mm: float, magnification: float, tube_kv: float = 0.0, loop: bool = True
    ) -> None:
        if not folder.is_dir():
            raise SourceError(f"image folder not found: {folder}")
        self.files = list(iter_image_files([folder]))
        if not self.files:
            raise SourceError(f"no image files in {folder}")
        self.pixel_pitch_mm = pixel_pitch_mm
        self.magnification = magnification
        self.tube_kv = tube_kv
        self.loop = loop
        self._next = 0
        self._lock = threading.Lock()

    def acquire(self, part: PartIdentity) -> XrayImage:
        with self._lock:
            if self._next >= len(self.files):
                if not self.loop:
                    raise SourceError(f"all {len(self.files)} images of the folder served")
                self._next = 0
            path = self.files[self._next]
            self._next += 1
        return load_xray(path, self.pixel_pitch_mm, self.magnification, self.tube_kv, part=part)


class CameraImageSource:
    """One frame per part from an OpenCV capture device (frame grabber of an image intensifier chain).

    Colour frames are converted to grey; 16-bit frames are kept as they come.
    """

    def __init__(
        self,
        index: int,
        pixel_pitch_mm: float,
        magnification: float,
        tube_kv: float = 0.0,
        capture: Any = None,
    ) -> None:
        self._cap = capture if capture is not None else cv2.VideoCapture(index)
        if not self._cap.isOpened():
            raise SourceError(f"camera {index} cannot be opened")
        self.index = index
        self.pixel_pitch_mm = pixel_pitch_mm
        self.magnification = magnification
        self.tube_kv = tube_kv
        self._lock = threading.Lock()

    def acquire(self, part: PartIdentity) -> XrayImage:
        with self._lock:
            ok, frame = self._cap.read()
        if not ok or frame is None:
            raise SourceError(f"camera {self.index} delivered no frame")
        if frame.ndim == 3:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if frame.dtype not in (np.uint8, np.uint16):
            raise ImageLoadError(f"camera {self.index}", f"frame pixel type {frame.dtype} is not supported")
        return XrayImage(
            pixels=np.ascontiguousarray(frame),
            bit_depth=8 if frame.dtype == np.uint8 else 16,
            pixel_pitch_mm=self.pixel_pitch_mm,
            magnification=self.magnification,
            tube_kv=self.tube_kv,
            source=f"camera:{self.index}",
            part=part,
        )

    def close(self) -> None:
        self._cap.release()
