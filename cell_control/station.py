"""The X-ray station as the sequencer sees it: part arrivals, and acquisition + inspection in a worker.

`InspectionStation.process` runs in a worker thread (never on the event loop). A failed acquisition or
inspection never loses the part: it comes back as a REVIEW result with the error, and the cell raises
an alarm.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import cv2
import numpy as np

from vision.roles import ImageSource, Inspector
from vision.types import InspectionResult, PartFamily, PartIdentity, Verdict, XrayImage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Arrival:
    """A part at the station, from the simulated feeder, the PLC or an OPC UA StartSingleJob call."""

    part: PartIdentity
    job_id: str
    source: str  # "feeder" | "plc" | "opcua"
    arrived_at: datetime
    arrived_clock_s: float = 0.0


@dataclass(frozen=True, eq=False)
class StationOutput:
    arrival: Arrival
    result: InspectionResult
    png: bytes | None
    truth: dict[str, Any] | None
    inspect_wall_s: float


class SimulatedFeeder:
    """Makes the next part: family drawn from `family_mix` with an injected generator, serials unique
    per run (a run tag keeps them unique across restarts of the same store)."""

    def __init__(
        self,
        rng: np.random.Generator,
        recipe: str,
        run_tag: str,
        family_mix: Mapping[PartFamily, float] | None = None,
        lot: str = "",
    ) -> None:
        self._rng = rng
        self._recipe = recipe
        self._tag = run_tag
        mix = dict(family_mix or {PartFamily.WHEEL: 1.0})
        total = sum(mix.values())
        self._families = list(mix)
        self._p = np.array([mix[f] / total for f in self._families])
        self._n = 0
        self._lot = lot or f"LOT-{run_tag}"

    def next_part(self) -> PartIdentity:
        self._n += 1
        family = self._families[int(self._rng.choice(len(self._families), p=self._p))]
        serial = f"{family.value[0].upper()}{self._tag}-{self._n:06d}"
        recipe = self._recipe if self._recipe else family.value
        return PartIdentity(serial=serial, family=family, recipe=recipe, lot=self._lot)


def encode_png(image: XrayImage) -> bytes:
    ok, buf = cv2.imencode(".png", image.pixels)
    if not ok:
        raise ValueError("PNG encoding failed")
    return bytes(buf.tobytes())


TruthFn = Callable[[XrayImage], dict[str, Any] | None]


def failed_result(verdict_error: str, started: float) -> InspectionResult:
    return InspectionResult(
        verdict=Verdict.REVIEW,
        defects=(),
        anomaly_score=None,
        latency_ms=(time.perf_counter() - started) * 1000.0,
        error=verdict_error,
    )


class InspectionStation:
    def __init__(self, source: ImageSource, inspector: Inspector, truth_fn: TruthFn | None = None) -> None:
        self.source = source
        self.inspector = inspector
        self.truth_fn = truth_fn

    def process(self, arrival: Arrival) -> StationOutput:
        t0 = time.perf_counter()
        try:
            image = self.source.acquire(arrival.part)
        except Exception as exc:
            log.exception("acquisition failed for %s", arrival.part.serial)
            return StationOutput(arrival, failed_result(f"acquisition failed: {exc}", t0), None, None, 0.0)
        png: bytes | None
        try:
            png = encode_png(image)
        except Exception:  # the verdict still counts without the stored picture
            log.exception("cannot encode radiograph of %s", arrival.part.serial)
            png = None
        truth = None
        if self.truth_fn is not None:
            try:
                truth = self.truth_fn(image)
            except Exception:
                log.exception("ground truth grading failed for %s", arrival.part.serial)
        try:
            result = self.inspector.inspect(image)
        except Exception as exc:
            log.exception("inspection failed for %s", arrival.part.serial)
            result = failed_result(f"inspection failed: {type(exc).__name__}: {exc}", t0)
        if png is not None:
            result = replace(result, image_sha256=hashlib.sha256(png).hexdigest())
        return StationOutput(arrival, result, png, truth, time.perf_counter() - t0)


def now_utc() -> datetime:
    return datetime.now(UTC)


# --- inspection in a worker process --------------------------------------------------------------------
# Acquisition and inspection hold the GIL for long stretches (NumPy glue, image synthesis); in a thread
# they would slow the event loop that serves OPC UA and Modbus. In a process they cannot.
_worker_station: InspectionStation | None = None


_worker_error = ""


def init_worker(factory: Callable[[], InspectionStation]) -> None:
    global _worker_station, _worker_error
    try:
        _worker_station = factory()
    except Exception as exc:  # reported by worker_ready(); a raising initializer would only break the pool
        _worker_error = f"{type(exc).__name__}: {exc}"


def worker_ready() -> str:
    """'' when this worker's station is built, else why not."""
    return "" if _worker_station is not None else (_worker_error or "not initialised")


def process_in_worker(arrival: Arrival) -> StationOutput:
    if _worker_station is None:
        raise RuntimeError(f"inspection worker has no station: {worker_ready()}")
    return _worker_station.process(arrival)


def process_pool(factory: Callable[[], InspectionStation], workers: int = 1) -> Executor:
    """A spawned process pool whose workers each build their own station (ONNX sessions do not pickle)."""
    import multiprocessing as mp

    return ProcessPoolExecutor(
        max(1, workers), mp_context=mp.get_context("spawn"), initializer=init_worker, initargs=(factory,)
    )
