from __future__ import annotations

from pathlib import Path

import pytest

from cell_control.config import ConfigError
from cell_control.modbus.regmap import load_register_map

REPO = Path(__file__).resolve().parents[3]


def test_shipped_map_is_valid() -> None:
    m = load_register_map(REPO / "configs" / "modbus_map.yaml")
    assert m.table("coils")["part_present"].access == "rw"
    assert m.table("input_registers")["processed_count"].count == 2
    assert m.size("holding_registers") == 12


def test_overlap_and_missing_names_refused(tmp_path: Path) -> None:
    text = (REPO / "configs" / "modbus_map.yaml").read_text()
    p = tmp_path / "map.yaml"
    p.write_text(text.replace("{name: unit_mode, address: 1,", "{name: unit_mode, address: 0,"))
    with pytest.raises(ConfigError, match="overlaps"):
        load_register_map(p)
    p.write_text(text.replace("name: part_present", "name: part_here"))
    with pytest.raises(ConfigError, match="part_present"):
        load_register_map(p)
    p.write_text(text.replace("{name: job_busy, address: 0,", "{name: job_busy, address: 0, access: rw,"))
    with pytest.raises(ConfigError, match="read-only"):
        load_register_map(p)
