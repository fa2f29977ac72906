"""`ironcell inspect PATH... [--json] [--annotate DIR]`: offline inspection of image files or folders.

One result per image, in the image's own pixel coordinates. A file that cannot be read or inspected gets its
own result with verdict REVIEW and the error, and the batch goes on; the exit code is 1 when any file failed.
"""

from __future__ import annotations

import json
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from cell_control.cli.common import ConfigOpt, load_or_exit

if TYPE_CHECKING:
    import numpy as np

    from vision.types import InspectionResult


class FamilyOpt(StrEnum):
    wheel = "wheel"
    housing = "housing"


def result_json(image: str, res: InspectionResult, latency_ms: float) -> dict[str, Any]:
    """The public JSON of one inspection (ARCHITECTURE.md), with zone/rule/source/error added."""
    return {
        "image": image,
        "verdict": res.verdict.value,
        "defects": [
            {
                "class": "anomaly" if d.source == "anomaly" else d.flaw_class.value,
                "score": round(float(d.score), 4),
                "bbox_xyxy": [round(float(v), 1) for v in d.bbox_xyxy_px],
                "size_mm": round(float(d.size_mm), 3),
                "zone": d.zone,
                "rule_broken": d.rule_broken,
                "source": d.source,
            }
            for d in res.defects
        ],
        "anomaly_score": None if res.anomaly_score is None else round(float(res.anomaly_score), 4),
        "latency_ms": round(latency_ms, 1),
        "image_sha256": res.image_sha256,
        "model_versions": dict(res.model_versions),
        "error": res.error,
    }


def error_json(image: str, error: str, latency_ms: float) -> dict[str, Any]:
    return {
        "image": image,
        "verdict": "REVIEW",
        "defects": [],
        "anomaly_score": None,
        "latency_ms": round(latency_ms, 1),
        "image_sha256": "",
        "model_versions": {},
        "error": error,
    }


_COLOURS = {"OK": (0, 200, 0), "NOK": (0, 0, 255), "REVIEW": (0, 200, 255)}


def annotate(pixels: np.ndarray, res: InspectionResult) -> np.ndarray:
    """8-bit BGR picture of the radiograph with each finding boxed and labelled (red: broke a rule)."""
    import cv2

    from vision.preprocess import to_uint8, window_to_unit

    img = cv2.cvtColor(to_uint8(window_to_unit(pixels)), cv2.COLOR_GRAY2BGR)
    scale = max(1.0, min(img.shape[:2]) / 600.0)
    for d in res.defects:
        x0, y0, x1, y1 = (round(v) for v in d.bbox_xyxy_px)
        colour = (0, 0, 255) if d.rule_broken else (255, 160, 0) if d.source == "anomaly" else (0, 200, 255)
        cv2.rectangle(img, (x0, y0), (x1, y1), colour, max(1, round(scale)))
        label = f"{'anomaly' if d.source == 'anomaly' else d.flaw_class.value} {d.score:.2f} {d.size_mm:.1f}mm"
        cv2.putText(img, label, (x0, max(10, y0 - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.35 * scale, colour, 1)
    verdict_colour = _COLOURS[res.verdict.value]
    cv2.putText(
        img, res.verdict.value, (8, round(24 * scale)), cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale, verdict_colour, 2
    )
    return img


def _table_row(obj: dict[str, Any]) -> str:
    name = Path(obj["image"]).name
    if obj.get("error") and not obj["defects"]:
        return (
            f"{name[:40]:40s} {obj['verdict']:6s} {'-':>3s} {'-':>7s} {obj['latency_ms']:8.1f}  error: {obj['error']}"
        )
    worst = next((d for d in obj["defects"] if d["rule_broken"]), obj["defects"][0] if obj["defects"] else None)
    detail = ""
    if worst is not None:
        detail = f"{worst['class']} {worst['size_mm']:.2f} mm in {worst['zone']}"
        if worst["rule_broken"]:
            detail += f" breaks {worst['rule_broken']}"
    an = "-" if obj["anomaly_score"] is None else f"{obj['anomaly_score']:.3f}"
    return f"{name[:40]:40s} {obj['verdict']:6s} {len(obj['defects']):3d} {an:>7s} {obj['latency_ms']:8.1f}  {detail}"


def register(app: typer.Typer) -> None:
    @app.command("inspect")
    def inspect_cmd(
        paths: list[Path] = typer.Argument(..., help="image files (8/16-bit PNG/TIFF) or folders of them"),
        json_out: bool = typer.Option(False, "--json", help="one JSON object per image, one per line"),
        annotate_dir: Path | None = typer.Option(None, "--annotate", help="write annotated PNGs to this folder"),
        family: FamilyOpt | None = typer.Option(None, "--family", help="part family (default: cell.default_recipe)"),
        model: Path | None = typer.Option(None, "--model", help="detector registry folder or .onnx file"),
        no_anomaly: bool = typer.Option(False, "--no-anomaly", help="do not run the anomaly model"),
        config: Path | None = ConfigOpt,
    ) -> None:
        """Inspect radiographs offline: verdict, defects (class, score, box in image pixels, size in mm)."""
        import cv2

        from vision.acceptance import RulesError
        from vision.detector_onnx import ModelLoadError
        from vision.image_io import ImageLoadError, iter_image_files, load_xray
        from vision.inspector import build_inspector
        from vision.preprocess import CalibrationError
        from vision.types import PartFamily, PartIdentity

        cfg = load_or_exit(config)
        vcfg = cfg.vision if model is None else cfg.vision.model_copy(update={"detector_model": model})
        fam_name = family.value if family is not None else cfg.cell.default_recipe
        part_family = PartFamily(fam_name) if fam_name in {f.value for f in PartFamily} else PartFamily.WHEEL
        try:
            inspector = build_inspector(vcfg, anomaly=not no_anomaly, default_family=part_family)
        except (ModelLoadError, RulesError, CalibrationError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        if annotate_dir is not None:
            annotate_dir.mkdir(parents=True, exist_ok=True)
        failures = 0
        if not json_out:
            typer.echo(f"{'image':40s} {'verdict':6s} {'n':>3s} {'anomaly':>7s} {'ms':>8s}  worst finding")
        for i, path in enumerate(iter_image_files(paths)):
            t0 = time.perf_counter()
            try:
                part = PartIdentity(serial=f"offline-{i:05d}", family=part_family)
                image = load_xray(path, vcfg.pixel_pitch_mm, vcfg.magnification, part=part)
            except ImageLoadError as exc:
                failures += 1
                obj = error_json(str(path), str(exc), (time.perf_counter() - t0) * 1000.0)
            else:
                res = inspector.inspect(image)
                obj = result_json(str(path), res, (time.perf_counter() - t0) * 1000.0)
                if res.error:
                    failures += 1
                if annotate_dir is not None:
                    cv2.imwrite(str(annotate_dir / f"{path.stem}_annotated.png"), annotate(image.pixels, res))
            typer.echo(json.dumps(obj) if json_out else _table_row(obj))
        if failures:
            raise typer.Exit(1)
