"""Training budgets: a number with a unit, the same for every model in a run.

`3000steps` is 3000 optimisation steps; `500000images` is that many real images consumed;
`20epochs` is 20 passes over the training split. Each resolves to a whole number of steps for a
given batch size and training-set size, rounded up so no model gets less than the budget.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from compare.errors import UserError

UNITS = ("steps", "images", "epochs")
_PATTERN = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Budget:
    amount: float
    unit: str

    @classmethod
    def parse(cls, text: str) -> "Budget":
        match = _PATTERN.match(text)
        if not match or match.group(2).lower() not in UNITS:
            raise UserError(f"malformed budget {text!r}: write a number and a unit ({', '.join(UNITS)}), e.g. 3000steps or 20epochs")
        amount, unit = float(match.group(1)), match.group(2).lower()
        if amount <= 0 or not math.isfinite(amount):
            raise UserError(f"budget must be positive, got {text!r}")
        if unit == "steps" and amount != int(amount):
            raise UserError(f"a steps budget must be a whole number, got {text!r}")
        return cls(amount, unit)

    def steps(self, batch_size: int, train_size: int) -> int:
        """Optimisation steps this budget buys at `batch_size` on a training split of `train_size` images."""
        images = {"steps": self.amount * batch_size, "images": self.amount, "epochs": self.amount * train_size}[self.unit]
        return max(1, math.ceil(images / batch_size - 1e-9))

    def __str__(self) -> str:
        return f"{self.amount:g}{self.unit}"
