"""The typed inputs and results of compare.claims.rules (which re-exports them: import them from there).

Inputs: a Series is one model or view measured on several seeds, seed -> Points (steps, {metric key: value});
Claim1Input / Claim3Input group the series a claim compares; SizeSweep / WidthResult are a capacity sweep.
Results: a Verdict carries Numbers (a reading with its 95% interval over seeds), notes, and for claim 2 one
TargetRow per FID target with each family's Need; BudgetPoint is a verdict at one curve point. Every result
has to_json(), where an infinite interval end is null. Families are the models' kinds (compare.models.kind_of).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from compare.models import kind_of, lookup_view
from compare.metrics.numbers import fmt, times
from compare.stats import METHOD as T_METHOD

# claim 2's reading: log(VAE / GAN parameters), judged on the log scale, shown as the ratio
LOG_RATIO = "log_params_ratio"
LOG_RATIOS = (LOG_RATIO,)
LOG_OF = "log of "  # how such a reading's name starts


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None  # JSON has no infinity: null is an unbounded end


@dataclass(frozen=True)
class Number:
    """One reading: its value, 95% interval (None: none could be made), the seeds behind it, and how."""

    name: str
    mean: float | None
    ci95: tuple[float, float] | None = None
    n: int = 0
    values: tuple[float, ...] = ()  # per seed
    method: str = T_METHOD
    seeds: tuple[int, ...] = ()  # the seeds of `values`, in order
    key: str = ""  # the metric read (LONE_PIXELS, FID, "steps", ...), for tables and figures
    subject: str = ""  # what it is about: a VAE view, a target
    signed: bool = True  # a difference, shown with its sign; False: a mean (a ratio to the real floor, a gradient norm)

    @property
    def label(self) -> str:
        """The reading's name as a person reads it: a log ratio is shown as the ratio itself (value_text)."""
        return self.name.removeprefix(LOG_OF) if self.key in LOG_RATIOS else self.name

    def value_text(self) -> str:
        """"-5.37 [-5.64, -5.08]"; a log ratio as its ratio, "1.90x [1.50x, 2.40x]" (a log is no size a
        reader pictures)."""
        if self.key not in LOG_RATIOS or self.mean is None:
            return fmt(self.mean, self.ci95, signed=self.signed)
        return times(math.exp(self.mean), None if self.ci95 is None else tuple(math.exp(end) for end in self.ci95))

    def text(self) -> str:
        """"VAE means minus GAN, lone pixels per image: -5.37 [-5.64, -5.08] (1 seed)"."""
        text = self.value_text() + ("" if self.ci95 else " (no interval)")
        return f"{self.label}: {text} ({self.n} seed{'' if self.n == 1 else 's'})"

    def to_json(self) -> dict[str, Any]:
        ci = None if self.ci95 is None else [_finite(self.ci95[0]), _finite(self.ci95[1])]
        return {"name": self.name, "mean": _finite(self.mean), "ci95": ci, "n": self.n, "values": list(self.values),
                "seeds": list(self.seeds), "method": self.method, "key": self.key, "subject": self.subject}


@dataclass(frozen=True)
class Need:
    """Parameters a family needs to reach one target: the geometric mean over seeds of each seed's crossing
    (linear in log FID against log parameters between two widths) and its Student t 95% interval."""

    params: float
    ci95: tuple[float, float]

    def to_json(self) -> dict[str, Any]:
        return {"params": self.params, "ci95": [self.ci95[0], self.ci95[1]]}


@dataclass(frozen=True)
class TargetRow:
    """Claim 2 at one FID target: each family's parameters needed, log(VAE/GAN) with its interval, the outcome."""

    target: float
    gan: Need
    vae: Need
    log_ratio: Number
    outcome: str  # VAE than GAN: "more" / "fewer" (decided), "same" (within the margin), "overlap" (not decided)

    def to_json(self) -> dict[str, Any]:
        ci = self.log_ratio.ci95
        return {"target_fid": self.target, "gan": self.gan.to_json(), "vae": self.vae.to_json(),
                "log_ratio": self.log_ratio.to_json(),
                "ratio_ci95": [_finite(math.exp(ci[0])), _finite(math.exp(ci[1]))], "outcome": self.outcome}


@dataclass(frozen=True)
class Verdict:
    """A judged claim: what study.json holds and the report shows (rule beside verdict)."""

    claim: str
    verdict: str
    rule: str
    numbers: tuple[Number, ...] = ()
    n: int = 0  # seeds
    notes: tuple[str, ...] = ()
    how: str = ""  # for "not measured": the command that measures it
    context: tuple[Number, ...] = ()  # shown beside the verdict, never deciding it (ratios to the real floor, KID, ...)
    targets: tuple[TargetRow, ...] = ()  # claim 2's rows, for the parameters-against-target plot

    def evidence(self) -> list[str]:
        """One line per number, note and context: the report's evidence column."""
        lines = [n.text() for n in self.numbers] + list(self.notes) + [f"context: {c.text()}" for c in self.context]
        return lines + ([f"measure it with: {self.how}"] if self.how else [])

    def to_json(self) -> dict[str, Any]:
        return {"claim": self.claim, "verdict": self.verdict, "rule": self.rule, "n": self.n,
                "numbers": [x.to_json() for x in self.numbers], "notes": list(self.notes), "how": self.how or None,
                "context": [x.to_json() for x in self.context], "targets": [t.to_json() for t in self.targets]}


def family_of(label: str) -> str | None:
    """The family ("gan" / "vae") a model or view label counts in: its model's declared `kind`, never its name, so a
    user's model (mypkg.models:MyVAE) is judged like the built-ins: gan:hinge -> gan, vae-pixels -> vae,
    vae:big-mean -> vae."""
    return kind_of(label)


def view_kind(label: str) -> str:
    """A view's sample mode from its label ("vae-pixels" -> "pixels"); a bare label is its model's first
    mode, its usual output (the VAE's per-pixel means); "" for a model without modes (the GAN, a user's
    VAE whose sample() has no `mode`: its one output)."""
    tail = label.rpartition("-")[2]
    entry = lookup_view(label)
    modes = entry.sample_modes if entry else ()
    return tail if tail in modes else (modes[0] if modes else "")


# a VAE view's sample mode in words
MODE_WORDS = {"mean": "means", "pixels": "pixel draws", "gmm": "means from a fitted mixture"}


def in_words(label: str) -> str:
    """A model or view label as the evidence names it: "gan" -> "GAN", "vae-mean" (or "vae", whose usual output is its
    means) -> "VAE means", "vae-pixels" -> "VAE pixel draws"; a variant keeps its label: "vae:big-pixels" -> "vae:big
    pixel draws"."""
    family, kind = family_of(label), view_kind(label)
    if family is None:
        return label
    base = label.removesuffix(f"-{kind}")
    return " ".join(filter(None, (family.upper() if base == family else base, MODE_WORDS.get(kind, kind))))


def prior_view(label: str) -> bool:
    """A view drawn from a prior fitted after training (vae-gmm): claim 2's mechanism, left out of claim 1, whose
    readings are about how pixels are drawn given z (compare.models.ModelEntry.prior_modes)."""
    entry = lookup_view(label)
    return entry is not None and label.rpartition("-")[2] in entry.prior_modes


@dataclass(frozen=True)
class Point:
    """One evaluation of one model/view on one seed: after `steps`, {metric key: value}; optional
    per-image bootstrap intervals {key: (low, high)}: which images were drawn, shown, never deciding."""

    steps: int
    values: Mapping[str, float | None]
    ci95: Mapping[str, tuple[float, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Series:
    """A model or view measured on several seeds: seed -> its Points in step order (the last is the end of
    the budget; a single-budget result is one Point). kind: a VAE view's "mean" or "pixels" ("" derives it)."""

    label: str
    by_seed: Mapping[int, Sequence[Point]]
    kind: str = ""

    @property
    def view(self) -> str:
        return self.kind or view_kind(self.label)

    def at(self, steps: int | None = None) -> dict[int, Point]:
        """seed -> its point at `steps` (None: its last point); seeds without one are left out."""
        out = {}
        for seed, points in self.by_seed.items():
            match = [p for p in points if steps is None or p.steps == steps]
            if match:
                out[seed] = match[-1]
        return out

    def values(self, key: str, steps: int | None = None) -> dict[int, float]:
        return {s: p.values[key] for s, p in self.at(steps).items() if p.values.get(key) is not None}

    def steps(self) -> set[int]:
        """Steps at which every seed has a point."""
        sets = [{p.steps for p in points} for points in self.by_seed.values()]
        return set.intersection(*sets) if sets else set()


@dataclass(frozen=True)
class Claim1Input:
    """The GAN and each VAE view, same seeds and budget, with LONE_PIXELS and SPECKS in their points; optionally
    `real`, the real-data floor (held-out real images) per seed, its last point read whatever the step."""

    gan: Series
    vae_views: tuple[Series, ...]
    real: Series | None = None


@dataclass(frozen=True)
class Claim3Input:
    """Quality curves (FID, KID, CONFIDENCE per point) of the nonsaturating GAN and gan:minimax, per seed.
    fid_threshold is fixed before the results (the study passes THRESHOLD_FLOOR_FACTOR x the real floor FID);
    grad_norms {label: {seed: mean early generator gradient norm}} are context only, as are the saturation readings
    early {label: {seed: metrics.json's `early` of that run}} (D(G(z)) and both losses' derivatives by D's logit)."""

    nonsaturating: Series
    minimax: Series
    budget_steps: int
    fid_threshold: float | None = None
    threshold_note: str = ""
    grad_norms: Mapping[str, Mapping[int, float]] = field(default_factory=dict)
    # what trained both losses: Adam's scale invariance is why the gradient norms are context only
    optimizer: str = "adam"
    early: Mapping[str, Mapping[int, Mapping[str, Any]]] = field(default_factory=dict)


@dataclass(frozen=True)
class BudgetPoint:
    """A verdict at one curve point: after `steps`, `fraction` of the budget."""

    steps: int
    fraction: float
    verdict: Verdict

    def to_json(self) -> dict[str, Any]:
        return {"steps": self.steps, "fraction": self.fraction, **self.verdict.to_json()}


@dataclass(frozen=True)
class WidthResult:
    """One width of a capacity sweep: its parameter count and each seed's FID."""

    width: float
    params: int
    fid_by_seed: Mapping[int, float]


@dataclass(frozen=True)
class SizeSweep:
    """One model (a GAN or a VAE label) at several widths, same budget and seeds."""

    label: str
    widths: tuple[WidthResult, ...]
