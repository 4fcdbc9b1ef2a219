"""Exactly once among concurrent runs: the day's ledger record is claimed with a create-if-absent
write before any outside call, and every later write is a replace of the version read.

The races are two real processes ("spawn") released together against one double in this process
(Instagram's Graph API over HTTP, aiosmtpd for e-mail) and one shared storage folder; see
`publish_race`. The other tests drive `publish_once` directly against the Graph API double.
"""

from __future__ import annotations

import time

import dagster as dg
import pytest

from glimpse_assets.news.assets import news_assets
from glimpse_assets.publish.assets import social_post
from glimpse_assets.publish.publishers import OutboxPublisher, PublishRejectedError
from glimpse_assets.storage.exactly_once import PublishContendedError, publish_once
from glimpse_assets_tests.support.http_doubles import LocalHTTPServer
from glimpse_assets_tests.support.publish_doubles import (
    DAY,
    TOKEN,
    USER_ID,
    FakeGraphAPI,
    LocalSMTPController,
    Mailbox,
    a_post,
    instagram,
    ledger_of,
    object_store_at,
    sent_params,
)
from glimpse_assets_tests.support.publish_race import assert_one_winner, race
from glimpse_assets_tests.support.recording_notifier import RecordingNotifier

CRASHED_CONTAINER = "17899999999999999"  # created by a run that crashed before publishing it
PUBLIC_BASE_URL = "http://127.0.0.1:9/storage"


def race_spec(tmp_path, publisher: str, **spec) -> dict:
    return {"publisher": publisher, "storage": str(tmp_path / "storage"), "day": DAY, **spec}


def graph_spec(server: LocalHTTPServer) -> dict:
    return {"token": TOKEN, "user_id": USER_ID, "graph_url": f"{server.url}/v21.0"}


def crashed_claim(container: str, **fields) -> dict:
    """The pending record of a run that created `container` and crashed an hour ago."""
    return {
        "publisher": "instagram",
        "day": DAY,
        "caption": a_post().caption,
        "status": "pending",
        "state": {"container_id": container},
        "owner": "run crashed-0 step social_post",
        "claimed_at": time.time() - 3600,
        "lease_seconds": 600,
        **fields,
    }


# -- races between two processes --------------------------------------------------------------


@pytest.mark.process
def test_two_runs_of_the_same_day_post_to_instagram_once(tmp_path):
    api = FakeGraphAPI(statuses=["IN_PROGRESS", "IN_PROGRESS", "FINISHED"])
    with LocalHTTPServer(api) as server:
        outcomes, counts = race(race_spec(tmp_path, "instagram", **graph_spec(server)))

    winner, _ = assert_one_winner(outcomes)
    (container,) = api.containers
    assert len(api.calls(server, "media")) == 1
    (publish,) = api.calls(server, "media_publish")
    assert sent_params(publish) == {"creation_id": container}
    assert api.published == [container]
    assert winner["record"]["receipt"] == {
        "container_id": container,
        "media_id": "18000000000000001",
    }
    assert counts["starts"] == counts["finishes"] == 1
    assert (
        ledger_of(object_store_at(tmp_path / "storage")).get(f"instagram/{DAY}")
        == (winner["record"])
    )


@pytest.mark.process
def test_two_runs_of_the_same_day_write_the_outbox_once(tmp_path):
    outcomes, counts = race(race_spec(tmp_path, "outbox"))

    winner, _ = assert_one_winner(outcomes)
    assert counts["finishes"] == 1
    object_store = object_store_at(tmp_path / "storage")
    assert ledger_of(object_store).get(f"outbox/{DAY}") == winner["record"]
    assert object_store.records("outbox").names() == [f"{DAY}/post"]
    gallery = object_store.store.get("gallery/index.html").decode("utf-8")
    assert gallery.count("<article>") == 1


@pytest.mark.process
def test_two_runs_of_the_same_day_send_one_email(tmp_path):
    mailbox = Mailbox()
    controller = LocalSMTPController(mailbox, hostname="127.0.0.1", port=0)
    controller.start()
    try:
        outcomes, counts = race(race_spec(tmp_path, "email", smtp_port=controller.port))
    finally:
        controller.stop()

    winner, _ = assert_one_winner(outcomes)
    (envelope,) = mailbox.envelopes
    assert envelope.rcpt_tos == ["reader@example.org"]
    assert winner["record"]["receipt"] == {"recipients": ["reader@example.org"]}
    assert counts["finishes"] == 1


@pytest.mark.process
def test_two_forced_runs_post_again_once(tmp_path):
    object_store = object_store_at(tmp_path / "storage")
    ledger = ledger_of(object_store)
    first, action = publish_once(ledger, OutboxPublisher(object_store=object_store), a_post())
    assert action == "published"

    outcomes, counts = race(race_spec(tmp_path, "outbox", force=True))

    winner, _ = assert_one_winner(outcomes)
    assert counts["finishes"] == 1
    assert winner["record"]["owner"] != first["owner"]
    assert ledger.get(f"outbox/{DAY}") == winner["record"]


@pytest.mark.process
def test_an_expired_claim_is_taken_over_by_exactly_one_of_two_runs(tmp_path):
    ledger_of(object_store_at(tmp_path / "storage")).create(
        f"instagram/{DAY}", crashed_claim(CRASHED_CONTAINER)
    )
    api = FakeGraphAPI(fixed={CRASHED_CONTAINER: "FINISHED"})
    with LocalHTTPServer(api) as server:
        outcomes, counts = race(race_spec(tmp_path, "instagram", **graph_spec(server)))

    winner, _ = assert_one_winner(outcomes)
    assert counts["reconciles"] == 1  # one taker asked about the crashed run's container
    assert counts["starts"] == 0
    assert api.containers == []  # the crashed run's container was published, no new one made
    assert api.published == [CRASHED_CONTAINER]
    assert len(api.calls(server, "media_publish")) == 1
    assert winner["record"]["receipt"]["container_id"] == CRASHED_CONTAINER


# -- reconciling a crashed run's pending record -----------------------------------------------


def test_a_pending_record_whose_container_is_finished_publishes_that_container(tmp_path):
    object_store = object_store_at(tmp_path)
    ledger = ledger_of(object_store)
    ledger.create(f"instagram/{DAY}", crashed_claim(CRASHED_CONTAINER))
    api = FakeGraphAPI(fixed={CRASHED_CONTAINER: "FINISHED"})
    with LocalHTTPServer(api) as server:
        publisher = instagram(server, object_store=object_store, public_base_url=PUBLIC_BASE_URL)
        record, action = publish_once(ledger, publisher, a_post(), owner="run next")

    assert action == "published"
    assert api.containers == []
    (publish,) = api.calls(server, "media_publish")
    assert sent_params(publish) == {"creation_id": CRASHED_CONTAINER}
    assert api.published == [CRASHED_CONTAINER]
    assert record["receipt"]["container_id"] == CRASHED_CONTAINER
    assert (record["status"], record["owner"]) == ("published", "run next")
    assert ledger.get(f"instagram/{DAY}") == record


@pytest.mark.parametrize("status", ["ERROR", "EXPIRED"])
def test_a_pending_record_whose_container_failed_starts_again(tmp_path, status):
    object_store = object_store_at(tmp_path)
    ledger = ledger_of(object_store)
    ledger.create(f"instagram/{DAY}", crashed_claim(CRASHED_CONTAINER))
    api = FakeGraphAPI(statuses=["FINISHED"], fixed={CRASHED_CONTAINER: status})
    with LocalHTTPServer(api) as server:
        publisher = instagram(server, object_store=object_store, public_base_url=PUBLIC_BASE_URL)
        record, action = publish_once(ledger, publisher, a_post(), owner="run next")

    assert action == "published"
    (container,) = api.containers
    assert container != CRASHED_CONTAINER
    (publish,) = api.calls(server, "media_publish")
    assert sent_params(publish) == {"creation_id": container}
    assert api.published == [container]
    assert record["state"] == {"container_id": container}
    assert ledger.get(f"instagram/{DAY}") == record


# -- claims and leases -----------------------------------------------------------------------


def test_a_day_claimed_by_another_live_run_fails_naming_it_without_posting(tmp_path):
    object_store = object_store_at(tmp_path)
    ledger = ledger_of(object_store)
    claim = crashed_claim(
        CRASHED_CONTAINER, owner="run 1b2c3d step social_post", claimed_at=time.time()
    )
    ledger.create(f"instagram/{DAY}", claim)
    api = FakeGraphAPI(fixed={CRASHED_CONTAINER: "FINISHED"})
    with LocalHTTPServer(api) as server:
        publisher = instagram(server, object_store=object_store, public_base_url=PUBLIC_BASE_URL)
        with pytest.raises(PublishContendedError) as raised:
            publish_once(ledger, publisher, a_post(), owner="run other", wait_seconds=0)

    assert "another run (run 1b2c3d step social_post) is posting 2026-03-01" in (
        raised.value.description
    )
    assert raised.value.allow_retries is False
    assert server.requests == []
    assert ledger.get(f"instagram/{DAY}") == claim


def test_the_same_run_retrying_its_step_reconciles_its_own_live_claim(tmp_path):
    object_store = object_store_at(tmp_path)
    ledger = ledger_of(object_store)
    owner = "run 1b2c3d step social_post"
    ledger.create(
        f"instagram/{DAY}", crashed_claim(CRASHED_CONTAINER, owner=owner, claimed_at=time.time())
    )
    api = FakeGraphAPI(fixed={CRASHED_CONTAINER: "FINISHED"})
    with LocalHTTPServer(api) as server:
        publisher = instagram(server, object_store=object_store, public_base_url=PUBLIC_BASE_URL)
        record, action = publish_once(ledger, publisher, a_post(), owner=owner, wait_seconds=0)

    assert (action, record["owner"]) == ("published", owner)
    assert api.containers == []
    assert api.published == [CRASHED_CONTAINER]


def test_a_run_whose_claim_was_taken_over_makes_nothing_public(tmp_path):
    """A run that outlived its lease is refused at its next ledger write, before publishing."""
    object_store = object_store_at(tmp_path)
    ledger = ledger_of(object_store)
    api = FakeGraphAPI(statuses=["FINISHED"])

    class TakenOverDuringStart:
        """The publisher, and meanwhile another run takes the claim over."""

        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def start(self, post):
            state = self.inner.start(post)
            record, etag = ledger.get_versioned(f"instagram/{DAY}")
            ledger.replace(
                f"instagram/{DAY}", {**record, "owner": "run taker", "claimed_at": 0.0}, etag
            )
            return state

    with LocalHTTPServer(api) as server:
        publisher = instagram(server, object_store=object_store, public_base_url=PUBLIC_BASE_URL)
        with pytest.raises(PublishContendedError, match="taken over by run taker"):
            publish_once(ledger, TakenOverDuringStart(publisher), a_post(), owner="run slow")

    assert len(api.containers) == 1  # created, never published
    assert api.calls(server, "media_publish") == []
    assert api.published == []
    assert ledger.get(f"instagram/{DAY}")["owner"] == "run taker"


def test_a_failed_attempt_releases_the_day_to_the_next_run_at_once(tmp_path):
    object_store = object_store_at(tmp_path)
    ledger = ledger_of(object_store)
    api = FakeGraphAPI(statuses=["FINISHED"], fixed={"17900000000000000": "ERROR"})
    with LocalHTTPServer(api) as server:
        publisher = instagram(server, object_store=object_store, public_base_url=PUBLIC_BASE_URL)
        with pytest.raises(PublishRejectedError, match="ERROR"):
            publish_once(ledger, publisher, a_post(), owner="run first")
        assert ledger.get(f"instagram/{DAY}")["status"] == "pending"

        # Another run does not wait for the failed one's lease: it reconciles and starts again.
        record, action = publish_once(
            ledger, publisher, a_post(), owner="run second", wait_seconds=0
        )

    assert action == "published"
    assert api.containers == ["17900000000000000", "17900000000000001"]
    assert api.published == ["17900000000000001"]
    assert record["owner"] == "run second"


def test_social_post_claims_the_day_in_the_name_of_its_run(
    offline_resources, local_store, tmp_path
):
    result = dg.materialize(
        [*news_assets, social_post],
        partition_key=DAY,
        resources={
            **offline_resources,
            "news_publisher": OutboxPublisher(object_store=local_store),
            "publish_notifier": RecordingNotifier(inbox=str(tmp_path / "notifications.jsonl")),
        },
    )

    record = ledger_of(local_store).get(f"outbox/{DAY}")
    assert record["status"] == "published"
    assert record["owner"] == f"run {result.run_id} step social_post"
