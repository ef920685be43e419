"""Image files on disk, the one reader behind `compare score`'s folders and `--dataset folder:PATH`: which files of a
folder are images, and one file decoded into the toolkit's image format, a float tensor (C, H, W) in [0, 1].

What to do with an unreadable file or images of different sizes is the caller's contract: `compare score`
(compare.data.imagesets) refuses them, `folder:` (compare.data.sources) resizes every image and skips the unreadable.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from torch import Tensor

from compare.errors import UserError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
# What PIL raises for a file that is not a readable image (truncated, garbage, a decompression bomb).
UNREADABLE = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def image_files(folder: Path) -> list[Path]:
    """Every file under `folder` (recursively, sorted by path) whose extension is an image format's. A UserError if
    there is none, or if one is not a regular file: opening a FIFO would wait forever for a writer."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"image folder {folder} does not exist or is not a directory")
    named = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    files = [p for p in named if p.is_file()]
    if special := [p for p in named if not (p.is_file() or p.is_dir())]:  # a folder named x.png: rglob enters it
        raise UserError(f"{special[0]} is not a regular file (a pipe, device, socket or broken link); "
                        f"move it out of {folder}")
    if not files:
        raise UserError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) under {folder}")
    return files


def read_image(path: Path, channels: int, size: int | None = None) -> Tensor:
    """One file -> (channels, H, W) float in [0, 1]: grey (PIL's luma) for 1 channel, RGB for 3. With `size`, the
    shorter side is resized to it (antialiased; a side already that long is not resampled), then centre-cropped
    square, as DCGAN's CelebA pipeline does. Raises one of UNREADABLE for a file that is not a readable image."""
    from torchvision.transforms import functional as TF

    with Image.open(path) as image:
        image = image.convert("L" if channels == 1 else "RGB")  # also forces the full decode inside `with`
    if size is not None:
        image = TF.center_crop(TF.resize(image, size), [size, size])
    return TF.pil_to_tensor(image).float().div_(255)  # (C, H, W)
