"""Flags and helpers the `compare` commands share: the budget default, the help texts, --models, the trial flags."""

from __future__ import annotations

import functools

import click

from compare.errors import UserError
from compare.settings import DEFAULT_BUDGET, MIN_RESAMPLES, UNITS  # noqa: F401 - DEFAULT_BUDGET: the commands take it from here
EVAL_SAMPLES_HELP = ("N, the samples per model view for the quality metrics, also the held-out and train images of the "
                     "real-data floor: between the feature dimension (128 for the evaluator) and the held-out size. "
                     "[default: the held-out size]")
OPTIMIZER_HELP = ("Optimiser of every model: adam, or plain SGD (no momentum); each family's "
                  "default learning rate for it.")
DATASET_HELP = "Dataset name (see `compare datasets`), or your own function returning images as PKG.MODULE:FUNCTION."
RESAMPLES_HELP = (f"Bootstrap resamples behind each quality interval and fid_inf (at least {MIN_RESAMPLES}; fewer: "
                  "faster, noisier interval ends).")
FEATURES_HELP = ("Feature space of the quality metrics: evaluator = a small CNN trained on the dataset's train split "
                 "(cached); inception = torchmetrics' Inception-V3, needs torch-fidelity and its weights.")


def given_by_user(param: str) -> bool:
    """Whether the user gave this parameter (rather than click filling in its default)."""
    source = click.get_current_context().get_parameter_source(param)
    return source not in (None, click.core.ParameterSource.DEFAULT, click.core.ParameterSource.DEFAULT_MAP)


MODELS_HELP = ("Models, as separate words or comma-separated: `--models gan vae`, `--models gan,vae`, `--models gan "
               "gan:minimax`; your own class as PKG.MODULE:CLASS (`--models mypkg.models:MyVAE gan`). See `compare "
               "models`.")


def model_options(help: str = MODELS_HELP):
    """--models for run, sweep and study: separate words, a comma list, or the flag repeated (each adds); the command
    gets `model_words`."""
    def decorate(command):
        @click.option("--models", "models", multiple=True, default=("gan,vae",), metavar="NAME [NAME ...]", help=help)
        @click.argument("more_models", nargs=-1, metavar="")
        @functools.wraps(command)
        def with_models(*args, models: tuple[str, ...], more_models: tuple[str, ...], **kwargs):
            if unit := next((w for w in more_models if w.lower() in UNITS), None):  # `--budget 4000 steps`
                raise UserError(f"{unit!r} is a budget unit, not a model: write the budget without a space, "
                                f"e.g. --budget 4000{unit}")
            if more_models and not given_by_user("models"):  # `compare run gan vae`: the flag forgotten
                raise UserError(f"model names go after --models: --models {' '.join(more_models)}")
            return command(*args, model_words=[*models, *more_models], **kwargs)
        return with_models
    return decorate


def trial_options(command):
    """How and where the trials of sweep and study run; the command calls make_pool() once its own flags are checked."""
    @click.option("--device", default="auto", type=click.Choice(["auto", "cpu", "cuda"]),
                  help="Where each trial trains.")
    @click.option("--batch-size", default=128, type=int, help="Batch size of every trial.")
    @click.option("--executor", default="local",
                  help="Where trials run: local (this machine) or ray (Ray tasks; pip install '.[ray]').")
    @click.option("--jobs", default=1, type=int,
                  help="local: trials at once in separate processes (0: one per core), torch "
                       "threads split between them.")
    @click.option("--address", default=None,
                  help="ray: address of an existing cluster. [default: start a local Ray instance]")
    @click.option("--cpus-per-trial", default=1.0, type=float,
                  help="ray: CPUs each trial asks for (also its torch threads).")
    @click.option("--gpus-per-trial", default=0.0, type=float,
                  help="ray: GPUs each trial asks for (fractions share a GPU).")
    @functools.wraps(command)
    def with_pool(*args, executor: str, jobs: int, address: str | None, cpus_per_trial: float, gpus_per_trial: float,
                  **kwargs):
        from compare.experiments.executors import ExecutorOptions, make_executor
        options = ExecutorOptions(jobs=jobs, address=address, cpus_per_trial=cpus_per_trial,
                                  gpus_per_trial=gpus_per_trial)
        return command(*args, make_pool=lambda: make_executor(executor, options), **kwargs)
    return with_pool


def say(quiet: bool):
    return None if quiet else (lambda message: click.echo(message, err=True))
