"""`Score`: one evaluation of one output, as plain values an asset check records.

A score has a value, the threshold it is held to and which side of it is good (`higher_is_better`:
recall and grounding go up, the similarity of two texts that should differ goes down). A score
with nothing to look at is *skipped*: it has no value, never "passed" on nothing, and says why.

`to_metadata()` gives Dagster-friendly plain values (float, int, str, bool) under stable keys:
the value under the score's own name (`recall_at_5`), so the UI plots it partition by partition,
its threshold under `<name>_threshold`, the status under `<name>_status`, and each detail under
`<name>_<detail>`. Keys stay the same from day to day, whatever the value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

DIGITS = 4  # decimals a score's value and its float details keep

PASSED = "passed"
FAILED = "failed"
SKIPPED = "skipped"


def plain(value: Any) -> float | int | str | bool:
    """`value` as a plain metadata value: numbers stay numbers (floats rounded), a list or tuple
    becomes a comma-separated string, anything else its JSON or its text."""
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return round(value, DIGITS) if math.isfinite(value) else str(value)
    if hasattr(value, "item") and not isinstance(value, list | tuple | dict):  # a numpy scalar
        return plain(value.item())
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return ", ".join(str(plain(item)) for item in items)
    if isinstance(value, Mapping):
        return json.dumps({str(k): plain(v) for k, v in value.items()}, sort_keys=True)
    return str(value)


@dataclass(frozen=True)
class Score:
    """One measured figure of an output. `value` is None when the score was skipped (`reason`
    says why); otherwise `passed` says whether it is on the good side of `threshold`."""

    name: str
    value: float | None
    threshold: float | None
    passed: bool
    details: dict[str, Any] = field(default_factory=dict)
    higher_is_better: bool = True
    reason: str = ""  # why a score was skipped, or which rule failed

    @classmethod
    def measured(
        cls,
        name: str,
        value: float,
        threshold: float | None,
        details: Mapping[str, Any] | None = None,
        higher_is_better: bool = True,
        rules_failed: Iterable[str] = (),
    ) -> Score:
        """A score held to its threshold (`>=` when higher is better, `<=` otherwise; no
        threshold: only the rules decide); any failed rule (e.g. "no citation") fails it too."""
        failed = list(rules_failed)
        if threshold is not None:
            good = value >= threshold if higher_is_better else value <= threshold
            if not good:
                side = "<" if higher_is_better else ">"
                failed.insert(0, f"{name} {value:.3f} {side} {threshold:.3f}")
        return cls(
            name=name,
            value=float(value),
            threshold=None if threshold is None else float(threshold),
            passed=not failed,
            details=dict(details or {}),
            higher_is_better=higher_is_better,
            reason="; ".join(failed),
        )

    @classmethod
    def skipped(cls, name: str, reason: str, details: Mapping[str, Any] | None = None) -> Score:
        """Nothing to measure: no value, not failed, and the reason."""
        return cls(name, None, None, True, dict(details or {}), reason=reason)

    @property
    def is_skipped(self) -> bool:
        return self.value is None

    @property
    def status(self) -> str:
        return SKIPPED if self.is_skipped else PASSED if self.passed else FAILED

    def summary(self) -> str:
        """One line for a check's description: what was measured and how it went."""
        if self.is_skipped:
            return f"{self.name} skipped: {self.reason}"
        text = f"{self.name} {self.value:.3f}"
        if self.threshold is not None:
            side = ">=" if self.higher_is_better else "<="
            text += f" (wanted {side} {self.threshold:.3f})"
        return text + (f": {self.reason}" if self.reason else "")

    def to_metadata(self) -> dict[str, float | int | str | bool]:
        """Plain values under stable keys (see the module docstring); a skipped score has no
        value key, so a plot shows a gap on that day rather than a made-up number."""
        metadata: dict[str, float | int | str | bool] = {}
        if self.value is not None:
            metadata[self.name] = plain(float(self.value))
        if self.threshold is not None:
            metadata[f"{self.name}_threshold"] = plain(float(self.threshold))
        metadata[f"{self.name}_status"] = self.status
        if self.reason:
            metadata[f"{self.name}_reason"] = self.reason
        for key, value in self.details.items():
            metadata[f"{self.name}_{key}"] = plain(value)
        return metadata


def combined_metadata(scores: Iterable[Score]) -> dict[str, float | int | str | bool]:
    """The metadata of several scores of one check; two scores of one name are an error."""
    metadata: dict[str, float | int | str | bool] = {}
    names: set[str] = set()
    for score in scores:
        if score.name in names:
            raise ValueError(f"two scores named {score.name!r} in one check")
        names.add(score.name)
        metadata.update(score.to_metadata())
    return metadata


def aggregate(
    scores: Iterable[Score], name: str, threshold: float | None = None, higher_is_better=True
) -> Score:
    """One score for a day of several outputs (each summary, answer or caption scored alone):
    the mean of their values, held to `threshold`, failing also when any one output failed.
    Details: `outputs`, `failed` (indices of the outputs that failed), `skipped`, `min`/`max`.
    No output measured: skipped."""
    scores = list(scores)
    measured = [(index, s) for index, s in enumerate(scores) if not s.is_skipped]
    skipped = len(scores) - len(measured)
    if not measured:
        reason = f"no output measured of {len(scores)}" + (
            f": {scores[0].reason}" if scores else ""
        )
        return Score.skipped(name, reason, {"outputs": len(scores), "skipped": skipped})
    values = [s.value for _, s in measured]
    failed = [index for index, s in measured if not s.passed]
    details = {
        "outputs": len(scores),
        "failed": failed,
        "failed_count": len(failed),
        "skipped": skipped,
        "min": min(values),
        "max": max(values),
    }
    rules = [f"{len(failed)} of {len(measured)} output(s) failed"] if failed else []
    mean = sum(values) / len(values)
    return Score.measured(name, mean, threshold, details, higher_is_better, rules)
