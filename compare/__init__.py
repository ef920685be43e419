"""Compare GANs and VAEs under matched budgets: shared data, budgets, runner and CLI.

The names below load on first use (PEP 562), so `import compare.cli` does not pay for torch before
the command line can catch a Ctrl-C during start-up."""

import importlib

_EXPORTS = {"Budget": "compare.settings", "DATASETS": "compare.data", "DataOptions": "compare.data",
            "ImageDataset": "compare.data", "load_dataset": "compare.data", "UserError": "compare.errors",
            "MODELS": "compare.models", "ModelSpec": "compare.models", "parse_model_specs": "compare.models",
            "GenerativeModel": "compare.protocol", "RunSettings": "compare.settings",
            "SweepSettings": "compare.experiments.sweep", "StudySettings": "compare.experiments.study",
            "register_model": "compare.models", "register_dataset": "compare.data",
            # the public Python API (compare.api)
            **{name: "compare.api" for name in ("run", "sweep", "study", "score", "load_model", "judge_claims",
                                                "draw_samples", "export", "RunResult", "ModelResult", "ViewResult",
                                                "Numbers", "Value", "Scores", "SweepResult", "StudyResult")}}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name == "api":  # `compare.api.run` after a plain `import compare`
        return importlib.import_module("compare.api")
    raise AttributeError(f"module 'compare' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, "api"})
