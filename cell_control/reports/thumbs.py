"""Small radiograph thumbnails with the findings drawn, for the NOK table of the PDF (and the HMI)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import cv2
import numpy as np

from cell_control.store.images import ImageStore
from vision.types import Defect

log = logging.getLogger(__name__)

SUFFIXES = (".png", ".tif", ".tiff")
_COLOUR_BGR = (40, 40, 230)  # red in BGR: visible on grey radiographs


def _to_8bit(img: np.ndarray) -> np.ndarray:
    if img.dtype == np.uint8:
        return img
    lo, hi = np.percentile(img, (0.5, 99.5))
    if hi <= lo:
        hi = lo + 1.0
    return np.clip((img.astype(np.float32) - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)


def find_radiograph(images: ImageStore, sha256: str) -> str | None:
    if not sha256:
        return None
    for suffix in SUFFIXES:
        path = images.path_for(sha256, suffix)
        if path.is_file():
            return str(path)
    return None


def draw_findings(img: np.ndarray, defects: Sequence[Defect], max_px: int = 160) -> np.ndarray:
    """Grey or colour image (any bit depth) -> BGR uint8 no larger than max_px, boxes scaled and drawn."""
    img8 = _to_8bit(img)
    if img8.ndim == 3 and img8.shape[2] == 4:
        img8 = cv2.cvtColor(img8, cv2.COLOR_BGRA2BGR)
    elif img8.ndim == 2:
        img8 = cv2.cvtColor(img8, cv2.COLOR_GRAY2BGR)
    h, w = img8.shape[:2]
    scale = min(1.0, max_px / max(h, w))
    if scale < 1.0:
        img8 = cv2.resize(img8, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    for d in defects:
        x0, y0, x1, y1 = (round(v * scale) for v in d.bbox_xyxy_px)
        cv2.rectangle(img8, (x0, y0), (max(x1, x0 + 2), max(y1, y0 + 2)), _COLOUR_BGR, 2 if max_px >= 160 else 1)
    return img8


def thumbnail_png(images: ImageStore, sha256: str, defects: Sequence[Defect], max_px: int = 160) -> bytes | None:
    """PNG bytes, or None when the radiograph is missing or unreadable (the caller shows a placeholder)."""
    path = find_radiograph(images, sha256)
    if path is None:
        return None
    try:
        img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if img is None:
            return None
        ok, buf = cv2.imencode(".png", draw_findings(img, defects, max_px))
        return bytes(buf) if ok else None
    except (cv2.error, ValueError, OSError) as exc:
        log.warning("cannot make a thumbnail of radiograph %s: %s", sha256, exc)
        return None
