"""Model registry folders: `models/registry/<name>/` with model.onnx, model_card.json and model_card.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CARD_JSON = "model_card.json"
CARD_MD = "model_card.md"
MODEL_FILE = "model.onnx"


def read_card(model_dir: Path) -> dict[str, Any]:
    path = model_dir / CARD_JSON
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    return data if isinstance(data, dict) else {}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def _table(d: dict[str, Any]) -> str:
    rows = "\n".join(f"| {k} | {_fmt(v)} |" for k, v in d.items() if not isinstance(v, dict | list))
    return "| key | value |\n| --- | --- |\n" + rows


def render_card_md(card: dict[str, Any]) -> str:
    ev = card.get("evaluations", {})
    evals = ""
    for name, e in ev.items():
        evals += f"\n### {name}\n\nCommand: `{e.get('command', '')}`\n\n{_table(e.get('summary', {}))}\n"
        for key in ("ap50_per_class", "recall_per_class", "recall_per_size_band", "recall_per_cnr_band"):
            if key in e.get("summary_detail", {}):
                evals += f"\n{key}:\n\n{_table(e['summary_detail'][key])}\n"
        rows = e.get("summary_detail", {}).get("threshold_sweep", [])
        if rows:
            head = list(rows[0])
            evals += "\nthreshold sweep:\n\n| " + " | ".join(head) + " |\n|" + " --- |" * len(head) + "\n"
            evals += "\n".join("| " + " | ".join(_fmt(r[k]) for k in head) + " |" for r in rows) + "\n"
    variants = "\n".join(
        f"| {v['name']} | {v['train_images']} | {v['train_seed']} | {v['val_images']} | {v['val_seed']} | "
        f"`{json.dumps(v['params'])}` |"
        for v in card.get("data", {}).get("variants", [])
    )
    chain = ""
    earlier = card.get("continued_from")
    while isinstance(earlier, dict):
        chain += (
            f"\nContinued from `{earlier.get('weights')}`, trained by `{earlier.get('command')}` "
            f"({earlier.get('epochs_run')} epochs, {_fmt(earlier.get('train_minutes'))} min, "
            f"seed {earlier.get('seed')}).\n"
        )
        earlier = earlier.get("continued_from")
    return f"""# Model card: {card.get("name", "?")}

Defect detector of ironcell (classes {", ".join(card.get("class_names", []))}): YOLO (`{card.get("model_yaml")}`,
trained from scratch, no pretrained weights) on radiographs rendered by the ironcell X-ray simulator, exported
to ONNX and run by ONNX Runtime (vision/detector_onnx.py) on whole images at native resolution (tiled above
{card.get("max_tile_px")} px).

- ONNX file: `{MODEL_FILE}`, SHA-256 `{card.get("onnx_sha256")}`, {card.get("onnx_bytes", 0) / 1e6:.1f} MB,
  opset {card.get("opset")}, dynamic input: {card.get("dynamic")}
- trained: {card.get("trained_at")} on {card.get("device")} in {card.get("train_minutes", 0):.1f} min
  ({card.get("epochs_run")} epochs, imgsz {card.get("imgsz")}, seed {card.get("seed")}); exported weights
  `{card.get("weights")}`{f" (by `{card['exported_by']}`)" if card.get("exported_by") else ""}
- versions: ultralytics {card.get("ultralytics_version")}, torch {card.get("torch_version")},
  onnxruntime {card.get("onnxruntime_version")}

## Reproduce

```sh
{card.get("command")}
```
{chain}
Config: `{card.get("config_file")}` (the effective config is `config` in model_card.json). Same seeds, same
simulated data; training on CPU is not bit-exact across machines. {card.get("note", "")}

## Data

Training crops {card.get("data", {}).get("train_crops")} and validation crops
{card.get("data", {}).get("val_crops")} of {card.get("data", {}).get("crop_px")} px, cut at native resolution from
simulated radiographs (windowed like at run time, then resampled, gamma, blur and noise randomised).

| variant | train images | train seed | val images | val seed | simulator params |
| --- | --- | --- | --- | --- | --- |
{variants}

## Metrics

Ultralytics validation on the validation crops (last epoch):

{_table(card.get("metrics", {}))}

## Evaluations (ONNX Runtime, whole images, `ironcell evaluate detector`)
{evals or "(none recorded yet)"}

## Limits

Trained on simulated parts only. Real radiographs (other machines, image intensifiers, part shapes) may
look different; use `ironcell evaluate detector` on labelled real images before trusting its figures.
"""


def write_card(model_dir: Path, card: dict[str, Any]) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / CARD_JSON).write_text(json.dumps(card, indent=1, sort_keys=True, default=str) + "\n")
    (model_dir / CARD_MD).write_text(render_card_md(card))


def record_evaluation(model_dir: Path, name: str, command: str, result: dict[str, Any]) -> None:
    """Add (or replace) one named evaluation in the card of a registry folder."""
    card = read_card(model_dir)
    if not card:
        raise FileNotFoundError(f"no {CARD_JSON} in {model_dir}")
    scalars = {k: v for k, v in result.items() if not isinstance(v, dict | list)}
    detail = {k: v for k, v in result.items() if isinstance(v, dict | list)}
    card.setdefault("evaluations", {})[name] = {"command": command, "summary": scalars, "summary_detail": detail}
    write_card(model_dir, card)
