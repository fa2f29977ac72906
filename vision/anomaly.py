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

OUTPUT_STRIDE = 4
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


def _regions(smooth: np.ndarray, threshold: float, shape_hw: tuple[int, int]) -> tuple[Box, ...]:
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
                    float(x * OUTPUT_STRIDE),
                    float(y * OUTPUT_STRIDE),
                    float(min((x + bw) * OUTPUT_STRIDE, w)),
                    float(min((y + bh) * OUTPUT_STRIDE, h)),
                ),
            )
        )
    boxes.sort(key=lambda b: -b[0])
    return tuple(b for _, b in boxes[:MAX_REGIONS])


def input_features(image01: np.ndarray, highpass_sigmas: tuple[float, ...], gain: float) -> np.ndarray:
    """The net's fixed input channels, (1, 1 + len(sigmas), H, W): the centred image and, per sigma, the
    difference from a Gaussian local mean (edge-replicated borders), exactly as in training
    (`models.anomaly.net.AnomalySegNet.features`); computed here because OpenCV blurs far faster."""
    img = image01.astype(np.float32, copy=False)
    chans = [(img - np.float32(0.5)) * np.float32(4.0)]
    for sigma in highpass_sigmas:
        k = 2 * max(1, round(3 * sigma)) + 1
        blurred = cv2.GaussianBlur(img, (k, k), sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE)
        chans.append((img - blurred) * np.float32(gain))
    return np.stack(chans)[None]


class OnnxAnomalyScorer:
    """AnomalyScorer on ONNX Runtime. `score(image01)` takes a preprocessed 2-D float image in [0, 1]."""

    def __init__(
        self,
        model_path: Path,
        threshold: float,
        version: str = "",
        threads: int = 2,
        smooth_sigma_px: float = 1.0,
        calibration_scores: tuple[float, ...] = (),
        highpass_sigmas: tuple[float, ...] = (),
        highpass_gain: float = 20.0,
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
        # A model exported with its feature channels outside the graph says so by its input width.
        self._highpass = tuple(highpass_sigmas) if channels > 1 else ()
        if channels > 1 and channels != 1 + len(self._highpass):
            raise ValueError(
                f"{model_path}: the model takes {channels} input channels but the card names "
                f"{len(self._highpass)} high-pass sigma(s): card and model do not belong together"
            )
        self._gain = highpass_gain
        self.threshold = float(threshold)
        self.smooth_sigma_px = smooth_sigma_px
        self.calibration_scores = calibration_scores
        digest = hashlib.sha256(Path(model_path).read_bytes()).hexdigest()
        self.version = version or f"anomaly@{digest[:12]}"

    def net_maps(self, image01: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Raw net output at 1/4 resolution (rounded up): anomaly probability, material probability or None."""
        img = _check_image(image01)
        h, w = img.shape
        ph, pw = -h % SIZE_MULTIPLE, -w % SIZE_MULTIPLE
        if ph or pw:
            # Reflection keeps the padded border looking like the part, not like a step edge.
            img = cv2.copyMakeBorder(img, 0, ph, 0, pw, cv2.BORDER_REFLECT_101)
        feed = input_features(img, self._highpass, self._gain) if self._highpass else img[None, None]
        out = self._session.run(None, {self._input: feed})[0][0]
        out = np.asarray(out[:, : -(-h // OUTPUT_STRIDE), : -(-w // OUTPUT_STRIDE)], dtype=np.float32)
        return out[0], (out[1] if out.shape[0] > 1 else None)

    def smoothed_map(self, image01: np.ndarray) -> np.ndarray:
        """Masked, smoothed probability at 1/4 resolution: the map the image score and regions come from."""
        prob, material_prob = self.net_maps(image01)
        if material_prob is not None:
            material = material_prob > 0.5
            material = cv2.dilate(material.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        else:
            small = cv2.resize(
                np.asarray(image01, np.float32), (prob.shape[1], prob.shape[0]), interpolation=cv2.INTER_AREA
            )
            material = material_mask(small)
        prob = prob * material
        if self.smooth_sigma_px > 0:
            prob = cv2.GaussianBlur(prob, (0, 0), self.smooth_sigma_px)
        return prob

    def image_score(self, image01: np.ndarray) -> float:
        return float(self.smoothed_map(image01).max())

    def score(self, image01: np.ndarray) -> AnomalyOutput:
        smooth = self.smoothed_map(image01)
        h, w = np.asarray(image01).shape
        full = cv2.resize(smooth, (w, h), interpolation=cv2.INTER_LINEAR)
        return AnomalyOutput(
            image_score=float(smooth.max()),
            threshold=self.threshold,
            anomaly_map=full,
            regions_xyxy_px=_regions(smooth, self.threshold, (h, w)),
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
        highpass_sigmas=tuple(float(x) for x in card.get("features", {}).get("highpass_sigmas", ())),
        highpass_gain=float(card.get("features", {}).get("highpass_gain", 20.0)),
    )
