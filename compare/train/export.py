"""`compare export`: a finished run's trained networks in files other programs read, each beside a JSON model card.

- safetensors: `<model>.safetensors` holds every network of the model (its parts(): generator and discriminator,
  encoder and decoder) as `<part>.<tensor name>`. A file of named tensors and nothing else, so loading it runs no
  code, and read the same by torch, NumPy, JAX or Rust (https://github.com/huggingface/safetensors).
- torchscript: `<model>.torchscript.pt`, the model's `generate(z)` (latents (B, latent_dim) -> images (B, C, H, W)
  in [0, 1]) traced with its sampling network, for models that have `generate` and `config.latent_dim`;
  `torch.jit.load` runs it without this package.
- `<model>.json`, the card: family, config, dataset, budget, seed, status, parameters, every number of every view
  with its 95% interval, the held-out likelihood where there is one, the evaluator (name, weights sha256) and the
  sha256 of the weights file.
The nets only: optimiser and RNG states stay in the run's checkpoints, which resume training.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from compare.errors import UserError
from compare.io import new_directory, write_json
from compare.models import parse_model_specs
from compare.protocol import GenerativeModel
from compare.results import continuity_readings, likelihood_readings, quality_readings
from compare.train.checkpoint import build_model, load_model

FORMATS = ("safetensors", "torchscript")
CARD_FORMAT = "gan-vae-compare model card 1"
SUFFIXES = {"safetensors": ".safetensors", "torchscript": ".torchscript.pt"}


def network_tensors(model: GenerativeModel) -> dict[str, Tensor]:
    """Every network's state as `<part>.<name>` -> tensor (CPU, contiguous, as safetensors stores them)."""
    return {f"{part}.{name}": t.detach().cpu().contiguous() for part, net in model.parts().items()
            for name, t in net.state_dict().items()}


def load_network_tensors(model: GenerativeModel, tensors: dict[str, Tensor]) -> None:
    """network_tensors' inverse: each part takes its own `<part>.` tensors (strict: a missing or extra one
    is an error)."""
    for part, net in model.parts().items():
        net.load_state_dict({k.removeprefix(f"{part}."): v for k, v in tensors.items() if k.startswith(f"{part}.")})


class _Generate(nn.Module):
    """The model's generate(z) as a module, with its sampling network registered so that tracing keeps its weights."""

    def __init__(self, model: GenerativeModel, sampler: nn.Module):
        super().__init__()
        self.sampler = sampler
        self.model = model

    def forward(self, z: Tensor) -> Tensor:
        return self.model.generate(z)


def _numbers(readings: dict[str, tuple]) -> dict[str, dict[str, Any]]:
    return {k: {"value": v, "ci95": ci} for k, (v, ci) in readings.items()}


def model_card(label: str, config: dict, metrics: dict) -> dict[str, Any]:
    entry, quality = metrics["models"][label], metrics["quality"]
    return {
        "format": CARD_FORMAT, "model": label, "family": entry.get("family"), "config": config["models"][label],
        "dataset": config["dataset"], "budget": config["budget"], "seed": config["seed"], "status": entry.get("status"),
        "steps": entry.get("steps"), "parameters": entry.get("parameters"),
        "metrics": {view: {"quality": _numbers(quality_readings(quality["views"][view])),
                           "continuity": _numbers(continuity_readings(metrics["continuity"]["views"][view]))}
                    for view in entry["views"]},
        **({"likelihood": _numbers(likelihood_readings(metrics["likelihood"][label]))}
           if label in metrics.get("likelihood", {}) else {}),
        "evaluator": {k: quality["extractor"].get(k) for k in ("name", "weights_sha256", "heldout_accuracy")},
    }


def _write_safetensors(model: GenerativeModel, path: Path) -> None:
    from safetensors.torch import save_file

    save_file(network_tensors(model), str(path))


def _write_torchscript(model: GenerativeModel, label: str, sampler_part: str, path: Path) -> None:
    latent_dim = getattr(model.config, "latent_dim", None)
    if not callable(getattr(model, "generate", None)) or not isinstance(latent_dim, int):
        raise UserError(f"model {label} has no generate(z) and config.latent_dim to trace; export it "
                        "with --format safetensors")
    with warnings.catch_warnings(), torch.no_grad():
        # torch marks TorchScript deprecated; the file still loads with torch.jit.load
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(_Generate(model, model.parts()[sampler_part]), torch.zeros(2, latent_dim))
        torch.jit.save(traced, str(path))


def export_run(run_dir: Path, fmt: str, out: Path, metrics: dict, config: dict, overwrite: bool = False) -> list[Path]:
    """Every model of the finished run in `run_dir` (its metrics.json and config.json already read) to `out` in
    `fmt`, each with its card; returns the files written. `out` appears whole or not at all
    (compare.io.new_directory)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}; choose from: {', '.join(FORMATS)}")
    suffix = SUFFIXES[fmt]
    specs = parse_model_specs(list(config["models"]))
    names = {name for s in specs for name in (s.dirname + suffix, s.dirname + ".json")}
    with new_directory(out, overwrite, ours=names.__contains__) as folder:
        for spec in specs:
            model = load_model(run_dir, spec.label)
            weights = folder / (spec.dirname + suffix)
            if fmt == "safetensors":
                _write_safetensors(model, weights)
            else:
                _write_torchscript(model, spec.label, spec.entry.sampler_part, weights)
            card = model_card(spec.label, config, metrics)
            card["files"] = {"weights": weights.name, "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
                             "format": fmt}
            card["config_class"] = f"{type(model.config).__module__}.{type(model.config).__qualname__}"
            card["model_class"] = f"{type(model).__module__}.{type(model).__qualname__}"
            write_json(folder / f"{spec.dirname}.json", card)
    return sorted(out / name for name in names)


def model_from_export(card: dict, tensors: dict[str, Tensor], device: torch.device | str = "cpu") -> GenerativeModel:
    """A fresh model of the card's family and config with the exported networks loaded: what a user of
    the files does."""
    model = build_model(card["model"], card["config"], device, card["seed"])
    load_network_tensors(model, tensors)
    return model

