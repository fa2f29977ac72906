"""Simulated X-ray station: physically based radiographs of die-cast aluminium parts with labelled flaws."""

from vision.xray.dataset import write_dataset
from vision.xray.params import ANOMALY_KINDS, XraySimParams, parse_flaw_mix
from vision.xray.simulator import FlawTruth, SimulatedShot, XraySimulator
from vision.xray.source import SimulatedXraySource

__all__ = [
    "ANOMALY_KINDS",
    "FlawTruth",
    "SimulatedShot",
    "SimulatedXraySource",
    "XraySimParams",
    "XraySimulator",
    "parse_flaw_mix",
    "write_dataset",
]
