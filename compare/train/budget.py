"""Training budgets: a number with a unit, the same for every model in a run.

`3000steps` is 3000 optimisation steps; `500000images` is that many real images consumed;
`20epochs` is 20 passes over the training split; `90s` is 90 seconds of training (evaluation
excluded); `2e13flops` is that many training FLOPs (forward, backward and optimiser of every
network the model trains, counted once per configuration by compare.train.cost). All but seconds
resolve to a whole number of steps before training, rounded up so no model gets less than
the budget; a seconds budget stops at the first step that reaches it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from compare.errors import UserError, did_you_mean

UNITS = ("steps", "images", "epochs", "s", "flops")
DEFAULT_BUDGET = "4000steps"  # of `compare run`, sweep, study and compare.run
_NUMBER = re.compile(r"^\s*[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?\s*$", re.IGNORECASE)
_PATTERN = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Budget:
    amount: float
    unit: str

    @classmethod
    def parse(cls, text: str) -> "Budget":
        match = _PATTERN.match(text)
        if _NUMBER.match(text):  # `--budget 4000`: the unit left out (or split off: `--budget 4000 steps`)
            raise UserError(f"budget {text!r} has no unit: did you mean {text.strip()}steps? (units: {', '.join(UNITS)}, "
                            "written without a space)")
        if match and match.group(2).lower() not in UNITS:
            raise UserError(f"malformed budget {text!r}: unknown unit {match.group(2)!r}{did_you_mean(match.group(2), UNITS)}; "
                            f"units: {', '.join(UNITS)}, e.g. 3000steps")
        if not match:
            raise UserError(f"malformed budget {text!r}: write a number and a unit ({', '.join(UNITS)}), "
                            "e.g. 3000steps, 20epochs, 90s or 2e13flops")
        amount, unit = float(match.group(1)), match.group(2).lower()
        if amount <= 0 or not math.isfinite(amount):
            raise UserError(f"budget must be positive, got {text!r}")
        if unit == "steps" and amount != int(amount):
            raise UserError(f"a steps budget must be a whole number, got {text!r}")
        return cls(amount, unit)

    @property
    def seconds(self) -> float | None:
        """The wall-clock limit of a seconds budget; None for every other unit."""
        return self.amount if self.unit == "s" else None

    def steps(self, batch_size: int, train_size: int, flops_per_step: int) -> int | None:
        """Optimisation steps this budget buys (None for a seconds budget: known only when it runs out)."""
        if self.unit == "s":
            return None
        per_step = {"steps": 1, "images": batch_size, "epochs": batch_size / train_size, "flops": flops_per_step}[self.unit]
        return max(1, math.ceil(self.amount / per_step - 1e-9))

    def __str__(self) -> str:
        return f"{self.amount:g}{self.unit}"


def consumed(steps: int, batch_size: int, train_size: int, seconds: float, flops_per_step: int) -> dict[str, float]:
    """What `steps` training steps consumed, in every budget unit."""
    images = steps * batch_size
    return {"steps": steps, "images": images, "epochs": images / train_size, "s": seconds, "flops": steps * flops_per_step}


def check_matched(budget: Budget, used: dict[str, dict[str, float]]) -> None:
    """Refuse a comparison whose models consumed the budget's unit differently by more than one step's worth.

    A seconds budget stops each model at the first step that ends past it, so how far past depends on
    that one step's length, which the machine's load sets (a loaded CPU stalls a step for several
    average ones): there only a model that stopped short of the budget is unmatched."""
    amounts = {label: u[budget.unit] for label, u in used.items()}
    if budget.unit == "s":
        if short := {label: a for label, a in amounts.items() if a < budget.amount}:
            detail = ", ".join(f"{label} {a:g}" for label, a in short.items())
            raise UserError(f"models stopped short of the {budget} budget ({detail} s); the comparison is not matched")
        return
    if len(used) < 2:
        return
    one_step = max(u[budget.unit] / u["steps"] for u in used.values() if u["steps"])
    spread = max(amounts.values()) - min(amounts.values())
    if spread > one_step * (1 + 1e-9):
        detail = ", ".join(f"{label} {amount:g}" for label, amount in amounts.items())
        raise UserError(f"models consumed different budgets ({budget.unit}: {detail}); the comparison is not matched")
