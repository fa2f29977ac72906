"""The simulated X-ray station as the cell's ImageSource: the radiograph of a part is a pure function of
(seed, serial, family), so the cell in simulation knows the truth about every part it inspects."""

from __future__ import annotations

import dataclasses
import hashlib
from collections import OrderedDict

import numpy as np

from vision.types import PartIdentity, TrueFlaw, XrayImage
from vision.xray.params import XraySimParams
from vision.xray.simulator import SimulatedShot, XraySimulator


def part_rng(seed: int, part: PartIdentity) -> np.random.Generator:
    """Stable across processes and Python versions (no built-in hash())."""
    digest = hashlib.sha256(f"{part.family.value}\x00{part.serial}".encode()).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    return np.random.default_rng(np.random.SeedSequence([seed, *words]))


class SimulatedXraySource:
    """ImageSource backed by the simulator; one fixed detector (so flat-field frames stay valid)."""

    def __init__(self, params: XraySimParams | None = None, seed: int = 0, cache_size: int = 32) -> None:
        params = params or XraySimParams()
        self.params = params.model_copy(update={"detector_pool": 1})
        self.seed = seed
        self.simulator = XraySimulator(self.params)
        self._cache: OrderedDict[tuple[str, str], SimulatedShot] = OrderedDict()
        self._cache_size = cache_size

    def shot(self, part: PartIdentity) -> SimulatedShot:
        """Full ground truth (masks, thickness, anomaly kinds) of the part's radiograph."""
        key = (part.family.value, part.serial)
        hit = self._cache.get(key)
        if hit is None:
            hit = self.simulator.render(part_rng(self.seed, part), family=part.family, part=part)
            self._cache[key] = hit
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return hit

    def acquire(self, part: PartIdentity) -> XrayImage:
        """The radiograph of `part` (a private copy of the pixels: the cached truth stays intact)."""
        image = self.shot(part).image
        return dataclasses.replace(image, pixels=image.pixels.copy())

    def truth(self, part: PartIdentity) -> tuple[TrueFlaw, ...]:
        return self.shot(part).image.true_flaws

    def dark_frame(self) -> np.ndarray:
        """Offset frame of the simulated detector (counts for flat panels, relative for intensifiers)."""
        return self.simulator.detector(0).offset.copy()

    def gain_frame(self) -> np.ndarray:
        """Relative gain frame (mean 1) of the simulated detector."""
        return self.simulator.detector(0).gain.copy()
