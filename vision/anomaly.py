"""Anomaly scorer runtime: the exported segmentation net through ONNX Runtime (no torch here).

It flags what the defect detector has no class for. The net returns, at 1/4 resolution, a per-pixel
anomaly probability and a material probability (where the part's metal is). The anomaly map is confined
to the part (grown by one cell so a flaw open to the surface keeps its rim): the direct beam around the
part, the dark corners outside an image intensifier's circular field and fixtures hold no casting flaw
and must never raise an alarm. It is then smoothed, and its maximum is the image score. The threshold
is calibrated on flaw-free parts to a target false-alarm rate and ships in the model card together with
the calibration scores, so another rate can be chosen without recalibrating.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.types import AnomalyOutput

log = logging.getLogger(__name__)

SIZE_MULTIPLE = 16
MODEL_FILE = "model.onnx"
CARD_FILE = "model_card.json"
MAX_REGIONS = 32


def calibrate_threshold(flaw_free_scores: Iterable[float], false_alarm_rate: float) -> float:
    """Smallest threshold such that at most `false_alarm_rate` of the flaw-free scores reach it.

    Scores at or above the threshold are anomalous. With n scores, floor(rate * n) of them may lie at or
    above it; the threshold sits halfway into the gap below the first one that must not, so that a
    score equal to a calibration score is judged the way that score was.
    """
    s = np.sort(np.asarray(list(flaw_free_scores), dtype=np.float64))
    if s.size == 0:
        raise ValueError("threshold calibration needs at least one flaw-free score")
    if not np.all(np.isfinite(s)):
        raise ValueError("threshold calibration got non-finite scores")
    if not 0.0 < false_alarm_rate < 1.0:
        raise ValueError(f"false_alarm_rate must be in (0, 1), got {false_alarm_rate}")
    allowed = int(np.floor(false_alarm_rate * s.size + 1e-9))
    if allowed == 0:
        return float(np.nextafter(s[-1], np.inf))
    hi = s[s.size - allowed]  # lowest score that may alarm
    lo = s[s.size - allowed - 1]  # highest score that must not
    if hi == lo:
        # Ties: the tied scores must stay below, so fewer than `allowed` alarm.
        return float(np.nextafter(lo, np.inf))
    return float(0.5 * (lo + hi))


def material_mask(image01_small: np.ndarray) -> np.ndarray:
    """True where the part is, from grey values alone: the fallback for a model without a material head.

    The direct beam around a part is the brightest, flat plateau of a radiograph. It is found as the
    pixels near the bright end of the histogram, only when such a plateau is clearly separated from
    the rest (a part filling the whole field of view has none). Grown by one map pixel so a flaw open
    to the surface keeps its rim.
    """
    img = image01_small.astype(np.float32)
    lo, hi = np.percentile(img, [5.0, 99.5])
    if hi - lo < 0.05:
        return np.ones(img.shape, bool)
    air = img >= hi - 0.04 * (hi - lo) - 0.01
    if air.mean() < 0.02:
        return np.ones(img.shape, bool)
    # Air is a large connected plateau; opening removes bright specks inside the part (voids).
    air = cv2.morphologyEx(air.astype(np.uint8), cv2.MORPH_OPEN, np.ones((5, 5), np.uint8)).astype(bool)
    material = ~air
    material = cv2.dilate(material.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return material


Box = tuple[float, float, float, float]


def _regions(smooth: np.ndarray, threshold: float, shape_hw: tuple[int, int], stride: int) -> tuple[Box, ...]:
    hot = (smooth >= threshold).astype(np.uint8)
    if not hot.any():
        return ()
    n, _, stats, _ = cv2.connectedComponentsWithStats(hot, connectivity=8)
    h, w = shape_hw
    boxes: list[tuple[int, Box]] = []
    for i in range(1, n):
        x, y, bw, bh, area = (int(v) for v in stats[i])
        boxes.append(
            (
                area,
                (
                    float(x * stride),
                    float(y * stride),
                    float(min((x + bw) * stride, w)),
                    float(min((y + bh) * stride, h)),
                ),
            )
        )
    boxes.sort(key=lambda b: -b[0])
    return tuple(b for _, b in boxes[:MAX_REGIONS])


# --- the net's input features (shared by training and runtime: one definition) -----------------------------
# The net sees the image at half resolution (2x2 area mean: the noise halves with the signal, so a flaw of two
# pixels or more keeps its contrast-to-noise ratio) as six channels: the centred grey level (thickness
# context), three band-passes divided by the local noise (so a flaw a few noise sigmas off its surroundings
# looks the same on an 8-bit intensifier and a 16-bit flat panel, in thin and thick sections), compressed,
# and two linear noise-normalised residuals (fine band, 5x5 median) for flaws on the part's own edges.
FEATURE_KIND = "bandpass-noise-v3"
INPUT_SCALE = 2
FEATURE_CHANNELS = 6
# (inner, outer) Gaussian sigmas of each band at half resolution: ~3 px, ~10 px and ~32 px at full resolution.
_BANDS: tuple[tuple[float, float], ...] = ((0.0, 1.5), (1.0, 5.0), (2.0, 16.0))
_NOISE_BLOCK_PX = 16
# Half a grey level of an 8-bit display averaged over 2x2 pixels: below it the noise estimate is quantisation.
_NOISE_FLOOR = 0.0015
# asinh(z / 2): linear for faint departures (a few sigma), logarithmic for the part's own edges (hundreds).
_Z_SOFT = 2.0
# Linear channels: z / 6, clipped at +-4 (24 sigma).
_Z_LINEAR = 6.0
_Z_CLIP = 4.0


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return x
    if sigma >= 8.0:
        # Large blurs on a 4x reduced grid: the same up to interpolation, far cheaper.
        h, w = x.shape
        small = cv2.resize(x, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), sigma / 4.0, borderType=cv2.BORDER_REFLECT_101)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(x, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)


def local_noise(highpass: np.ndarray) -> np.ndarray:
    """Robust local noise sigma: the median |high-pass| of 16x16 blocks (edges through a block are a minority
    of its pixels, so they barely move the median), smoothed over neighbouring blocks, floored."""
    h, w = highpass.shape
    b = _NOISE_BLOCK_PX
    hb, wb = max(1, h // b), max(1, w // b)
    a = np.abs(highpass[: hb * b, : wb * b]).reshape(hb, b, wb, b).transpose(0, 2, 1, 3).reshape(hb, wb, b * b)
    med = np.partition(a, (b * b) // 2, axis=2)[..., (b * b) // 2] * np.float32(1.4826)
    grid = np.maximum(med, np.float32(_NOISE_FLOOR)).astype(np.float32)
    if hb > 2 and wb > 2:
        grid = np.asarray(cv2.GaussianBlur(grid, (3, 3), 0.8, borderType=cv2.BORDER_REPLICATE), np.float32)
    return np.asarray(cv2.resize(grid, (w, h), interpolation=cv2.INTER_LINEAR), np.float32)


def downscale(image01: np.ndarray) -> np.ndarray:
    """Full-resolution image (even sides) -> half resolution by 2x2 area mean."""
    h, w = image01.shape
    return cv2.resize(
        np.asarray(image01, np.float32), (w // INPUT_SCALE, h // INPUT_SCALE), interpolation=cv2.INTER_AREA
    )


def anomaly_features(half01: np.ndarray) -> np.ndarray:
    """Half-resolution image in [0, 1] -> (FEATURE_CHANNELS, H, W) float32 net input (see above)."""
    x = np.ascontiguousarray(half01, dtype=np.float32)
    fine = x - _blur(x, _BANDS[0][1])
    sigma = local_noise(fine)
    inv = np.float32(1.0 / _Z_SOFT) / sigma
    out = np.empty((FEATURE_CHANNELS, *x.shape), np.float32)
    out[0] = (x - np.float32(0.5)) * np.float32(4.0)
    out[1] = np.arcsinh(fine * inv)
    for c, (inner, outer) in enumerate(_BANDS[1:], start=2):
        out[c] = np.arcsinh((_blur(x, inner) - _blur(x, outer)) * inv)
    # The compressed bands hide a flaw sitting on one of the part's own edges (+10 sigma on an edge of
    # +200 moves asinh by 0.05); a linear fine band (clipped) and the residual of a 5x5 median (which keeps
    # straight edges and removes what is smaller than about 2 px) keep it visible.
    np.clip(fine * (inv * np.float32(_Z_SOFT / _Z_LINEAR)), -_Z_CLIP, _Z_CLIP, out=out[4])
    residual = x - cv2.medianBlur(x, 5)
    np.clip(residual * (inv * np.float32(_Z_SOFT / _Z_LINEAR)), -_Z_CLIP, _Z_CLIP, out=out[5])
    return out


class OnnxAnomalyScorer:
    """AnomalyScorer on ONNX Runtime. `score(image01)` takes a preprocessed 2-D float image in [0, 1].

    A model with FEATURE_CHANNELS inputs gets `anomaly_features` of the half-resolution image; a one-channel
    model gets the image itself. The map's stride (input pixels per map cell) is read off the output.
    """

    def __init__(
        self,
        model_path: Path,
        threshold: float,
        version: str = "",
        threads: int = 2,
        smooth_sigma_px: float = 1.0,
        calibration_scores: tuple[float, ...] = (),
        feature_kind: str = "",
        ignore_border_px: int = 0,
    ) -> None:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        # No busy-waiting: the cores are shared with the cell loop, the detector and the robot.
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.log_severity_level = 3
        self._session = ort.InferenceSession(str(model_path), so, providers=["CPUExecutionProvider"])
        inp = self._session.get_inputs()[0]
        self._input = inp.name
        channels = inp.shape[1] if len(inp.shape) == 4 and isinstance(inp.shape[1], int) else 1
        if channels not in (1, FEATURE_CHANNELS):
            raise ValueError(
                f"{model_path}: the model takes {channels} input channels; this runtime feeds 1 or "
                f"{FEATURE_CHANNELS} ({FEATURE_KIND})"
            )
        if channels == FEATURE_CHANNELS and feature_kind and feature_kind != FEATURE_KIND:
            raise ValueError(
                f"{model_path}: trained on features {feature_kind!r} but this runtime computes {FEATURE_KIND!r}"
            )
        self._features = channels == FEATURE_CHANNELS
        self.threshold = float(threshold)
        self.smooth_sigma_px = smooth_sigma_px
        # The band-pass features and the net see a reflected image beyond its edge; their strongest responses on
        # flaw-free parts sat there. Map cells within this many pixels of the image border are not scored.
        self.ignore_border_px = int(ignore_border_px)
        self.calibration_scores = calibration_scores
        digest = hashlib.sha256(Path(model_path).read_bytes()).hexdigest()
        self.version = version or f"anomaly@{digest[:12]}"

    def net_maps(self, image01: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, int]:
        """Raw net output: anomaly probability, material probability (or None) and the stride in image pixels
        of one map cell; the maps cover the image (rounded up to whole cells)."""
        img = _check_image(image01)
        h, w = img.shape
        multiple = SIZE_MULTIPLE * (INPUT_SCALE if self._features else 1)
        ph, pw = -h % multiple, -w % multiple
        if ph or pw:
            # Reflection keeps the padded border looking like the part, not like a step edge.
            img = cv2.copyMakeBorder(img, 0, ph, 0, pw, cv2.BORDER_REFLECT_101)
        feed = anomaly_features(downscale(img))[None] if self._features else img[None, None]
        out = self._session.run(None, {self._input: feed})[0][0]
        stride = max(1, img.shape[0] // out.shape[1])
        out = np.asarray(out[:, : -(-h // stride), : -(-w // stride)], dtype=np.float32)
        return out[0], (out[1] if out.shape[0] > 1 else None), stride

    def _smoothed(self, image01: np.ndarray) -> tuple[np.ndarray, int]:
        prob, material_prob, stride = self.net_maps(image01)
        if material_prob is not None:
            material = material_prob > 0.5
            material = cv2.dilate(material.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        else:
            small = cv2.resize(
                np.asarray(image01, np.float32), (prob.shape[1], prob.shape[0]), interpolation=cv2.INTER_AREA
            )
            material = material_mask(small)
        prob = prob * material
        if self.ignore_border_px > 0:
            b = -(-self.ignore_border_px // stride)  # whole cells
            prob[:b] = 0.0
            prob[-b:] = 0.0
            prob[:, :b] = 0.0
            prob[:, -b:] = 0.0
        if self.smooth_sigma_px > 0:
            prob = cv2.GaussianBlur(prob, (0, 0), self.smooth_sigma_px)
        return prob, stride

    def smoothed_map(self, image01: np.ndarray) -> np.ndarray:
        """Masked, smoothed probability per map cell: the map the image score and regions come from."""
        return self._smoothed(image01)[0]

    def image_score(self, image01: np.ndarray) -> float:
        return float(self._smoothed(image01)[0].max())

    def score(self, image01: np.ndarray) -> AnomalyOutput:
        smooth, stride = self._smoothed(image01)
        h, w = np.asarray(image01).shape
        mh, mw = smooth.shape
        full = cv2.resize(smooth, (mw * stride, mh * stride), interpolation=cv2.INTER_LINEAR)[:h, :w]
        return AnomalyOutput(
            image_score=float(smooth.max()),
            threshold=self.threshold,
            anomaly_map=np.ascontiguousarray(full),
            regions_xyxy_px=_regions(smooth, self.threshold, (h, w), stride),
        )


def _check_image(image01: Any) -> np.ndarray:
    img = np.asarray(image01)
    if img.ndim != 2 or min(img.shape) < SIZE_MULTIPLE:
        raise ValueError(f"anomaly scorer needs a 2-D image of at least 16x16 pixels, got shape {img.shape}")
    if not np.issubdtype(img.dtype, np.floating):
        raise ValueError(f"anomaly scorer needs a float image in [0, 1], got dtype {img.dtype}")
    img = img.astype(np.float32)
    if not np.isfinite(img).all():
        raise ValueError("anomaly scorer got NaN or infinite pixels")
    return np.ascontiguousarray(np.clip(img, 0.0, 1.0))


def read_card(model_dir: Path) -> dict[str, Any]:
    path = Path(model_dir) / CARD_FILE
    try:
        card: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    return card


def load_anomaly_scorer(
    model_dir: Path | None, false_alarm_rate: float | None = None, threads: int = 2
) -> OnnxAnomalyScorer | None:
    """The scorer in `model_dir`, or None when no model is installed there (the cell runs without it).

    With `false_alarm_rate` the threshold is recomputed from the card's flaw-free calibration scores;
    otherwise the calibrated threshold in the card is used.
    """
    if model_dir is None:
        return None
    model_dir = Path(model_dir)
    model = model_dir / MODEL_FILE
    if not model.is_file() or not (model_dir / CARD_FILE).is_file():
        log.warning("no anomaly model in %s (need %s and %s): running without it", model_dir, MODEL_FILE, CARD_FILE)
        return None
    card = read_card(model_dir)
    cal = tuple(float(s) for s in card.get("calibration", {}).get("flaw_free_scores", ()))
    threshold = float(card["threshold"])
    if false_alarm_rate is not None and cal and abs(false_alarm_rate - float(card["false_alarm_rate"])) > 1e-12:
        threshold = calibrate_threshold(cal, false_alarm_rate)
    return OnnxAnomalyScorer(
        model,
        threshold=threshold,
        version=str(card.get("version", "")),
        threads=threads,
        smooth_sigma_px=float(card.get("smooth_sigma_px", 1.0)),
        calibration_scores=cal,
        ignore_border_px=int(card.get("ignore_border_px", 0)),
        feature_kind=str(card.get("features", {}).get("kind", "")),
    )
