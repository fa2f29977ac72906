"""The anomaly model card: the committed markdown is what its JSON renders, recalibration notes included."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from models.anomaly.card import CARD_JSON, CARD_MD, render_markdown

SHIPPED = Path(__file__).resolve().parents[3] / "models" / "registry" / "anomaly-default"


def test_shipped_card_markdown_is_rendered_from_its_json() -> None:
    card = json.loads((SHIPPED / CARD_JSON).read_text())
    assert (SHIPPED / CARD_MD).read_text() == render_markdown(card)


def test_a_recalibration_note_is_rendered_after_its_row() -> None:
    card = json.loads((SHIPPED / CARD_JSON).read_text())
    row = copy.deepcopy(card["recalibrations"][-1])
    row |= {"utc": "2030-01-01T00:00:00Z", "note": "held-out set rendered anew"}
    card["recalibrations"].append(row)
    md = render_markdown(card)
    assert "- 2030-01-01T00:00:00Z: `" in md
    assert md.split("- 2030-01-01T00:00:00Z: `", 1)[1].split("\n", 1)[0].endswith(": held-out set rendered anew")
    del card["recalibrations"][-1]["note"]
    assert "held-out set rendered anew" not in render_markdown(card)
