"""Radiographs and anomaly maps on disk, named by the SHA-256 of their bytes (write once)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


class ImageStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str, suffix: str = ".png") -> Path:
        return self.root / sha256[:2] / f"{sha256}{suffix}"

    def put(self, data: bytes, suffix: str = ".png") -> str:
        """Store bytes and return their SHA-256; an existing file with that hash is kept as is."""
        digest = hashlib.sha256(data).hexdigest()
        path = self.path_for(digest, suffix)
        if path.exists():
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return digest

    def get(self, sha256: str, suffix: str = ".png") -> bytes:
        return self.path_for(sha256, suffix).read_bytes()
