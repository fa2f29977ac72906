"""Image formation: Beer-Lambert with beam hardening, scatter, unsharpness, quantum and read noise, detector
fixed pattern. Signals are relative to the open beam (1.0 = unattenuated) until the detector turns them into
counts (flat panel) or grey values (image intensifier, see intensifier.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from vision.types import DetectorMode


def mu_al_per_mm(kv: float) -> float:
    """Effective linear attenuation of aluminium for a tube at `kv` (0.10/mm at 60 kV, 0.05/mm at 150 kV)."""
    return 0.1 * (kv / 60.0) ** -0.75


@dataclass(frozen=True)
class Exposure:
    """The physical draw of one shot (tube, geometry blur, noise levels)."""

    kv: float
    mu_per_mm: float
    hardening_mm: float  # path length over which the spectrum hardens noticeably
    hardening_exp: float  # 0: no beam hardening
    photons_open: float  # detected quanta per pixel in the open beam
    scatter_fraction: float  # scatter-to-open-beam ratio behind the part
    scatter_sigma_px: float
    focal_blur_px: float  # geometric unsharpness (focal spot x (M-1)), as a Gaussian sigma
    detector_blur_px: float  # screen / phosphor spread after the quanta are counted
    read_noise: float  # electronic noise, in quanta
    noise_scale: float = 1.0


def auto_kv(thickness_mm: np.ndarray, rng: np.random.Generator, kv_range: tuple[float, float]) -> float:
    """Tube voltage an operator (or automatic brightness control) would pick: the typical section of the part
    in view transmits 3-35 %; clipped to the allowed range. Without this, thick hubs at 60 kV are black."""
    sample = thickness_mm[::9, ::9]
    metal = sample[sample > 0.3]
    t_med = float(np.median(metal)) if metal.size > 20 else 10.0
    target = math.exp(rng.uniform(math.log(0.03), math.log(0.35)))
    hardening = (1.0 + t_med / 40.0) ** -0.25
    mu = -math.log(target) / max(t_med * hardening, 0.5)
    kv = 60.0 * (mu / 0.1) ** (-1 / 0.75)
    return float(min(max(kv, kv_range[0]), kv_range[1]))


def draw_exposure(
    rng: np.random.Generator, kv_range: tuple[float, float], mode: DetectorMode, mm_per_px: float, magnification: float,
    randomise: float, noise_scale: float, kv: float | None = None
) -> Exposure:  # fmt: skip
    if kv is None:
        kv = float(rng.uniform(*kv_range))
    r = randomise
    focal_mm = rng.uniform(0.3, 0.4 + 0.8 * r)
    pitch_mm = mm_per_px * magnification
    focal_sigma = focal_mm * (magnification - 1.0) / pitch_mm / 2.355
    if mode == DetectorMode.FLAT_PANEL:
        photons = math.exp(rng.uniform(math.log(3000.0), math.log(3000.0 + 30000.0 * r + 1.0)))
        det_blur, read = rng.uniform(0.4, 0.6 + 0.6 * r), rng.uniform(2.0, 10.0)
    else:  # image intensifier: fewer quanta per pixel, softer optics
        photons = math.exp(rng.uniform(math.log(300.0), math.log(600.0 + 2400.0 * r)))
        det_blur, read = rng.uniform(0.5, 0.8 + 1.0 * r), rng.uniform(0.5, 3.0)
    return Exposure(
        kv=kv,
        mu_per_mm=mu_al_per_mm(kv),
        hardening_mm=float(rng.uniform(25.0, 60.0) * kv / 90.0),
        hardening_exp=float(rng.uniform(0.15, 0.15 + 0.3 * r)),
        photons_open=float(photons),
        scatter_fraction=float(rng.uniform(0.01, 0.03 + 0.12 * r)),
        scatter_sigma_px=float(rng.uniform(20.0, 60.0) / mm_per_px),
        focal_blur_px=float(focal_sigma),
        detector_blur_px=float(det_blur),
        read_noise=float(read),
        noise_scale=noise_scale,
    )


def attenuation(t_mm: np.ndarray, e: Exposure) -> np.ndarray:
    """-ln(I/I0) for an aluminium-equivalent path: mu*t*(1+t/t_h)^-k, sub-linear (beam hardening), monotone."""
    t = np.maximum(t_mm, 0.0).astype(np.float32, copy=False)
    if e.hardening_exp <= 0:
        return t * np.float32(e.mu_per_mm)
    return t * np.float32(e.mu_per_mm) * np.exp(np.float32(-e.hardening_exp) * np.log1p(t / np.float32(e.hardening_mm)))


def transmission(t_mm: np.ndarray, e: Exposure) -> np.ndarray:
    return np.exp(-attenuation(t_mm, e))


def blur(img: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(img, (0, 0), sigma) if sigma >= 0.3 else img


def lowpass(img: np.ndarray, sigma_px: float) -> np.ndarray:
    """Very wide Gaussian via a coarse grid (scatter, glare): cost independent of sigma."""
    h, w = img.shape
    f = max(1, min(int(sigma_px / 2.5), min(h, w) // 4))  # keep a few samples across thin images
    # plain subsampling is enough: the blur that follows is far wider than the sample spacing
    small = np.ascontiguousarray(img[f // 2 :: f, f // 2 :: f])
    small = cv2.GaussianBlur(small, (0, 0), max(0.5, sigma_px / f), borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def scatter(primary: np.ndarray, e: Exposure) -> np.ndarray:
    """Scatter reaching the detector: a low-frequency haze from where the part absorbs and re-emits."""
    source = primary * (1.0 - primary)  # most scatter comes from intermediate thicknesses
    return lowpass(source, e.scatter_sigma_px) * np.float32(4.0 * e.scatter_fraction)


def unit_noise(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Zero-mean, unit-variance float32 noise: sum of two random bytes (triangular distribution).

    About 5x cheaper than Generator.standard_normal(dtype=float32) here; the detector blur that follows sums
    several pixels, so what reaches the image is Gaussian to the eye and to the statistics we test (variance).
    """
    n = shape[0] * shape[1]
    b = np.frombuffer(rng.bytes(2 * n), np.uint8).reshape(2, n)
    s = b[0].astype(np.float32) + b[1]
    # var of one byte (0..255 uniform) is (256^2 - 1) / 12
    return ((s - np.float32(255.0)) * np.float32(1.0 / math.sqrt(2 * (256**2 - 1) / 12))).reshape(shape)


def expose(signal: np.ndarray, e: Exposure, rng: np.random.Generator) -> np.ndarray:
    """Quanta per pixel: focal blur, Poisson statistics (Gaussian with variance = mean, plus read noise),
    then the detector's own spread, which correlates the noise as on real screens."""
    q = blur(signal, e.focal_blur_px) * np.float32(e.photons_open)
    if e.noise_scale > 0:
        sd = np.sqrt(q + np.float32(e.read_noise**2)) * np.float32(e.noise_scale)
        q = q + sd * unit_noise(rng, q.shape)
    return blur(q, e.detector_blur_px)


def noise_sigma_rel(signal: float, e: Exposure, after_blur: bool = True) -> float:
    """Noise standard deviation of one pixel, relative to the open beam, after (or before) the detector blur."""
    if e.noise_scale <= 0:
        return 0.0
    var = (signal * e.photons_open + e.read_noise**2) / e.photons_open**2
    s = e.detector_blur_px
    reduction = 1.0 / (2.0 * math.sqrt(math.pi) * s) if s >= 0.3 and after_blur else 1.0
    return math.sqrt(var) * min(1.0, reduction) * e.noise_scale


@dataclass(frozen=True, eq=False)
class DetectorFrames:
    """Fixed pattern of one detector: per-pixel gain (mean 1) and offset (counts, or relative for intensifiers).
    Flat-field correction with these frames removes it: (raw - offset) / gain."""

    gain: np.ndarray
    offset: np.ndarray


def make_detector(rng: np.random.Generator, height_px: int, width_px: int, mode: DetectorMode) -> DetectorFrames:
    coarse = rng.standard_normal((6, 6)).astype(np.float32)
    smooth: np.ndarray = cv2.resize(coarse, (width_px, height_px), interpolation=cv2.INTER_CUBIC)
    pixel = rng.standard_normal((height_px, width_px)).astype(np.float32)
    if mode == DetectorMode.FLAT_PANEL:  # tiled panel: column amplifiers, row drivers, per-pixel gain
        cols = rng.standard_normal(width_px).astype(np.float32)
        gain = 1.0 + 0.03 * smooth + 0.01 * cols[None, :] + 0.008 * pixel
        tiles = np.repeat(rng.uniform(-80, 80, (width_px + 127) // 128).astype(np.float32), 128)[:width_px]
        offset = rng.uniform(300.0, 1500.0) + tiles[None, :] + 25.0 * pixel[::-1, ::-1] + 15.0 * cols[None, ::-1]
        # defective pixels (about 0.02 %): weak ones (low gain) and hot ones (high dark current). Both are in the
        # calibration frames, as on a real panel, so flat-field correction removes most of them; uncorrected
        # images show them as isolated dots, which a flaw detector must not take for pores.
        n_bad = rng.binomial(height_px * width_px, 2e-4)
        ys, xs = rng.integers(0, height_px, n_bad), rng.integers(0, width_px, n_bad)
        weak = rng.random(n_bad) < 0.5
        gain[ys[weak], xs[weak]] *= rng.uniform(0.2, 0.6, int(weak.sum())).astype(np.float32)
        offset[ys[~weak], xs[~weak]] += rng.uniform(2000.0, 8000.0, int((~weak).sum())).astype(np.float32)
    else:  # camera behind the intensifier: smooth shading and a little per-pixel response
        gain = 1.0 + 0.04 * smooth + 0.006 * pixel
        offset = 0.004 * np.abs(smooth[::-1, ::-1]) + 0.002 * pixel[::-1]
    return DetectorFrames(gain.astype(np.float32), offset.astype(np.float32))


def flat_panel_counts(quanta: np.ndarray, e: Exposure, det: DetectorFrames, rng: np.random.Generator) -> np.ndarray:
    """16-bit raw counts: ADC gain puts the open beam at 25k-70k counts (over 65535 the panel saturates)."""
    open_counts = rng.uniform(25000.0, 70000.0)
    counts = quanta * np.float32(open_counts / e.photons_open) * det.gain + det.offset
    return np.clip(counts + np.float32(0.5), 0, 65535).astype(np.uint16)
