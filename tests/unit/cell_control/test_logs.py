from __future__ import annotations

import json
import logging

import pytest

from cell_control.logs import JsonLinesFormatter, _PartFilter, part_context


def test_json_lines_carry_part(capsys: pytest.CaptureFixture[str]) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(_PartFilter())
    handler.setFormatter(JsonLinesFormatter())
    log = logging.getLogger("ironcell.test")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        with part_context("W-0042"):
            log.info("inspected %s", "ok")
        log.info("idle")
    finally:
        log.removeHandler(handler)
    lines = [json.loads(x) for x in capsys.readouterr().err.strip().splitlines()]
    assert lines[0]["part"] == "W-0042" and lines[0]["msg"] == "inspected ok"
    assert lines[1]["part"] == "-"
