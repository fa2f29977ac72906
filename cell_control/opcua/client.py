"""A client of the cell for local programs (HMI, benchmarks, tests): Basic256Sha256 SignAndEncrypt with
a client certificate made and trusted under the same IRONCELL_HOME, and a user name and password.
"""

from __future__ import annotations

from pathlib import Path

from asyncua import Client

from cell_control.opcua.pki import ensure_client_certificate


async def secure_client(
    url: str, user: str, password: str, home: Path, name: str = "local", timeout_s: float = 10.0
) -> Client:
    """A configured, not yet connected client (`async with` it, or call connect())."""
    cert, key, uri = ensure_client_certificate(home, name)
    client = Client(url, timeout=timeout_s)
    client.application_uri = uri
    client.set_user(user)
    client.set_password(password)
    await client.set_security_string(f"Basic256Sha256,SignAndEncrypt,{cert},{key}")
    return client
