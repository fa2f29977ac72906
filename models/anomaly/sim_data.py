"""Radiographs for anomaly training, calibration and evaluation, drawn from the X-ray simulator.

Each use has its own random stream (SeedSequence entropy `(seed, stream, i)`), so training, validation,
calibration and the held-out evaluation never share an image; the evaluation also uses its own seed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from models.anomaly.data import FlawFreeImage
from vision.preprocess import Preprocessor
from vision.types import PartFamily, PartIdentity, XrayImage

STREAM_TRAIN = 1
STREAM_VAL = 2
STREAM_CAL = 3
STREAM_EVAL_NORMAL = 4
STREAM_EVAL_ANOMALY = 5

ANOMALY_KINDS = ("foreign_object", "cold_shut", "surface_gas_hole")


@dataclass(frozen=True, eq=False)
class EvalSample:
    """One held-out radiograph: preprocessed image, anomaly pixels (bool), material pixels (bool), and the
    radiograph as the cell receives it (raw pixels, geometry, part family) for `evaluate anomaly --cell`."""

    image01: np.ndarray
    anomaly_mask: np.ndarray
    material: np.ndarray | None  # unknown for images read from disk
    kinds: tuple[str, ...]
    xray: XrayImage | None = None  # None where the geometry is unknown (a folder without it in its manifest)

    @property
    def is_anomalous(self) -> bool:
        return bool(self.anomaly_mask.any())


def _params(width_px: int, height_px: int, families: tuple[str, ...], anomaly: bool):  # type: ignore[no-untyped-def]
    from vision.xray.params import XraySimParams

    fam = tuple(PartFamily(f) for f in families)
    if not anomaly:
        return XraySimParams(width_px=width_px, height_px=height_px, families=fam, flaw_free_share=1.0)
    # Only the anomaly-only kinds: flaws the detector has a class for do not belong in this set.
    return XraySimParams(
        width_px=width_px,
        height_px=height_px,
        families=fam,
        flaw_free_share=0.0,
        anomaly_kinds=ANOMALY_KINDS,
        anomaly_share=1.0,
    )


def flaw_free_images(
    count: int, seed: int, stream: int, width_px: int, height_px: int, families: tuple[str, ...]
) -> list[FlawFreeImage]:
    from vision.xray.simulator import XraySimulator

    sim = XraySimulator(_params(width_px, height_px, families, anomaly=False))
    pre = Preprocessor()
    out = []
    for i in range(count):
        rng = np.random.default_rng((seed, stream, i))
        family = PartFamily(families[i % len(families)])
        shot = sim.render(rng, family, flawed=False)
        out.append(FlawFreeImage(pre(shot.image.pixels), np.asarray(shot.material_mask, bool)))
    return out


def eval_samples(
    normal: int, anomalous: int, seed: int, width_px: int, height_px: int, families: tuple[str, ...]
) -> Iterator[EvalSample]:
    """Flaw-free parts, then parts with anomaly-only flaws (foreign objects, cold shuts, surface gas holes)."""
    from vision.xray.simulator import XraySimulator

    pre = Preprocessor()
    for stream, count, flawed in ((STREAM_EVAL_NORMAL, normal, False), (STREAM_EVAL_ANOMALY, anomalous, True)):
        sim = XraySimulator(_params(width_px, height_px, families, anomaly=flawed))
        made = 0
        for i in range(count * 4):
            if made == count:
                break
            rng = np.random.default_rng((seed, stream, i))
            family = PartFamily(families[i % len(families)])
            shot = sim.render(rng, family, flawed=flawed)
            ids = [f.instance_id for f in shot.instances if f.flaw_class is None]
            if flawed and not ids:
                continue  # no anomaly could be placed visibly: that part is not an anomalous example
            mask = np.isin(shot.instance_mask, ids) if ids else np.zeros(shot.instance_mask.shape, bool)
            made += 1
            material = np.asarray(shot.material_mask, bool)
            # The cell grades a part by its own family's rules: the simulator leaves the identity to the caller.
            part = PartIdentity(serial=f"eval-{seed}-{stream}-{i}", family=family)
            xray = replace(shot.image, part=part)
            yield EvalSample(pre(shot.image.pixels), mask, material, shot.anomaly_kinds, xray=xray)


def load_eval_dir(data_dir: Path) -> Iterator[EvalSample]:
    """Held-out set written by `ironcell simulate-xray` (manifest.json, images/, masks/ of instance ids).

    Flaw-free images are the negatives, images whose flaws are all anomaly-only kinds the positives;
    images holding detector classes are left out (this set measures flaws no class describes).
    """
    import json

    from vision.image_io import load_pixels, load_xray

    manifest_path = Path(data_dir) / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{manifest_path} not found: --data needs a folder written by `ironcell simulate-xray`")
    entries = json.loads(manifest_path.read_text()).get("images", [])
    pre = Preprocessor()
    for e in entries:
        flaws = e.get("flaws", [])
        if any(not f.get("anomaly_only") for f in flaws):
            continue
        xray = None
        if {"pixel_pitch_mm", "magnification", "family"} <= e.keys():
            part = PartIdentity(serial=str(e["file"]), family=PartFamily(e["family"]))
            xray = load_xray(
                Path(data_dir) / e["file"], e["pixel_pitch_mm"], e["magnification"], float(e.get("kv", 0.0)), part
            )
        pixels = xray.pixels if xray is not None else load_pixels(Path(data_dir) / e["file"])
        ids = [int(f["instance_id"]) for f in flaws]
        if ids:
            inst = load_pixels(Path(data_dir) / e["mask"])
            mask = np.isin(inst, ids)
        else:
            mask = np.zeros(pixels.shape, bool)
        kinds = tuple(str(f["kind"]) for f in flaws)
        yield EvalSample(pre(pixels), mask, None, kinds, xray=xray)
