"""`Score` and its metadata, and scores as an asset check result (built, not run)."""

from __future__ import annotations

import math

import dagster as dg
import numpy as np
import pytest

from glimpse_assets.quality.checks import check_result
from glimpse_assets.quality.score import Score, combined_metadata, plain
from glimpse_assets.skipped_checks import NothingToCheck


def test_higher_and_lower_is_better_decide_passed():
    assert Score.measured("recall", 0.9, 0.8).passed
    assert not Score.measured("recall", 0.7, 0.8).passed
    assert Score.measured("similarity", 0.7, 0.9, higher_is_better=False).passed
    low = Score.measured("similarity", 0.95, 0.9, higher_is_better=False)
    assert not low.passed and low.reason == "similarity 0.950 > 0.900"
    assert Score.measured("recall", 0.8, 0.8).passed  # on the threshold is good enough


def test_a_failed_rule_fails_a_good_value():
    score = Score.measured("grounded", 1.0, 0.9, rules_failed=["no citation"])
    assert not score.passed and score.reason == "no citation"
    assert score.summary() == "grounded 1.000 (wanted >= 0.900): no citation"


def test_metadata_keys_are_stable_and_values_plain():
    score = Score.measured(
        "mrr",
        0.123456,
        0.5,
        {"queries": 3, "ranks": [1, 0, 7], "share": np.float32(0.25), "pair": (1, 2)},
    )
    assert score.to_metadata() == {
        "mrr": 0.1235,
        "mrr_threshold": 0.5,
        "mrr_status": "failed",
        "mrr_reason": "mrr 0.123 < 0.500",
        "mrr_queries": 3,
        "mrr_ranks": "1, 0, 7",
        "mrr_share": 0.25,
        "mrr_pair": "1, 2",
    }


def test_a_skipped_score_has_no_value_and_says_why():
    score = Score.skipped("judge_grade", "offline: no model")
    assert score.is_skipped and score.passed and score.status == "skipped"
    assert score.summary() == "judge_grade skipped: offline: no model"
    assert score.to_metadata() == {
        "judge_grade_status": "skipped",
        "judge_grade_reason": "offline: no model",
    }


def test_plain_values():
    assert plain(math.nan) == "nan"
    assert plain({"b": 1.23456, "a": [1, 2]}) == '{"a": "1, 2", "b": 1.2346}'
    assert plain({3, 1}) == "1, 3"
    assert plain(np.int64(4)) == 4 and isinstance(plain(np.int64(4)), int)


def test_two_scores_of_one_name_in_one_check_are_an_error():
    with pytest.raises(ValueError, match="two scores"):
        combined_metadata([Score.measured("a", 1, None), Score.measured("a", 2, None)])


def test_check_result_passes_when_every_measured_score_does():
    good = check_result(Score.measured("recall_at_5", 1.0, 0.9), Score.measured("mrr", 0.9, 0.8))
    assert good.passed and good.severity == dg.AssetCheckSeverity.WARN
    assert good.metadata["quality_status"].value == "passed"
    assert good.metadata["recall_at_5"].value == 1.0
    bad = check_result(Score.measured("recall_at_5", 1.0, 0.9), Score.measured("mrr", 0.5, 0.8))
    assert not bad.passed and "mrr 0.500 (wanted >= 0.800)" in bad.description
    assert bad.metadata["quality_status"].value == "failed"


def test_check_result_of_nothing_measured_is_nothing_to_check_not_a_pass():
    result = check_result(
        Score.skipped("recall_at_5", "no labelled query for the day"),
        Score.skipped("mrr", "no labelled query for the day"),
        measured="0 labelled queries of 2026-11-04",
    )
    # No result at all (the day's check is skipped), and the reason, said once.
    reason = "0 labelled queries of 2026-11-04: no labelled query for the day"
    assert result == NothingToCheck(reason)
    with pytest.raises(ValueError):
        check_result()


def test_check_result_with_a_score_measured_says_which_were_skipped():
    result = check_result(
        Score.measured("grounded_share_mean", 1.0, 0.9), Score.skipped("judge", "offline")
    )
    assert result.passed and result.metadata["quality_status"].value == "passed"
    assert "judge skipped: offline" in result.description


@pytest.mark.slow
@pytest.mark.process
def test_importing_the_quality_modules_loads_no_heavy_library():
    import subprocess
    import sys

    modules = "score retrieval grounding agreement variety judge queries checks similarity"
    code = (
        "import sys\n"
        + "".join(f"import glimpse_assets.quality.{name}\n" for name in modules.split())
        + "heavy = ('numpy', 'onnxruntime', 'tokenizers', 'lancedb', 'pandas', 'pyarrow')\n"
        + "print(','.join(m for m in heavy if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""


def test_a_day_of_outputs_is_one_score_that_fails_with_any_output():
    from glimpse_assets.quality.score import aggregate

    good, bad = Score.measured("g", 1.0, 1.0), Score.measured("g", 0.5, 1.0)
    day = aggregate([good, Score.skipped("g", "empty"), bad], "grounded_share_mean", 0.7)
    assert day.value == 0.75 and not day.passed
    assert day.details == {
        "outputs": 3,
        "failed": [2],
        "failed_count": 1,
        "skipped": 1,
        "min": 0.5,
        "max": 1.0,
    }
    assert day.reason == "1 of 2 output(s) failed"
    assert aggregate([good, good], "grounded_share_mean", 0.7).passed
    nothing = aggregate([Score.skipped("g", "no summary")], "grounded_share_mean")
    assert nothing.is_skipped and nothing.reason == "no output measured of 1: no summary"
    assert aggregate([], "grounded_share_mean").reason == "no output measured of 0"
