from __future__ import annotations

from pathlib import Path

from tests.integration.vision.onnx_fakes import fixed_answer_model
from vision.bench import run_bench
from vision.config import VisionConfig


def test_bench_reports_the_agreed_keys(tmp_path: Path) -> None:
    fixed_answer_model(tmp_path / "m", (100.0, 100.0, 12.0, 12.0), cls=0, score=0.9)
    cfg = VisionConfig(detector_model=tmp_path / "m", anomaly_model=None)
    out = run_bench(quick=True, cfg=cfg)
    assert {"latency_ms_p50", "latency_ms_p95", "peak_rss_mb"} <= set(out)
    assert 0 < out["latency_ms_p50"] <= out["latency_ms_p95"]
    assert out["peak_rss_mb"] > 0
    assert out["anomaly_included"] is False
    assert out["image"] == "1024x1024 16-bit PNG"
