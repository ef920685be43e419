"""Samples on disk as 8-bit images: what `compare run` keeps of its evaluation draw (samples_<view>.npz) and what
`compare sample` writes, in the layouts `compare score`, `--dataset folder:` and pytorch-fid read.

An .npz holds one uint8 array "images" of shape (N, H, W, C), C = 1 or 3 (the layout of OpenAI's and pytorch-fid's
sample files); a folder holds 000000.png, 000001.png, ... (grey or RGB). Both round the [0, 1] floats as
torchvision's save_image does (x * 255 + 0.5, clamped), so a PNG grid, an .npz and a folder hold the same values.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image
from torch import Tensor

from compare.io import check_new_directory, check_new_file, new_directory, write_bytes

SAMPLES_KEY = "images"


def samples_file(view: str) -> str:
    """The file `compare run` keeps a view's evaluation draw in."""
    return f"samples_{view}.npz"


def to_uint8(images: Tensor) -> np.ndarray:
    """(N, C, H, W) floats in [0, 1] -> (N, H, W, C) uint8."""
    return images.detach().cpu().mul(255).add(0.5).clamp(0, 255).byte().permute(0, 2, 3, 1).contiguous().numpy()


def npz_bytes(images: Tensor) -> bytes:
    """What np.savez_compressed writes, but with a fixed time stamp on the zip entry (numpy stamps the current
    time): the same samples give the same bytes, so a run directory stays byte-for-byte reproducible."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        entry = zipfile.ZipInfo(f"{SAMPLES_KEY}.npy", date_time=(1980, 1, 1, 0, 0, 0))
        entry.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(entry, "w") as f:
            np.lib.format.write_array(f, to_uint8(images), allow_pickle=False)
    return buffer.getvalue()


def _png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    # (H, W, 1) -> grey "L"
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, format="PNG")
    return buffer.getvalue()


def _png_name(name: str) -> bool:
    return name.endswith(".png") and name[:-4].isdigit()


def check_samples_out(path: Path, overwrite: bool) -> None:
    """save_samples' refusals of `path`, before the samples are drawn."""
    if path.suffix.lower() == ".npz":
        check_new_file(path, overwrite)
    else:
        check_new_directory(path, overwrite, _png_name)


def save_samples(images: Tensor, path: Path, overwrite: bool = False) -> None:
    """`images` to `path`: an .npz file, or else a folder of PNGs; an existing `path` only with `overwrite`
    (a folder only when it holds nothing but such PNGs). Atomic either way: a failure leaves what was there."""
    path = Path(path)
    if path.suffix.lower() == ".npz":
        check_new_file(path, overwrite)
        write_bytes(path, npz_bytes(images), exclusive=not overwrite)
        return
    with new_directory(path, overwrite, ours=_png_name) as folder:
        for i, image in enumerate(to_uint8(images)):
            (folder / f"{i:06d}.png").write_bytes(_png_bytes(image))  # inside the temp folder: it is renamed whole
