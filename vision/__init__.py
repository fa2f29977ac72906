"""X-ray image sources, simulator, preprocessing, detector runtime, grading and verdicts."""
