"""The domain classifier behind compare.metrics.evaluator: its network and its fixed training recipe.

Trained on the train split only, on the CPU with a fixed seed and one thread; a dataset without labels trains the
same network as an autoencoder (a linear decoder from the 128 features back to the pixels, dropped after training).
A change to the network or the recipe bumps compare.metrics.evaluator.EVALUATOR_VERSION, which the cache key hashes.
"""

from __future__ import annotations

import contextlib
import math
import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from compare.data import ImageDataset, batches, in_memory

TRAIN_SEED = 0
TRAIN_STEPS = 800  # ~11 epochs of mnist5k, ~32 of digits, at batch 64
BATCH_SIZE = 64
PEAK_LR = 3e-3
FEATURE_DIM = 128
EXTRACT_BATCH = 256  # images per forward pass when extracting: on the CPU 4x faster than 1,000 (cache-sized)


class DomainClassifier(nn.Module):
    """Two conv blocks and a 128-unit penultimate layer; adapts its pooling to the image size.

    28x28: (B, C, 28, 28) -> conv 16 -> pool -> (B, 16, 14, 14) -> conv 32 -> pool -> (B, 32, 7, 7)
    8x8:   (B, C, 8, 8)   -> ... -> (B, 32, 2, 2). Images smaller than 8 pixels a side pool once
    or not at all, so the flattened map never shrinks to nothing.
    """

    def __init__(self, image_shape: tuple[int, int, int], classes: int):
        super().__init__()
        c, h, w = image_shape
        pools = sum(min(h, w) >= size for size in (4, 8))  # 2 pools from 8 pixels up, 1 from 4
        self.body = nn.Sequential(
            nn.Conv2d(c, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2) if pools >= 1 else nn.Identity(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2) if pools >= 2 else nn.Identity(),
            nn.Flatten(),  # (B, 32, h', w') -> (B, 32 * h' * w')
            nn.Linear(32 * (h >> pools) * (w >> pools), FEATURE_DIM), nn.ReLU(),  # -> (B, 128): the feature space
        )
        # (B, 128) -> (B, classes) logits; an unlabelled dataset has none: (B, 0), so softmax gives (B, 0) too
        self.head = nn.Linear(FEATURE_DIM, classes) if classes else NoClasses()

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


class NoClasses(nn.Module):
    """The head of an evaluator without classes: zero logits per image."""

    def forward(self, x: Tensor) -> Tensor:
        return x[:, :0]


def _random_shift(x: Tensor, pixels: int, generator: torch.Generator) -> Tensor:
    """Translate the whole batch by up to `pixels` in each direction (zero fill): the cheapest
    augmentation that buys MNIST-like classifiers most of their held-out accuracy on small sets."""
    if pixels == 0:
        return x
    h, w = x.shape[-2:]
    dy, dx = torch.randint(0, 2 * pixels + 1, (2,), generator=generator).tolist()
    return F.pad(x, (pixels,) * 4)[..., dy:dy + h, dx:dx + w]


def train_classifier(data: ImageDataset, steps: int = TRAIN_STEPS,
                     seed: int = TRAIN_SEED) -> tuple[DomainClassifier, dict]:
    """Train on data.train only, on the CPU, deterministically; returns the net (eval mode) and its record.

    One CPU thread: the summation order of a multi-threaded convolution depends on the thread count,
    so one thread gives the same weights on every machine; and for a net this small, extra threads
    cost more in synchronisation than they save (on a loaded 2-core machine, 30x more).
    """
    with one_cpu_thread():
        return _train_classifier(data, steps, seed)


@contextlib.contextmanager
def one_cpu_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def class_count(data: ImageDataset) -> int:
    """Classes of a labelled dataset; 0 for an unlabelled one, whose evaluator is an autoencoder."""
    if data.train_labels is None:
        return 0
    return int(torch.cat([data.train_labels, data.heldout_labels]).max()) + 1


def _train_classifier(data: ImageDataset, steps: int, seed: int) -> tuple[DomainClassifier, dict]:
    train_x = in_memory(data.train).cpu()
    classes = class_count(data)
    with torch.random.fork_rng(devices=[]):  # initialise from `seed` without touching the global RNG
        torch.manual_seed(seed)
        net = DomainClassifier(data.image_shape, classes)
        # Unlabelled: a linear decoder from the features back to the pixels, dropped after training.
        decoder = nn.Linear(FEATURE_DIM, math.prod(data.image_shape)) if classes == 0 else None
    opt = torch.optim.Adam([*net.parameters(), *(decoder.parameters() if decoder else ())], lr=PEAK_LR)

    def loss_of(x: Tensor, idx: Tensor) -> Tensor:
        if decoder is None:
            return F.cross_entropy(net(x), data.train_labels.cpu()[idx])
        return F.binary_cross_entropy_with_logits(decoder(net.body(x)), x.flatten(1))

    # One-cycle schedule: a short warm-up then annealing reaches a better optimum in few steps.
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=PEAK_LR, total_steps=steps)
    rng = torch.Generator().manual_seed(seed)
    shift = max(1, round(data.image_shape[1] / 14))  # 2 pixels on 28x28, 1 on 8x8
    index = torch.arange(len(train_x))
    start = time.perf_counter()
    for step, idx in enumerate(batches(index, min(BATCH_SIZE, len(train_x)), rng), start=1):
        loss = loss_of(_random_shift(train_x[idx], shift, rng), idx)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        schedule.step()
        if step == steps:
            break
    seconds = time.perf_counter() - start
    net.eval()
    with torch.no_grad():
        if decoder is None:
            correct = sum(int((net(x).argmax(1) == y).sum())
                          for x, y in zip(in_memory(data.heldout).cpu().split(EXTRACT_BATCH),
                                          data.heldout_labels.cpu().split(EXTRACT_BATCH)))
            quality = {"heldout_accuracy": correct / len(data.heldout)}
        else:
            bce = sum(float(F.binary_cross_entropy_with_logits(decoder(net.body(x)), x.flatten(1), reduction="sum"))
                      for x in in_memory(data.heldout).cpu().split(EXTRACT_BATCH))
            quality = {"heldout_accuracy": None,
                       "heldout_reconstruction_bce_per_pixel": bce / (len(data.heldout) * math.prod(data.image_shape))}
    record = {**quality, "train_seconds": round(seconds, 2), "steps": steps, "classes": classes,
              "final_loss": float(loss.detach())}
    return net, record
