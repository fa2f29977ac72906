"""Hardware and model roles of the vision package."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from vision.types import AnomalyOutput, Detection, InspectionResult, PartIdentity, XrayImage


@runtime_checkable
class ImageSource(Protocol):
    """Returns the radiograph of the part now at the station."""

    def acquire(self, part: PartIdentity) -> XrayImage: ...


@runtime_checkable
class Inspector(Protocol):
    def inspect(self, image: XrayImage) -> InspectionResult: ...


@runtime_checkable
class Detector(Protocol):
    """Finds flaws in a preprocessed single-channel float image in [0, 1]."""

    version: str

    def detect(self, image01: np.ndarray) -> list[Detection]: ...


@runtime_checkable
class AnomalyScorer(Protocol):
    """Scores a preprocessed single-channel float image in [0, 1] for flaws no class describes."""

    version: str

    def score(self, image01: np.ndarray) -> AnomalyOutput: ...
