"""`ironcell simulate-xray` (owned by the X-ray simulator work)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer


class FamilyOpt(StrEnum):
    all = "all"
    wheel = "wheel"
    housing = "housing"


class ModeOpt(StrEnum):
    image_intensifier = "image_intensifier"
    flat_panel = "flat_panel"


def _kv_range(text: str) -> tuple[float, float]:
    parts = text.replace(":", "-").split("-")
    try:
        values = [float(p) for p in parts if p.strip()]
    except ValueError as exc:
        raise typer.BadParameter(f"--kv wants 'MIN-MAX' or one value in kV, got {text!r}") from exc
    if len(values) == 1:
        return values[0], values[0]
    if len(values) != 2:
        raise typer.BadParameter(f"--kv wants 'MIN-MAX' or one value in kV, got {text!r}")
    return values[0], values[1]


def register(app: typer.Typer) -> None:
    @app.command("simulate-xray")
    def simulate_xray(
        out: Path = typer.Option(..., "--out", help="output folder (YOLO layout)"),
        count: int = typer.Option(..., "--count", min=1, help="number of radiographs"),
        seed: int = typer.Option(0, "--seed", min=0, help="same seed, same bytes"),
        family: FamilyOpt = typer.Option(FamilyOpt.all, "--family", help="part family"),
        detector_mode: ModeOpt = typer.Option(ModeOpt.image_intensifier, "--detector-mode"),
        width: int = typer.Option(768, "--width", help="image width, px"),
        height: int = typer.Option(572, "--height", help="image height, px"),
        flaw_mix: str = typer.Option(
            "", "--flaw-mix", help="class weights, e.g. 'porosity=0.4,shrinkage=0.3,crack=0.2,inclusion=0.1' or 'none'"
        ),
        flaw_free_share: float = typer.Option(0.3, "--flaw-free-share", help="share of flaw-free parts"),
        kv: str = typer.Option("60-150", "--kv", help="tube voltage range 'MIN-MAX' (kV) or one value"),
        anomaly_kinds: str = typer.Option(
            "", "--anomaly-kinds", help="anomaly-only kinds: foreign_object,cold_shut,surface_gas_hole"
        ),
        anomaly_share: float = typer.Option(0.5, "--anomaly-share", help="share of flawed parts with anomaly kinds"),
        max_flaws: int = typer.Option(4, "--max-flaws", help="most flaws per flawed part"),
        # None: the simulator's own defaults (XraySimParams), the labelling rule the training data sets use.
        min_cnr: float | None = typer.Option(
            None, "--min-cnr", help="flaws below this contrast-to-noise are not rendered (default 2.5)"
        ),
        min_snr: float | None = typer.Option(
            None, "--min-snr", help="flaws below this whole-flaw SNR (Rose criterion) are not rendered (default 8)"
        ),
        conspicuity_shift: int | None = typer.Option(
            None,
            "--conspicuity-shift",
            help="px: contrast counts only outside the flaw-free range within this shift (default 1; 0: off)",
        ),
        randomise: float = typer.Option(1.0, "--randomise", help="domain randomisation strength 0..1"),
        close_up_share: float | None = typer.Option(
            None, "--close-up-share", help="share of close-up framings (default 0.65 wheels, 0.5 housings)"
        ),
        workers: int | None = typer.Option(None, "--workers", help="processes (default: 2 from 64 images)"),
    ) -> None:
        """Write a labelled data set of simulated radiographs (images/, labels/, masks/, manifest, card)."""
        from pydantic import ValidationError

        from vision.types import DetectorMode, PartFamily
        from vision.xray import XraySimParams, parse_flaw_mix, write_dataset

        try:
            kv_lo, kv_hi = _kv_range(kv)
            values: dict = {
                "kv_min": kv_lo,
                "kv_max": kv_hi,
                "detector_mode": DetectorMode(detector_mode.value),
                "width_px": width,
                "height_px": height,
                "flaw_free_share": flaw_free_share,
                "anomaly_share": anomaly_share,
                "max_flaws": max_flaws,
                "randomise": randomise,
                "close_up_share": close_up_share,
                "anomaly_kinds": tuple(k.strip() for k in anomaly_kinds.split(",") if k.strip()),
            }
            optional = {"min_cnr": min_cnr, "min_snr": min_snr, "conspicuity_shift_px": conspicuity_shift}
            values |= {k: v for k, v in optional.items() if v is not None}
            if family != FamilyOpt.all:
                values["families"] = (PartFamily(family.value),)
            if flaw_mix:
                values["flaw_mix"] = parse_flaw_mix(flaw_mix)
            params = XraySimParams(**values)
        except ValidationError as exc:
            msgs = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'params'}: {e['msg']}" for e in exc.errors())
            typer.echo(f"invalid simulator parameters: {msgs}", err=True)
            raise typer.Exit(2) from exc
        except ValueError as exc:
            typer.echo(f"invalid simulator parameters: {exc}", err=True)
            raise typer.Exit(2) from exc
        summary = write_dataset(out, count, seed, params, workers=workers)
        typer.echo(json.dumps(summary, sort_keys=True))
