"""Scores as one asset check result: what a domain's quality check returns for a day.

    return check_result(recall, mrr, measured="16 labelled queries of 2026-11-04")

The result passes when every measured score does; it is a warning by default (a worse score is
news, not a reason to stop the pipeline downstream). Its description names each score and how
it went; its metadata is the scores' plain values under stable keys (`Score.to_metadata`), so
the UI plots each value partition by partition. When every score was skipped (nothing to
measure), the result says so: it passes, its description begins with "skipped", and
`quality_status` is "skipped": a gap in the plots, not a made-up value. `measured` says what was
looked at (the day's outputs, how many); it begins the description, after "skipped" if so.
"""

from __future__ import annotations

import dagster as dg

from glimpse_assets.quality.score import FAILED, PASSED, SKIPPED, Score, combined_metadata


def check_result(
    *scores: Score,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.WARN,
    measured: str = "",
) -> dg.AssetCheckResult:
    if not scores:
        raise ValueError("a quality check needs at least one score")
    taken = [score for score in scores if not score.is_skipped]
    passed = all(score.passed for score in taken)
    status = SKIPPED if not taken else PASSED if passed else FAILED
    description = "; ".join(score.summary() for score in scores)
    if measured:
        description = f"{measured}: {description}"
    if status == SKIPPED:
        description = f"skipped, nothing measured: {description}"
    return dg.AssetCheckResult(
        passed=passed,
        severity=severity,
        description=description,
        metadata={"quality_status": status, **combined_metadata(scores)},
    )
