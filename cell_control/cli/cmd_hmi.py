"""`ironcell hmi`: starts the Streamlit operator HMI, a client of the cell (it never hosts the cell)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from cell_control.cli.common import ConfigOpt, load_or_exit


def register(app: typer.Typer) -> None:
    @app.command("hmi")
    def hmi(
        port: int = typer.Option(None, "--port", "-p", min=1, max=65535, help="HTTP port (default hmi.port, 8501)"),
        address: str = typer.Option("127.0.0.1", "--address", help="address to listen on"),
        opcua_url: str = typer.Option(
            None, "--opcua-url", help="the cell (default $IRONCELL_OPCUA_URL, hmi.opcua_url)"
        ),
        init_only: bool = typer.Option(
            False, "--init-only", help="create the HMI certificate and monitor account, print the path, exit"
        ),
        config: Path = ConfigOpt,
    ) -> None:
        """Start the operator HMI in Streamlit (log in with users of `ironcell users add`)."""
        from cell_control.config import ironcell_home
        from cell_control.users import UserStore
        from hmi.identity import ensure_client_certificate, monitor_identity
        from hmi.runtime import OPCUA_URL_ENV

        cfg = load_or_exit(config)
        home = ironcell_home()
        url = opcua_url or os.environ.get(OPCUA_URL_ENV) or cfg.hmi.opcua_url
        if not url.startswith("opc.tcp://"):
            typer.echo(f"error: the cell's OPC UA URL must start with opc.tcp://, got {url!r}", err=True)
            raise typer.Exit(2)
        cert, _key = ensure_client_certificate(home)
        monitor = monitor_identity(home, UserStore(home))
        typer.echo(f"HMI OPC UA certificate: {cert} (a cell elsewhere must trust it: ironcell certs trust PATH)")
        if monitor is None:
            typer.echo("warning: no monitor identity; set IRONCELL_HMI_USER and IRONCELL_HMI_PASSWORD", err=True)
        if init_only:
            return
        http_port = port or cfg.hmi.port
        app_path = Path(__file__).resolve().parent.parent.parent / "hmi" / "app.py"
        env = dict(os.environ, **{OPCUA_URL_ENV: url, "IRONCELL_HOME": str(home)})
        if config is not None:
            env["IRONCELL_CONFIG"] = str(config.resolve())
        argv = [
            sys.executable, "-m", "streamlit", "run", str(app_path),
            "--server.port", str(http_port),
            "--server.address", address,
            "--server.headless", "true",
            "--server.fileWatcherType", "none",
            "--server.runOnSave", "false",
            "--browser.gatherUsageStats", "false",
            "--global.developmentMode", "false",
            "--client.toolbarMode", "minimal",
            # ISA-101: no saturated colour for normal controls (Streamlit's default primary is red)
            "--theme.base", "light",
            "--theme.primaryColor", "#4d4d4d",
        ]  # fmt: skip
        typer.echo(f"ironcell HMI on http://{address}:{http_port} (cell at {url})")
        sys.stdout.flush()
        # exec: Ctrl-C and SIGTERM reach Streamlit directly, and no idle parent lingers
        os.execve(sys.executable, argv, env)
