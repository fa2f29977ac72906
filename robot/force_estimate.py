"""External force at the tool estimated from joint torques, the way a torque-sensing cobot does it.

The simulator's contact reading (CellSim.contacts) is a perfect sensor no real arm has. A real arm knows
its joint positions and velocities, the torques its motors apply, and its dynamic model; what the model
cannot explain is the external torque: tau_ext = M(q) qdd + c(q, dq) - tau_passive - tau_motor, with qdd
the finite difference of the joint velocities over the last step. The wrench at the tool is the
least-squares F with J^T F = tau_ext, less the weight of the held payload (the controller carries it).
It also sees what the contact reading does not separate out: the held part's inertia, its true mass
against the nominal one, joint-limit contacts, and the gripper's transients (tens of newtons at most).
"""

from __future__ import annotations

import mujoco
import numpy as np

from robot.control_kernel import wrench_estimate_kernel
from robot.sim import CellSim

GRAVITY_M_PER_S2 = 9.81


class ExternalForceEstimator:
    """One per cell; `update` once per tick, before the step, for the arm that works."""

    def __init__(self, sim: CellSim) -> None:
        m, d = sim.m, sim.d
        self._m, self._d = m, d
        self._qvel = d.qvel
        self._prev = d.qvel.copy()
        self._dq_step = np.zeros(m.nv)
        self._m_dq_step = np.zeros(m.nv)
        self.inv_dt = 1.0 / float(m.opt.timestep)
        # At a tick, qM, qfrc_bias, qfrc_passive and qfrc_actuator still hold the last step's values (mj_step
        # computes them before integrating), the state that step started from: all consistent with its qdd.
        self.views = {
            side: (
                self._m_dq_step[ds],
                d.qfrc_bias[ds],
                d.qfrc_passive[ds],
                d.qfrc_actuator[ds],
            )
            for side, ds in sim.dof_slice.items()
        }
        self.wrench = np.zeros(7)  # [F (N); torque (Nm); |F| (N)]
        self._valid = False
        # Compile (or load) the kernel for these array layouts now, not in the first tick of a control loop.
        wrench_estimate_kernel(sim.arm_views("right").jac, *self.views["right"], 1.0, 0.0, np.zeros(7))

    def update(self, side: str, jac: np.ndarray, payload_kg: float) -> float:
        """|F| at the tool (N) over the last step; 0 on the first tick after `restart`."""
        if not self.prepare():
            return 0.0
        m_dq, bias, passive, motor = self.views[side]
        return float(
            wrench_estimate_kernel(
                jac, m_dq, bias, passive, motor, self.inv_dt, payload_kg * GRAVITY_M_PER_S2, self.wrench
            )
        )

    def prepare(self) -> bool:
        """The first half of `update`: M (dq_k - dq_k-1) into the `views`; False when there is no last step to
        compare with (the first tick after `restart`). The compiled tick does the second half itself."""
        np.subtract(self._qvel, self._prev, out=self._dq_step)
        np.copyto(self._prev, self._qvel)
        if not self._valid:
            self._valid = True
            return False
        mujoco.mj_mulM(self._m, self._d, self._m_dq_step, self._dq_step)
        return True

    def restart(self) -> None:
        """After the state was set from outside (brakes holding, a reset): the next step has no valid qdd."""
        self._valid = False
