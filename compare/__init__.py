"""Compare GANs and VAEs under matched budgets: shared data, budgets, runner and CLI."""

from compare.train.budget import Budget
from compare.data import DATASETS, DataOptions, ImageDataset, load_dataset
from compare.errors import UserError
from compare.models import MODELS, ModelSpec, parse_model_specs
from compare.protocol import GenerativeModel

__all__ = ["Budget", "DATASETS", "DataOptions", "GenerativeModel", "ImageDataset", "MODELS", "ModelSpec", "UserError", "load_dataset", "parse_model_specs"]
