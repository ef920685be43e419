"""Image sets from disk for `compare score`: a folder of image files, or an .npz / .pt array.

Whatever the source, the result is the toolkit's one image format: a float tensor (N, C, H, W) in
[0, 1]. A folder is read recursively, as `--dataset folder:` reads it (compare.data.imagefiles), but strictly:
every file must read and all must share one size, which they keep. Arrays may be (N, H, W), (N, C, H, W) or
(N, H, W, C) with C in {1, 3}; uint8 / integer values are read as 0..255, floats must already lie in [0, 1].
Three equal channels (grey images saved as RGB, as torchvision's save_image does) become one channel: that
loses nothing.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from compare.data.imagefiles import image_files, read_image
from compare.errors import UserError

ARRAY_KEYS = ("images", "x", "samples")  # names tried, in order, when a file holds several arrays
NUMPY_MAGIC = (b"PK\x03\x04", b"\x93NUMPY")  # how an .npz (a zip) and an .npy begin


def _pick(arrays: dict, path: Path):
    if len(arrays) == 1:
        return next(iter(arrays.values()))
    for key in ARRAY_KEYS:
        if key in arrays:
            return arrays[key]
    raise UserError(f"{path} holds several arrays ({', '.join(map(str, arrays))}); name the images one of: "
                    f"{', '.join(ARRAY_KEYS)}")


def _read_folder(folder: Path) -> Tensor:
    """Every image file under `folder` as RGB (N, 3, H, W) at its own size; one unreadable file or size is an error."""
    files = image_files(folder)
    images = None
    for i, f in enumerate(files):
        try:
            image = read_image(f, channels=3)  # grey collapses back to 1 channel in load_image_set
        except Exception as e:  # noqa: BLE001 - whatever the loader raises, see _cannot_read
            raise _cannot_read(f, e) from None
        if images is None:
            images = torch.empty(len(files), *image.shape)  # filled in place: a list, then a stack, would take twice
        elif image.shape != images.shape[1:]:
            (h, w), (got_h, got_w) = images.shape[2:], image.shape[1:]
            raise UserError(f"images in {folder} differ in size: {files[0].relative_to(folder)} is {w}x{h}, "
                            f"{f.relative_to(folder)} is {got_w}x{got_h}; resize them to one size")
        images[i] = image
    return images


def _cannot_read(path: Path, e: Exception) -> UserError:
    # A user's file can fail to load in more ways than anyone can list (zip, pickle, struct, PIL's
    # SyntaxError, torch's refusal of pickled code): whatever the loader raises, the file is unreadable.
    # torch's long advice to load unsafely is wrong for a stranger's file
    if str(e).startswith("Weights only load failed"):
        return UserError(f"cannot read {path}: torch's safe loader refused it (not plain tensors; nothing in it was "
                         "run); save the images with torch.save(tensor) or np.savez")
    reason = str(e).strip().splitlines()
    return UserError(f"cannot read {path}: {reason[0] if reason else type(e).__name__}")


def _load(path: Path, suffix: str):
    if suffix in (".npz", ".npy"):
        with path.open("rb") as f:
            # Without this, np.load falls back to pickle on any other file and blames "pickled (object) data".
            if not f.read(6).startswith(NUMPY_MAGIC):
                raise ValueError(f"not a NumPy {suffix} file")
        data = np.load(path)
        if isinstance(data, np.ndarray):  # an .npy, whatever its name says
            return data
        with data:
            return {k: data[k] for k in data.files}  # reads every array now, inside the caller's try
    with warnings.catch_warnings():  # torch warns about odd pickle protocols; the error, if any, says enough
        warnings.simplefilter("ignore")
        return torch.load(path, weights_only=True, map_location="cpu")


def _read_array(path: Path):
    suffix = path.suffix.lower()
    if suffix not in (".npz", ".npy", ".pt", ".pth"):
        raise UserError(f"{path}: give a folder of images (PNG, JPEG, ...) or an .npz, .npy or .pt file")
    try:
        obj = _load(path, suffix)
    except Exception as e:  # noqa: BLE001 - whatever the loader raises, see _cannot_read
        raise _cannot_read(path, e) from None
    return _pick(obj, path) if isinstance(obj, dict) else obj


def to_images(array, where: str) -> Tensor:
    """Any supported array layout and dtype -> (N, C, H, W) float32 in [0, 1]; bad input is a UserError."""
    if not isinstance(array, (np.ndarray, Tensor)):
        raise UserError(f"{where} holds {type(array).__name__}, not an image array")
    if isinstance(array, Tensor) and (array.layout != torch.strided or array.is_meta or array.is_quantized):
        kind = ("meta" if array.is_meta else "quantized" if array.is_quantized
                else str(array.layout).removeprefix("torch."))
        raise UserError(f"{where} holds a {kind} tensor, not plain image values; save a dense one "
                        "(torch.save(t.to_dense()), t.dequantize(), or the real data for a meta tensor)")
    numeric = array.dtype.kind in "biuf" if isinstance(array, np.ndarray) else not array.dtype.is_complex
    if not numeric:  # strings, objects, dates, complex: nothing an image can be
        raise UserError(f"{where} holds {array.dtype} values; images must be numbers: integers in "
                        "0..255 or floats in [0, 1]")
    t = torch.as_tensor(array) if isinstance(array, np.ndarray) else array.detach().cpu()
    if t.dim() == 3:
        t = t[:, None]  # (N, H, W) -> (N, 1, H, W)
    elif t.dim() == 4 and t.shape[1] not in (1, 3) and t.shape[3] in (1, 3):
        t = t.permute(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
    if t.dim() != 4 or t.shape[1] not in (1, 3):
        raise UserError(f"{where} has shape {tuple(t.shape)}; expected images as (N, H, W), (N, C, H, W) or (N, H, W, "
                        "C) with 1 or 3 channels")
    if len(t) == 0:
        raise UserError(f"{where} holds no images")
    if t.dtype == torch.bool:
        t = t.float()
    elif not t.is_floating_point():
        lo, hi = int(t.double().min()), int(t.double().max())  # min/max are not implemented for uint16/32/64
        if lo < 0 or hi > 255:
            raise UserError(f"{where} holds integers in [{lo}, {hi}]; integer images must lie in 0..255")
        t = t.float() / 255
    else:
        t = t.float()
        if bad := int((~torch.isfinite(t)).sum()):
            raise UserError(f"{where} holds {bad} NaN or infinite values; images must be finite numbers in [0, 1]")
        lo, hi = float(t.min()), float(t.max())
        if not (0 <= lo and hi <= 1):
            raise UserError(f"{where} holds floats in [{lo:.3g}, {hi:.3g}]; float images must lie in [0, 1] "
                            "(rescale: (x + 1) / 2 for a Tanh's [-1, 1], x / 255 for 0..255)")
    return _grey_if_equal(t).contiguous()


def _grey_if_equal(images: Tensor) -> Tensor:
    """(N, 3, H, W) whose three channels are equal in every image -> (N, 1, H, W); anything else as it is."""
    if images.shape[1] == 3 and torch.equal(images[:, 0], images[:, 1]) and torch.equal(images[:, 0], images[:, 2]):
        return images[:, :1].contiguous()
    return images


def load_image_set(path: Path | str) -> Tensor:
    """A folder of image files or an .npz / .npy / .pt array file -> (N, C, H, W) float32 in [0, 1]."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist")
    if not (path.is_dir() or path.is_file()):  # a FIFO would block the read forever
        raise UserError(f"{path} is neither a folder nor a regular file; give a folder of images or an array file")
    if path.is_dir():
        return _grey_if_equal(_read_folder(path))  # read_image's floats are already in [0, 1]: nothing to check
    return to_images(_read_array(path), str(path))
