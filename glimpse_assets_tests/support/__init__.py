"""What the tests share and are not tests: doubles of outside services, real local servers and
processes, and small helpers. Test modules import from here, never from one another; benchmarks/
and deploy/deploy_test.py may import from here too.

- net: `free_port`, `wait_until` (with `http_ok`, `tcp_open`): ports and readiness.
- failures: `failure_text`, `failure_classes`: what a failed Dagster step says.
- s3: the S3 servers conftest.py runs (`S3Server`, `point_aws_at`, `new_bucket`).
- seaweedfs: a real SeaweedFS S3 server.
- http_doubles: `LocalHTTPServer`, a real HTTP server that records requests and serves replies.
- fake_openai, strava_double, twilio_double, twilio_signing, publish_doubles: outside APIs.
- recording_notifier: a notifier that keeps what it is sent.
- serve_process: `glimpse serve` as a real process. dagster_processes: a real dagster-daemon and
  dagster-webserver, and backfills launched as the UI launches them.
- publish_race: two processes posting the same day at once.
- stores: storage as the code location builds it, at a chosen root.
- output_digests: what a run stored, by content.
"""
