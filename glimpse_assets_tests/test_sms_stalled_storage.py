"""`POST /sms/inbound` with the storage stalled: a real `glimpse serve` on a real SeaweedFS S3
that is frozen (SIGSTOP) after the first text. Every text still gets a reply within
`GLIMPSE_SMS_REPLY_SECONDS` (2 s here), STOP included; and `/sms/status` answers 503 as soon,
rather than hold its request until boto3 gives up."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from glimpse_assets.sms.inbound import HELP_REPLY, STOP_REPLY
from glimpse_assets_tests.support.s3 import new_bucket
from glimpse_assets_tests.support.serve_process import serve_process
from glimpse_assets_tests.support.sms import (
    INBOUND,
    PUBLIC_URL,
    STATUS,
    TOKEN,
    env_at,
    reply_of,
)
from glimpse_assets_tests.support.twilio_signing import (
    inbound_params,
    message_sid,
    signed_headers,
    status_params,
)

pytestmark = pytest.mark.process

REPLY_SECONDS = 2.0
MARGIN = 0.5  # the HTTP exchange on loopback, with room to spare on a busy machine


@pytest.fixture
def frozen(seaweedfs):
    """Call it to freeze the S3 server (its whole process group); thawed at the end."""
    group = os.getpgid(seaweedfs._process.pid)
    stopped = []

    def freeze() -> None:
        os.killpg(group, signal.SIGSTOP)
        stopped.append(group)

    yield freeze
    for pgid in stopped:
        os.killpg(pgid, signal.SIGCONT)


def timed_post(service, params, path=INBOUND) -> tuple[httpx.Response, float]:
    headers = signed_headers(TOKEN, PUBLIC_URL + path, params)
    with httpx.Client(base_url=service.url, timeout=REPLY_SECONDS + 5) as client:
        start = time.monotonic()
        response = client.post(path, data=params, headers=headers)
        return response, time.monotonic() - start


def test_every_text_gets_its_reply_in_time_while_the_storage_is_stalled(seaweedfs, frozen):
    bucket = new_bucket(seaweedfs.client())
    env = env_at(
        f"s3://{bucket}/glimpse",
        GLIMPSE_SMS_REPLY_SECONDS=str(REPLY_SECONDS),
        **seaweedfs.env(),
    )
    with serve_process(env) as service:
        first, _ = timed_post(service, inbound_params("+15554440001", "HELP"))
        assert reply_of(first) == HELP_REPLY  # the salt is read and kept: storage works
        frozen()

        answers = [
            timed_post(service, inbound_params("+15554440002", body))
            for body in ("STOP", "HELP", "What happened at the harbour?")
        ]
        status, status_seconds = timed_post(
            service, status_params(message_sid(), "delivered", "+15554440002"), path=STATUS
        )
        output = service.output()

    for response, seconds in answers:
        assert response.status_code == 200 and reply_of(response)
        assert seconds < REPLY_SECONDS + MARGIN, (seconds, reply_of(response))
    stop = reply_of(answers[0][0])
    assert stop != STOP_REPLY and "STOP" in stop  # not confirmed: asked to send it again
    assert status.status_code == 503 and status_seconds < REPLY_SECONDS + MARGIN
    assert "+15554440002" not in output and "15554440002" not in output
