"""Offscreen pictures of the cell for the HMI, made from a copy of the joint positions.

Rendering runs on its own MjModel/MjData (same MJCF), never on the control loop's data, so a picture
never delays a tick. MuJoCo picks its GL backend from MUJOCO_GL when it is first imported; `robot`
sets it to EGL (works headless on this VM; OSMesa is not installed) unless the environment says otherwise.
"""

from __future__ import annotations

import mujoco
import numpy as np

CAMERAS = ("overview", "head_cam")


class RenderUnavailable(RuntimeError):
    """No offscreen GL context: set MUJOCO_GL=egl (libegl1 + Mesa) or MUJOCO_GL=osmesa (libosmesa6)."""


def _headless_backend() -> None:
    """If mujoco was imported before `robot` set MUJOCO_GL (and there is no display), switch to EGL."""
    import os

    from mujoco.rendering.classic import gl_context

    chosen = getattr(gl_context, "_MUJOCO_GL", "")
    if chosen in ("egl", "osmesa") or os.environ.get("DISPLAY"):
        return
    from mujoco.egl import GLContext

    gl_context.GLContext = GLContext


class SceneRenderer:
    """Must be used from one thread (the GL context belongs to the thread that made it)."""

    def __init__(self, xml: str, width_px: int = 320, height_px: int = 240, camera: str = "overview") -> None:
        if camera not in CAMERAS:
            raise ValueError(f"unknown camera {camera!r}; one of {CAMERAS}")
        self.m = mujoco.MjModel.from_xml_string(xml)
        self.d = mujoco.MjData(self.m)
        self.width_px = width_px
        self.height_px = height_px
        self.camera = camera
        self._renderer: mujoco.Renderer | None = None

    def render(self, qpos: np.ndarray) -> np.ndarray:
        """RGB image (height, width, 3) uint8 of the cell at joint positions `qpos`."""
        if self._renderer is None:
            try:
                _headless_backend()
                self._renderer = mujoco.Renderer(self.m, self.height_px, self.width_px)
            except Exception as e:  # GL backends fail with many exception types
                raise RenderUnavailable(
                    f"offscreen rendering unavailable ({type(e).__name__}: {e}); "
                    "set MUJOCO_GL=egl (Debian libegl1, libgl1-mesa-dri) or MUJOCO_GL=osmesa (libosmesa6)"
                ) from e
        self.d.qpos[:] = qpos
        mujoco.mj_kinematics(self.m, self.d)
        mujoco.mj_camlight(self.m, self.d)
        self._renderer.update_scene(self.d, camera=self.camera)
        return self._renderer.render().copy()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
