"""The one interface the runner, evaluator and report see every model family through, the check that a
class satisfies it before it is registered (compare.models.register_model), and how code from outside the
toolkit comes in.

Outside code is a user's model or dataset named `PKG.MODULE:NAME`, announced by an installed package's entry
point, or registered from Python. compare.models and compare.data own their registries and call `find` to fill
them; each registration of outside code is also noted here (`note`), so that an executor can hand the list to
its workers (`registered`), which import the same code and register it again before a trial (`restore`).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Protocol, TypeVar, runtime_checkable

import torch
from torch import Tensor, nn

from compare.errors import UserError


@runtime_checkable
class GenerativeModel(Protocol):
    """Satisfied structurally by gan.GAN and vae.VAE; neither package imports this.

    `train_step` returns 0-d tensors rather than floats so that a GPU step never waits for the
    host: the runner converts them only when it logs.
    """

    config: Any
    device: torch.device

    def train_step(self, batch: Tensor) -> Mapping[str, Tensor]: ...

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor: ...

    def parts(self) -> dict[str, nn.Module]: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


KINDS = ("gan", "vae")  # the families the claims judge; a model of another kind is compared but judged by no claim
REQUIRED_METHODS = ("train_step", "sample", "parts", "state_dict", "load_state_dict")
REQUIRED_CONFIG_FIELDS = ("image_shape", "width")


def check_model_class(cls: Any, name: str) -> None:
    """UserError (one line, naming what is missing) unless `cls` can be registered as a model: a class with
    `kind`, a dataclass `config_class` with image_shape and width, `__init__(config, device, seed)` and the
    GenerativeModel methods. The optional capabilities (sample modes, generate + latent_dim, reconstruct,
    elbo / iwae_nll, a `hidden` field for --match-params) are looked for where they are used."""
    where = f"model {name!r}"
    if not inspect.isclass(cls):
        raise UserError(f"{where} is a {type(cls).__name__}, not a class; name the model's class (MODULE:CLASS)")
    kind = getattr(cls, "kind", None)
    if not isinstance(kind, str) or not kind.isidentifier():
        raise UserError(f"{where} ({cls.__qualname__}) needs a class attribute kind = \"gan\" or \"vae\" "
                        "(how the claims count it)" + ("" if kind is None else f", not {kind!r}"))
    if kind.lower() in KINDS and kind not in KINDS:  # a near miss would silently leave the model out of every claim
        raise UserError(f"{where} ({cls.__qualname__}) has kind {kind!r}; write it in lower case: {kind.lower()!r}")
    config = getattr(cls, "config_class", None)
    if not dataclasses.is_dataclass(config) or not isinstance(config, type):
        raise UserError(f"{where} ({cls.__qualname__}) needs config_class: a dataclass with "
                        "fields image_shape and width")
    fields = {f.name for f in dataclasses.fields(config)}
    if missing := [f for f in REQUIRED_CONFIG_FIELDS if f not in fields]:
        raise UserError(f"{where}: its config_class {config.__qualname__} has no field {' or '.join(missing)}; "
                        "add image_shape (C, H, W) and width (a multiplier on its hidden sizes)")
    if missing := [m for m in REQUIRED_METHODS if not callable(getattr(cls, m, None))]:
        raise UserError(f"{where} ({cls.__qualname__}) lacks the method{'s' * (len(missing) > 1)} "
                        f"{', '.join(missing)}; see 'Bring your own model' in docs/reference.md")
    try:
        inspect.signature(cls).bind(object(), device="cpu", seed=0)
    except TypeError:
        raise UserError(f"{where} ({cls.__qualname__}) must be constructible as "
                        f"{cls.__qualname__}(config, device=..., seed=...)") from None
    except ValueError:  # a signature inspect cannot read (a C extension class): its first call will say
        pass

# Installed packages announce their models and datasets under these entry-point groups (pyproject.toml:
# [project.entry-points."gan_vae_compare.models"] mine = "mypkg.models:MyVAE").
MODEL_GROUP = "gan_vae_compare.models"
DATASET_GROUP = "gan_vae_compare.datasets"

# (registrar, name, source) of every registration of outside code in this process, in order: the registrar
# is the register function as "module:name", the source the registered object as "module:qualname".
Plugin = tuple[str, str, str]
T = TypeVar("T")
_registered: dict[tuple[str, str], str] = {}


def is_import_path(name: str) -> bool:
    """`pkg.module:Name` (a dotted module before the colon) names outside code; `gan:minimax` or
    `folder:PATH` does not."""
    module, colon, attr = name.partition(":")
    return bool(colon and attr and "." in module)


def import_object(path: str, what: str) -> Any:
    """The object `module:qualname` names; a one-line UserError saying what to fix when it cannot be had."""
    module_name, _, qualname = path.partition(":")
    if not module_name or not qualname:
        raise UserError(f"{what} {path!r} is not MODULE:NAME (e.g. mypkg.models:MyVAE)")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        missing = e.name or module_name
        raise UserError(f"{what} {path!r}: no module named {missing!r}; put the folder that holds it on PYTHONPATH "
                        "(or run from that folder), or pip install its package") from None
    except Exception as e:  # the user's module itself fails to import: its error is theirs to read, in one line
        raise UserError(f"{what} {path!r}: importing {module_name} failed: {type(e).__name__}: {e}") from None
    obj: Any = module
    for part in qualname.split("."):
        if not hasattr(obj, part):
            own = sorted(n for n, v in vars(module).items()
                         if not n.startswith("_") and getattr(v, "__module__", None) == module_name)
            raise UserError(f"{what} {path!r}: module {module_name} has no {qualname!r}; it defines: "
                            f"{', '.join(own) or 'no classes or functions'}")
        obj = getattr(obj, part)
    return obj


def source_of(obj: Any) -> str:
    """Where a worker finds `obj` again: "module:qualname"."""
    return f"{obj.__module__}:{obj.__qualname__}"


def describe(obj: Any) -> str:
    """A registered object's line in `compare models` / `compare datasets`: its docstring's first line, else
    where it is from."""
    return (obj.__doc__ or "").strip().partition("\n")[0] or source_of(obj)


@functools.lru_cache(maxsize=None)  # the installed packages do not change while a command runs; the scan costs ms
def announced(group: str) -> dict[str, str]:
    """{name: "module:attr"} of what installed packages announce under an entry-point group."""
    return {ep.name: ep.value for ep in entry_points(group=group)}


def find(name: str, registry: Mapping[str, T], register: Callable[[str, Any], T], group: str, what: str) -> T | None:
    """A registry's entry for `name`: registered already, or `PKG.MODULE:NAME` or a name an installed package announces
    under `group`, imported and registered now; None for a name nothing knows. Outside code that fails
    is a UserError."""
    if name in registry:
        return registry[name]
    if is_import_path(name):
        return register(name, import_object(name, what))
    if source := announced(group).get(name):
        return register(name, import_object(source, f"{what} {name!r} (entry point {group})"))
    return None


def note(registrar: str, name: str, obj: Any) -> None:
    """Record that `registrar` registered `obj` under `name`, for the workers (`registered`)."""
    _registered[(registrar, name)] = source_of(obj)


def registered() -> tuple[Plugin, ...]:
    return tuple((registrar, name, source) for (registrar, name), source in _registered.items())


def restore(plugins: Iterable[Plugin]) -> None:
    """In a worker: import each plugin's code and register it again (a no-op where it already is: a forked
    worker, or the trial runs in the launching process)."""
    for registrar, name, source in plugins:
        if _registered.get((registrar, name)) != source:
            import_object(registrar, "registry")(name, import_object(source, "plugin"))


def ship_paths(plugins: Iterable[Plugin]) -> tuple[list[str], list[str]]:
    """(package folders, single-file modules) that hold the plugins' code, for a Ray worker that cannot
    import them from this machine's disk: the whole top-level package of each source, since its module
    may import its siblings (an installed package ships too: the cluster's nodes need not have it)."""
    folders, files = [], []
    for _, _, source in plugins:
        top = source.partition(":")[0].split(".")[0]
        module = sys.modules.get(top) or importlib.import_module(top)
        if getattr(module, "__path__", None) is not None:  # a package, regular or namespace
            path = str(Path(list(module.__path__)[0]).resolve())
            if path not in folders:
                folders.append(path)
        elif getattr(module, "__file__", None):
            path = str(Path(module.__file__).resolve())
            if path not in files:
                files.append(path)
    return folders, files
