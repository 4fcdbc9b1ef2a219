"""A crashed run worker on the Postgres instance (deploy/dagster.postgres.yaml), for real: a run
is queued with `dagster job launch`, the daemon takes it off the queue and launches it through
its code server, the run's process is killed (SIGKILL) in the middle of its step, the code
server sees it die and marks the run failed (run monitoring in the daemon covers what no server
sees: a run stuck starting or cancelling, a failed Kubernetes pod), and run retries start it
again from failure, which succeeds. Real PostgreSQL, a real `dagster-daemon run` and code
server, on 127.0.0.1; skipped where PostgreSQL is missing (.ci/run installs it)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deploy.services import PostgresServer, kill_group, postgres_bin_dir
from glimpse_assets_tests.support.s3 import new_bucket

pytestmark = [pytest.mark.deploy, pytest.mark.process]

pytest.importorskip("dagster_postgres", reason="the deploy extra is not installed")

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent

LOCATION = '''
import os
import signal

import dagster as dg


@dg.asset
def crash_once() -> int:
    """Kills its own run process the first time, as an OOM kill or a lost node would."""
    marker = os.environ["GLIMPSE_TEST_CRASH_MARKER"]
    if not os.path.exists(marker):
        open(marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    return 1


crash_job = dg.define_asset_job("crash_job", selection=[crash_once])
defs = dg.Definitions(assets=[crash_once], jobs=[crash_job], executor=dg.in_process_executor)
'''


@pytest.fixture
def postgres(tmp_path):
    if postgres_bin_dir() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql; .ci/run does)")
    with PostgresServer(tmp_path / "postgres") as server:
        yield server


@contextlib.contextmanager
def daemon(env: dict[str, str], workspace: Path, log: Path):
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(VENV_BIN / "dagster-daemon"), "run", "-w", str(workspace)],
            cwd=workspace.parent,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the daemon and the code server it starts: one group
        )
    try:
        yield process
    finally:
        kill_group(process, grace=30)  # the daemon and the code server it started


def test_a_crashed_run_worker_is_detected_and_its_run_retried(
    tmp_path, postgres, seaweedfs, monkeypatch
):
    import dagster as dg
    from dagster._core.events import DagsterEventType
    from dagster._core.storage.tags import PARENT_RUN_ID_TAG, RETRY_NUMBER_TAG

    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO_ROOT / "deploy" / "dagster.postgres.yaml").read_text())
    (tmp_path / "crash_location.py").write_text(LOCATION)
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - python_file:\n      relative_path: crash_location.py\n"
        "      location_name: crash_location\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "GLIMPSE_"))}
    # The instance file keeps the steps' logs on S3: a real SeaweedFS here.
    logs_bucket = new_bucket(seaweedfs.client())
    env |= (
        postgres.env()
        | seaweedfs.env()
        | {
            "GLIMPSE_COMPUTE_LOGS_BUCKET": logs_bucket,
            "DAGSTER_HOME": str(home),
            "GLIMPSE_TEST_CRASH_MARKER": str(tmp_path / "crashed-once"),
            "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    for name, value in {**postgres.env(), **seaweedfs.env()}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GLIMPSE_COMPUTE_LOGS_BUCKET", logs_bucket)

    with daemon(env, workspace, tmp_path / "daemon.log") as process:
        launched = subprocess.run(
            [str(VENV_BIN / "dagster"), "job", "launch", "-w", str(workspace), "-j", "crash_job"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert launched.returncode == 0, launched.stdout + launched.stderr

        with dg.DagsterInstance.from_config(str(home)) as instance:
            deadline = time.monotonic() + 240
            runs = []
            while time.monotonic() < deadline:
                assert process.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
                runs = sorted(
                    (record.dagster_run for record in instance.get_run_records()),
                    key=lambda run: int(run.tags.get(RETRY_NUMBER_TAG, "0")),
                )
                if any(run.is_success for run in runs):
                    break
                time.sleep(1)
            else:
                pytest.fail(
                    f"no successful run: {[(r.run_id, r.status) for r in runs]}\n"
                    + (tmp_path / "daemon.log").read_text()[-3000:]
                )

            assert (tmp_path / "crashed-once").exists()
            crashed, retried = runs
            assert crashed.status == dg.DagsterRunStatus.FAILURE
            assert retried.is_success
            assert retried.tags[PARENT_RUN_ID_TAG] == crashed.run_id
            assert retried.tags[RETRY_NUMBER_TAG] == "1"
            events = instance.all_logs(crashed.run_id)
            types = [event.dagster_event_type for event in events if event.is_dagster_event]
            assert DagsterEventType.RUN_ENQUEUED in types  # through the queued run coordinator
            assert DagsterEventType.STEP_START in types
            assert DagsterEventType.STEP_FAILURE not in types  # a crash, not a failed step
            messages = "\n".join(str(event.message) for event in events)
            assert "was terminated by signal 9" in messages, messages  # detected by the server
            assert "Retrying the run" in messages, messages
