"""Robot/CameraImage: the robot's rendered view as a PNG ByteString, rendered only while someone reads it.

The robot driver renders on request (`latest_image`); rendering costs CPU the cell needs for inspection
and control, so frames are made at `robot.render_fps` only while a client (the HMI's Robot page) has read
the variable in the last `IDLE_S` seconds. Added for the HMI; the address-space contract is in names.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from asyncua import Server, ua

log = logging.getLogger(__name__)
IDLE_S = 5.0


class CameraPublisher:
    def __init__(self, server: Server, node_id: ua.NodeId, robot: Any, fps: float) -> None:
        self.server = server
        self.node_id = node_id
        self.robot = robot
        self.fps = fps
        self._png = b""
        self._wanted_at = 0.0
        self._task: asyncio.Task[None] | None = None

    def install(self) -> None:
        self.server.set_attribute_value_callback(self.node_id, self._on_read)  # type: ignore[arg-type]
        if self.fps > 0 and hasattr(self.robot, "latest_image"):
            self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _on_read(self, _nid: ua.NodeId, _attr: ua.AttributeIds) -> ua.DataValue:
        self._wanted_at = time.monotonic()
        return ua.DataValue(ua.Variant(self._png, ua.VariantType.ByteString))

    async def _loop(self) -> None:
        import cv2
        import numpy as np

        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(1.0 / self.fps)
            if time.monotonic() - self._wanted_at > IDLE_S:
                continue
            try:
                img = await loop.run_in_executor(None, self.robot.latest_image)
            except Exception as exc:  # no GL on this machine, robot process gone: stop trying, keep the cell
                log.warning("robot camera view not published: %s", exc)
                return
            if img is None:
                continue
            ok, png = cv2.imencode(".png", np.ascontiguousarray(np.asarray(img)[..., ::-1]))
            if ok:
                self._png = png.tobytes()
