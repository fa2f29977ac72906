"""Reading radiographs from files: 8/16-bit, one channel, PNG/TIFF (and what else OpenCV decodes).

Every way a file can be unusable (missing, empty, truncated, not an image, colour, float pixels) ends in an
`ImageLoadError` that names the file and the reason, so a batch can log it and go on with the next file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from vision.types import PartIdentity, XrayImage

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".pgm", ".bmp", ".jpg", ".jpeg")


class ImageLoadError(ValueError):
    """A file could not be read as a one-channel 8- or 16-bit radiograph."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def _is_grey_rgb(arr: np.ndarray) -> bool:
    """A 3-channel file whose channels are equal is a grey image saved as RGB (common for 8-bit exports)."""
    return bool(np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 1], arr[..., 2]))


def decode_image(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes into a 2-D uint8 or uint16 array."""
    if len(data) == 0:
        raise ImageLoadError(name, "file is empty (0 bytes)")
    buf = np.frombuffer(data, dtype=np.uint8)
    arr = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ImageLoadError(name, f"not a decodable image or truncated ({len(data)} bytes)")
    if arr.dtype not in (np.uint8, np.uint16):
        raise ImageLoadError(name, f"pixel type {arr.dtype} is not supported (need 8- or 16-bit unsigned integers)")
    if arr.ndim == 3:
        if arr.shape[2] == 1:
            arr = arr[:, :, 0]
        elif arr.shape[2] in (3, 4) and _is_grey_rgb(arr[:, :, :3]):
            arr = np.ascontiguousarray(arr[:, :, 0])
        else:
            raise ImageLoadError(name, f"colour image with {arr.shape[2]} channels; a radiograph has one channel")
    if arr.ndim != 2:
        raise ImageLoadError(name, f"unsupported array shape {arr.shape}")
    if arr.shape[0] < 8 or arr.shape[1] < 8:
        raise ImageLoadError(name, f"image too small ({arr.shape[1]}x{arr.shape[0]} px)")
    return arr


def load_pixels(path: Path | str) -> np.ndarray:
    """Read one file into a 2-D uint8/uint16 array or raise ImageLoadError."""
    p = Path(path)
    if not p.exists():
        raise ImageLoadError(p, "no such file")
    if not p.is_file():
        raise ImageLoadError(p, "not a regular file")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ImageLoadError(p, f"cannot read: {exc.strerror or exc}") from exc
    return decode_image(data, str(p))


def bit_depth_of(pixels: np.ndarray) -> int:
    """8 for uint8; for uint16 the smallest of 12/14/16 that holds the data (flat panels often write 12 or 14)."""
    if pixels.dtype == np.uint8:
        return 8
    top = int(pixels.max()) if pixels.size else 0
    for bits in (12, 14):
        if top < (1 << bits):
            return bits
    return 16


def load_xray(
    path: Path | str,
    pixel_pitch_mm: float,
    magnification: float,
    tube_kv: float = 0.0,
    part: PartIdentity | None = None,
) -> XrayImage:
    """Read a file as an XrayImage with the geometry that turns pixels into millimetres."""
    pixels = load_pixels(path)
    return XrayImage(
        pixels=pixels,
        bit_depth=8 if pixels.dtype == np.uint8 else 16,
        pixel_pitch_mm=pixel_pitch_mm,
        magnification=magnification,
        tube_kv=tube_kv,
        source=str(path),
        part=part,
    )


def encode_png(pixels: np.ndarray) -> bytes:
    """Lossless PNG of a radiograph (8 or 16 bit), for storing it."""
    ok, buf = cv2.imencode(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ValueError("PNG encoding failed")
    return buf.tobytes()


def pixels_sha256(pixels: np.ndarray) -> str:
    """SHA-256 of the pixel values (row-major, little-endian): the same pixels give the same digest whatever
    file format carried them. (Hashing an encoded PNG instead costs ~100 ms on a 1024x1024 16-bit image.)"""
    arr = np.ascontiguousarray(pixels, dtype=pixels.dtype.newbyteorder("<"))
    return hashlib.sha256(arr.tobytes()).hexdigest()


def iter_image_files(paths: Iterable[Path | str]) -> Iterator[Path]:
    """Expand files and folders (their direct children with an image suffix, sorted) into image file paths.

    A named file is yielded as given even without an image suffix, so that its load error is reported.
    """
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for f in sorted(p.iterdir()):
                if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith("."):
                    yield f
        else:
            yield p
