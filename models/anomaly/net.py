"""The anomaly segmentation network: a plain, fully convolutional nn.Module (no Lightning here).

It maps a single-channel radiograph in [0, 1] to two logit maps at 1/4 of the input resolution:
channel 0 "this does not belong here" (anomaly), channel 1 "this is the part's metal" (material), so
the runtime can confine the anomaly map to the part: air, the dark corners outside an image
intensifier's circular field and fixtures carry no flaw. Cost was the design constraint (at most
~60 ms for 1024x1024 on 2 CPU cores through ONNX Runtime), hence a patchify stem, depthwise-separable
blocks and additive (not concatenated) skips.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

OUTPUT_STRIDE = 4
# Input sides must be multiples of this (three stride-2/4 stages); the runtime pads to it.
SIZE_MULTIPLE = 16


class _DSBlock(nn.Module):
    """Residual depthwise-separable block: depthwise 3x3 (optionally dilated), then pointwise."""

    def __init__(self, ch: int, dilation: int = 1) -> None:
        super().__init__()
        self.dw = nn.Conv2d(ch, ch, 3, padding=dilation, dilation=dilation, groups=ch, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.pw = nn.Conv2d(ch, ch, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.dw(x)))
        return F.relu(x + self.bn2(self.pw(y)))


class _Down(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.dw = nn.Conv2d(cin, cin, 3, stride=2, padding=1, groups=cin, bias=False)
        self.pw = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.pw(self.dw(x))))


def _gaussian_taps(sigma: float) -> torch.Tensor:
    r = max(1, round(3 * sigma))
    x = torch.arange(-r, r + 1, dtype=torch.float32)
    g = torch.exp(-0.5 * (x / sigma) ** 2)
    return g / g.sum()


class _HighPass(nn.Module):
    """Fixed difference-from-local-mean filters (not learned): a flaw is a local deviation, so the net
    starts from it instead of having to discover it; edge-replicated borders keep image edges quiet."""

    def __init__(self, sigmas: tuple[float, ...]) -> None:
        super().__init__()
        self.sigmas = tuple(sigmas)
        for i, s in enumerate(self.sigmas):
            self.register_buffer(f"taps{i}", _gaussian_taps(s), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = []
        for i in range(len(self.sigmas)):
            taps: torch.Tensor = getattr(self, f"taps{i}")
            r = taps.numel() // 2
            blurred = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), taps.view(1, 1, 1, -1))
            blurred = F.conv2d(F.pad(blurred, (0, 0, r, r), mode="replicate"), taps.view(1, 1, -1, 1))
            outs.append((x - blurred) * HIGHPASS_GAIN)
        return torch.cat(outs, dim=1)


# High-pass values are a few hundredths; scale them to the range of the centred image.
HIGHPASS_GAIN = 20.0


class AnomalySegNet(nn.Module):
    """U-Net-like segmenter of 'this does not belong here' (trained on pasted synthetic anomalies)."""

    def __init__(self, width: int = 32, highpass_sigmas: tuple[float, ...] = (2.0, 6.0)) -> None:
        super().__init__()
        c1, c2, c3 = width, width * 2, width * 3
        self.highpass = _HighPass(highpass_sigmas) if highpass_sigmas else None
        cin = 1 + len(highpass_sigmas)
        # A 4x4/4 patch embedding with >= 16 channels is a complete linear basis of each patch:
        # no detail is lost, and it is ~20x cheaper than full-resolution 3x3 convolutions.
        self.stem = nn.Sequential(nn.Conv2d(cin, c1, 4, stride=4, bias=False), nn.BatchNorm2d(c1), nn.ReLU())
        self.enc1 = _DSBlock(c1)
        self.down2 = _Down(c1, c2)
        self.enc2 = nn.Sequential(_DSBlock(c2, 1), _DSBlock(c2, 2))
        self.down3 = _Down(c2, c3)
        self.enc3 = nn.Sequential(_DSBlock(c3, 2), _DSBlock(c3, 4))
        self.lat3 = nn.Conv2d(c3, c2, 1)
        self.dec2 = _DSBlock(c2)
        self.lat2 = nn.Conv2d(c2, c1, 1)
        self.dec1 = _DSBlock(c1)
        self.head = nn.Conv2d(c1, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 1, H, W) in [0, 1], H and W multiples of 16 -> logits (N, 2, H/4, W/4): anomaly, material."""
        return self.body(self.features(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Fixed input channels: the centred image (contrast first, not absolute grey level) and high-passes.

        Not exported: ONNX Runtime runs large single-channel blurs slowly, so the runtime computes the
        same channels with OpenCV (`vision.anomaly.input_features`, identical taps and borders).
        """
        feats = (x - 0.5) * 4.0
        if self.highpass is not None:
            feats = torch.cat([feats, self.highpass(x)], dim=1)
        return feats

    def body(self, feats: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(self.stem(feats))
        e2 = self.enc2(self.down2(e1))
        e3 = self.enc3(self.down3(e2))
        d2 = self.dec2(e2 + F.interpolate(self.lat3(e3), scale_factor=2.0, mode="bilinear", align_corners=False))
        d1 = self.dec1(e1 + F.interpolate(self.lat2(d2), scale_factor=2.0, mode="bilinear", align_corners=False))
        return self.head(d1)


class ExportWrapper(nn.Module):
    """What goes into the ONNX file: input features -> probabilities (anomaly, material) instead of logits."""

    def __init__(self, net: AnomalySegNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net.body(feats))
