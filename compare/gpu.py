"""Peak GPU memory per model, for the size table: reset before a model trains, read after."""

from __future__ import annotations

import torch


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_bytes(device: torch.device) -> int | None:
    """Most bytes of tensors allocated on `device` since the last reset; None off the GPU."""
    return torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
