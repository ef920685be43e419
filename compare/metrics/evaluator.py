"""Feature extractors for sample quality: a domain classifier per dataset, or Inception-V3 where it exists.

Inception-V3 was trained on 299x299 ImageNet photographs; on 28x28 grey digits its features say
little about what makes a digit look right, and its weights cannot be downloaded offline. The
standard alternative for MNIST-like data is a classifier trained on the dataset itself: its
penultimate layer is the feature space (FID, KID, precision/recall, density/coverage, the
memorisation check) and its softmax gives the class predictions (classifier score, mode coverage).

A dataset without labels (a folder of images, CelebA) gets the same network trained as an
autoencoder instead: a linear decoder reconstructs the image from the 128 features, so the feature
space keeps what distinguishes images; it has no classes, so the class metrics (classifier score,
mode coverage) are reported as not available (NaN) and its held-out reconstruction error stands
in for the accuracy.

The classifier is trained on the train split only, on the CPU with a fixed seed and one thread.
Even so, two machines' torch builds gave different weights (issue 14), so the embedded datasets'
(mnist5k, digits) evaluators ship inside the package, checked against a pinned SHA-256: every
machine scores them in one feature space, and `compare evaluator train` makes a new one explicitly.
Other datasets train theirs on first use, cached under compare.data.cache_dir() with a key that
hashes everything the weights depend on; its held-out accuracy is stored beside it. Every reported
number carries the extractor's name, the SHA-256 of its weights and its source (shipped / trained).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor

from compare.data import CACHE_VERSION, HELDOUT_FRACTION, SPLIT_SEED, ImageDataset, cache_dir, in_memory
from compare.data.imagefiles import image_files
from compare.errors import UserError
from compare.io import json_digest, save_torch, weights_sha256, write_json
from compare.metrics.domain_classifier import (
    EXTRACT_BATCH, FEATURE_DIM, TRAIN_SEED, TRAIN_STEPS, DomainClassifier, class_count, train_classifier,
)
from compare.metrics.quality import Features

# Bump whenever the architecture, the training recipe (compare.metrics.domain_classifier) or the data it sees changes:
# the cache key hashes it, so an old cached evaluator is never mistaken for the current one.
EVALUATOR_VERSION = 1
INCEPTION_BATCH = 64  # at 299x299 a batch's activations take ~1 GB per 100 images


# The embedded datasets' evaluators ship in the package (evaluator_weights/<dataset>.pt, from `compare evaluator
# train`), so every machine scores in one feature space; their tensors' hash (weights_sha256) is pinned and
# checked on every load.
SHIPPED_DIR = Path(__file__).parent / "evaluator_weights"
SHIPPED_SHA256 = {
    "mnist5k": "0d328f31b7c66edb1354995d022f5e000849bb302d9334522de0ddcacbbac70b",
    "digits": "a58d890d400c61c520e6201f69ffb2f3b682350600681e567f466773d532a959",
}
# The info saved with them is what every protocol prints (name, held-out accuracy): pinned too (compare.io.json_digest).
SHIPPED_INFO_SHA256 = {
    "mnist5k": "95feba5edfee4414749f6202b6e7498a047dea507fd64fcea4789a27dd028168",
    "digits": "3f1359a21dc02f44d3f983186b8996f90db77a2c07ef3ef2f3fd28a76bfce11a",
}
# KID's feature scale (quality.kid_weighted): the SD of every entry of the train split's features (as train_evaluator).
SHIPPED_FEATURE_SD = {"mnist5k": 2.398275896265017, "digits": 1.2535148150181017}


def evaluator_key(dataset: str, content: str | None = None) -> str:
    """Hash of everything the evaluator's weights depend on: dataset, its split, the evaluator recipe, and
    for a dataset whose files the user can change (folder:PATH) their `content` (see content_key)."""
    material = {"dataset": dataset,
                "split": {"heldout_fraction": HELDOUT_FRACTION, "split_seed": SPLIT_SEED,
                          "data_version": CACHE_VERSION},
                "evaluator_version": EVALUATOR_VERSION, "train_seed": TRAIN_SEED, "steps": TRAIN_STEPS,
                **({"content": content} if content is not None else {})}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:16]


def content_key(data: ImageDataset) -> str | None:
    """For folder:PATH, a hash of every image file's relative name, size and mtime (the files as they are
    now: replacing images changes it) and of the image shape they are read at; None for the fixed datasets."""
    key, _, argument = data.name.partition(":")
    if key != "folder":
        return None
    root = Path(argument).expanduser()
    h = hashlib.sha256(str(data.image_shape).encode())
    for path in image_files(root):
        stat = path.stat()
        h.update(f"{path.relative_to(root).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return h.hexdigest()


def evaluator_path(dataset: str, content: str | None = None) -> Path:
    name = dataset.replace("/", "_").replace(":", "_")  # folder:PATH names a file, not a folder path
    return cache_dir() / "evaluators" / f"{name}-{evaluator_key(dataset, content)}.pt"


def check_images(images: Tensor, shape: tuple[int, ...] | None, extractor: str, what: str = "images") -> None:
    """UserError unless `images` is an (N, C, H, W) batch of the (C, H, W) `shape` (None: any size)."""
    if images.dim() != 4:
        raise UserError(f"{what} must be a batch of shape (N, C, H, W), got shape {tuple(images.shape)}")
    if shape is not None and tuple(images.shape[1:]) != tuple(shape):
        (c, h, w), (got_c, got_h, got_w) = shape, images.shape[1:]
        raise UserError(f"{what} are {got_c}x{got_h}x{got_w} (CxHxW) but the {extractor} extractor takes "
                        f"{c}x{h}x{w}; resize them or pass --dataset with a dataset of {got_c}x{got_h}x{got_w} "
                        "images (see `compare datasets`)")


@dataclass
class Extractor:
    """A frozen network turned into Features: `info` (name, weights hash, accuracy, ...) goes into every protocol."""

    net: Callable[[Tensor], tuple[Tensor, Tensor]]  # images (B, C, H, W) in [0, 1] -> (features (B, D), probs (B, K))
    image_shape: tuple[int, ...] | None  # the (C, H, W) it accepts; None: any size
    info: dict
    device: torch.device
    batch_size: int = EXTRACT_BATCH  # images per forward pass: bounds memory, not results

    @property
    def name(self) -> str:
        return self.info["name"]

    @property
    def weights_sha256(self) -> str:
        return self.info["weights_sha256"]

    @torch.no_grad()
    def extract(self, images: Tensor, what: str = "images") -> Features:
        """Features and class probabilities of (N, C, H, W) images in [0, 1], in fixed-size batches."""
        check_images(images, self.image_shape, self.name, what)
        feats, probs = [], []
        for batch in images.split(self.batch_size):
            f, p = self.net(batch.to(self.device, torch.float32))
            feats.append(f.float().cpu())
            probs.append(p.float().cpu())
        return Features(torch.cat(feats), torch.cat(probs))


def _classifier_extractor(net: DomainClassifier, info: dict, device: torch.device) -> Extractor:
    # channels-last convolutions with few channels run ~3x faster on the CPU (measured on this net)
    net = net.to(device, memory_format=torch.channels_last).eval()

    def run(x: Tensor) -> tuple[Tensor, Tensor]:
        # The features came out bit-identical with 1 and 2 threads (tests/test_cli_quality.py checks the FID), so
        # extraction keeps the caller's threads: switching them per call rebuilds the pool and slows the
        # training around it.
        features = net.body(x.contiguous(memory_format=torch.channels_last))
        return features, torch.softmax(net.head(features), dim=1)

    return Extractor(run, tuple(info["image_shape"]), info, device)


def train_evaluator(data: ImageDataset, content: str | None = None) -> tuple[DomainClassifier, dict]:
    """A new domain classifier of `data` by the fixed recipe, and its info (what every protocol records)."""
    net, record = train_classifier(data, steps=TRAIN_STEPS)
    info = {"name": f"evaluator:{data.name}", "dataset": data.name, "version": EVALUATOR_VERSION,
            "key": evaluator_key(data.name, content), "image_shape": list(data.image_shape), "feature_dim": FEATURE_DIM,
            **record, "weights_sha256": weights_sha256(net)}
    train = _classifier_extractor(net, info, torch.device("cpu")).extract(in_memory(data.train).cpu(), "train images")
    # KID's feature scale, as SHIPPED_FEATURE_SD
    return net, {**info, "feature_sd": train.features.double().std().item()}


def info_path(path: Path) -> Path:
    """Where save_evaluator writes the info beside weights `path`: <stem>.json, never `path` itself."""
    return path.with_suffix(".info.json" if path.suffix == ".json" else ".json")


def save_evaluator(path: Path, net: DomainClassifier, info: dict, exclusive: bool = False) -> None:
    """With `exclusive`, a file that appeared at either path since the caller looked is never replaced."""
    save_torch(path, {"state": net.state_dict(), "info": info}, exclusive)
    write_json(info_path(path), info, exclusive)  # the accuracy beside the weights, readable without torch


def read_evaluator(path: Path, data: ImageDataset, verify: bool = True) -> tuple[DomainClassifier, dict]:
    """The evaluator saved at `path` (tensors only: weights_only=True); any damage raises (with `verify`,
    weights that do not hash to the sha256 saved beside them too)."""
    saved = torch.load(path, weights_only=True)
    net = DomainClassifier(data.image_shape, class_count(data))
    net.load_state_dict(saved["state"])
    info = dict(saved["info"])
    if verify and info["weights_sha256"] != weights_sha256(net):  # flipped bytes in a weight: torch would not notice
        raise ValueError(f"{path}: damaged weights")
    return net, info


def load_shipped_evaluator(data: ImageDataset) -> tuple[DomainClassifier, dict]:
    """The evaluator that ships with the package for an embedded dataset, checked against SHIPPED_SHA256."""
    path = SHIPPED_DIR / f"{data.name}.pt"
    fix = "reinstall the package (or restore the file from its git history)"
    try:
        net, info = read_evaluator(path, data, verify=False)  # checked against the pinned hash below
    except Exception as e:  # missing, unpicklable or of the wrong shapes alike
        raise UserError(f"cannot read the shipped {data.name} evaluator {path} ({type(e).__name__}); {fix}") from None
    if weights_sha256(net) != SHIPPED_SHA256[data.name]:
        raise UserError(f"the shipped {data.name} evaluator {path} has weights sha256 "
                        f"{weights_sha256(net)[:12]}, not the {SHIPPED_SHA256[data.name][:12]} this version "
                        f"ships: the file is damaged or replaced; {fix}")
    if json_digest(info) != SHIPPED_INFO_SHA256[data.name]:
        raise UserError(f"the shipped {data.name} evaluator {path} has an edited info (its name, accuracy, ...): not "
                        f"what this version ships; {fix}")
    return net, {**info, "weights_sha256": SHIPPED_SHA256[data.name], "source": "shipped",
            "feature_sd": SHIPPED_FEATURE_SD[data.name]}


def load_domain_evaluator(data: ImageDataset, device: torch.device | str = "cpu",
                          on_train: Callable[[str], None] | None = None) -> Extractor:
    """The domain classifier of `data`'s dataset: the shipped one for an embedded dataset, else the
    cached one, trained (and cached) first if there is none."""
    if data.name in SHIPPED_SHA256:
        return _classifier_extractor(*load_shipped_evaluator(data), torch.device(device))
    key = content_key(data)
    path = evaluator_path(data.name, key)
    info = None
    if path.exists():
        try:
            net, info = read_evaluator(path, data)
            float(info["feature_sd"])  # one cached before KID had a feature scale is trained again
        # unpickling, zip, shape or key errors alike: a corrupt cache is retrained below, never trusted
        except Exception:
            info = None
    if info is None:
        if on_train:
            on_train(f"training the {data.name} evaluator once (cached in {path.parent})")
        net, info = train_evaluator(data, key)
        with contextlib.suppress(OSError):  # a read-only cache only costs the next run the training again
            save_evaluator(path, net, info)
    return _classifier_extractor(net, {**info, "source": "trained"}, torch.device(device))


INCEPTION_HELP = ("Inception-V3 features need the torch-fidelity package and its weights "
                  "(pt_inception-2015-12-05-6726825d.pth): run `pip install torch-fidelity` and run once with "
                  f"network access (torch.hub caches the weights in {torch.hub.get_dir()}/checkpoints), or use the "
                  "default --features evaluator")


def load_inception(data: ImageDataset, device: torch.device | str = "cpu",
                   on_train: Callable[[str], None] | None = None) -> Extractor:
    """torchmetrics' standard Inception-V3 (FrechetInceptionDistance's default), pool3 features and ImageNet softmax.

    Grey images are repeated to three channels; the network resizes to 299x299 itself. Fails with
    INCEPTION_HELP when torch-fidelity or its weights are missing: never replaced by anything else.
    """
    try:
        from torchmetrics.image.fid import NoTrainInceptionV3

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048", "logits_unbiased"])
    except Exception as e:  # ImportError without torch-fidelity, URLError / OSError when the download fails
        raise UserError(f"{INCEPTION_HELP} ({type(e).__name__})") from None
    device = torch.device(device)
    net = net.to(device)

    def run(x: Tensor) -> tuple[Tensor, Tensor]:
        # the uint8 RGB it expects
        x = (x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x).mul(255).round().to(torch.uint8)
        features, logits = net._torch_fidelity_forward(x)  # outputs in features_list order
        return features.reshape(len(x), -1), torch.softmax(logits.float(), dim=1)

    info = {"name": "inception-v3",
            "source": "downloaded: torchmetrics NoTrainInceptionV3 (torch-fidelity inception-v3-compat)",
            # KID on raw pool features, as is standard
            "feature_dim": 2048, "weights_sha256": weights_sha256(net), "feature_sd": 1.0}
    return Extractor(run, None, info, device, batch_size=INCEPTION_BATCH)


@dataclass(frozen=True)
class FeatureEntry:
    load: Callable[..., Extractor]  # (data, device, on_train) -> Extractor
    description: str
    # N below it makes FID's covariance rank-deficient: refused (compare.metrics.scoring.eval_sample_count)
    feature_dim: int
    # the (C, H, W) it takes; None: any
    input_shape: Callable[[ImageDataset], tuple[int, ...] | None] = lambda data: None


FEATURES: dict[str, FeatureEntry] = {
    "evaluator": FeatureEntry(load_domain_evaluator,
                              "a small CNN classifier trained on the dataset's train split (default; cached)",
                              FEATURE_DIM, lambda data: data.image_shape),
    "inception": FeatureEntry(load_inception,
                              "torchmetrics' Inception-V3 (needs torch-fidelity and its downloaded weights)", 2048),
}


def load_extractor(name: str, data: ImageDataset, device: torch.device | str = "cpu",
                   on_train: Callable[[str], None] | None = None, images: dict[str, Tensor] | None = None) -> Extractor:
    """The registered feature extractor `name` for `data`'s dataset; an unknown name is a UserError.

    `images` ({what: batch}) are checked against the extractor's input size first, so a mismatch
    is reported before minutes go into training an evaluator that could not take them."""
    if name not in FEATURES:
        raise UserError(f"unknown feature extractor {name!r}; choose one of: {', '.join(FEATURES)}")
    entry = FEATURES[name]
    for what, batch in (images or {}).items():
        check_images(batch, entry.input_shape(data), f"{name}:{data.name}", what)
    return entry.load(data, device, on_train)
