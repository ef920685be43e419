"""Real-image features cached on disk, so a study (or any run after the first) extracts them once.

stylegan2-ada caches its real-data statistics the same way: under a key that hashes everything they
depend on. Here that is the extractor (name, weights SHA-256, device type) and the images themselves
(their bytes: the dataset, its split and the N-subset all change them), so a cached entry can never be
the features of other images or of another network. An entry is written atomically with the sha256 of
its content and the full key it was computed from (compare.io.save_checked), and checked when read:
hash, key, shapes, dtype and finiteness. torch checks no checksum, so without that flipped bytes in a
tensor load as numbers (a real-floor FID of 1e51) and NaN features crash the linear algebra. An entry
that fails any check is extracted again and rewritten, with a warning: the numbers are then those of a
clean cache.

    <cache dir>/features/<dataset>-<what>-<n>-<key>.pt     {"key", "features": (N, D), "probs": (N, K), "sha256"}
"""

from __future__ import annotations

import hashlib
import re
import warnings
from pathlib import Path

import torch
from torch import Tensor

from compare.data import cache_dir
from compare.io import load_checked, save_checked
from compare.metrics.evaluator import Extractor
from compare.metrics.quality import Features

FEATURE_CACHE_VERSION = 2  # 2: entries carry their content's sha256 and full key


class FeatureCacheWarning(UserWarning):
    """A cached features entry was damaged or foreign and was extracted again."""


def feature_key(extractor: Extractor, images: Tensor) -> str:
    """SHA-256 of the extractor's identity and the images' shape and bytes."""
    h = hashlib.sha256(f"{FEATURE_CACHE_VERSION}\0{extractor.name}\0{extractor.weights_sha256}\0"
                       f"{extractor.device.type}\0{tuple(images.shape)}\0{images.dtype}\0".encode())
    h.update(images.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _problem(saved: dict, key: str, n: int, feature_dim: int | None) -> str | None:
    """Why the loaded entry cannot be the features of these `n` images under this key; None when it can."""
    if saved.get("key") != key:
        return "it was computed from other images or another extractor"
    features, probs = saved.get("features"), saved.get("probs")
    for name, t, width in (("features", features, feature_dim), ("probs", probs, None)):
        if not isinstance(t, Tensor) or t.layout != torch.strided or t.dtype != torch.float32:
            return f"its {name} are not a dense float32 tensor"
        if t.dim() != 2 or len(t) != n or (width is not None and t.shape[1] != width) or t.shape[1] == 0:
            return f"its {name} have shape {tuple(t.shape)}"
        if not torch.isfinite(t).all():
            return f"its {name} hold NaN or infinite values"
    return None


def _read(path: Path, key: str, n: int, feature_dim: int | None) -> Features | None:
    """The checked entry at `path`, or None (with a warning when there was one that failed a check)."""
    if not path.is_file():
        return None
    try:
        saved = load_checked(path)
        why = _problem(saved, key, n, feature_dim)
    except Exception as e:  # torn, damaged, foreign or edited: torch and the hash check raise many types
        why = f"it cannot be read or does not match its sha256 ({type(e).__name__})"
    if why is None:
        return Features(saved["features"], saved["probs"])
    warnings.warn(f"the cached features {path} are not usable ({why}); extracting them again", FeatureCacheWarning)
    return None


def real_features(extractor: Extractor, images: Tensor, what: str, dataset: str) -> Features:
    """extractor.extract(images, what), read from the cache when an earlier run stored it, else extracted and stored."""
    key = feature_key(extractor, images)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{dataset}-{what}-{len(images)}")
    path = cache_dir() / "features" / f"{name}-{key[:16]}.pt"
    cached = _read(path, key, len(images), extractor.info.get("feature_dim"))
    if cached is not None:
        return cached
    features = extractor.extract(images, what)
    try:
        save_checked(path, {"key": key, "features": features.features, "probs": features.probs})
    except OSError:
        pass  # a read-only or full cache only costs the next run the extraction again
    return features
