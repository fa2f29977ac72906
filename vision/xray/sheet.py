"""Contact sheet of simulated radiographs with their true boxes (README figure, visual checks).

python -m vision.xray.sheet docs/images/xray_contact_sheet.jpg --seed 7
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from vision.types import DetectorMode, FlawClass
from vision.xray.dataset import image_rng
from vision.xray.params import XraySimParams
from vision.xray.simulator import SimulatedShot, XraySimulator

# BGR per detector class; anomaly-only kinds in magenta
COLOURS = {
    FlawClass.POROSITY: (0, 0, 255),
    FlawClass.SHRINKAGE: (0, 200, 255),
    FlawClass.CRACK: (0, 255, 0),
    FlawClass.INCLUSION: (255, 160, 0),
}
ANOMALY_COLOUR = (255, 0, 255)


def _to8(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels
    lo, hi = np.percentile(pixels[::4, ::4], [0.5, 99.5])
    return np.clip((pixels.astype(np.float32) - lo) * (255.0 / max(hi - lo, 1.0)), 0, 255).astype(np.uint8)


def annotate(shot: SimulatedShot, scale: float = 1.0) -> np.ndarray:
    img = cv2.cvtColor(_to8(shot.image.pixels), cv2.COLOR_GRAY2BGR)
    if scale != 1.0:
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    for f in shot.instances:
        x0, y0, x1, y1 = (round(v * scale) for v in f.bbox_xyxy_px)
        colour = COLOURS[f.flaw_class] if f.flaw_class else ANOMALY_COLOUR
        cv2.rectangle(img, (x0 - 2, y0 - 2), (x1 + 1, y1 + 1), colour, 1, cv2.LINE_AA)
        text = f"{f.kind} {f.size_mm:.1f}mm"
        cv2.putText(img, text, (x0, max(10, y0 - 5)), cv2.FONT_HERSHEY_SIMPLEX, 0.35, colour, 1, cv2.LINE_AA)
    cap = f"{shot.family.value} {shot.image.tube_kv:.0f}kV {shot.image.mm_per_px:.2f}mm/px"
    cv2.putText(img, cap, (6, img.shape[0] - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 255), 1, cv2.LINE_AA)
    return img


def contact_sheet(params: XraySimParams, seed: int, n: int = 12, cols: int = 4, scale: float = 0.5) -> np.ndarray:
    sim = XraySimulator(params)
    tiles = [annotate(sim.render(image_rng(seed, i)), scale) for i in range(n)]
    rows = [np.hstack(tiles[i : i + cols]) for i in range(0, n - n % cols, cols)]
    return np.vstack(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--detector-mode", default="image_intensifier", choices=[m.value for m in DetectorMode])
    ap.add_argument("--flaw-free-share", type=float, default=0.0)
    args = ap.parse_args()
    params = XraySimParams(detector_mode=DetectorMode(args.detector_mode), flaw_free_share=args.flaw_free_share)
    sheet = contact_sheet(params, args.seed, args.count)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), sheet, [cv2.IMWRITE_JPEG_QUALITY, 88])


if __name__ == "__main__":
    main()
