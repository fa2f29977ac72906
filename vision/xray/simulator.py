"""The X-ray simulator: part geometry + flaws + image formation -> one labelled radiograph."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from vision.types import DetectorMode, FlawClass, PartFamily, PartIdentity, TrueFlaw, XrayImage
from vision.xray.flaws import FlawDraft, draw_size, make_flaw
from vision.xray.intensifier import circular_field, draw_distortion_k, intensifier_display, pincushion_maps
from vision.xray.params import XraySimParams
from vision.xray.parts import render_part
from vision.xray.physics import (
    DetectorFrames,
    Exposure,
    auto_kv,
    blur,
    draw_exposure,
    expose,
    flat_panel_counts,
    make_detector,
    noise_sigma_rel,
    scatter,
    transmission,
)

_MATERIAL_MM = 0.3
_CNR_CAP = 999.0


@dataclass(frozen=True)
class FlawTruth:
    """One rendered flaw instance (detector class or anomaly-only kind); instance_id is its value in the mask."""

    instance_id: int
    kind: str
    flaw_class: FlawClass | None
    bbox_xyxy_px: tuple[float, float, float, float]
    size_mm: float
    depth_mm: float
    cnr: float
    snr: float = 0.0  # Rose criterion: contrast x sqrt(area) / white pixel noise; about 5 and up is seen by eye


@dataclass(frozen=True, eq=False)
class SimulatedShot:
    image: XrayImage
    instance_mask: np.ndarray  # int32, 0 background, i = instance i (see `instances`)
    material_mask: np.ndarray  # bool, where the part's aluminium is
    thickness_mm: np.ndarray  # float32, aluminium path length of the sound part along each ray
    anomaly_kinds: tuple[str, ...]  # anomaly-only kinds present, one entry per such instance
    instances: tuple[FlawTruth, ...]
    family: PartFamily
    exposure: Exposure
    detector_index: int

    @property
    def flawed(self) -> bool:
        return bool(self.instances)


class XraySimulator:
    """Renders radiographs from an injected Generator: the same generator state gives the same shot."""

    def __init__(self, params: XraySimParams | None = None) -> None:
        self.params = params or XraySimParams()
        self._detectors: dict[int, DetectorFrames] = {}

    def detector(self, index: int = 0) -> DetectorFrames:
        """Fixed pattern of detector `index` of the pool (for flat-field calibration frames)."""
        p = self.params
        if index not in self._detectors:
            mode_id = list(DetectorMode).index(p.detector_mode)
            seq = np.random.SeedSequence([p.detector_seed, index, p.width_px, p.height_px, mode_id])
            self._detectors[index] = make_detector(np.random.default_rng(seq), p.height_px, p.width_px, p.detector_mode)
        return self._detectors[index]

    def render(
        self,
        rng: np.random.Generator,
        family: PartFamily | None = None,
        flawed: bool | None = None,
        part: PartIdentity | None = None,
    ) -> SimulatedShot:
        p = self.params
        r = p.randomise
        if family is None:
            w = np.asarray(p.family_weights or [1.0] * len(p.families), float)
            family = p.families[int(rng.choice(len(p.families), p=w / w.sum()))]
        if flawed is None:
            flawed = bool(rng.random() >= p.flaw_free_share)
        geo = render_part(family, rng, p.width_px, p.height_px, r, p.close_up_share)
        mmpp = geo.view.mm_per_px
        magnification = float(rng.uniform(1.1, 1.2 + 0.6 * r))
        kv_range = (p.kv_min, p.kv_max)
        kv = auto_kv(geo.thickness_mm, rng, kv_range) if rng.random() < 0.5 + 0.4 * r else None
        e = draw_exposure(rng, kv_range, p.detector_mode, mmpp, magnification, r, p.noise_scale, kv)
        det_index = int(rng.integers(0, p.detector_pool))
        det = self.detector(det_index)

        thickness = geo.thickness_mm
        t_total = thickness if geo.fixture_mm is None else thickness + geo.fixture_mm
        primary = transmission(t_total, e)
        scat = scatter(primary, e)
        drafts = self._draw_flaws(rng, flawed, thickness, t_total, primary, scat, e, mmpp)
        instance = np.zeros((p.height_px, p.width_px), np.int32)
        primary_sound = primary.copy() if drafts and p.detector_mode != DetectorMode.FLAT_PANEL else None
        if drafts:
            t_eff = t_total.copy()
            for i, (d, _, _) in enumerate(drafts, start=1):
                t_eff[d.window] += d.delta_mm
                instance[d.window][d.mask] = i
            for d, _, _ in drafts:  # windows may overlap: recompute each from the summed path lengths
                primary[d.window] = transmission(t_eff[d.window], e)
        quanta = expose(primary + scat, e, rng)
        material = thickness > _MATERIAL_MM

        if p.detector_mode == DetectorMode.FLAT_PANEL:
            pixels = flat_panel_counts(quanta, e, det, rng)
            inst_out, mat_out, thick_out = instance, material, thickness
        else:
            display_seed = int(rng.integers(0, 2**63))
            y = intensifier_display(quanta, e, det, material, np.random.default_rng(display_seed), r)
            if primary_sound is not None:
                # the same display (same draws, same noise) of the part without its flaws: what the flaw adds to
                # the final grey levels, after windowing, compression and clipping
                flaw_quanta = blur(blur(primary - primary_sound, e.focal_blur_px), e.detector_blur_px)
                flaw_quanta *= np.float32(e.photons_open)
                sound = intensifier_display(
                    quanta - flaw_quanta, e, det, material, np.random.default_rng(display_seed), r
                )
                drafts = _display_visibility(drafts, instance, y, sound, flaw_quanta, quanta, e, p.min_contrast_gl)
            k = draw_distortion_k(rng, r)
            if k > 0:
                mx, my = pincushion_maps(p.height_px, p.width_px, k)
                y = cv2.remap(y, mx, my, cv2.INTER_LINEAR)
                inst_out = (
                    cv2.remap(instance.astype(np.uint16), mx, my, cv2.INTER_NEAREST).astype(np.int32)
                    if drafts
                    else instance
                )
                mat_out = cv2.remap(material.view(np.uint8), mx, my, cv2.INTER_NEAREST).astype(bool)
                thick_out = cv2.remap(thickness, mx, my, cv2.INTER_LINEAR)
            else:
                inst_out, mat_out, thick_out = instance, material, thickness
            if rng.random() < 0.1 * r:
                y = y * circular_field(p.height_px, p.width_px, rng)
            pixels = (y * np.float32(255.0) + np.float32(0.5)).astype(np.uint8)
            if rng.random() < 0.25 * r:  # frame grabbers and archives often store JPEG
                quality = int(rng.integers(60, 96))
                ok, buf = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
                decoded = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE) if ok else None
                pixels = pixels if decoded is None else np.asarray(decoded, np.uint8)

        instances = _instances(inst_out, drafts, pixels, p.min_cnr, p.min_snr)
        true_flaws = tuple(
            TrueFlaw(f.flaw_class, f.bbox_xyxy_px, f.size_mm, f.depth_mm, f.cnr)
            for f in instances
            if f.flaw_class is not None
        )
        image = XrayImage(
            pixels=pixels,
            bit_depth=p.bit_depth,
            pixel_pitch_mm=mmpp * magnification,
            magnification=magnification,
            tube_kv=round(e.kv, 2),
            source=f"simulator:{family.value}",
            part=part,
            true_flaws=true_flaws,
        )
        anomaly = tuple(f.kind for f in instances if f.flaw_class is None)
        return SimulatedShot(image, inst_out, mat_out, thick_out, anomaly, instances, family, e, det_index)

    def _draw_flaws(
        self,
        rng: np.random.Generator,
        flawed: bool,
        thickness: np.ndarray,
        t_total: np.ndarray,
        primary: np.ndarray,
        scat: np.ndarray,
        e: Exposure,
        mmpp: float,
    ) -> list[tuple[FlawDraft, float, float]]:
        """Flaws visible enough (params.min_cnr per pixel, params.min_snr over the flaw), with CNR and SNR."""
        p = self.params
        if not flawed:
            return []
        use_anomaly = bool(p.anomaly_kinds) and (not p.has_flaw_classes or rng.random() < p.anomaly_share)
        if use_anomaly:
            kinds: list[str] = list(p.anomaly_kinds)
            weights = np.ones(len(kinds))
            target = int(rng.integers(1, 3))
        else:
            kinds = [c.value for c in FlawClass]
            weights = np.array([p.flaw_mix.get(c, 0.0) for c in FlawClass], float)
            target = min(p.max_flaws, 1 + int(rng.poisson(0.8)))
        weights = weights / weights.sum()
        occupied = np.zeros(thickness.shape, bool)
        out: list[tuple[FlawDraft, float, float]] = []
        sigma = math.hypot(e.focal_blur_px, e.detector_blur_px)
        # a flawed part whose first draws could not be placed visibly gets a few fresh draws
        for n in range(target + 6):
            if n >= target and out:
                break
            kind = kinds[int(rng.choice(len(kinds), p=weights))]
            # keep kind and size over the retries: otherwise large flaws (easier to see and to fit) crowd out
            # the small ones and the size distribution drifts away from the one drawn
            size = draw_size(rng, kind, p.flaw_size_mm)
            for _attempt in range(5):
                d = make_flaw(rng, kind, thickness, occupied, mmpp, p.flaw_size_mm, size_mm=size)
                if d is None:
                    continue
                win = d.window
                contrast = conspicuous_contrast(primary, t_total, d, e, sigma, p.conspicuity_shift_px)
                level = float((primary[win] + scat[win])[d.mask].mean())
                noise = noise_sigma_rel(level, e)
                cnr = _CNR_CAP if noise <= 0 else min(_CNR_CAP, contrast / noise)
                white = noise_sigma_rel(level, e, after_blur=False)
                area = float(np.count_nonzero(d.mask))
                snr = _CNR_CAP if white <= 0 else min(_CNR_CAP, contrast * math.sqrt(area) / white)
                if cnr >= p.min_cnr and snr >= p.min_snr:
                    occupied[win] |= d.mask
                    out.append((d, round(cnr, 3), round(snr, 3)))
                    break
        return out


def conspicuous_contrast(
    primary: np.ndarray, t_total: np.ndarray, d: FlawDraft, e: Exposure, sigma_px: float, shift_px: int
) -> float:
    """Mean contrast a flaw adds to the blurred signal over its mask, counting only what lies outside the range
    the flaw-free image takes within `shift_px` of each pixel.

    A flaw on the steep flank of a section or on the part's outline changes the signal a lot, yet only moves an
    edge by a pixel or two: the image shows a normal edge, and no inspector, human or model, can point at it.
    The mean change alone rated such flaws at a contrast-to-noise of 10-25 (2026-12-03: about a tenth of the
    detector's held-out flaws, of which it found one in 33, and most surface gas holes of the anomaly set). In a flat
    region the range is a single value and the contrast is the mean change, as before."""
    h, w = d.delta_mm.shape
    pad = shift_px + math.ceil(3.0 * sigma_px) + 1
    ya, xa = max(0, d.y0 - pad), max(0, d.x0 - pad)
    yb, xb = min(primary.shape[0], d.y0 + h + pad), min(primary.shape[1], d.x0 + w + pad)
    inner = slice(d.y0 - ya, d.y0 - ya + h), slice(d.x0 - xa, d.x0 - xa + w)
    base = primary[ya:yb, xa:xb]
    delta = np.zeros_like(base)
    delta[inner] = d.delta_mm
    diff = blur(transmission(t_total[ya:yb, xa:xb] + delta, e) - base, sigma_px)[inner][d.mask]
    contrast = abs(float(diff.mean()))
    if shift_px <= 0:
        return contrast
    clean = blur(base, sigma_px)
    k = np.ones((2 * shift_px + 1, 2 * shift_px + 1), np.uint8)
    hi, lo = cv2.dilate(clean, k)[inner][d.mask], cv2.erode(clean, k)[inner][d.mask]
    shown = clean[inner][d.mask] + diff
    outside = np.maximum(shown - hi, 0.0) + np.maximum(lo - shown, 0.0)
    return min(contrast, float(outside.mean()))


_LSB_8BIT = 1.0 / 255.0


def _display_visibility(
    drafts: list[tuple[FlawDraft, float, float]],
    instance: np.ndarray,
    shown: np.ndarray,
    sound: np.ndarray,
    flaw_quanta: np.ndarray,
    quanta: np.ndarray,
    e: Exposure,
    min_contrast_gl: float,
) -> list[tuple[FlawDraft, float, float]]:
    """CNR and SNR of each flaw measured in the displayed 8-bit grey levels rather than in the linear signal.

    The intensifier's log curve, gamma and window squeeze contrast and noise alike, until the noise falls under
    one grey level: from there quantisation, not the quanta, sets the noise floor, and a flaw fainter than a
    grey level vanishes. Saturation likewise flattens a flaw to nothing. The display gain is measured, not
    modelled: grey-level change per quantum between the shown frame and the same frame without the flaws. A
    flaw that changes the grey level by less than `min_contrast_gl` (in the dark or bright ends of a compressed
    display) gets CNR and SNR 0: an inspector cannot see it however quiet the image."""
    quant = _LSB_8BIT / math.sqrt(12.0)
    out = []
    for i, (d, cnr_lin, snr_lin) in enumerate(drafts, start=1):
        win = d.window
        own = instance[win] == i
        if not own.any():
            out.append((d, 0.0, 0.0))
            continue
        contrast = float((shown[win] - sound[win])[own].mean())
        dq = float(flaw_quanta[win][own].mean())
        gain = abs(contrast / dq) if abs(dq) > 1e-9 else 0.0
        level = float((quanta[win] - flaw_quanta[win])[own].mean()) / e.photons_open
        sd = gain * noise_sigma_rel(level, e) * e.photons_open
        white = gain * noise_sigma_rel(level, e, after_blur=False) * e.photons_open
        area = float(np.count_nonzero(own))
        if abs(contrast) < min_contrast_gl * _LSB_8BIT:
            out.append((d, 0.0, 0.0))
            continue
        cnr = min(cnr_lin, abs(contrast) / math.hypot(sd, quant))
        snr = min(snr_lin, abs(contrast) * math.sqrt(area) / math.hypot(white, quant))
        out.append((d, round(cnr, 3), round(snr, 3)))
    return out


def _instances(
    instance: np.ndarray,
    drafts: list[tuple[FlawDraft, float, float]],
    pixels: np.ndarray,
    min_cnr: float = 0.0,
    min_snr: float = 0.0,
) -> tuple[FlawTruth, ...]:
    """Boxes from the final (possibly distorted) mask. An instance distorted away entirely, lying mostly in
    saturated pixels (the window clipped it to white or black, so nothing of it can be seen), or too faint in
    the final grey levels (below min_cnr or min_snr) is dropped from the truth and erased from the mask."""
    top = 255 if pixels.dtype == np.uint8 else 65535
    if not drafts:
        return ()
    # search only around the flaw windows; distortion moves pixels by at most a few percent of the frame
    h, w = instance.shape
    m = 2 + math.ceil(0.05 * max(h, w))
    y0 = max(0, min(d.y0 for d, _, _ in drafts) - m)
    x0 = max(0, min(d.x0 for d, _, _ in drafts) - m)
    y1 = min(h, max(d.y0 + d.delta_mm.shape[0] for d, _, _ in drafts) + m)
    x1 = min(w, max(d.x0 + d.delta_mm.shape[1] for d, _, _ in drafts) + m)
    inst_sub, px_sub = instance[y0:y1, x0:x1], pixels[y0:y1, x0:x1]
    found = ndimage.find_objects(inst_sub, max_label=len(drafts))
    out = []
    for i, ((d, cnr, snr), sl) in enumerate(zip(drafts, found, strict=True), start=1):
        if sl is None:
            continue
        own = inst_sub[sl] == i
        px = px_sub[sl][own]
        faint = cnr < min_cnr or snr < min_snr
        if faint or np.count_nonzero((px == 0) | (px == top)) > 0.5 * px.size:
            inst_sub[sl][own] = 0
            continue
        ys, xs = sl
        bbox = (float(xs.start + x0), float(ys.start + y0), float(xs.stop + x0), float(ys.stop + y0))
        out.append(FlawTruth(i, d.kind, d.flaw_class, bbox, d.size_mm, d.depth_mm, cnr, snr))
    return tuple(out)
