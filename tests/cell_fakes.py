"""Fakes for the cell controller's tests: an image source with known flaws and a rule-free inspector."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from cell_control.cell import Cell, CellOptions
from cell_control.clock import VirtualClock
from cell_control.station import InspectionStation, SimulatedFeeder
from cell_control.store import Store
from robot.fake import FakeRobotDriver
from vision.types import Defect, FlawClass, InspectionResult, PartIdentity, TrueFlaw, Verdict, XrayImage


class FakeImageSource:
    """Every third part (by serial hash) has one pore; pixels are small and deterministic."""

    def __init__(self, fail_serials: set[str] | None = None) -> None:
        self.fail_serials = fail_serials or set()

    def acquire(self, part: PartIdentity) -> XrayImage:
        h = int(hashlib.sha256(part.serial.encode()).hexdigest()[:8], 16)
        rng = np.random.default_rng(h)
        px = rng.integers(0, 255, size=(48, 64), dtype=np.uint8)
        flaws = (TrueFlaw(FlawClass.POROSITY, (10.0, 10.0, 20.0, 20.0), 2.0, 1.0, 3.0),) if h % 3 == 0 else ()
        return XrayImage(px, 8, 0.2, 1.25, 90.0, "fake", part=part, true_flaws=flaws)


class FakeInspector:
    """NOK when the part has a true flaw; raises for serials in `fail_serials` (the station turns that
    into REVIEW + alarm); `review_serials` get REVIEW."""

    def __init__(self, fail_serials: set[str] | None = None, review_serials: set[str] | None = None) -> None:
        self.fail_serials = fail_serials or set()
        self.review_serials = review_serials or set()

    def inspect(self, image: XrayImage) -> InspectionResult:
        serial = image.part.serial if image.part else ""
        if serial in self.fail_serials:
            raise RuntimeError("detector crashed")
        defects = tuple(
            Defect(f.flaw_class, 0.9, f.bbox_xyxy_px, f.size_mm, "core", "core:pore") for f in image.true_flaws
        )
        verdict = Verdict.NOK if defects else Verdict.OK
        if serial in self.review_serials:
            verdict = Verdict.REVIEW
        return InspectionResult(verdict, defects, None, {"detector": "fake-1"}, latency_ms=1.0)


def fake_truth(image: XrayImage) -> dict[str, Any]:
    return {"verdict": "NOK" if image.true_flaws else "OK", "flaws": len(image.true_flaws)}


def make_cell(
    home: Path,
    robot: FakeRobotDriver | None = None,
    parts_target: int | None = 20,
    inspector: FakeInspector | None = None,
    feeder: bool = True,
    sim_operator_s: float | None = 5.0,
) -> tuple[Cell, Store, FakeRobotDriver]:
    store = Store.open(home)
    robot = robot or FakeRobotDriver()
    station = InspectionStation(FakeImageSource(), inspector or FakeInspector(), fake_truth)
    fd = SimulatedFeeder(np.random.default_rng(1), "wheel", "T1") if feeder else None
    opts = CellOptions(
        parts_target=parts_target,
        feeder_enabled=feeder,
        part_interval_s=2.0,
        sim_operator_response_s=sim_operator_s,
        robot_task_timeout_s=10.0,
    )
    cell = Cell(store, station, robot, fd, opts, clock=VirtualClock())
    return cell, store, robot


def fake_station() -> InspectionStation:
    """For process-pool tests: a worker process builds this (module-level, so it pickles by reference)."""
    return InspectionStation(FakeImageSource(), FakeInspector(), fake_truth)
