"""Data-set writer: YOLO layout (images/, labels/, data.yaml) plus masks, a JSON manifest and a data-set card.

Image i is rendered from SeedSequence([seed, i]) alone, so images can be made in any order by any number of
worker processes and the files are the same bytes for the same seed.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.types import FlawClass
from vision.xray.params import XraySimParams, size_band
from vision.xray.simulator import SimulatedShot, XraySimulator

PARALLEL_FROM = 64  # below this many images one process is faster than starting workers
_PNG = [cv2.IMWRITE_PNG_COMPRESSION, 1]


def image_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, index]))


def yolo_lines(shot: SimulatedShot) -> list[str]:
    h, w = shot.image.pixels.shape
    lines = []
    for f in shot.instances:
        if f.flaw_class is None:  # anomaly-only kinds never become detector labels
            continue
        x0, y0, x1, y1 = f.bbox_xyxy_px
        cx, cy, bw, bh = (x0 + x1) / 2 / w, (y0 + y1) / 2 / h, (x1 - x0) / w, (y1 - y0) / h
        lines.append(f"{f.flaw_class.class_index} {cx:.6f} {cy:.6f} {bw:.6f} {bh:.6f}")
    return lines


def _entry(name: str, seed: int, index: int, shot: SimulatedShot) -> dict[str, Any]:
    img = shot.image
    return {
        "file": f"images/{name}.png",
        "label": f"labels/{name}.txt",
        "mask": f"masks/{name}.png",
        "index": index,
        "seed": [seed, index],
        "family": shot.family.value,
        "kv": img.tube_kv,
        "detector_mode": "flat_panel" if img.bit_depth == 16 else "image_intensifier",
        "bit_depth": img.bit_depth,
        "width": int(img.pixels.shape[1]),
        "height": int(img.pixels.shape[0]),
        "mm_per_px": round(img.mm_per_px, 6),
        "pixel_pitch_mm": round(img.pixel_pitch_mm, 6),
        "magnification": round(img.magnification, 6),
        "flaws": [
            {
                "instance_id": f.instance_id,
                "kind": f.kind,
                "class": f.flaw_class.value if f.flaw_class else None,
                "class_index": f.flaw_class.class_index if f.flaw_class else None,
                "anomaly_only": f.flaw_class is None,
                "bbox_xyxy_px": list(f.bbox_xyxy_px),
                "size_mm": f.size_mm,
                "depth_mm": f.depth_mm,
                "cnr": f.cnr,
                "snr": f.snr,
            }
            for f in shot.instances
        ],
    }


def _write_range(out_dir: str, seed: int, indices: list[int], params: XraySimParams, digits: int) -> list[dict]:
    out = Path(out_dir)
    sim = XraySimulator(params)
    entries = []
    for i in indices:
        shot = sim.render(image_rng(seed, i))
        name = f"{i:0{digits}d}"
        cv2.imwrite(str(out / "images" / f"{name}.png"), shot.image.pixels, _PNG)
        cv2.imwrite(str(out / "masks" / f"{name}.png"), shot.instance_mask.astype(np.uint16), _PNG)
        lines = yolo_lines(shot)
        (out / "labels" / f"{name}.txt").write_text("".join(line + "\n" for line in lines))
        entries.append(_entry(name, seed, i, shot))
    return entries


def write_dataset(
    out_dir: Path,
    count: int,
    seed: int,
    params: XraySimParams | None = None,
    workers: int | None = None,
    anomaly_kinds: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Writes `count` labelled radiographs; returns the summary also stored in manifest.json."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    params = params or XraySimParams()
    if anomaly_kinds is not None:
        params = params.model_copy(update={"anomaly_kinds": tuple(anomaly_kinds)})
        params = XraySimParams(**params.model_dump())  # re-validate
    out_dir = Path(out_dir).resolve()
    for sub, ext in (("images", ".png"), ("labels", ".txt"), ("masks", ".png")):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
        # images of an earlier, larger run in the same folder would be trained on with stale labels
        for old in (out_dir / sub).glob(f"*{ext}"):
            if old.stem.isdigit():
                old.unlink()
    digits = max(6, len(str(count - 1)))
    if workers is None:
        workers = 2 if count >= PARALLEL_FROM else 1
    workers = max(1, min(workers, os.cpu_count() or 1, count))
    indices = list(range(count))
    if workers == 1:
        entries = _write_range(str(out_dir), seed, indices, params, digits)
    else:  # one OpenCV thread per worker process (output does not depend on the thread count)
        chunks = [indices[k::workers] for k in range(workers)]
        # spawn, not fork: callers (training code) may hold threads, and forking those can deadlock
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=cv2.setNumThreads, initargs=(1,)) as pool:
            futures = [pool.submit(_write_range, str(out_dir), seed, c, params, digits) for c in chunks]
            entries = [e for f in futures for e in f.result()]
        entries.sort(key=lambda e: e["index"])
    summary = _summary(entries, seed, count, params)
    manifest = {"summary": summary, "params": _params_json(params), "images": entries}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    names = "\n".join(f"  {c.class_index}: {c.value}" for c in FlawClass)
    (out_dir / "data.yaml").write_text(f"path: {out_dir}\ntrain: images\nval: images\nnames:\n{names}\n")
    (out_dir / "DATASET_CARD.md").write_text(_card(summary, params))
    return summary


def _params_json(params: XraySimParams) -> dict[str, Any]:
    return json.loads(params.model_dump_json())


def _summary(entries: list[dict], seed: int, count: int, params: XraySimParams) -> dict[str, Any]:
    per_class: Counter[str] = Counter()
    per_band: Counter[str] = Counter()
    per_kind: Counter[str] = Counter()
    per_family: Counter[str] = Counter(e["family"] for e in entries)
    for e in entries:
        for f in e["flaws"]:
            per_kind[f["kind"]] += 1
            if f["class"]:
                per_class[f["class"]] += 1
                per_band[f"{f['class']} {size_band(f['size_mm'])}"] += 1
    flawed = sum(1 for e in entries if e["flaws"])
    return {
        "seed": seed,
        "count": count,
        "flawed_images": flawed,
        "flaw_free_images": count - flawed,
        "instances_per_class": dict(sorted(per_class.items())),
        "instances_per_kind": dict(sorted(per_kind.items())),
        "instances_per_class_and_size_band": dict(sorted(per_band.items())),
        "images_per_family": dict(sorted(per_family.items())),
        "detector_mode": params.detector_mode.value,
        "width": params.width_px,
        "height": params.height_px,
        # The labelling rule: fainter flaws were not rendered, so the set's recall figures hold above it.
        "min_cnr": params.min_cnr,
        "min_snr": params.min_snr,
    }


def _card(s: dict[str, Any], params: XraySimParams) -> str:
    rows = "\n".join(f"| {k} | {v} |" for k, v in s["instances_per_class_and_size_band"].items())
    kinds = "\n".join(f"| {k} | {v} |" for k, v in s["instances_per_kind"].items())
    fams = ", ".join(f"{k}: {v}" for k, v in s["images_per_family"].items())
    plist = "\n".join(f"- `{k}`: {v}" for k, v in _params_json(params).items())
    return f"""# Simulated X-ray data set

Written by `ironcell simulate-xray` (vision/xray). Seed {s["seed"]}; image i is rendered from
`numpy.random.SeedSequence([{s["seed"]}, i])`, so the same seed and parameters give the same bytes.

- images: {s["count"]} ({s["flawed_images"]} with flaws, {s["flaw_free_images"]} flaw-free); families: {fams}
- detector: {s["detector_mode"]}, {s["width"]}x{s["height"]} px
- labels: YOLO (class cx cy w h, normalised), classes in `FlawClass` order; boxes come from the instance masks
- masks/: 16-bit PNG, 0 = background, i = flaw instance i of `manifest.json` (anomaly-only kinds included)
- flaws whose contrast-to-noise ratio is below `min_cnr`, or whose whole-flaw SNR (Rose criterion) is below
  `min_snr`, are not labelled: on 8-bit intensifier frames both are measured in the final grey levels (the frame
  displayed again without its flaws), and a flaw changing the grey level by less than `min_contrast_gl` or hidden
  in saturated pixels is dropped and erased from the mask (no label on a flaw nobody could see); every labelled
  flaw carries its CNR and SNR in the manifest so evaluations can band by them
- anomaly-only kinds (foreign_object, cold_shut, surface_gas_hole) appear in masks and manifest, never in labels/

## Instances per class and true-size band

| class size band | instances |
| --- | --- |
{rows}

## Instances per kind

| kind | instances |
| --- | --- |
{kinds}

## Parameters

{plist}
"""
