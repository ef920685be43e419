"""The layout of every JSON file the toolkit reads back, as far as its readers rely on it.

compare.io.read_json checks a file against its layout once, where it is read, so that valid JSON of
the wrong shape (a hand edit, another program's file) is one line naming the file and the field,
never a TypeError deep inside the report. A layout is a small schema:

    a type or tuple of types   isinstance (a bool is not a number)
    {"key": schema, ...}       an object with these keys (extra keys allowed); "*" checks every value
    Opt(schema)                as a value in an object: the key may be absent
    Each(schema)               an object whose every value matches
    List(schema)               a list whose every item matches
    AnyOf(schema, ...)         the first that matches
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Number = (int, float)


@dataclass(frozen=True)
class Opt:
    schema: Any


@dataclass(frozen=True)
class Each:
    schema: Any


@dataclass(frozen=True)
class List:
    schema: Any


class AnyOf:
    def __init__(self, *schemas: Any):
        self.schemas = schemas


def Maybe(schema: Any) -> AnyOf:
    return AnyOf(type(None), schema)


NAMES = {dict: "an object", list: "a list", str: "a string", int: "an integer", Number: "a number", type(None): "null",
         object: "anything"}


def _describe(schema: Any) -> str:
    if isinstance(schema, AnyOf):
        return " or ".join(_describe(s) for s in schema.schemas)
    if isinstance(schema, (dict, Each)):
        return "an object"
    if isinstance(schema, List):
        return "a list"
    return NAMES.get(schema, getattr(schema, "__name__", str(schema)))


def first_mismatch(value: Any, schema: Any, where: str = "") -> str | None:
    """Where `value` first departs from `schema` ("field quality.extractor.weights_sha256 is 12345, expected
    a string"), or None when it matches."""
    if isinstance(schema, AnyOf):
        if any(first_mismatch(value, s, where) is None for s in schema.schemas):
            return None
        return _wrong(value, schema, where)
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return _wrong(value, schema, where)
        for key, sub in schema.items():
            if key == "*":
                continue
            optional = isinstance(sub, Opt)
            if key not in value:
                if optional:
                    continue
                return f"field {_join(where, key)} is missing"
            if (found := first_mismatch(value[key], sub.schema if optional else sub, _join(where, key))) is not None:
                return found
        if "*" in schema:
            return _each(value, schema["*"], where)
        return None
    if isinstance(schema, Each):
        return _each(value, schema.schema, where) if isinstance(value, dict) else _wrong(value, schema, where)
    if isinstance(schema, List):
        if not isinstance(value, list):
            return _wrong(value, schema, where)
        for i, item in enumerate(value):
            if (found := first_mismatch(item, schema.schema, f"{where}[{i}]")) is not None:
                return found
        return None
    numeric = schema in (int, float, Number)
    if not isinstance(value, schema) or (numeric and isinstance(value, bool)):
        return _wrong(value, schema, where)
    return None


def _each(value: dict, schema: Any, where: str) -> str | None:
    for key, item in value.items():
        if (found := first_mismatch(item, schema, _join(where, key))) is not None:
            return found
    return None


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else str(key)


def _wrong(value: Any, schema: Any, where: str) -> str:
    shown = repr(value) if len(repr(value)) <= 40 else f"{type(value).__name__} {repr(value)[:30]}..."
    return f"{'field ' + where if where else 'the whole file'} is {shown}, expected {_describe(schema)}"


INTERVALS = Opt(Each(Maybe({"ci95": List(Number)})))  # bootstrap intervals per key (compare.stats.interval)
SCORES = {"values": dict, "protocol": dict, "intervals": INTERVALS}
FID_SCORES = {"values": dict, "protocol": {"n_real": int, "n_fake": int}, "intervals": INTERVALS}
QUALITY = {"extractor": {"name": str, "weights_sha256": str, "heldout_accuracy": Opt(Maybe(Number))},
           "floor": {"fid": FID_SCORES, "*": SCORES},
           "views": Each({"fid": FID_SCORES, "*": SCORES})}
SIZE = {"parameters": {"total": int, "*": Number}, "fp32_mb": {"total": Number}, "flops_per_image": object,
        "train_flops_per_step": object, "sampling_images_per_second": object, "training_images_per_second": object,
        "peak_memory_mb": object, "peak_memory_kind": object}
MODEL_ENTRY = {"views": Opt(List(str)), "final_losses": Opt(Each(Maybe(Number))), "size": Opt(Maybe(SIZE)),
               "parameters": Opt({"total": int, "*": Number}), "status": Opt(str), "grad_norms": Opt(List(dict)),
               "curve": Opt(List(dict)),
               "early": Opt({"steps": int, "mean": Each(Maybe(Number)), "points": List(dict)})}
CONTINUITY = {"real": dict, "views": Each(dict), "ratios": Each(dict)}

LAYOUTS: dict[str, Any] = {
    "config.json": {"models": Each(dict), "dataset": {"name": str, "image_shape": Opt(List(int))}, "seed": int,
                    "evaluation": Opt({"features": Opt(str), "eval_samples": Opt(Maybe(int))}),
                    "settings": Opt({"data_options": Opt(Maybe(dict))}), "budget": Opt(dict), "device": Opt(dict),
                    "versions": Opt(dict), "resumed": Opt(list)},
    "metrics.json": {"models": Each(MODEL_ENTRY), "quality": Opt(QUALITY), "continuity": Opt(CONTINUITY),
                     "quality_history": Opt(list), "likelihood": Opt(Each(dict))},
    "sweep.json": {"settings": dict,
                   "claim_b": {"claim": str, "verdict": str, "rule": str, "notes": List(str), "targets": List(dict)},
                   "plots": Opt(List(str))},
    "seeds.json": {"seeds": List(int), "interval": str, "models": Each(Each(Maybe(dict))),
                   "differences": Each(Each(Maybe(dict))), "views": Each(Each(Maybe(dict))),
                   "view_differences": Each(Each(Maybe(dict)))},
    "study.json": {"settings": {"budget": str, "dataset": str, "seeds": List(int), "widths": List(Number), "arch": str,
                                "tune": int, "device": str, "batch_size": int, "optimizer": str,
                                "claim3_optimizers": List(str), "mechanisms": bool},
                   "sessions": Opt(List({"seconds": Number})), "tuning": Opt(Maybe(dict))},
    "studies.json": {"archs": List(str),
                     "settings": {"budget": str, "dataset": str, "seeds": List(int), "widths": List(Number),
                                  "tune": int, "device": str, "batch_size": int}},
    "trial": {"id": str, "status": str, "metrics": Opt(Each(MODEL_ENTRY))},
}
