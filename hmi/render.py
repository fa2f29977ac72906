"""The robot's latest rendered view of the cell, as the robot process leaves it under IRONCELL_HOME.

No render (robot process not rendering, or the HMI on another machine) is a normal case: the Robot
page then says "no live view" and shows state and trends only.
"""

from __future__ import annotations

import time
from pathlib import Path

# Where the cell may leave its newest frame (PNG or JPEG), first found wins.
RENDER_CANDIDATES = ("robot/render.png", "robot/latest.png", "robot/render.jpg", "render/latest.png")
STALE_S = 10.0

_cache: dict[Path, tuple[float, bytes]] = {}


def latest_render(home: Path, now_unix_s: float | None = None) -> tuple[bytes | None, str]:
    now = time.time() if now_unix_s is None else now_unix_s
    for rel in RENDER_CANDIDATES:
        path = home / rel
        try:
            mtime = path.stat().st_mtime
        except OSError:
            continue
        cached = _cache.get(path)
        if cached is None or cached[0] != mtime:
            try:
                cached = (mtime, path.read_bytes())
            except OSError:
                continue
            _cache[path] = cached
        age = now - mtime
        note = f"view is {age:.0f} s old: the robot has stopped rendering" if age > STALE_S else ""
        return cached[1], note
    return None, "No live view: the robot process publishes no rendered frame (robot.render_fps 0 or not running)."
