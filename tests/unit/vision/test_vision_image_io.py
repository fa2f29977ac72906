from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.image_io import ImageLoadError, bit_depth_of, iter_image_files, load_pixels, load_xray, pixels_sha256


def _write(path: Path, arr: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), arr)
    return path


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_reads_one_channel_8_and_16_bit(tmp_path: Path, suffix: str, dtype: type) -> None:
    arr = (np.arange(40 * 30).reshape(30, 40) * 7 % np.iinfo(dtype).max).astype(dtype)
    img = load_xray(_write(tmp_path / f"a{suffix}", arr), pixel_pitch_mm=0.2, magnification=1.25)
    assert img.pixels.dtype == dtype
    assert np.array_equal(img.pixels, arr)
    assert img.bit_depth == (8 if dtype == np.uint8 else 16)
    assert img.mm_per_px == pytest.approx(0.16)


def test_grey_saved_as_rgb_is_accepted_colour_is_not(tmp_path: Path) -> None:
    grey = np.full((20, 20), 100, np.uint8)
    assert load_pixels(_write(tmp_path / "g.png", cv2.merge([grey, grey, grey]))).shape == (20, 20)
    colour = cv2.merge([grey, grey, grey + 5])
    with pytest.raises(ImageLoadError, match="colour image with 3 channels"):
        load_pixels(_write(tmp_path / "c.png", colour))


def test_bad_files_give_clear_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageLoadError, match="empty"):
        load_pixels(empty)
    good = _write(tmp_path / "good.png", np.full((64, 64), 7, np.uint16))
    truncated = tmp_path / "trunc.png"
    truncated.write_bytes(good.read_bytes()[:40])
    with pytest.raises(ImageLoadError, match="truncated"):
        load_pixels(truncated)
    text = tmp_path / "notes.png"
    text.write_text("this is not an image")
    with pytest.raises(ImageLoadError, match="not a decodable image"):
        load_pixels(text)
    floats = _write(tmp_path / "f.tif", np.ones((16, 16), np.float32))
    with pytest.raises(ImageLoadError, match="float32 is not supported"):
        load_pixels(floats)
    with pytest.raises(ImageLoadError, match="no such file"):
        load_pixels(tmp_path / "missing.png")
    with pytest.raises(ImageLoadError, match="not a regular file"):
        load_pixels(tmp_path)


def test_error_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.png"
    bad.write_bytes(b"\x89PNG junk")
    with pytest.raises(ImageLoadError) as info:
        load_pixels(bad)
    assert info.value.path == str(bad)
    assert str(bad) in str(info.value)


def test_folder_expansion_sorted_images_only(tmp_path: Path) -> None:
    for name in ("b.png", "a.tif", "notes.txt", ".hidden.png"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    files = list(iter_image_files([tmp_path, tmp_path / "notes.txt"]))
    assert [f.name for f in files] == ["a.tif", "b.png", "notes.txt"]


def test_bit_depth_and_hash_are_stable() -> None:
    a = np.zeros((10, 10), np.uint16)
    a[0, 0] = 4000
    assert bit_depth_of(a) == 12
    a[0, 0] = 60000
    assert bit_depth_of(a) == 16
    assert pixels_sha256(a) == pixels_sha256(a.copy())
    b = a.copy()
    b[5, 5] = 1
    assert pixels_sha256(a) != pixels_sha256(b)
