"""Both chains store the same outputs for the same day as the code the digests were taken from
(data/outputs_2026-03-01.json, offline,
`python -m glimpse_assets_tests.support.output_digests <root>`).
A change here is a change of what users get: make it on purpose, and take the digests anew.

Taken first from the code before the platform refactor (issue 10), which left every output as it
was; taken anew for issue 11, which changed them on purpose: the sample draw varies the main story
day to day (so the news chain and the post), and rides carry where each condition came from
(`news_from`, `weather_from`, `traffic_from`, the summaries' `method`, the page's sources); and
for issue 12, which added the search chain's outputs (and `compaction` to search_index's record)
and left every other one as it was; and for issue 13, which added the stories chain's two
tables, and issue 14, which added sms_digest's record (the channel is off offline), and left every
other output as it was; and for issue 24, which changed them on purpose: the post's caption is
written for readers (social_post, the outbox post and the gallery), and the invented weather is
one for the day with summaries that say when, how many and how rides stood out (raw_rides,
clustered_rides, anomaly_summaries, rides_report and its page); and for issue 24's answer log,
which added answers_given's table (empty: no answer is given in a run) and left every other
output as it was. Vectors are compared to 4 decimals (see output_digests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glimpse_assets.definitions import build_definitions
from glimpse_assets.run import main
from glimpse_assets_tests.support.output_digests import output_digests

DAY = "2026-03-01"
GOLDEN = Path(__file__).parent / "data" / f"outputs_{DAY}.json"


@pytest.mark.slow
def test_both_chains_store_what_they_stored_before_for_the_same_day(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    root = tmp_path / "storage"
    definitions = build_definitions({"GLIMPSE_STORAGE_URI": str(root)})

    assert main(["--day", DAY], definitions) == 0

    assert output_digests(root) == json.loads(GOLDEN.read_text())
