"""Checkpoint overhead: the cost of one checkpoint against the training time between two of them.

A checkpoint waits for the device, checks weights and samples (compare.train.checkpoint.unhealthy) and writes nets,
optimisers and RNG states atomically (fsync included). Target: at the default interval
(DEFAULT_CHECKPOINT_EVERY steps) it costs the default models on mnist5k at most 2% of their training
time. Both costs are the best of several timings, which is robust to a machine loaded by other work
(timing two whole runs against each other was not: their noise was larger than the effect).
Run: python benchmarks/checkpoint_overhead.py [--every N]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import torch

from compare.train.checkpoint import DEFAULT_CHECKPOINT_EVERY, save_checkpoint, unhealthy
from compare.data import load_dataset
from compare.models import parse_model_specs
from compare.train.loop import TrainRecord, train

TARGET = 0.02


def best_seconds(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--every", type=int, default=DEFAULT_CHECKPOINT_EVERY)
    parser.add_argument("--chunk", type=int, default=50, help="steps per timed training chunk")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    images = load_dataset("mnist5k").train
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, mnist5k, batch {args.batch_size}, "
          f"checkpoint every {args.every} steps, best of {args.repeats}")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ckpt.pt"
        for family in ("gan", "vae"):
            model = parse_model_specs([family])[0].build(images.shape[1:], "cpu", 0)
            step = best_seconds(lambda: train(model, images, args.chunk, args.batch_size, 0), args.repeats) / args.chunk

            def checkpoint():
                assert unhealthy(model) is None
                save_checkpoint(path, {**dataclasses.asdict(TrainRecord()), "state": model.state_dict()})

            ckpt = best_seconds(checkpoint, args.repeats)
            overhead = ckpt / (args.every * step)
            ok &= overhead <= TARGET
            print(f"{family}: {step * 1000:.1f} ms a step, {ckpt * 1000:.0f} ms a checkpoint "
                  f"({path.stat().st_size / 1e6:.1f} MB): overhead {overhead:.2%} (target <= {TARGET:.0%})  "
                  f"{'OK' if overhead <= TARGET else 'MISSED'}")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
