"""The Modbus register map (configs/modbus_map.yaml), validated: no overlaps, every name the cell needs."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cell_control.config import ConfigError, load_model

REQUIRED = {
    "coils": {"start", "stop", "reset", "abort", "acknowledge", "part_present"},
    "discrete_inputs": {"job_busy", "job_done", "alarm_active", "in_execute", "robot_ready"},
    "holding_registers": {"command_word", "recipe", "part_serial", "plc_heartbeat"},
    "input_registers": {
        "packml_state",
        "processed_count",
        "ok_count",
        "nok_count",
        "review_count",
        "last_verdict",
        "last_flaw_count",
        "last_cycle_time_ms",
        "robot_status",
        "active_alarm_count",
        "job_sequence",
    },
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Entry(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    address: int = Field(ge=0, le=9999)
    count: int = Field(1, ge=1, le=32)
    access: Literal["ro", "rw"] = "ro"
    type: Literal["uint16", "uint32", "ascii", "bool"] = "uint16"
    min: int = Field(0, ge=0, le=65535)
    max: int = Field(65535, ge=0, le=65535)
    description: str = ""

    @model_validator(mode="after")
    def _ok(self) -> Entry:
        if self.type == "uint32" and self.count != 2:
            raise ValueError(f"{self.name}: uint32 takes count 2")
        if self.min > self.max:
            raise ValueError(f"{self.name}: min {self.min} > max {self.max}")
        return self

    @property
    def end(self) -> int:
        return self.address + self.count


class RegisterMap(_Strict):
    coils: tuple[Entry, ...]
    discrete_inputs: tuple[Entry, ...]
    holding_registers: tuple[Entry, ...]
    input_registers: tuple[Entry, ...]

    @model_validator(mode="after")
    def _check(self) -> RegisterMap:
        for table in ("coils", "discrete_inputs", "holding_registers", "input_registers"):
            entries: tuple[Entry, ...] = getattr(self, table)
            names = [e.name for e in entries]
            if len(set(names)) != len(names):
                raise ValueError(f"{table}: duplicate names")
            missing = REQUIRED[table] - set(names)
            if missing:
                raise ValueError(f"{table}: missing {sorted(missing)} (the cell needs them)")
            spans = sorted((e.address, e.end, e.name) for e in entries)
            for (a0, a1, n0), (b0, _b1, n1) in itertools.pairwise(spans):
                if b0 < a1:
                    raise ValueError(f"{table}: {n1} at {b0} overlaps {n0} ({a0}..{a1 - 1})")
            if table in ("coils", "discrete_inputs") and any(e.count != 1 for e in entries):
                raise ValueError(f"{table}: bits have count 1")
            if table in ("discrete_inputs", "input_registers") and any(e.access == "rw" for e in entries):
                raise ValueError(f"{table}: read-only table; access rw makes no sense")
        return self

    def table(self, name: str) -> dict[str, Entry]:
        return {e.name: e for e in getattr(self, name)}

    def size(self, name: str) -> int:
        return max(e.end for e in getattr(self, name))


def load_register_map(path: Path) -> RegisterMap:
    """Load and validate the map; ConfigError names the file, key and value."""
    try:
        return load_model(RegisterMap, path)
    except ConfigError:
        raise
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
