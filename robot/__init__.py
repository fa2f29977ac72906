"""MuJoCo cell scene, kinematics, impedance controller, trajectories, skills and safety."""
