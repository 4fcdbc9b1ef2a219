"""Scores as one asset check result: what a domain's quality check returns for a day.

    return check_result(recall, mrr, measured="16 labelled queries of 2026-11-04")

The result passes when every measured score does; it is a warning by default (a worse score is
news, not a reason to stop the pipeline downstream). Its description names each score and how
it went; its metadata is the scores' plain values under stable keys (`Score.to_metadata`), so
the UI plots each value partition by partition. When every score was skipped (nothing to
measure), there is no result: `check_result` returns `NothingToCheck` with the scores' reasons,
so the day's check is skipped (never "passed" on nothing) and the plots have a gap, not a
made-up value. `measured` says what was looked at (the day's outputs, how many); it begins the
description. A result with some scores skipped says which and why; `quality_status` is
"passed" or "failed".
"""

from __future__ import annotations

import dagster as dg

from glimpse_assets.quality.score import FAILED, PASSED, Score, combined_metadata
from glimpse_assets.skipped_checks import NothingToCheck


def check_result(
    *scores: Score,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.WARN,
    measured: str = "",
) -> dg.AssetCheckResult | NothingToCheck:
    if not scores:
        raise ValueError("a quality check needs at least one score")
    taken = [score for score in scores if not score.is_skipped]
    if not taken:
        reasons = "; ".join(dict.fromkeys(score.reason for score in scores))
        return NothingToCheck(f"{measured}: {reasons}" if measured else reasons)
    passed = all(score.passed for score in taken)
    status = PASSED if passed else FAILED
    description = "; ".join(score.summary() for score in scores)
    if measured:
        description = f"{measured}: {description}"
    return dg.AssetCheckResult(
        passed=passed,
        severity=severity,
        description=description,
        metadata={"quality_status": status, **combined_metadata(scores)},
    )
