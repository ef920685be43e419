"""torchvision datasets from small files in their real on-disk formats, image folders, and streaming."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from compare.data import sources
from compare.data import DATASETS, DataOptions, batches, check_dataset_name, load_dataset
from compare.errors import UserError
from compare.data.sources import DataWarning, StreamedImages
from helpers import write_mnist_like


@pytest.fixture
def no_md5(monkeypatch):
    """torchvision checks CIFAR-10's and CelebA's files against the real files' MD5 sums; the small test
    files cannot match, so only their presence is checked (the reading code is torchvision's own)."""
    import torchvision.datasets.celeba as celeba
    import torchvision.datasets.cifar as cifar

    present = lambda path, md5=None: Path(path).is_file()
    monkeypatch.setattr(cifar, "check_integrity", present)
    monkeypatch.setattr(celeba, "check_integrity", present)


@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_mnist_like_sets_load_from_idx_files(tmp_path, name, folder):
    arrays = write_mnist_like(tmp_path, folder)
    data = load_dataset(name, options=DataOptions(root=tmp_path))
    assert data.train.shape == (12, 1, 28, 28) and data.heldout.shape == (5, 1, 28, 28)  # official test split held out
    assert torch.equal(data.train, torch.from_numpy(arrays["train"]).float().div(255).unsqueeze(1))
    assert torch.equal(data.heldout_labels, torch.from_numpy(arrays["t10k_labels"]).long())
    assert data.train_labels.dtype == torch.int64


def test_cifar10_loads_from_python_pickle_batches(tmp_path, no_md5):
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    written = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        rows, labels = rng.integers(0, 256, (3, 3072), dtype=np.uint8), rng.integers(0, 10, 3).tolist()
        (folder / name).write_bytes(pickle.dumps({"data": rows, "labels": labels}))
        written[name] = (rows, labels)
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"class{i}" for i in range(10)]}))
    data = load_dataset("cifar10", options=DataOptions(root=tmp_path))
    assert data.train.shape == (15, 3, 32, 32) and data.heldout.shape == (3, 3, 32, 32)
    # A CIFAR row is 1024 red, 1024 green, 1024 blue values, each plane row-major.
    rows, labels = written["data_batch_2"]
    assert torch.equal(data.train[3:6], torch.from_numpy(rows).reshape(3, 3, 32, 32).float() / 255)
    assert data.train_labels[3:6].tolist() == labels


def _write_celeba(root: Path, sizes=(20, 24)) -> list[str]:
    base = root / "celeba"
    (base / "img_align_celeba").mkdir(parents=True)
    names = [f"{i:06d}.jpg" for i in range(1, 8)]
    partition = [0, 0, 0, 0, 1, 2, 2]  # train, valid, test as in list_eval_partition.txt
    for i, name in enumerate(names):
        Image.new("RGB", sizes, (30 * i, 100, 200)).save(base / "img_align_celeba" / name, quality=95)
    rows = lambda values: "".join(f"{n} {' '.join(map(str, values(i)))}\n" for i, n in enumerate(names))
    (base / "list_eval_partition.txt").write_text(rows(lambda i: [partition[i]]))
    (base / "identity_CelebA.txt").write_text(rows(lambda i: [i + 100]))
    attrs = [f"Attr_{k}" for k in range(40)]
    (base / "list_attr_celeba.txt").write_text(f"{len(names)}\n{' '.join(attrs)}\n" + rows(lambda i: [1, -1] * 20))
    (base / "list_bbox_celeba.txt").write_text(f"{len(names)}\nimage_id x_1 y_1 width height\n"
                                               + rows(lambda i: [1, 2, 3, 4]))
    landmarks = ("lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x "
                 "rightmouth_y")
    (base / "list_landmarks_align_celeba.txt").write_text(
        f"{len(names)}\n{landmarks}\n" + rows(lambda i: list(range(10))))
    return names


def test_celeba_loads_aligned_faces_centre_cropped(tmp_path, no_md5):
    _write_celeba(tmp_path)
    data = load_dataset("celeba", options=DataOptions(root=tmp_path, image_size=8))
    assert data.train.shape == (4, 3, 8, 8) and data.heldout.shape == (2, 3, 8, 8)  # partition 0 / partition 2
    assert data.train_labels is None and data.heldout_labels is None  # attributes are not classes
    # Image 1 (second train file) is the flat colour (30, 100, 200): resizing and cropping keep it.
    assert torch.allclose(data.train[1].mean((1, 2)), torch.tensor([30, 100, 200]) / 255, atol=2 / 255)
    grey = load_dataset("celeba", options=DataOptions(root=tmp_path, image_size=8, channels=1))
    assert grey.train.shape == (4, 1, 8, 8)


@pytest.mark.parametrize("name, where", [("mnist", "MNIST/raw/"), ("cifar10", "cifar-10-batches-py/"),
                                         ("celeba", "celeba/img_align_celeba/")])
def test_missing_files_say_where_they_go_in_one_line(tmp_path, name, where):
    with pytest.raises(UserError) as e:
        load_dataset(name, options=DataOptions(root=tmp_path))
    message = str(e.value)
    assert "\n" not in message and str(tmp_path) in message and where in message and "--download" in message


def test_download_failure_is_one_line(tmp_path, monkeypatch):
    import urllib.error

    import torchvision.datasets.mnist as mnist

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network in this test")

    monkeypatch.setattr(mnist, "download_and_extract_archive", offline)
    with pytest.raises(UserError, match=r"could not download MNIST into .*no network in this test.*by hand$"):
        load_dataset("mnist", options=DataOptions(root=tmp_path, download=True))


# --- folders --------------------------------------------------------------------------------------

def _write_folder(root: Path) -> None:
    """Mixed sizes, modes and formats in nested folders, plus two broken files and a non-image."""
    (root / "a").mkdir(parents=True)
    (root / "b" / "c").mkdir(parents=True)
    for i in range(14):
        size = [(10, 10), (30, 20), (16, 40)][i % 3]
        mode = ["RGB", "L", "RGBA"][i % 3]
        Image.new(mode, size, (i * 10, 50, 90, 255)[: len(mode)] if mode != "L" else i * 10).save(
            root / ("a" if i % 2 else "b/c") / f"img{i:02d}.{['png', 'jpg', 'png'][i % 3]}")
    (root / "a" / "garbage.png").write_bytes(b"this is not an image")
    png = (root / "a" / "img00_copy.png")
    Image.new("RGB", (64, 64), (1, 2, 3)).save(png)
    png.write_bytes(png.read_bytes()[:80])  # a valid header with the pixel data cut off
    (root / "notes.txt").write_text("not an image, not counted")


def test_folder_skips_unreadable_files_with_one_warning(tmp_path):
    _write_folder(tmp_path)
    with pytest.warns(DataWarning, match=r"skipped 2 of 16 image files") as record:
        data = load_dataset(f"folder:{tmp_path}", options=DataOptions(image_size=12, channels=3))
    assert len([w for w in record if issubclass(w.category, DataWarning)]) == 1
    assert len(data.train) + len(data.heldout) == 14 and len(data.heldout) >= 1
    assert data.image_shape == (3, 12, 12) and data.train_labels is None and data.heldout_labels is None
    assert 0 <= data.train.min() and data.train.max() <= 1


def test_folder_resizes_shorter_side_then_centre_crops(tmp_path):
    image = np.zeros((20, 40, 3), np.uint8)  # 40 wide, 20 high: black edges, white middle half
    image[:, 10:30] = 255
    for i in range(2):
        Image.fromarray(image).save(tmp_path / f"wide{i}.png")
    data = load_dataset(f"folder:{tmp_path}", options=DataOptions(image_size=8, channels=1))
    x = torch.cat([data.train, data.heldout])[0, 0]  # (8, 8): the crop keeps the middle 20 of 40 columns
    assert x.shape == (8, 8) and x[:, 2:6].min() > 0.99  # a squashing resize would have left dark edge columns
    assert x[:, 0].mean() > 0.5 and x[:, 7].mean() > 0.5


def test_folder_grey_conversion_uses_luma(tmp_path):
    for i in range(3):
        Image.new("RGB", (9, 9), (200, 100, 50)).save(tmp_path / f"flat{i}.png")
    data = load_dataset(f"folder:{tmp_path}", options=DataOptions(image_size=4, channels=1))
    luma = (200 * 299 + 100 * 587 + 50 * 114) / 1000 / 255  # ITU-R 601-2, PIL's "L"
    assert torch.allclose(data.train, torch.full_like(data.train, luma), atol=1 / 255)


def test_empty_or_unreadable_folders_are_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    with pytest.raises(UserError, match="no image files"):
        load_dataset(f"folder:{tmp_path / 'empty'}")
    broken = tmp_path / "broken"
    broken.mkdir()
    for i in range(3):
        (broken / f"{i}.png").write_bytes(b"junk")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        with pytest.raises(UserError, match="no readable images"):
            load_dataset(f"folder:{broken}")
    with pytest.raises(UserError, match="does not exist"):
        load_dataset(f"folder:{tmp_path / 'nowhere'}")


def test_dataset_names_and_options_are_validated():
    assert check_dataset_name("folder:/some/where") == "folder:/some/where"
    with pytest.raises(UserError, match="needs a PATH: write folder:PATH"):
        check_dataset_name("folder")
    with pytest.raises(UserError, match="takes no argument"):
        check_dataset_name("mnist:/x")
    with pytest.raises(UserError, match="unknown dataset 'svhn'; choose one of: .*folder:PATH"):
        check_dataset_name("svhn")
    with pytest.raises(UserError, match="--image-size does not apply to dataset 'mnist5k'"):
        load_dataset("mnist5k", options=DataOptions(image_size=32))
    with pytest.raises(UserError, match="--download does not apply to dataset 'digits'"):
        load_dataset("digits", options=DataOptions(download=True))
    with pytest.raises(UserError, match="--channels must be 1"):
        load_dataset("folder:/x", options=DataOptions(channels=4))
    assert {"mnist", "fashion-mnist", "cifar10", "celeba", "folder"} <= set(DATASETS)


def test_embedded_sets_keep_labels_and_split():
    data = load_dataset("digits")
    assert (len(data.train), len(data.heldout)) == (1617, 180)
    assert data.train_labels is not None and len(data.train_labels) == 1617


# --- streaming ------------------------------------------------------------------------------------

def test_sets_over_the_memory_threshold_stream_through_one_batch_source(tmp_path, monkeypatch):
    for i in range(30):
        Image.new("L", (6, 6), i * 8).save(tmp_path / f"g{i:02d}.png")
    monkeypatch.setattr(sources, "IN_MEMORY_BYTES", 0)  # nothing fits: every split streams
    data = load_dataset(f"folder:{tmp_path}", options=DataOptions(image_size=4, channels=1))
    assert isinstance(data.train, StreamedImages) and isinstance(data.heldout, StreamedImages)
    assert data.image_shape == (1, 4, 4) and (len(data.train), len(data.heldout)) == (27, 3)
    assert data.heldout[:2].shape == (2, 1, 4, 4)  # slices decode, e.g. for the held-out grid

    def first_batches(seed: int) -> list[torch.Tensor]:
        source = batches(data.train, 8, torch.Generator().manual_seed(seed))
        return [next(source) for _ in range(4)]  # crosses an epoch boundary (3 full batches per epoch)

    a, b = first_batches(0), first_batches(0)
    assert all(x.shape == (8, 1, 4, 4) for x in a)
    assert all(torch.equal(x, y) for x, y in zip(a, b))  # the order is fixed by the seed
    assert not torch.equal(torch.cat(a[:3]), torch.cat(first_batches(1)[:3]))
    seen = torch.cat(a[:3]).flatten(1)[:, 0]  # one epoch: 24 distinct images (each is one flat grey level)
    assert len(seen.unique()) == 24


def test_streaming_drops_and_counts_unreadable_files(tmp_path, monkeypatch):
    for i in range(12):
        Image.new("RGB", (5, 5), (i, i, i)).save(tmp_path / f"c{i:02d}.png")
    for i in range(3):
        (tmp_path / f"z{i}.png").write_bytes(b"not a png")
    monkeypatch.setattr(sources, "IN_MEMORY_BYTES", 0)
    data = load_dataset(f"folder:{tmp_path}", options=DataOptions(image_size=4))
    stream = data.train.to("cpu")
    stream.workers = 1  # through a worker process, as large sets are
    with pytest.warns(DataWarning, match="unreadable images so far while streaming"):
        source = batches(stream, len(stream), torch.Generator().manual_seed(0))
        batch = next(source)
    bad_in_train = sum(1 for p in stream.files.paths if p.name.startswith("z"))
    assert bad_in_train >= 1 and stream.unreadable == bad_in_train
    assert batch.shape == (len(stream) - bad_in_train, 3, 4, 4)
