"""`ironcell users ...` and `ironcell certs ...`: local users (bcrypt) and the OPC UA trust list."""

from __future__ import annotations

import sys
from pathlib import Path

import typer


def _read_password_stdin() -> str:
    data = sys.stdin.readline()
    return data.rstrip("\r\n")


def register(app: typer.Typer) -> None:
    users_app = typer.Typer(help="Local users of the HMI and the OPC UA server.", no_args_is_help=True)
    certs_app = typer.Typer(help="OPC UA certificates (trust list under IRONCELL_HOME/pki).", no_args_is_help=True)
    app.add_typer(users_app, name="users")
    app.add_typer(certs_app, name="certs")

    @users_app.command("add")
    def users_add(
        name: str = typer.Argument(..., help="user name"),
        role: str = typer.Option(..., "--role", help="operator | engineer | viewer"),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from stdin"),
        replace: bool = typer.Option(False, "--replace", help="replace an existing user's role and password"),
    ) -> None:
        """Add a local user (the password is stored as a bcrypt hash)."""
        from cell_control.config import ironcell_home
        from cell_control.users import UserError, UserStore

        if password_stdin:
            password = _read_password_stdin()
        else:
            password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        try:
            info = UserStore(ironcell_home()).add(name, role, password, replace=replace)
        except UserError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        typer.echo(f"user {info.name} ({info.role.value}) saved in {ironcell_home() / 'users.json'}")

    @users_app.command("list")
    def users_list() -> None:
        """List users and their roles."""
        from cell_control.config import ironcell_home
        from cell_control.users import UserError, UserStore

        try:
            for u in UserStore(ironcell_home()).list():
                typer.echo(f"{u.name:24s} {u.role.value:10s} {u.created_at}")
        except UserError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc

    @users_app.command("remove")
    def users_remove(name: str = typer.Argument(..., help="user name")) -> None:
        """Remove a user."""
        from cell_control.config import ironcell_home
        from cell_control.users import UserError, UserStore

        try:
            UserStore(ironcell_home()).remove(name)
        except UserError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        typer.echo(f"user {name} removed")

    @certs_app.command("trust")
    def certs_trust(
        path: Path = typer.Argument(..., help="client certificate (DER or PEM), e.g. from pki/rejected/"),
    ) -> None:
        """Trust an OPC UA client certificate (copied to pki/trusted/; removed from pki/rejected/)."""
        from cell_control.config import ironcell_home
        from cell_control.opcua.pki import PkiError, trust

        try:
            dest = trust(ironcell_home(), path)
        except PkiError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        typer.echo(f"trusted: {dest}")

    @certs_app.command("list")
    def certs_list() -> None:
        """Show the server certificate and the trusted and rejected client certificates."""
        from cell_control.config import ironcell_home
        from cell_control.opcua.pki import PkiDirs

        dirs = PkiDirs.of(ironcell_home())
        for label, folder in (("own", dirs.own), ("trusted", dirs.trusted), ("rejected", dirs.rejected)):
            for p in sorted(folder.iterdir()):
                if p.is_file() and not p.name.endswith(".pem"):
                    typer.echo(f"{label:9s} {p}")
