"""A registry detector's ONNX file rebuilt into a trainable checkpoint (models/detector/recover.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore")

SHIPPED = Path(__file__).resolve().parents[3] / "models" / "registry" / "detector-default" / "model.onnx"
YAML = str(Path(__file__).resolve().parents[3] / "models" / "detector" / "yolo11-cell.yaml")


@pytest.fixture(scope="module")
def recovered() -> tuple[object, np.ndarray]:
    from models.detector.recover import recover_model

    calib = np.random.default_rng(0).random((4, 3, 96, 128)).astype(np.float32)
    return recover_model(SHIPPED, YAML, 4, calib), calib


def test_recovered_model_computes_what_the_onnx_file_computes(recovered: tuple[object, np.ndarray]) -> None:
    import onnxruntime as ort
    import torch

    net, _ = recovered
    x = np.random.default_rng(1).random((1, 3, 160, 224)).astype(np.float32)
    sess = ort.InferenceSession(str(SHIPPED), providers=["CPUExecutionProvider"])
    want = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    with torch.no_grad():
        got = net(torch.from_numpy(x))  # type: ignore[operator]
    got = (got[0] if isinstance(got, (list, tuple)) else got).numpy()
    assert got.shape == want.shape
    # boxes in pixels (up to a few hundred) and class scores in [0, 1]
    assert np.abs(got[:, :4] - want[:, :4]).max() < 1e-2
    assert np.abs(got[:, 4:] - want[:, 4:]).max() < 1e-4


def test_batch_statistics_of_the_calibration_images_reproduce_the_folded_network(
    recovered: tuple[object, np.ndarray],
) -> None:
    """In training mode a batch's own statistics replace the running ones: on the calibration batch they are the
    same, so a continued run starts from the shipped model's function, not from a perturbed one."""
    import copy

    import torch

    net, calib = recovered
    feats: dict[str, torch.Tensor] = {}
    for mode in ("eval", "train"):
        m = copy.deepcopy(net)
        getattr(m, mode)()
        neck = m.model[-2]  # type: ignore[attr-defined]
        h = neck.register_forward_hook(lambda _m, _i, out, mode=mode: feats.__setitem__(mode, out.detach()))
        with torch.no_grad():
            m(torch.from_numpy(calib))
        h.remove()
    scale = float(feats["eval"].abs().max())
    assert scale > 0.1
    assert float((feats["train"] - feats["eval"]).abs().max()) < 1e-3 * scale


def test_onnx_of_another_architecture_is_refused_with_the_layer_named() -> None:
    from models.detector.recover import recover_model

    calib = np.zeros((1, 3, 64, 64), np.float32)
    with pytest.raises(ValueError, match=r"does not fit yolo11n\.yaml.*model\.1\.conv\.weight has shape"):
        recover_model(SHIPPED, "yolo11n.yaml", 4, calib)


def test_no_crops_to_calibrate_on_is_a_clear_error(tmp_path: Path) -> None:
    from models.detector.recover import calibration_images

    with pytest.raises(FileNotFoundError, match="no PNG crops"):
        calibration_images(tmp_path)
