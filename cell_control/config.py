"""The cell's configuration: schema of the cell-level sections and the one YAML loader.

Each package owns the schema of its own section (vision.config, robot.config); this module
composes them, loads YAML files and turns validation failures into one message that names
the file, the key path, the bad value and what is allowed.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from robot.config import RobotConfig
from vision.config import VisionConfig

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "IRONCELL__"


def _check_host(v: str) -> str:
    """An IP address or 'localhost': a server binds to it, so host names that need DNS are refused."""
    if v != "localhost":
        ipaddress.ip_address(v)
    return v


Host = Annotated[str, AfterValidator(_check_host)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CellSection(_Strict):
    name: str = Field("XrayCell1", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    manufacturer: str = "ironcell"
    model: str = "ironcell X-ray sorting cell"
    serial_number: str = "IC-0001"
    product_instance_uri: str = "urn:ironcell:cell:IC-0001"
    seed: int = 0
    default_recipe: str = "wheel"
    planned_production_h_per_day: float = Field(16.0, gt=0.0, le=24.0)
    ideal_cycle_s: float = Field(6.0, gt=0.0, le=600.0)
    part_interval_s: float = Field(2.0, ge=0.0, le=600.0, description="simulated feeder spacing")
    auto_start: bool = Field(True, description="simulation: issue Reset + Start at launch")
    feeder: Literal["simulated", "off"] = Field("simulated", description="off: parts come from the PLC / OPC UA")
    max_task_retries: int = Field(2, ge=0, le=10, description="autonomous re-tries of a recoverable robot task")
    robot_task_timeout_s: float = Field(120.0, gt=0.0, le=3600.0, description="no result by then: link lost")
    sim_operator_response_s: float | None = Field(
        30.0, ge=0.0, le=3600.0, description="simulation: a stand-in operator clears holds after this; null: nobody"
    )


class OpcuaConfig(_Strict):
    host: Host = "127.0.0.1"
    port: int = Field(4840, ge=1, le=65535)
    allow_insecure_loopback: bool = Field(
        False, description="also offer a no-security endpoint; refused unless host is loopback"
    )
    application_uri: str = "urn:ironcell:opcua:server"


class ModbusConfig(_Strict):
    host: Host = "127.0.0.1"
    port: int = Field(5020, ge=1, le=65535)
    device_id: int = Field(1, ge=0, le=247)
    map_file: Path = Path("configs/modbus_map.yaml")
    allow_list: tuple[str, ...] = ("127.0.0.1",)
    plc_watchdog_s: float = Field(5.0, ge=0.0, le=600.0, description="PLC heartbeat silence that stops the cell; 0 off")


class StoreConfig(_Strict):
    url: str | None = Field(None, description="SQLAlchemy URL; default SQLite under IRONCELL_HOME")
    sqlite_synchronous: Literal["FULL", "NORMAL", "EXTRA"] = "FULL"
    busy_timeout_ms: int = Field(10000, ge=0, le=600000)


class HmiConfig(_Strict):
    port: int = Field(8501, ge=1, le=65535)
    opcua_url: str = "opc.tcp://127.0.0.1:4840"
    refresh_s: float = Field(1.0, gt=0.0, le=60.0)


class LoggingConfig(_Strict):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_lines: bool = False


class IroncellConfig(_Strict):
    cell: CellSection = CellSection()
    vision: VisionConfig = VisionConfig()
    robot: RobotConfig = RobotConfig()
    opcua: OpcuaConfig = OpcuaConfig()
    modbus: ModbusConfig = ModbusConfig()
    store: StoreConfig = StoreConfig()
    hmi: HmiConfig = HmiConfig()
    logging: LoggingConfig = LoggingConfig()


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message says where and why."""


M = TypeVar("M", bound=BaseModel)


def default_config_path() -> Path:
    env = os.environ.get("IRONCELL_CONFIG")
    if env:
        return Path(env)
    local = Path("configs/cell.yaml")
    return local if local.is_file() else REPO_ROOT / "configs" / "cell.yaml"


def project_root_of(config_file: Path) -> Path:
    """Relative paths inside a config resolve against the project that holds its configs/ folder."""
    parent = config_file.resolve().parent
    while parent.name in ("configs", "parts"):
        parent = parent.parent
    return parent


def read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text") from exc
    if data is None:
        raise ConfigError(f"{path}: file is empty; it needs at least one section")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections, got {type(data).__name__}")
    return data


def _allowed(err: Mapping[str, Any], model: type[BaseModel]) -> str:
    ctx = err.get("ctx") or {}
    parts = []
    for key, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if key in ctx:
            parts.append(f"{sym} {ctx[key]}")
    if "expected" in ctx:
        parts.append(f"one of {ctx['expected']}")
    if err["type"] == "extra_forbidden":
        loc = err["loc"][:-1]
        sub: Any = model
        for name in loc:
            field = getattr(sub, "model_fields", {}).get(name)
            sub = field.annotation if field is not None else None
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            parts.append("known keys: " + ", ".join(sub.model_fields))
    return "; allowed: " + ", ".join(parts) if parts else ""


def format_validation_error(path: Path | str, exc: ValidationError, model: type[BaseModel]) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        value = err.get("input")
        shown = "(missing)" if err["type"] == "missing" else repr(value)
        if err["type"] == "extra_forbidden":
            lines.append(f"{path}: {key}: unknown key{_allowed(err, model)}")
        else:
            lines.append(f"{path}: {key} = {shown}: {err['msg']}{_allowed(err, model)}")
    return "\n".join(lines)


def _set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    node = data
    keys = dotted.split(".")
    for k in keys[:-1]:
        nxt = node.setdefault(k, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"override {dotted}: {k} is not a section")
        node = nxt
    node[keys[-1]] = value


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """IRONCELL__OPCUA__PORT=4841 sets opcua.port; values are parsed as YAML scalars."""
    out: dict[str, Any] = {}
    for name, raw in environ.items():
        if name.startswith(ENV_PREFIX) and len(name) > len(ENV_PREFIX):
            dotted = name[len(ENV_PREFIX) :].lower().replace("__", ".")
            out[dotted] = yaml.safe_load(raw) if raw != "" else None
    return out


def validate_mapping(model: type[M], data: dict[str, Any], source: Path | str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc, model)) from exc


def load_model(model: type[M], path: Path) -> M:
    """Load one YAML file into a pydantic model, or raise ConfigError naming file, key and value."""
    return validate_mapping(model, read_yaml(path), path)


def _resolve_paths(cfg: IroncellConfig, root: Path) -> IroncellConfig:
    def fix(p: Path | None) -> Path | None:
        return None if p is None or p.is_absolute() else root / p

    v = cfg.vision
    vision = v.model_copy(
        update={
            "folder": fix(v.folder),
            "detector_model": fix(v.detector_model),
            "anomaly_model": fix(v.anomaly_model),
            "parts_dir": fix(v.parts_dir),
            "flat_field": v.flat_field.model_copy(
                update={"dark_frame": fix(v.flat_field.dark_frame), "gain_frame": fix(v.flat_field.gain_frame)}
            ),
        }
    )
    modbus = cfg.modbus.model_copy(update={"map_file": fix(cfg.modbus.map_file)})
    return cfg.model_copy(update={"vision": vision, "modbus": modbus})


def load_config(
    path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> IroncellConfig:
    """File, then IRONCELL__* environment variables, then explicit overrides (CLI flags)."""
    path = path or default_config_path()
    data = read_yaml(path)
    applied = {**env_overrides(os.environ if environ is None else environ), **(overrides or {})}
    for dotted, value in applied.items():
        _set_path(data, dotted, value)
    source = f"{path} (with overrides {sorted(applied)})" if applied else path
    cfg = validate_mapping(IroncellConfig, data, source)
    if cfg.opcua.allow_insecure_loopback and cfg.opcua.host not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError(
            f"{source}: opcua.allow_insecure_loopback = true: allowed only when opcua.host is loopback, "
            f"got {cfg.opcua.host!r}"
        )
    return _resolve_paths(cfg, project_root_of(path))


def ironcell_home(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("IRONCELL_HOME", "var")).resolve()


def dump_effective(cfg: IroncellConfig) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
