"""Preprocessing of raw radiographs: flat-field correction, robust windowing, normalisation to [0, 1].

Training data goes through the same `window_to_unit` as the runtime, so the model sees one look whatever
the detector (8-bit image intensifier or 16-bit flat panel) and tube setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vision.image_io import load_pixels

# Percentiles of the grey-value window: wide enough to keep bright flaws in thick sections unclipped,
# robust against dead/hot pixels and the saturated air around the part.
LOW_PERCENTILE = 0.5
HIGH_PERCENTILE = 99.5
# Percentiles are estimated on a sparse grid: a 1024x1024 image needs ~16k samples, not 1M.
_SAMPLE_STEP = 8


class CalibrationError(ValueError):
    """Dark or gain frame missing, unreadable or not matching the image."""


@dataclass(frozen=True, eq=False)
class FlatField:
    """Dark (no beam) and gain (open beam) frames of the detector, as float32."""

    dark: np.ndarray
    gain: np.ndarray

    @classmethod
    def from_files(cls, dark_path: Path | None, gain_path: Path | None) -> FlatField | None:
        """Both frames, or None when neither is configured; one without the other is a configuration error."""
        if dark_path is None and gain_path is None:
            return None
        if dark_path is None or gain_path is None:
            raise CalibrationError("flat-field correction needs both dark_frame and gain_frame")
        try:
            dark = load_pixels(dark_path).astype(np.float32)
            gain = load_pixels(gain_path).astype(np.float32)
        except ValueError as exc:
            raise CalibrationError(f"calibration frame unreadable: {exc}") from exc
        if dark.shape != gain.shape:
            raise CalibrationError(f"dark frame {dark.shape} and gain frame {gain.shape} differ in size")
        if float(np.mean(gain - dark)) <= 0:
            raise CalibrationError("gain frame is not brighter than the dark frame")
        return cls(dark=dark, gain=gain)

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        """(raw - dark) / (gain - dark), rescaled to the mean open-beam signal; float32."""
        if pixels.shape != self.dark.shape:
            raise CalibrationError(f"image {pixels.shape} and calibration frames {self.dark.shape} differ in size")
        span = self.gain - self.dark
        scale = float(np.mean(span))
        out = (pixels.astype(np.float32) - self.dark) / np.maximum(span, 1e-3)
        return np.clip(out * scale, 0.0, None)


def robust_window(
    img: np.ndarray, low_pct: float = LOW_PERCENTILE, high_pct: float = HIGH_PERCENTILE
) -> tuple[float, float]:
    """Grey-value window (lo, hi) from percentiles of a sparse sample of the image."""
    sample = img[::_SAMPLE_STEP, ::_SAMPLE_STEP] if min(img.shape) >= 16 * _SAMPLE_STEP else img
    lo, hi = np.percentile(sample, [low_pct, high_pct])
    lo_f, hi_f = float(lo), float(hi)
    if hi_f - lo_f < 1e-6:
        # A flat image: any window shows it as one grey; avoid a division by zero.
        hi_f = lo_f + 1.0
    return lo_f, hi_f


def window_to_unit(img: np.ndarray, low_pct: float = LOW_PERCENTILE, high_pct: float = HIGH_PERCENTILE) -> np.ndarray:
    """Map the robust window of an image of any depth onto [0, 1] (float32, clipped)."""
    lo, hi = robust_window(img, low_pct, high_pct)
    out = (img.astype(np.float32) - np.float32(lo)) * np.float32(1.0 / (hi - lo))
    np.clip(out, 0.0, 1.0, out=out)
    return out


@dataclass(frozen=True, eq=False)
class Preprocessor:
    """Raw radiograph -> float32 image in [0, 1]: optional flat-field, then robust windowing."""

    flat_field: FlatField | None = None
    low_percentile: float = LOW_PERCENTILE
    high_percentile: float = HIGH_PERCENTILE

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        if pixels.ndim != 2:
            raise ValueError(f"preprocessing needs a one-channel image, got shape {pixels.shape}")
        img: np.ndarray = self.flat_field.apply(pixels) if self.flat_field is not None else pixels
        return window_to_unit(img, self.low_percentile, self.high_percentile)


def to_uint8(image01: np.ndarray) -> np.ndarray:
    """[0, 1] float -> uint8, the form the training images are written in."""
    return (np.clip(image01, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


# Detector input: three views of the same windowed image. Channel 0 is the image itself; channels 1 and 2 are
# the image minus its background at two scales (about 12 px and 40 px), scaled by the noise level, so a pore a
# few grey values brighter than the metal around it stands out whatever the part thickness, detector and
# quantisation (an 8-bit crop of the windowed image alone loses flaws of CNR ~2 in thick sections).
_FINE_BG_SIGMA_PX = 12.0
_COARSE_BG_SIGMA_PX = 40.0
_NOISE_TO_UNIT = 0.04  # one noise sigma of the fine band-pass becomes 0.04 of the channel's range
_NOISE_FLOOR = 0.5 / 255.0


def _background(img: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian background at a large scale, computed on a reduced grid (fast and the same at any size)."""
    import cv2

    h, w = img.shape
    factor = max(1, int(sigma_px // 4))
    small = cv2.resize(img, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma_px / factor)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def detector_channels(image01: np.ndarray) -> np.ndarray:
    """(H, W) float image in [0, 1] -> (H, W, 3) float32 detector input in [0, 1] (see above)."""
    import cv2

    img = image01.astype(np.float32, copy=False)
    smooth = cv2.GaussianBlur(img, (0, 0), 1.0)
    fine = smooth - _background(img, _FINE_BG_SIGMA_PX)
    sample = fine[::4, ::4]
    sigma = max(float(np.median(np.abs(sample - np.median(sample)))) * 1.4826, _NOISE_FLOOR)
    coarse = smooth - _background(img, _COARSE_BG_SIGMA_PX)
    out = np.empty((*img.shape, 3), np.float32)
    out[..., 0] = img
    out[..., 1] = 0.5 + fine * np.float32(_NOISE_TO_UNIT / sigma)
    out[..., 2] = 0.5 + coarse * np.float32(0.5 * _NOISE_TO_UNIT / sigma)
    np.clip(out, 0.0, 1.0, out=out)
    return out
