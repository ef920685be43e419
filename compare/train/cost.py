"""What a model costs: FLOPs per training step and per generated image, parameter counts,
width matching, throughput and memory.

FLOPs come from torch.utils.flop_counter.FlopCounterMode run on the model's real `train_step` /
`sample`, not from a hand formula. That counter counts matrix products and convolutions
(2 FLOPs per multiply-add); element-wise work (activations, losses, Adam's update) is not
counted. For these nets it is O(parameters) per step against O(batch x parameters) for the
products, under 1% at batch 128.
"""

from __future__ import annotations

import copy
import resource
import time
from functools import lru_cache

import torch
from torch.utils.flop_counter import FlopCounterMode

from compare.errors import UserError
from compare.models import ModelSpec
from compare.protocol import GenerativeModel

MATCH_MODES = ("none", "generator", "total")
MATCH_TOLERANCE = 0.05


def count_flops(fn, *args, **kwargs) -> int:
    with FlopCounterMode(display=False) as counter:
        fn(*args, **kwargs)
    return int(counter.get_total_flops())


@lru_cache(maxsize=None)
def train_step_flops(spec: ModelSpec, image_shape: tuple[int, int, int], batch_size: int, width: float = 1.0) -> int:
    """FLOPs of one real `train_step` (forward, backward, optimiser) at this batch size.

    Measured once per configuration on a throw-away CPU copy of the model: the count depends on
    shapes only, and the copy keeps the real model's weights and RNG streams untouched.
    """
    model = spec.build(image_shape, "cpu", seed=0, width=width)
    return count_flops(model.train_step, torch.rand(batch_size, *image_shape))


def sample_flops_per_image(model: GenerativeModel, n: int = 64) -> float:
    """FLOPs to generate one image: the network pass of `sample` (noise and pixel draws are not products)."""
    return count_flops(copy.deepcopy(model).sample, n, torch.Generator().manual_seed(0)) / n


def parameter_counts(model: GenerativeModel) -> dict[str, int]:
    counts = {name: sum(p.numel() for p in part.parameters()) for name, part in model.parts().items()}
    return {**counts, "total": sum(counts.values())}


def _matched_count(spec: ModelSpec, image_shape, width: float, mode: str) -> int:
    # before the build: a model that names none is refused at once
    part = "total" if mode == "total" else spec.sampler_part
    return parameter_counts(spec.build(image_shape, "cpu", seed=0, width=width))[part]


def match_widths(specs: list[ModelSpec], image_shape, mode: str, width: float = 1.0) -> dict[str, float]:
    """Width multiplier per model so that each has the first model's parameter count.

    `generator` matches the networks that sample (GAN generator, VAE decoder); `total` matches
    every trained network. The first model keeps `width`; the others get the hidden size whose
    count is closest to the first's, found by bisection (the count grows with the hidden size).
    """
    if mode not in MATCH_MODES:
        raise UserError(f"unknown --match-params {mode!r}; choose one of: {', '.join(MATCH_MODES)}")
    widths = {spec.label: width for spec in specs}
    if mode == "none" or len(specs) < 2:
        return widths
    target = _matched_count(specs[0], image_shape, width, mode)
    for spec in specs[1:]:
        base = getattr(spec.config(image_shape, width=1.0), "hidden", None)  # a config need not default its width
        if not isinstance(base, int):
            raise UserError(f"--match-params needs {spec.label}'s config to have `hidden`, its hidden size "
                            "at width 1 (the search sets width = hidden size / hidden); add that field, or "
                            "use --match-params none")
        lo, hi = 1, base  # hidden sizes; grow hi until it reaches the target (cheap builds only)
        while _matched_count(spec, image_shape, hi / base, mode) < target:
            lo, hi = hi + 1, hi * 2
        while lo < hi:  # smallest hidden size whose count reaches the target
            mid = (lo + hi) // 2
            if _matched_count(spec, image_shape, mid / base, mode) < target:
                lo = mid + 1
            else:
                hi = mid
        best = min((max(1, lo - 1), lo), key=lambda h: abs(_matched_count(spec, image_shape, h / base, mode) - target))
        got = _matched_count(spec, image_shape, best / base, mode)
        if abs(got - target) > MATCH_TOLERANCE * target:
            raise UserError(f"cannot match {spec.label}'s parameters to {specs[0].label}'s within 5% "
                            f"({got:,} vs {target:,}); use --match-params none")
        widths[spec.label] = best / base
    return widths


def sampling_throughput(model: GenerativeModel, batch: int = 1000, repeats: int = 3) -> float:
    """Images/s of `sample` at `batch`, best of `repeats` (after one warm-up call)."""
    rng = torch.Generator().manual_seed(0)
    model.sample(batch, rng)
    best = float("inf")
    for _ in range(repeats):
        if model.device.type == "cuda":
            torch.cuda.synchronize(model.device)
        start = time.perf_counter()
        model.sample(batch, rng)
        if model.device.type == "cuda":
            torch.cuda.synchronize(model.device)
        best = min(best, time.perf_counter() - start)
    return batch / best


def reset_peak_memory(device: torch.device) -> int:
    """Start measuring one model's peak memory; returns the CUDA bytes already resident (the dataset,
    the evaluator), which that peak leaves out so that it is the model's own. 0 off the GPU."""
    if device.type != "cuda":
        return 0
    torch.cuda.reset_peak_memory_stats(device)
    return torch.cuda.memory_allocated(device)


def peak_memory_mb(device: torch.device, resident_bytes: int = 0) -> float:
    """On a GPU, the most CUDA memory allocated since reset_peak_memory above what was resident then;
    on the CPU, the process's peak RSS (everything the process ever held: not per model)."""
    if device.type == "cuda":
        return (torch.cuda.max_memory_allocated(device) - resident_bytes) / 1e6
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # Linux reports KiB


def size_table(model: GenerativeModel, step_flops: int, train_images_per_second: float | None,
               resident_bytes: int = 0) -> dict:
    """Model size per part and in total: parameters, fp32 MB, FLOPs, throughputs, peak memory.

    Call it when training ends: the peak is read first, before the FLOP count and the throughput
    measurement here allocate a model copy and a batch of samples of their own."""
    peak = peak_memory_mb(model.device, resident_bytes)
    params = parameter_counts(model)
    return {
        "parameters": params,
        "fp32_mb": {part: round(n * 4 / 1e6, 3) for part, n in params.items()},
        "flops_per_image": sample_flops_per_image(model),
        "train_flops_per_step": step_flops,
        "sampling_images_per_second": round(sampling_throughput(model), 1),
        "training_images_per_second": round(train_images_per_second, 1) if train_images_per_second else None,
        "peak_memory_mb": round(peak, 1),
        "peak_memory_kind": "cuda_max_allocated_above_resident" if model.device.type == "cuda" else "process_max_rss",
    }
