"""The anomaly segmentation network: a plain, fully convolutional nn.Module (no Lightning here).

Input: `vision.anomaly.anomaly_features` of the half-resolution image (centred grey level and three
noise-normalised band-passes; computed outside the graph with OpenCV, identically in training and at
runtime). Output: two logit maps at 1/4 of the input (1/8 of the original image): channel 0 "this does
not belong here" (anomaly), channel 1 "this is the part's metal" (material), so the runtime can confine
the anomaly map to the part. Cost was the design constraint (at most ~60 ms added to a 1024x1024
inspection on 2 CPU cores), hence the patchify stem, depthwise-separable blocks and additive skips.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vision.anomaly import FEATURE_CHANNELS, INPUT_SCALE, SIZE_MULTIPLE

# Map cells per input pixel of the net (its input is already at 1/INPUT_SCALE of the image).
OUTPUT_STRIDE = 4
IMAGE_STRIDE = OUTPUT_STRIDE * INPUT_SCALE
__all__ = ["IMAGE_STRIDE", "OUTPUT_STRIDE", "SIZE_MULTIPLE", "AnomalySegNet", "ExportWrapper"]


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


class AnomalySegNet(nn.Module):
    """U-Net-like segmenter of 'this does not belong here' (trained on pasted synthetic anomalies)."""

    def __init__(self, width: int = 24, in_channels: int = FEATURE_CHANNELS) -> None:
        super().__init__()
        c1, c2, c3 = width, width * 2, width * 4
        # 2x2/2 patch embedding: with >= 16 channels a complete linear basis of each 2x2 patch of 4 channels.
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c1, 2, stride=2, bias=False), nn.BatchNorm2d(c1), nn.ReLU())
        self.enc1 = nn.Sequential(_DSBlock(c1), _DSBlock(c1))
        self.down2 = _Down(c1, c2)
        self.enc2 = nn.Sequential(_DSBlock(c2, 1), _DSBlock(c2, 2))
        self.down3 = _Down(c2, c3)
        # Dilated context at 1/16 of the image: enough to tell a part's own edge or boss from a flaw on it.
        self.enc3 = nn.Sequential(_DSBlock(c3, 2), _DSBlock(c3, 4), _DSBlock(c3, 8))
        self.lat3 = nn.Conv2d(c3, c2, 1)
        self.skip1 = nn.Conv2d(c1, c2, 2, stride=2)
        self.dec = nn.Sequential(_DSBlock(c2), _DSBlock(c2))
        self.head = nn.Conv2d(c2, 2, 1)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """feats: (N, C, H, W), H and W multiples of 16 -> logits (N, 2, H/4, W/4): anomaly, material."""
        e1 = self.enc1(self.stem(feats))
        e2 = self.enc2(self.down2(e1))
        e3 = self.enc3(self.down3(e2))
        up = F.interpolate(self.lat3(e3), scale_factor=2.0, mode="bilinear", align_corners=False)
        return self.head(self.dec(e2 + up + self.skip1(e1)))


class ExportWrapper(nn.Module):
    """What goes into the ONNX file: input features -> probabilities (anomaly, material) instead of logits."""

    def __init__(self, net: AnomalySegNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(feats))
