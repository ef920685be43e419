"""Train every requested model under the same budget, then write samples, grids and numbers.

The runner sees models only through compare.protocol.GenerativeModel and the registry in
compare.models: there is no branch on the model family here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import click
import torch
from torch import Tensor

from compare.budget import Budget
from compare.data import DataOptions, ImageDataset, batches, load_dataset
from compare.errors import UserError
from compare.gpu import peak_memory_bytes, reset_peak_memory
from compare.io import save_torch, write_json
from compare.models import ModelSpec
from compare.plots import save_grid, save_side_by_side
from compare.protocol import GenerativeModel

GRID_SAMPLES = 64
LOG_EVERY = 50  # steps between loss readings: each reading waits for the device, so not every step
SAMPLE_SEED_OFFSET = 10_000  # fixed-noise stream for grids, apart from every training stream


@dataclass(frozen=True)
class RunSettings:
    models: tuple[ModelSpec, ...]
    budget: Budget
    dataset: str = "mnist5k"
    seed: int = 0
    device: str = "auto"
    batch_size: int = 128  # the same for every model, so a steps budget is also an images budget
    out: Path | None = None  # default runs/<timestamp>
    data_options: DataOptions = DataOptions()  # --data-root, --download, --image-size, --channels


@dataclass
class TrainRecord:
    steps: int = 0
    images: int = 0
    seconds: float = 0.0
    losses: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)  # {"step": s, loss: value, ...} every LOG_EVERY


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but CUDA is not available here; use --device cpu or auto")
    if name not in ("cpu", "cuda"):
        raise UserError(f"unknown device {name!r}; use auto, cpu or cuda")
    return torch.device(name)


def train(
    model: GenerativeModel,
    images: Tensor,
    steps: int,
    batch_size: int,
    seed: int,
    on_log: Callable[[TrainRecord], None] | None = None,
) -> TrainRecord:
    """`steps` train steps on batches of `images` drawn in an order fixed by `seed`."""
    record = TrainRecord()
    order_rng = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for step, batch in enumerate(batches(images, batch_size, order_rng), start=1):
        losses = model.train_step(batch)
        if step % LOG_EVERY == 0 or step == steps:
            record.losses = {k: float(v) for k, v in losses.items()}  # the only host sync
            record.history.append({"step": step, **record.losses})
            record.steps, record.images, record.seconds = step, step * batch_size, time.perf_counter() - start
            if on_log:
                on_log(record)
        if step == steps:
            break
    return record


def parameter_counts(model: GenerativeModel) -> dict[str, int]:
    counts = {name: sum(p.numel() for p in part.parameters()) for name, part in model.parts().items()}
    return {**counts, "total": sum(counts.values())}


def _progress_trainer(label: str, steps: int):
    """A click progress bar (to stderr) showing steps/s and the latest losses; returns (bar, on_log)."""
    shown = {"steps": 0}

    def describe(record: TrainRecord | None) -> str:
        if record is None or record.seconds == 0:
            return ""
        losses = "  ".join(f"{k} {v:.3f}" for k, v in record.losses.items())
        return f"{record.steps / record.seconds:6.0f} steps/s  {losses}"

    bar = click.progressbar(length=steps, label=f"{label:>12}", file=sys.stderr, item_show_func=describe, show_eta=True)

    def on_log(record: TrainRecord) -> None:
        bar.update(record.steps - shown["steps"], record)
        shown["steps"] = record.steps

    return bar, on_log


def _git_hash() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def _versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    def v(pkg: str) -> str | None:
        try:
            return version(pkg)
        except PackageNotFoundError:
            return None

    return {"python": platform.python_version(), "torch": torch.__version__, "torchvision": v("torchvision"),
            "gan-vae-compare": v("gan-vae-compare"), "git": _git_hash()}


def prepare_out_dir(out: Path | None) -> Path:
    """The run directory, created new; an existing non-empty one is refused, never overwritten."""
    out = Path(out) if out else Path("runs") / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"run directory {out} already exists and is not empty; pass another --out or remove it")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create run directory {out}: {e.strerror}") from None
    return out


def sample_views(spec: ModelSpec, model: GenerativeModel, n: int, seed: int) -> dict[str, Tensor]:
    """n samples of every view of the model, each view from the same fixed noise seed."""
    return {
        view: model.sample(n, generator=torch.Generator().manual_seed(seed + SAMPLE_SEED_OFFSET), **kwargs).cpu()
        for view, kwargs in spec.views().items()
    }


def run(settings: RunSettings, show_progress: bool = True) -> dict:
    """Train, sample and record every model of `settings`; returns what metrics.json holds."""
    if settings.batch_size <= 0:
        raise UserError(f"--batch-size must be positive, got {settings.batch_size}")
    device = resolve_device(settings.device)
    data: ImageDataset = load_dataset(settings.dataset, device, settings.data_options)
    if settings.batch_size > len(data.train):
        raise UserError(f"--batch-size {settings.batch_size} is larger than the training split ({len(data.train)} images)")
    steps = settings.budget.steps(settings.batch_size, len(data.train))
    out = prepare_out_dir(settings.out)

    config = {
        "models": {s.label: dataclasses.asdict(s.config(data.image_shape)) for s in settings.models},
        "dataset": {"name": data.name, "train": len(data.train), "heldout": len(data.heldout), "image_shape": list(data.image_shape)},
        "budget": {"spec": str(settings.budget), "steps": steps},
        "seed": settings.seed,
        "batch_size": settings.batch_size,
        "device": {"type": device.type, "name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()},
        "torch_threads": torch.get_num_threads(),
        "versions": _versions(),
        "command": sys.argv,
        "created": dt.datetime.now().isoformat(timespec="seconds"),
    }
    write_json(out / "config.json", config)

    results: dict[str, dict] = {}
    grids: dict[str, Tensor] = {"real (held-out)": data.heldout[:GRID_SAMPLES].cpu()}
    for spec in settings.models:
        model = spec.build(data.image_shape, device, settings.seed)
        reset_peak_memory(device)
        if show_progress:
            bar, on_log = _progress_trainer(spec.label, steps)
            with bar:
                record = train(model, data.train, steps, settings.batch_size, settings.seed, on_log)
        else:
            record = train(model, data.train, steps, settings.batch_size, settings.seed)
        save_torch(out / spec.dirname / "ckpt.pt", {"label": spec.label, "config": config["models"][spec.label],
                                                      "steps": record.steps, "images": record.images, "state": model.state_dict()})
        views = sample_views(spec, model, GRID_SAMPLES, settings.seed)
        for view, images in views.items():
            save_grid(images, out / f"samples_{view}.png", nrow=8)
        grids.update(views)
        results[spec.label] = {
            "family": spec.family,
            "views": list(views),
            "steps": record.steps,
            "images_seen": record.images,
            "train_seconds": round(record.seconds, 3),
            "steps_per_second": round(record.steps / record.seconds, 2) if record.seconds else None,
            "parameters": parameter_counts(model),
            "peak_gpu_memory_bytes": peak_memory_bytes(device),  # None off the GPU
            "final_losses": record.losses,
            "loss_history": record.history,
        }
    save_side_by_side(grids, out / "side_by_side.png", title=f"{data.name}, {settings.budget} each, seed {settings.seed}")
    metrics = {"run": out.name, "models": results}
    write_json(out / "metrics.json", metrics)
    return {"out": str(out), **metrics}
