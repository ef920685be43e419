"""`compare calibrate`: the toolkit's known-answer controls, run end to end.

Each control plants an answer known in advance (a difference that must be found, or none that must
not be invented) or redraws sets to measure how often an interval covers its named target, and
records what the toolkit said as a ControlResult. compare.calibrate.controls runs the claim controls
(trained models), compare.calibrate.coverage the interval coverage simulations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ControlResult:
    """One known-answer control: what was planted, the answer expected, what the toolkit gave, and how often."""

    control: str  # what was planted, in words ("same GAN at lr 5e-4 vs 5e-5 in the two roles")
    expected: str  # the known answer ("supported", "not decided", "95% +- 4%")
    got: str  # what the toolkit said ("supported", "96.0%")
    counts: str  # out of how many ("3 seeds", "188 of 200 redraws")
    passed: bool
    details: dict[str, Any] = field(default_factory=dict)  # numbers behind it, for calibration.json

    def to_json(self) -> dict[str, Any]:
        return {"control": self.control, "expected": self.expected, "got": self.got, "counts": self.counts,
                "passed": self.passed, "details": self.details}
