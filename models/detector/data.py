"""Training data of the detector: simulated radiographs (vision.xray) -> preprocessed crops at native resolution.

Every image goes through the run-time windowing (vision.preprocess) with randomised percentiles, then extra
look changes (resampling, gamma, blur, noise) the simulator does not make, and is cut into `crop_px` crops,
most of them near a flaw. Labels are clipped to the crop; a box less than `min_visible` visible is dropped.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from models.detector.config import CropAugment, DataConfig
from vision.image_io import load_pixels
from vision.preprocess import detector_channels, to_uint8, window_to_unit
from vision.types import FlawClass

log = logging.getLogger(__name__)

PAD_GREY = 114
DEFAULT_SIM_OVERRIDES: dict[str, Any] = {"min_cnr": 2.5}


def read_yolo_labels(label_file: Path, width: int, height: int) -> np.ndarray:
    """YOLO label file -> array (N, 5): class, x0, y0, x1, y1 in pixels."""
    rows = []
    if label_file.is_file():
        for line in label_file.read_text().splitlines():
            parts = line.split()
            if len(parts) != 5:
                continue
            c, cx, cy, w, h = int(parts[0]), *(float(v) for v in parts[1:])
            rows.append([c, (cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height])
    return np.array(rows, dtype=np.float64).reshape(-1, 5)


def _uniform(rng: np.random.Generator, r: tuple[float, float]) -> float:
    return float(rng.uniform(r[0], r[1]))


def look(
    raw: np.ndarray, boxes: np.ndarray, rng: np.random.Generator, aug: CropAugment | None
) -> tuple[np.ndarray, np.ndarray]:
    """Raw radiograph -> (H, W, 3) uint8 detector channels as the model sees them (+ boxes rescaled with it).

    Written to PNG in reversed order: ultralytics reads BGR and flips to RGB, so the model gets channel 0 first,
    as the run time feeds it.
    """
    if aug is None:
        return _to_png_channels(window_to_unit(raw)), boxes
    s = _uniform(rng, aug.rescale)
    img = raw
    if abs(s - 1.0) > 0.02:
        interp = cv2.INTER_AREA if s < 1.0 else cv2.INTER_LINEAR
        img = cv2.resize(raw, None, fx=s, fy=s, interpolation=interp)
        boxes = boxes.copy()
        boxes[:, 1:] *= s
    x = window_to_unit(img, _uniform(rng, aug.window_low_pct), _uniform(rng, aug.window_high_pct))
    if rng.random() < aug.gamma_p:
        x = np.power(x, _uniform(rng, aug.gamma), dtype=np.float32)
    if rng.random() < aug.blur_p:
        x = cv2.GaussianBlur(x, (0, 0), _uniform(rng, aug.blur_sigma_px))
    if rng.random() < aug.noise_p:
        x = x + rng.normal(0.0, _uniform(rng, aug.noise_sigma), x.shape).astype(np.float32)
    if raw.dtype == np.uint8 or rng.random() < 0.5:
        # 8-bit sources (image intensifiers) are quantised before any processing: keep that look.
        x = to_uint8(x).astype(np.float32) / 255.0
    return _to_png_channels(np.clip(x, 0.0, 1.0)), boxes


def _to_png_channels(image01: np.ndarray) -> np.ndarray:
    return to_uint8(detector_channels(image01))[..., ::-1]


def crop_origins(
    h: int, w: int, boxes: np.ndarray, crop: int, n: int, flaw_centred_p: float, rng: np.random.Generator
) -> list[tuple[int, int]]:
    """Top-left corners of n crops: near a random flaw with probability flaw_centred_p, else anywhere."""
    out = []
    for _ in range(n):
        if len(boxes) and rng.random() < flaw_centred_p:
            b = boxes[int(rng.integers(len(boxes)))]
            cx, cy = (b[1] + b[3]) / 2, (b[2] + b[4]) / 2
            x0 = cx - crop / 2 + rng.uniform(-0.35, 0.35) * crop
            y0 = cy - crop / 2 + rng.uniform(-0.35, 0.35) * crop
        else:
            x0, y0 = rng.uniform(0, max(0, w - crop)), rng.uniform(0, max(0, h - crop))
        out.append((int(np.clip(x0, 0, max(0, w - crop))), int(np.clip(y0, 0, max(0, h - crop)))))
    return out


def cut(
    img: np.ndarray, boxes: np.ndarray, x0: int, y0: int, crop: int, min_visible: float
) -> tuple[np.ndarray, list[str]]:
    """One crop (padded with grey where the image is smaller) and its YOLO label lines."""
    tile = np.full((crop, crop, *img.shape[2:]), PAD_GREY, np.uint8)
    part = img[y0 : y0 + crop, x0 : x0 + crop]
    tile[: part.shape[0], : part.shape[1]] = part
    lines = []
    for c, bx0, by0, bx1, by1 in boxes:
        area = max(bx1 - bx0, 1e-6) * max(by1 - by0, 1e-6)
        cx0, cy0 = max(bx0 - x0, 0.0), max(by0 - y0, 0.0)
        cx1, cy1 = min(bx1 - x0, part.shape[1]), min(by1 - y0, part.shape[0])
        if cx1 - cx0 < 1.0 or cy1 - cy0 < 1.0:
            continue
        if (cx1 - cx0) * (cy1 - cy0) < min_visible * area:
            continue
        lines.append(
            f"{int(c)} {(cx0 + cx1) / 2 / crop:.6f} {(cy0 + cy1) / 2 / crop:.6f} "
            f"{(cx1 - cx0) / crop:.6f} {(cy1 - cy0) / crop:.6f}"
        )
    return tile, lines


def _crop_dataset_part(job: dict[str, Any]) -> int:
    """Worker: crops for a list of images of one simulated data set."""
    cv2.setNumThreads(1)
    src, out = Path(job["src"]), Path(job["out"])
    aug = CropAugment(**job["augment"]) if job["augment"] is not None else None
    written = 0
    for entry in job["entries"]:
        rng = np.random.default_rng(np.random.SeedSequence([job["seed"], entry["index"]]))
        raw = load_pixels(src / entry["file"])
        boxes = read_yolo_labels(src / entry["label"], raw.shape[1], raw.shape[0])
        img, boxes = look(raw, boxes, rng, aug)
        h, w = img.shape[:2]
        for k, (x0, y0) in enumerate(crop_origins(h, w, boxes, job["crop"], job["crops"], job["flaw_centred_p"], rng)):
            tile, lines = cut(img, boxes, x0, y0, job["crop"], job["min_visible"])
            name = f"{job['prefix']}_{entry['index']:06d}_{k}"
            cv2.imwrite(str(out / "images" / f"{name}.png"), tile, [cv2.IMWRITE_PNG_COMPRESSION, 1])
            (out / "labels" / f"{name}.txt").write_text("".join(line + "\n" for line in lines))
            written += 1
    return written


def crop_dataset(
    src: Path,
    out: Path,
    prefix: str,
    cfg: DataConfig,
    seed: int,
    augment: bool,
    workers: int,
) -> int:
    """Cut every image of a simulated data set (manifest.json) into crops under out/images, out/labels."""
    manifest = json.loads((src / "manifest.json").read_text())
    entries = [{"file": e["file"], "label": e["label"], "index": e["index"]} for e in manifest["images"]]
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    base = {
        "src": str(src),
        "out": str(out),
        "prefix": prefix,
        "seed": seed,
        "crop": cfg.crop_px,
        "crops": cfg.crops_per_image,
        "flaw_centred_p": cfg.flaw_centred_p,
        "min_visible": cfg.min_visible,
        "augment": cfg.augment.model_dump() if augment else None,
    }
    jobs = [{**base, "entries": entries[k::workers]} for k in range(workers)]
    if workers == 1:
        return _crop_dataset_part(jobs[0])
    with ProcessPoolExecutor(workers) as pool:
        return sum(pool.map(_crop_dataset_part, jobs))


def render_variant(out_dir: Path, count: int, seed: int, overrides: dict[str, Any], workers: int) -> Path:
    """Render (or reuse, when an identical one exists) one simulated data set."""
    from vision.xray import XraySimParams, write_dataset

    params = XraySimParams(**{**DEFAULT_SIM_OVERRIDES, **overrides})
    manifest = out_dir / "manifest.json"
    if manifest.is_file():
        old = json.loads(manifest.read_text())
        if (
            old.get("summary", {}).get("count") == count
            and old.get("summary", {}).get("seed") == seed
            and old.get("params") == json.loads(params.model_dump_json())
        ):
            log.info("reusing simulated data set %s", out_dir)
            return out_dir
    log.info("rendering %d radiographs into %s (seed %d)", count, out_dir, seed)
    write_dataset(out_dir, count, seed, params, workers=workers)
    return out_dir


def write_data_yaml(root: Path) -> Path:
    names = "\n".join(f"  {c.class_index}: {c.value}" for c in FlawClass)
    path = root / "data.yaml"
    path.write_text(f"path: {root.resolve()}\ntrain: train/images\nval: val/images\nnames:\n{names}\n")
    return path


def build_training_set(cfg: DataConfig, work_dir: Path, external: list[Path] | None = None) -> dict[str, Any]:
    """Simulated radiographs per variant -> crops in work_dir/yolo/{train,val}; returns a summary for the card."""
    root = work_dir / "yolo"
    for split in ("train", "val"):
        d = root / split
        if d.exists():
            for f in d.glob("*/*"):
                f.unlink()
    summary: dict[str, Any] = {"variants": [], "external": [str(p) for p in external or []]}
    n_train = n_val = 0
    for k, v in enumerate(cfg.variants):
        tr_count = max(1, round(v.share * cfg.train_images))
        va_count = max(1, round(v.share * cfg.val_images))
        tr_seed, va_seed = cfg.train_seed + 1000 * k, cfg.val_seed + 1000 * k
        if external:
            tr_src = None
        else:
            tr_src = render_variant(work_dir / "sim" / f"train_{v.name}", tr_count, tr_seed, v.params, cfg.workers)
        va_src = render_variant(work_dir / "sim" / f"val_{v.name}", va_count, va_seed, v.params, cfg.workers)
        if tr_src is not None:
            n_train += crop_dataset(tr_src, root / "train", v.name, cfg, tr_seed, True, cfg.workers)
        n_val += crop_dataset(va_src, root / "val", v.name, cfg, va_seed, False, cfg.workers)
        summary["variants"].append(
            {
                "name": v.name,
                "params": v.params,
                "train_images": 0 if external else tr_count,
                "train_seed": tr_seed,
                "val_images": va_count,
                "val_seed": va_seed,
            }
        )
    for i, ext in enumerate(external or []):
        n_train += crop_dataset(ext, root / "train", f"ext{i}", cfg, cfg.train_seed + 777 + i, True, cfg.workers)
    summary["train_crops"] = n_train
    summary["val_crops"] = n_val
    summary["crop_px"] = cfg.crop_px
    summary["data_yaml"] = str(write_data_yaml(root))
    return summary
