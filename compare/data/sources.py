"""Where images come from beyond the embedded sets: torchvision's datasets and folders of image files (listed and
decoded by compare.data.imagefiles).

Every loader here returns CPU splits; compare.data's registry names them and moves them to the device.
A split of image files whose float32 pixels fit in IN_MEMORY_BYTES is decoded once into one tensor;
a larger one becomes a StreamedImages, decoded batch by batch by DataLoader workers. MNIST-like
sets and CIFAR-10 always fit (at most 60,000 x 3 x 32 x 32 floats = 0.7 GiB) and are held whole.
Nothing here downloads unless asked to; a missing file is a UserError saying where it must go.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, RandomSampler

from compare.data.imagefiles import UNREADABLE, read_image
from compare.errors import UserError

IN_MEMORY_BYTES = 2 * 2**30  # float32 pixels of one split above this are streamed from disk instead
PARALLEL_DECODE_FROM = 2_000  # fewer files than this decode faster in-process than through worker start-up


class DataWarning(UserWarning):
    """Something about the user's data was skipped (unreadable images); the run goes on."""


class Splits(NamedTuple):
    train: "Tensor | StreamedImages"
    train_labels: Tensor | None  # None where the set has no class labels (folders, CelebA)
    heldout: "Tensor | StreamedImages"
    heldout_labels: Tensor | None


def loader_workers(n_files: int) -> int:
    """DataLoader worker processes for decoding `n_files` images: none for small jobs, else most cores."""
    return 0 if n_files < PARALLEL_DECODE_FROM else min(8, max(1, (os.cpu_count() or 2) - 1))


# ---------------------------------------------------------------------------------------------------
# Image files


class ImageFiles(Dataset):
    """Map-style dataset of image files: item i is (image (C, S, S), True), or (zeros, False) if unreadable."""

    def __init__(self, paths: list[Path], size: int, channels: int):
        self.paths, self.size, self.channels = paths, size, channels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[Tensor, bool]:
        try:
            return read_image(self.paths[i], self.channels, self.size), True
        except UNREADABLE:
            return torch.zeros(self.channels, self.size, self.size), False

    def decode(self, indices: list[int] | None = None) -> tuple[Tensor, int]:
        """The readable images among `indices` (default all), in order, as one (N, C, S, S) tensor; and the
        unreadable count."""
        subset = self if indices is None else torch.utils.data.Subset(self, indices)
        loader = DataLoader(subset, batch_size=256, num_workers=loader_workers(len(subset)))
        kept, bad = [], 0
        for images, ok in loader:
            kept.append(images[ok])
            bad += int((~ok).sum())
        images = torch.cat(kept) if kept else torch.empty(0, self.channels, self.size, self.size)
        return images, bad


class StreamedImages:
    """A split of image files too large to hold: len() and shape like a tensor, slicing decodes those files,
    and batches() streams shuffled batches decoded by DataLoader workers onto the device."""

    def __init__(self, files: ImageFiles, device: torch.device | str = "cpu", workers: int | None = None):
        self.files = files
        self.device = torch.device(device)
        self.workers = loader_workers(len(files)) if workers is None else workers
        self.unreadable = 0  # counted as batches meet them

    def __len__(self) -> int:
        return len(self.files)

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self.files), self.files.channels, self.files.size, self.files.size))

    def to(self, device: torch.device | str) -> "StreamedImages":
        return StreamedImages(self.files, device, self.workers)

    def __getitem__(self, index: slice) -> Tensor:
        """The readable images of `index` (a slice) as one tensor on the device, e.g. `heldout[:64]` for a grid."""
        if not isinstance(index, slice):
            raise TypeError("StreamedImages supports slices only; use batches() to train")
        images, _ = self.files.decode(list(range(len(self.files)))[index])
        return images.to(self.device)

    def batches(self, batch_size: int, generator: torch.Generator) -> Iterator[Tensor]:
        """Endless shuffled batches (order fixed by `generator`), the last partial batch of an epoch dropped.

        An unreadable file is dropped from its batch (so that batch is a little smaller) and counted in a warning;
        the check reads a CPU tensor, so it never waits for the GPU.
        """
        if batch_size > len(self.files):
            raise ValueError(f"batch size {batch_size} exceeds the {len(self.files)} images of this split")
        cuda = self.device.type == "cuda"
        loader = DataLoader(self.files, batch_size=batch_size, drop_last=True, generator=generator,
                            sampler=RandomSampler(self.files, generator=generator), num_workers=self.workers,
                            persistent_workers=self.workers > 0, pin_memory=cuda)
        while True:
            for images, ok in loader:
                if not ok.all():
                    self.unreadable += int((~ok).sum())
                    warnings.warn(f"skipped {self.unreadable} unreadable images so far while streaming", DataWarning)
                    images = images[ok]
                if len(images):
                    yield images.to(self.device, non_blocking=cuda)


def file_images(files: ImageFiles, indices: list[int]) -> tuple["Tensor | StreamedImages", int]:
    """The split `indices` of `files`: one decoded tensor if it fits in IN_MEMORY_BYTES, else streamed.
    Also returns the unreadable files met while decoding (0 when streamed: counted as it streams)."""
    if len(indices) * files.channels * files.size ** 2 * 4 <= IN_MEMORY_BYTES:
        return files.decode(indices)
    return StreamedImages(ImageFiles([files.paths[i] for i in indices], files.size, files.channels)), 0


def warn_unreadable(bad: int, total: int, where: Path) -> None:
    if bad:
        warnings.warn(f"skipped {bad} of {total} image files under {where} that could not be read", DataWarning)


# ---------------------------------------------------------------------------------------------------
# torchvision datasets


@dataclass(frozen=True)
class TorchvisionSet:
    """How to find one torchvision dataset under --data-root, and what to say when it is not there."""

    title: str
    open_split: Callable[[Path, bool, bool], object]  # (root, train?, download?) -> a torchvision dataset
    expected: str  # the files torchvision reads, relative to the root, for the error message


def open_torchvision(spec: TorchvisionSet, root: Path, train: bool, download: bool):
    """The torchvision dataset of one split; every way it can be missing or fail ends as one UserError line."""
    try:
        return spec.open_split(root, train, download)
    except (RuntimeError, OSError, ImportError) as e:
        # torchvision: RuntimeError "Dataset not found or corrupted"; a failed download: URLError (an
        # OSError) or RuntimeError; CelebA's download also needs the gdown package.
        if download:
            lines = str(e).strip().splitlines()
            reason = lines[-1] if lines else type(e).__name__  # MNIST's message ends with the last mirror's error
            raise UserError(f"could not download {spec.title} into {root} ({reason}); check the network, "
                            f"or put {spec.expected} there by hand") from None
        raise UserError(f"{spec.title} not found or incomplete under {root}: expected {spec.expected}; "
                        f"put the files there (or set --data-root), or pass --download") from None


def pixel_arrays(data, targets) -> tuple[Tensor, Tensor]:
    """torchvision's in-memory uint8 arrays, (N, H, W) or (N, H, W, C), -> (N, C, H, W) floats in [0, 1] and
    int64 labels."""
    x = torch.as_tensor(data)
    x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    return x.float().div_(255).contiguous(), torch.as_tensor(targets, dtype=torch.int64)


def load_array_set(spec: TorchvisionSet, root: Path, download: bool) -> Splits:
    """MNIST, Fashion-MNIST, CIFAR-10: the official train and test splits (test as held-out), held whole."""
    train = open_torchvision(spec, root, True, download)
    test = open_torchvision(spec, root, False, download)
    return Splits(*pixel_arrays(train.data, train.targets), *pixel_arrays(test.data, test.targets))


def load_celeba(spec: TorchvisionSet, root: Path, download: bool, size: int, channels: int) -> Splits:
    """CelebA's aligned faces, official train and test partitions, resized and centre-cropped to size x size.
    No labels: the 40 attributes are not classes, so class-based mode metrics do not apply."""
    splits, bad, total = [], 0, 0
    for train in (True, False):
        ds = open_torchvision(spec, root, train, download)
        folder = Path(ds.root) / ds.base_folder / "img_align_celeba"
        files = ImageFiles([folder / name for name in ds.filename], size, channels)
        images, unreadable = file_images(files, list(range(len(files))))
        splits += [images, None]
        bad, total = bad + unreadable, total + len(files)
    warn_unreadable(bad, total, root / "celeba" / "img_align_celeba")
    return Splits(*splits)


def _by_train_flag(train: bool) -> dict:
    return {"train": train}


def _by_partition(train: bool) -> dict:
    return {"split": "train" if train else "test"}  # CelebA's official partitions; "valid" goes unused


def _torchvision(cls_name: str, split_kwargs: Callable[[bool], dict] = _by_train_flag,
                 **kwargs) -> Callable[[Path, bool, bool], object]:
    def open_split(root: Path, train: bool, download: bool):
        import torchvision.datasets as tvd  # deferred: importing torchvision.datasets takes a while

        return getattr(tvd, cls_name)(str(root), download=download, **split_kwargs(train), **kwargs)

    return open_split


TORCHVISION_SETS: dict[str, TorchvisionSet] = {
    "mnist": TorchvisionSet("MNIST", _torchvision("MNIST"),
                            "MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte"),
    "fashion-mnist": TorchvisionSet("Fashion-MNIST", _torchvision("FashionMNIST"),
                                    "FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte"),
    "cifar10": TorchvisionSet("CIFAR-10", _torchvision("CIFAR10"),
                              "cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}"),
    "celeba": TorchvisionSet("CelebA", _torchvision("CelebA", _by_partition, target_type=[]),
                             "celeba/img_align_celeba/ and "
                             "celeba/{list_eval_partition,list_attr_celeba,identity_CelebA,list_bbox_celeba,"
                             "list_landmarks_align_celeba}.txt"),
}
