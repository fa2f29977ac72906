"""MuJoCo cell scene, kinematics, impedance controller, trajectories, skills and safety."""

import os

# MuJoCo chooses its GL backend when first imported; offscreen renders need a headless one (see render.py).
os.environ.setdefault("MUJOCO_GL", "egl")
