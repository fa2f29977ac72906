"""A registry anomaly model's ONNX file rebuilt into a trainable checkpoint (models/anomaly/recover.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.unit.models.synthetic_parts import synthetic_parts

pytestmark = pytest.mark.filterwarnings("ignore")

SHIPPED_DIR = Path(__file__).resolve().parents[3] / "models" / "registry" / "anomaly-default"


@pytest.fixture(scope="module")
def calib() -> np.ndarray:
    from models.anomaly.recover import calibration_batch

    return calibration_batch(synthetic_parts(4, 3), side_px=64)


def _onnx(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def test_recovered_net_computes_what_the_shipped_onnx_file_computes(calib: np.ndarray) -> None:
    import torch

    from models.anomaly.recover import recover_net

    net = recover_net(SHIPPED_DIR / "model.onnx", 24, calib)
    x = np.ascontiguousarray(calib[:2, :, :64, :48])
    with torch.no_grad():
        got = torch.sigmoid(net(torch.from_numpy(x))).numpy()
    want = _onnx(SHIPPED_DIR / "model.onnx", x)
    assert got.shape == want.shape
    assert np.abs(got - want).max() < 1e-4
    assert want.std() > 1e-3  # a map that varies, so the comparison means something


def test_training_mode_on_the_calibration_batch_keeps_the_function(calib: np.ndarray) -> None:
    """A batch's own statistics replace the running ones in training mode: on the calibration batch they match,
    so a continued run starts from the shipped model, not from a perturbed one."""
    import torch

    from models.anomaly.recover import recover_net

    net = recover_net(SHIPPED_DIR / "model.onnx", 24, calib)
    with torch.no_grad():
        want = net.eval()(torch.from_numpy(calib))
        got = net.train()(torch.from_numpy(calib))
    scale = float(want.abs().max())
    assert scale > 0.1
    assert float((got - want).abs().max()) < 1e-3 * scale


def test_another_width_is_refused_naming_the_convolution(calib: np.ndarray) -> None:
    from models.anomaly.recover import recover_net

    with pytest.raises(ValueError, match=r"convolution 0 .* has weight \(24, 6, 2, 2\), the net wants \(32, 6, 2, 2\)"):
        recover_net(SHIPPED_DIR / "model.onnx", 32, calib)


def test_registry_checkpoint_loads_into_the_lightning_module(tmp_path: Path) -> None:
    import torch

    from models.anomaly.module import AnomalyLitModule
    from models.anomaly.recover import checkpoint_from_registry

    ckpt = checkpoint_from_registry(SHIPPED_DIR, synthetic_parts(2, 5) * 4, tmp_path / "init.ckpt", 24)
    module = AnomalyLitModule.load_from_checkpoint(str(ckpt), map_location="cpu")
    x = np.random.default_rng(0).standard_normal((1, 6, 32, 32)).astype(np.float32)
    with torch.no_grad():
        got = torch.sigmoid(module.net.eval()(torch.from_numpy(x))).numpy()
    assert np.abs(got - _onnx(SHIPPED_DIR / "model.onnx", x)).max() < 1e-4


def test_a_missing_registry_model_is_a_clear_error(tmp_path: Path) -> None:
    from models.anomaly.recover import checkpoint_from_registry

    with pytest.raises(FileNotFoundError, match="no anomaly model to continue from"):
        checkpoint_from_registry(tmp_path, synthetic_parts(1, 0), tmp_path / "x.ckpt", 24)
