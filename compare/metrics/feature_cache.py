"""Real-image features cached on disk, so a study (or any run after the first) extracts them once.

stylegan2-ada caches its real-data statistics the same way: under a key that hashes everything they
depend on. Here that is the extractor (name, weights SHA-256, device type) and the images themselves
(their bytes: the dataset, its split and the N-subset all change them), so a cached entry can never be
the features of other images or of another network. Entries are written atomically; one that cannot be
read is extracted again and rewritten, never trusted.

    <cache dir>/features/<dataset>-<what>-<n>-<key>.pt     {"features": (N, D), "probs": (N, K)}
"""

from __future__ import annotations

import hashlib
import re

import torch
from torch import Tensor

from compare.data import cache_dir
from compare.io import save_torch
from compare.metrics.evaluator import Extractor
from compare.metrics.quality import Features

FEATURE_CACHE_VERSION = 1


def feature_key(extractor: Extractor, images: Tensor) -> str:
    """SHA-256 (first 16 hex digits) of the extractor's identity and the images' shape and bytes."""
    h = hashlib.sha256(f"{FEATURE_CACHE_VERSION}\0{extractor.name}\0{extractor.weights_sha256}\0{extractor.device.type}\0"
                       f"{tuple(images.shape)}\0{images.dtype}\0".encode())
    h.update(images.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def real_features(extractor: Extractor, images: Tensor, what: str, dataset: str) -> Features:
    """extractor.extract(images, what), read from the cache when an earlier run stored it, else extracted and stored."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{dataset}-{what}-{len(images)}")
    path = cache_dir() / "features" / f"{name}-{feature_key(extractor, images)}.pt"
    if path.is_file():
        try:
            saved = torch.load(path, weights_only=True)
            return Features(saved["features"], saved["probs"])
        except Exception:  # torn, damaged or foreign: extract again below and overwrite it
            pass
    features = extractor.extract(images, what)
    try:
        save_torch(path, {"features": features.features, "probs": features.probs})
    except OSError:
        pass  # a read-only or full cache only costs the next run the extraction again
    return features
