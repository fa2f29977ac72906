"""The OPC UA certificate folders under `$IRONCELL_HOME/pki/`: own, trusted, rejected, clients.

The server's certificate and key are made at first start (RSA 2048, self-signed, application URI in
the subject alternative name as OPC 10000-6 asks). A client certificate the cell has not been told to
trust is refused and copied to `rejected/`, where an engineer can inspect it and trust it with
`ironcell certs trust PATH`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

log = logging.getLogger(__name__)

SERVER_CERT = "server_cert.der"
SERVER_KEY = "server_key.pem"
CLIENT_CERT = "cert.der"
CLIENT_KEY = "key.pem"


class PkiError(ValueError):
    pass


@dataclass(frozen=True)
class PkiDirs:
    root: Path

    @classmethod
    def of(cls, home: Path) -> PkiDirs:
        d = cls(home / "pki")
        for p in (d.own, d.trusted, d.rejected, d.clients):
            p.mkdir(parents=True, exist_ok=True)
        return d

    @property
    def own(self) -> Path:
        return self.root / "own"

    @property
    def trusted(self) -> Path:
        return self.root / "trusted"

    @property
    def rejected(self) -> Path:
        return self.root / "rejected"

    @property
    def clients(self) -> Path:
        return self.root / "clients"


def thumbprint(der: bytes) -> str:
    """SHA-1 thumbprint as OPC UA shows it (hex); names files, not a security property."""
    return hashlib.sha1(der).hexdigest()


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _make_cert(common_name: str, app_uri: str, hostnames: list[str], server: bool, days: int) -> tuple[bytes, bytes]:
    from asyncua.crypto import cert_gen

    key = cert_gen.generate_private_key()
    sans: list[x509.GeneralName] = [x509.UniformResourceIdentifier(app_uri)]
    sans += [x509.DNSName(h) for h in hostnames]
    usage = (
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
        if server
        else [ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    cert = cert_gen.generate_self_signed_app_certificate(
        key, common_name, {"organizationName": "ironcell"}, sans, extended=usage, days=days
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    return der, cert_gen.dump_private_key_as_pem(key)


def _valid_for(der_path: Path, margin: timedelta = timedelta(days=7)) -> bool:
    try:
        cert = x509.load_der_x509_certificate(der_path.read_bytes())
    except (OSError, ValueError):
        return False
    now = datetime.now(UTC)
    return cert.not_valid_before_utc <= now and cert.not_valid_after_utc > now + margin


def ensure_server_certificate(home: Path, app_uri: str, days: int = 3650) -> tuple[Path, Path]:
    """The server's certificate (DER) and key (PEM) under pki/own/, made when missing or expiring."""
    dirs = PkiDirs.of(home)
    cert_p, key_p = dirs.own / SERVER_CERT, dirs.own / SERVER_KEY
    if cert_p.is_file() and key_p.is_file() and _valid_for(cert_p):
        return cert_p, key_p
    host = socket.gethostname()
    der, pem = _make_cert(f"ironcell server@{host}", app_uri, sorted({host, "localhost"}), server=True, days=days)
    _write_private(key_p, pem)
    _write_private(cert_p, der)
    log.info("made OPC UA server certificate %s (thumbprint %s)", cert_p, thumbprint(der))
    return cert_p, key_p


def ensure_client_certificate(home: Path, name: str, app_uri: str | None = None) -> tuple[Path, Path, str]:
    """A client certificate for a local program (HMI, bench, tests) and trust it: same IRONCELL_HOME
    means same machine and same operator of the files. Returns (cert, key, application URI)."""
    dirs = PkiDirs.of(home)
    folder = dirs.clients / name
    folder.mkdir(parents=True, exist_ok=True)
    uri = app_uri or f"urn:ironcell:client:{name}"
    cert_p, key_p = folder / CLIENT_CERT, folder / CLIENT_KEY
    uri_p = folder / "application_uri"
    if not (cert_p.is_file() and key_p.is_file() and _valid_for(cert_p)) or (
        uri_p.is_file() and uri_p.read_text().strip() != uri
    ):
        der, pem = _make_cert(f"ironcell {name}", uri, [socket.gethostname(), "localhost"], server=False, days=3650)
        _write_private(key_p, pem)
        _write_private(cert_p, der)
        uri_p.write_text(uri + "\n")
    trust(home, cert_p)
    return cert_p, key_p, uri


def load_der(path: Path) -> bytes:
    """A certificate file in DER or PEM form, as DER."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PkiError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            return x509.load_pem_x509_certificate(data).public_bytes(serialization.Encoding.DER)
        return x509.load_der_x509_certificate(data).public_bytes(serialization.Encoding.DER)
    except ValueError as exc:
        raise PkiError(f"{path}: not an X.509 certificate (DER or PEM)") from exc


def trust(home: Path, path: Path) -> Path:
    """Copy a certificate into trusted/ (named by thumbprint); drop the same one from rejected/."""
    der = load_der(path)
    dirs = PkiDirs.of(home)
    tp = thumbprint(der)
    dest = dirs.trusted / f"{tp}.der"
    if not dest.is_file():
        tmp = dest.with_suffix(".tmp")
        tmp.write_bytes(der)
        os.replace(tmp, dest)
    for p in dirs.rejected.glob(f"{tp}*"):
        p.unlink(missing_ok=True)
    return dest


def trusted_thumbprints(home: Path) -> set[str]:
    dirs = PkiDirs.of(home)
    out = set()
    for p in dirs.trusted.iterdir():
        if p.is_file() and p.suffix in (".der", ".pem", ".crt"):
            try:
                out.add(thumbprint(load_der(p)))
            except PkiError:
                log.warning("ignoring %s in pki/trusted: not a certificate", p)
    return out


class TrustListValidator:
    """asyncua certificate validator: trusted when the exact certificate sits in pki/trusted/.

    The folder is read on each new session, so `ironcell certs trust` takes effect without a restart.
    """

    def __init__(self, home: Path) -> None:
        self.home = home
        self.dirs = PkiDirs.of(home)

    async def __call__(self, cert: x509.Certificate, app_description: object) -> None:
        from asyncua import ua
        from asyncua.common.utils import ServiceError

        der = cert.public_bytes(serialization.Encoding.DER)
        tp = thumbprint(der)
        now = datetime.now(UTC)
        if not (cert.not_valid_before_utc <= now <= cert.not_valid_after_utc):
            raise ServiceError(ua.StatusCodes.BadCertificateTimeInvalid)
        if tp in trusted_thumbprints(self.home):
            return
        dest = self.dirs.rejected / f"{tp}.der"
        if not dest.exists():
            dest.write_bytes(der)
        uri = getattr(app_description, "ApplicationUri", "")
        log.warning("refused untrusted client certificate %s (%s); saved to %s", tp, uri, dest)
        raise ServiceError(ua.StatusCodes.BadCertificateUntrusted)
