"""Sample quality of whole runs and of image sets: features once, every registered metric, the real floor.

Protocol of `compare run` / `compare evaluate` (one extractor for everything, see compare.evaluator):
- The reference "real" set is a fixed, seeded subset of the train split, as large as the sample set
  (capped at the train size): precision/recall and density/coverage assume equal set sizes.
- Each model view is scored with N samples, N = `eval_samples`, by default the held-out size.
- The real-data floor scores the held-out split as if it were a model's samples against a train
  subset of the same size: what a perfect model would get. FID, KID and the k-NN metrics all move
  with N, so the default N makes every model number share its floor's exact protocol (the same
  real subset, the same N); a larger N lowers variance, and the protocol records both Ns.
- The memorisation check compares the samples' nearest-train-image distances with the held-out
  images' (so its floor is exactly 1).
Every metric's numbers are stored with their protocol: extractor, its weights' SHA-256, set sizes, k.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor

from compare.data import HELDOUT_FRACTION, STREAMED_EVAL_CAP, ImageDataset, in_memory, load_dataset
from compare.sources import StreamedImages
from compare.errors import UserError
from compare.evaluator import Extractor, load_extractor
from compare.guard import RunLock, write_errors
from compare.io import read_run_json, write_bytes, write_json
from compare.metrics import METRICS, Metric
from compare.quality import Features

REAL_SUBSET_SEED = 0  # which train images form the reference set: fixed, so every run compares against the same ones
FLOOR = "real floor"
ARROWS = {"lower": "↓", "higher": "↑"}


def feature_metrics() -> dict[str, Metric]:
    return {name: m for name, m in METRICS.items() if m.space == "features"}


def evaluated_count(images: Tensor | StreamedImages) -> int:
    """Images of a split the evaluation uses: all, or a streamed split's first STREAMED_EVAL_CAP (see data.in_memory)."""
    return min(len(images), STREAMED_EVAL_CAP) if isinstance(images, StreamedImages) else len(images)


def heldout_evaluated(data: ImageDataset) -> int:
    return evaluated_count(data.heldout)


def images_for_heldout(n_heldout: int) -> int:
    """The fewest images a dataset needs for `n_heldout` held-out images under compare.data's split."""
    return next(n for n in range(n_heldout, 100 * n_heldout) if max(1, round(n * HELDOUT_FRACTION)) >= n_heldout)


def eval_sample_count(eval_samples: int | None, data: ImageDataset) -> int:
    """N samples per view: as asked, else the held-out size (the floor's N).

    Fewer than MIN_SET_SIZE held-out images leave the real-data floor (and the default N) without a
    spread: every number would be null, so that is refused up front, whatever N was asked for."""
    n_heldout = heldout_evaluated(data)
    if n_heldout < MIN_SET_SIZE:
        raise UserError(f"{data.name} has {n_heldout} held-out image(s), and the quality metrics need at least {MIN_SET_SIZE}; "
                        f"give a dataset of at least {images_for_heldout(MIN_SET_SIZE)} images")
    if eval_samples is None:
        return n_heldout
    if eval_samples < MIN_SET_SIZE:
        raise UserError(f"--eval-samples must be at least {MIN_SET_SIZE} (FID and KID need a spread), got {eval_samples}")
    # The samples are compared with as many train images: there are no more to compare with.
    n_train = evaluated_count(data.train)
    if eval_samples > n_train:
        raise UserError(f"--eval-samples {eval_samples} is more than the {n_train} training images the samples are compared "
                        f"with; use at most {n_train} (the default, {heldout_evaluated(data)}, shares N with the real-data floor)")
    return eval_samples


def score_features(sets: dict[str, Features], extractor_info: dict) -> dict[str, dict]:
    """Every features metric on the named sets: {metric: {"values": {...}, "protocol": {...}}}; NaN -> null."""
    scores = {}
    for name, metric in feature_metrics().items():
        values = metric.fn(*(sets[i] for i in metric.inputs), **metric.params)
        protocol = {"extractor": extractor_info["name"], "weights_sha256": extractor_info["weights_sha256"],
                    **{f"n_{i}": len(sets[i]) for i in metric.inputs}, **metric.params}
        scores[name] = {"values": {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in values.items()}, "protocol": protocol}
    return scores


def reference_order(n_train: int) -> Tensor:
    """The train images in reference order: the first N of it are every N-sample comparison's real set."""
    return torch.randperm(n_train, generator=torch.Generator().manual_seed(REAL_SUBSET_SEED))


def evaluate_views(views: dict[str, Tensor], data: ImageDataset, extractor: Extractor) -> dict:
    """Score every sample view (label -> (N, C, H, W) images) against the train split, plus the real floor."""
    train = extractor.extract(in_memory(data.train), "train images")
    heldout = extractor.extract(in_memory(data.heldout), "held-out images")
    order = reference_order(len(train))
    common = {"train": train, "heldout": heldout}
    floor = score_features({"real": train.subset(order[:len(heldout)]), "fake": heldout, **common}, extractor.info)
    scores = {}
    for view, images in views.items():
        fake = extractor.extract(images, f"samples of {view}")
        scores[view] = score_features({"real": train.subset(order[:min(len(fake), len(train))]), "fake": fake, **common}, extractor.info)
    return {"extractor": extractor.info, "floor": floor, "views": scores}


def flat_values(scores: dict[str, dict]) -> dict[str, float | None]:
    """{metric: {"values": {...}}} -> one dict of every number, e.g. {"fid": .., "precision": .., ...}."""
    return {k: v for entry in scores.values() for k, v in entry["values"].items()}


def attach_first_view(models: dict[str, dict], specs, key: str, per_view: dict[str, dict]) -> None:
    """Give each model's metrics entry, under `key`, its first view's numbers (vae: vae-mean), so that a
    number such as "fid" or "isolated_rate" is found by name in the entry (as sweeps look it up);
    every view stays in the run's own section."""
    for spec in specs:
        if spec.label in models:
            models[spec.label][key] = per_view[next(iter(spec.views()))]


def attach_model_quality(models: dict[str, dict], specs, quality: dict) -> None:
    attach_first_view(models, specs, "quality", {view: flat_values(scores) for view, scores in quality["views"].items()})


MIN_SET_SIZE = 2  # FID needs a covariance and KID pairs of images: one image gives neither


def check_comparable(a: Tensor, b: Tensor, names: tuple[str, str] = ("A", "B")) -> None:
    """Two sets can be scored against each other: at least MIN_SET_SIZE images each, all of one size and channel
    count. Their numbers of images may differ, as in pytorch-fid."""
    for name, images in zip(names, (a, b)):
        if len(images) < MIN_SET_SIZE:
            raise UserError(f"{name} holds {len(images)} image(s); give at least {MIN_SET_SIZE} images per set (FID and KID need a spread)")
    if a.shape[1:] != b.shape[1:]:
        (ca, ha, wa), (cb, hb, wb) = a.shape[1:], b.shape[1:]
        raise UserError(f"{names[0]} holds {ca}x{ha}x{wa} (CxHxW) images but {names[1]} holds {cb}x{hb}x{wb}; "
                        "give two sets of the same size and channels")


def score_sets(real: Tensor, fake: Tensor, data: ImageDataset, extractor: Extractor) -> dict:
    """Score `fake` against the reference `real` (both (N, C, H, W) in [0, 1]); memorisation uses `data`'s train split."""
    check_comparable(real, fake)
    real_f, fake_f = extractor.extract(real, "A's images"), extractor.extract(fake, "B's images")
    train = extractor.extract(in_memory(data.train), "train images")
    return {"extractor": extractor.info, "metrics": score_features({"real": real_f, "fake": fake_f, "train": train, "heldout": real_f}, extractor.info)}


def _fmt(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, int):
        return str(v)
    return f"{v:.4g}"


def metrics_table(columns: dict[str, dict[str, dict]]) -> str:
    """Markdown table, one row per returned number, one column per scored set ({label: {metric: {"values": ...}}})."""
    first = next(iter(columns.values()))
    lines = [f"| metric | | {' | '.join(columns)} |", f"|---|---|{'---:|' * len(columns)}"]
    for name, entry in first.items():
        better = METRICS[name].better if name in METRICS else {}
        for key in entry["values"]:
            cells = " | ".join(_fmt(col.get(name, {}).get("values", {}).get(key)) for col in columns.values())
            lines.append(f"| {key} | {ARROWS.get(better.get(key), '')} | {cells} |")
    return "\n".join(lines)


def _extractor_line(info: dict) -> str:
    if info.get("heldout_accuracy") is not None:
        accuracy = f", held-out accuracy {info['heldout_accuracy']:.2%}"
    elif "heldout_reconstruction_bce_per_pixel" in info:  # unlabelled data: an autoencoder, no classes
        accuracy = f", autoencoder for unlabelled data: held-out BCE {info['heldout_reconstruction_bce_per_pixel']:.4f}/pixel; class metrics n/a"
    else:
        accuracy = ""
    return f"Features: {info['name']} (weights sha256 {info['weights_sha256'][:12]}{accuracy})."


def quality_report(quality: dict) -> str:
    """The metrics table of a run (floor beside every view) with the protocol in words above it."""
    views = quality["views"]
    any_view = next(iter(views.values()), quality["floor"])
    n_fake, n_real = any_view["fid"]["protocol"]["n_fake"], any_view["fid"]["protocol"]["n_real"]
    n_floor = quality["floor"]["fid"]["protocol"]["n_fake"]
    return "\n".join([
        _extractor_line(quality["extractor"]),
        f"Each view: {n_fake} samples vs {n_real} train images (k-NN: precision/recall k=3, density/coverage k=5). "
        f"{FLOOR}: {n_floor} held-out vs {n_floor} train images.",
        "",
        metrics_table({FLOOR: quality["floor"], **views}),
    ])


def score_report(result: dict, label: str = "B vs A") -> str:
    protocol = result["metrics"]["fid"]["protocol"]
    return "\n".join([_extractor_line(result["extractor"]), f"A: {protocol['n_real']} reference images, B: {protocol['n_fake']} images judged.",
                      "", metrics_table({label: result["metrics"]})])


def write_quality_table(out: Path, quality: dict) -> None:
    write_bytes(Path(out) / "metrics.md", f"# Sample quality\n\n{quality_report(quality)}\n".encode())


def evaluate_run(run_dir: Path, eval_samples: int | None = None, features: str | None = None, device: str = "auto",
                 on_train: Callable[[str], None] | None = None) -> dict:
    """Re-evaluate a finished run from its saved weights, with the same sampling noise as the run itself.

    Writes the new "quality" block into metrics.json (an earlier, different one moves to
    "quality_history": nothing is lost) and metrics.md; returns the block.
    """
    run_dir = Path(run_dir)
    config = read_run_json(run_dir, "config.json")
    # The run's lock, as `compare run` takes it: never score a checkpoint a resume is still writing.
    with write_errors(run_dir), RunLock(run_dir):
        return _evaluate_locked(run_dir, config, eval_samples, features, device, on_train)


def _evaluate_locked(run_dir: Path, config: dict, eval_samples: int | None, features: str | None, device: str,
                     on_train: Callable[[str], None] | None) -> dict:
    from compare.checkpoint import data_options_from_json, load_checkpoint
    from compare.models import parse_model_specs
    from compare.runner import resolve_device, sample_views, samples_per_view  # deferred: the runner imports this module

    metrics = read_run_json(run_dir, "metrics.json")  # checked before the work, rewritten after it
    evaluation = config.get("evaluation", {})
    options = config.get("settings", {}).get("data_options")
    data = load_dataset(config["dataset"]["name"], "cpu", data_options_from_json(options) if options else None)
    dev = resolve_device(device)
    extractor = load_extractor(features or evaluation.get("features", "evaluator"), data, dev, on_train)
    n = eval_sample_count(eval_samples if eval_samples is not None else evaluation.get("eval_samples"), data)
    views: dict[str, Tensor] = {}
    specs = [parse_model_specs([label])[0] for label in config["models"]]
    for spec in specs:
        path = run_dir / spec.dirname / "ckpt.pt"
        if not path.exists():
            raise UserError(f"{path} is missing: the run did not finish training {spec.label}")
        ckpt = load_checkpoint(path)  # weights only: a tampered file is refused in one line
        model = spec.entry.model_cls(spec.entry.config_cls(**ckpt["config"]), device=dev, seed=config["seed"])
        model.load_state_dict(ckpt["state"])
        # the run's own draw (see runner.samples_per_view), so the same settings give the same numbers
        draw = sample_views(spec, model, samples_per_view(n, heldout_evaluated(data)), config["seed"])
        views.update({view: images[:n] for view, images in draw.items()})
    quality = evaluate_views(views, data, extractor)

    previous = metrics.get("quality")
    if previous is not None and previous != json.loads(json.dumps(quality)):
        metrics.setdefault("quality_history", []).append(previous)
    metrics["quality"] = quality
    attach_model_quality(metrics.get("models", {}), specs, quality)
    write_json(run_dir / "metrics.json", metrics)
    write_quality_table(run_dir, quality)
    return quality
