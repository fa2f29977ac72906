from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cell_control.cli.main import app
from cell_control.config import ConfigError, IroncellConfig, load_config

REPO = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "cell.yaml"
    p.write_text(text)
    return p


def test_shipped_config_is_valid() -> None:
    cfg = load_config(REPO / "configs" / "cell.yaml", environ={})
    assert cfg.opcua.port == 4840
    assert cfg.modbus.port == 5020
    assert cfg.vision.detector_model.is_absolute()
    assert cfg.vision.detector_model.parent.parent == REPO / "models"


def test_unknown_key_named_with_its_path(tmp_path: Path) -> None:
    p = write(tmp_path, "opcua:\n  prot: 4840\n")
    with pytest.raises(ConfigError) as ei:
        load_config(p, environ={})
    msg = str(ei.value)
    assert str(p) in msg and "opcua.prot" in msg and "unknown key" in msg and "port" in msg


def test_wrong_type(tmp_path: Path) -> None:
    p = write(tmp_path, "robot:\n  control_hz: fast\n")
    with pytest.raises(ConfigError) as ei:
        load_config(p, environ={})
    assert "robot.control_hz = 'fast'" in str(ei.value)


@pytest.mark.parametrize(
    ("text", "key", "allowed"),
    [
        ("opcua:\n  port: 70000\n", "opcua.port = 70000", "<= 65535"),
        ("modbus:\n  port: 0\n", "modbus.port = 0", ">= 1"),
        ("robot:\n  control_hz: -5\n", "robot.control_hz = -5", "> 0"),
        ("robot:\n  safety:\n    contact_force_limit_n: 0\n", "robot.safety.contact_force_limit_n = 0", "> 0"),
    ],
)
def test_out_of_range_names_key_value_and_range(tmp_path: Path, text: str, key: str, allowed: str) -> None:
    with pytest.raises(ConfigError) as ei:
        load_config(write(tmp_path, text), environ={})
    assert key in str(ei.value) and allowed in str(ei.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_unparsable_yaml_names_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"line \d+, column \d+\): not valid YAML"):
        load_config(write(tmp_path, "opcua:\n  port: [1, 2\nmodbus: {\n"), environ={})


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="empty"):
        load_config(write(tmp_path, ""), environ={})


def test_top_level_not_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mapping"):
        load_config(write(tmp_path, "- a\n- b\n"), environ={})


def test_env_and_explicit_overrides(tmp_path: Path) -> None:
    p = write(tmp_path, "opcua:\n  port: 4840\n")
    cfg = load_config(p, environ={"IRONCELL__OPCUA__PORT": "4901", "IRONCELL__MODBUS__PORT": "5999"})
    assert cfg.opcua.port == 4901 and cfg.modbus.port == 5999
    cfg = load_config(p, overrides={"opcua.port": 4902}, environ={"IRONCELL__OPCUA__PORT": "4901"})
    assert cfg.opcua.port == 4902
    with pytest.raises(ConfigError, match=r"overrides.*opcua.port = 99999"):
        load_config(p, environ={"IRONCELL__OPCUA__PORT": "99999"})


def test_insecure_endpoint_only_on_loopback(tmp_path: Path) -> None:
    p = write(tmp_path, "opcua:\n  host: 0.0.0.0\n  allow_insecure_loopback: true\n")
    with pytest.raises(ConfigError, match="loopback"):
        load_config(p, environ={})


def test_thresholds_must_be_ordered(tmp_path: Path) -> None:
    p = write(tmp_path, "vision:\n  accept_confidence: 0.6\n  reject_confidence: 0.4\n")
    with pytest.raises(ConfigError, match="accept_confidence"):
        load_config(p, environ={})


def test_defaults_equal_shipped_ports() -> None:
    d = IroncellConfig()
    assert (d.opcua.port, d.modbus.port, d.opcua.host) == (4840, 5020, "127.0.0.1")


def test_cli_config_check_accepts_and_rejects(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["config", "check", str(REPO / "configs" / "cell.yaml")])
    assert ok.exit_code == 0, ok.output
    assert "opcua:" in ok.output and "store:" in ok.output
    bad = write(tmp_path, "modbus:\n  portt: 1\n")
    res = runner.invoke(app, ["config", "check", str(bad)])
    assert res.exit_code == 2
    assert "modbus.portt" in res.output


@pytest.mark.parametrize("section", ["opcua", "modbus"])
def test_server_host_must_be_an_address(tmp_path: Path, section: str) -> None:
    with pytest.raises(ConfigError, match=rf"{section}.host = 'plc.example': .*IPv4 or IPv6"):
        load_config(write(tmp_path, f"{section}:\n  host: plc.example\n"), environ={})
    assert getattr(load_config(write(tmp_path, f"{section}:\n  host: localhost\n"), environ={}), section).host == (
        "localhost"
    )
