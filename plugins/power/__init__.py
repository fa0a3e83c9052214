"""GPU power backends: NVML (real) and simulated GPUs, plus the per-job energy runner."""
