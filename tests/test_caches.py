"""Caches are checked when read: a damaged or foreign entry is recomputed (with a warning), never trusted."""

from __future__ import annotations

import contextlib
import warnings

import pytest
import torch

from compare.data import load_dataset
from compare.io import save_checked
from compare.metrics.evaluator import load_extractor
from compare.metrics.feature_cache import FeatureCacheWarning, feature_key, real_features


@pytest.fixture(scope="module")
def features_case():
    data = load_dataset("digits")
    extractor = load_extractor("evaluator", data)
    images = data.heldout[:150]
    return extractor, images, extractor.extract(images)


def _entry(tmp_path, monkeypatch, features_case):
    """A fresh cache holding the clean entry of the case's images; returns its path."""
    monkeypatch.setenv("COMPARE_CACHE_DIR", str(tmp_path))
    extractor, images, _ = features_case
    real_features(extractor, images, "real", "digits")
    (path,) = (tmp_path / "features").glob("*.pt")
    return path


def _flip_tensor_bytes(path, tensor):
    """64 bytes inside the stored tensor's data flipped: torch loads such a file without complaint."""
    raw = bytearray(path.read_bytes())
    at = raw.find(tensor.numpy().tobytes()[:256])
    assert at > 0
    raw[at + 64:at + 128] = bytes(b ^ 0xFF for b in raw[at + 64:at + 128])
    path.write_bytes(bytes(raw))


def _damage(kind, path, features_case):
    extractor, images, clean = features_case
    key = feature_key(extractor, images)
    if kind == "flipped bytes":
        _flip_tensor_bytes(path, clean.features)
    elif kind == "plausible values, no hash":  # what an older version, or a hand edit, leaves
        torch.save({"key": key, "features": clean.features * 1.1, "probs": clean.probs}, path)
    elif kind == "wrong shape":
        save_checked(path, {"key": key, "features": clean.features[:, :7], "probs": clean.probs})
    elif kind == "wrong count":
        save_checked(path, {"key": key, "features": clean.features[:-1], "probs": clean.probs[:-1]})
    elif kind == "NaN features":
        save_checked(path,
                     {"key": key, "features": torch.full_like(clean.features, float("nan")), "probs": clean.probs})
    elif kind == "sparse features":
        torch.save({"key": key, "features": clean.features.to_sparse(), "probs": clean.probs, "sha256": "0" * 64}, path)
    elif kind == "another key":
        save_checked(path, {"key": "0" * 64, "features": clean.features * 1.1, "probs": clean.probs})
    elif kind == "not a torch file":
        path.write_bytes(b"junk")


@pytest.mark.parametrize("kind", ["flipped bytes", "plausible values, no hash", "wrong shape", "wrong count",
                                  "NaN features", "sparse features", "another key", "not a torch file"])
def test_damaged_features_cache_is_recomputed_with_a_warning(kind, tmp_path, monkeypatch, features_case):
    extractor, images, clean = features_case
    path = _entry(tmp_path, monkeypatch, features_case)
    _damage(kind, path, features_case)
    with pytest.warns(FeatureCacheWarning, match="extracting them again"):
        got = real_features(extractor, images, "real", "digits")
    assert torch.equal(got.features, clean.features) and torch.equal(got.probs, clean.probs)
    with warnings_as_errors():  # rewritten clean: the next read is silent and the same
        again = real_features(extractor, images, "real", "digits")
    assert torch.equal(again.features, clean.features)


def test_clean_features_cache_is_read_silently(tmp_path, monkeypatch, features_case):
    extractor, images, clean = features_case
    _entry(tmp_path, monkeypatch, features_case)
    with warnings_as_errors():
        got = real_features(extractor, images, "real", "digits")
    assert torch.equal(got.features, clean.features) and torch.equal(got.probs, clean.probs)


@contextlib.contextmanager
def warnings_as_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield
