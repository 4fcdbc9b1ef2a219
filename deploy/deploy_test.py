"""`make deploy-test`: one day of every domain through a real deployment on this machine.

It starts, all on 127.0.0.1 and in one temporary folder: PostgreSQL (the instance of
deploy/dagster.postgres.yaml), Redis (the Celery broker and result backend), SeaweedFS (the S3
server every step reads and writes through), two dagster-celery workers, and the server: the
code server, the webserver and the daemon, each started by the image's entrypoint
(deploy/entrypoint.sh), the last two reaching the code server over gRPC. Every asset the code
location defines (taken from the loaded Definitions, one run per asset group in dependency
order, checks included) is materialised for one day with GLIMPSE_EXECUTOR=celery: each run is
submitted to the webserver's GraphQL API as the UI submits it, queued, launched by the daemon
through the code server, and its steps run on the workers. The same day is also materialised
with the in-process executor on a SQLite instance into another bucket; then every stored object
of the two is compared (the storage URI itself replaced by `<storage>`; objects that differ in
bytes are compared by content as glimpse_assets_tests/support/output_digests.py does). The
deployed runs' step logs go to a bucket of their own through the instance's S3ComputeLogManager
(dagster-aws); every run must have left its steps' logs there, read back from SeaweedFS with a
plain S3 client. It prints one line

    deploy-test: N runs in Postgres, steps on K worker processes, M objects on S3, L step logs
    on S3, outputs identical

and stops everything it started, also when something fails (then it exits 1 with the reason and
keeps the folder with every service's log).

`python -m deploy.deploy_test --materialise DAY` runs the in-process reference day, and
`--groups` prints the asset groups in run order and `--sensors` the automation sensors (each in a
child process with the environment it needs). Those are stopped before the day's runs are
launched by hand: they would otherwise run the chains that follow raw_news a second time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from deploy.services import (  # noqa: E402
    HOST,
    VENV_BIN,
    CeleryWorker,
    EntrypointService,
    PostgresServer,
    RedisServer,
    ServiceError,
    free_port,
    location_loaded,
    missing_binaries,
)

DEPLOY_BUCKET = "glimpse-deploy"
REFERENCE_BUCKET = "glimpse-reference"
PREFIX = "storage"
WORKERS = 2
LOGS_BUCKET = "glimpse-logs"  # GLIMPSE_COMPUTE_LOGS_BUCKET of deploy/dagster.postgres.yaml
LOGS_PREFIX = "compute-logs"  # its S3ComputeLogManager's prefix
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
# The deployed runs keep Dagster's default console logging (every event, DEBUG), as the UI
# launches them: each step's stderr file on S3 must show the step starting.
STEP_LOGS: dict = {}
STEP_STARTED = "Started execution of step"


class DeployTestError(RuntimeError):
    """What went wrong, in one line (and the log tail where a service failed)."""


# -- the child: one day of every asset group, one run each ------------------------------------


def group_order(asset_graph) -> list[tuple[str, list]]:
    """The asset groups (with their executable, day-partitioned asset keys) in an order where a
    group's upstream groups come first; a cycle between groups puts them all in one run."""
    groups: dict[str, list] = {}
    for key in sorted(asset_graph.executable_asset_keys, key=lambda k: k.to_user_string()):
        node = asset_graph.get(key)
        if node.partitions_def is not None:
            groups.setdefault(node.group_name or "default", []).append(key)
    group_of = {key: name for name, keys in groups.items() for key in keys}
    needs = {
        name: {
            group_of[parent]
            for key in keys
            for parent in asset_graph.get(key).parent_keys
            if parent in group_of and group_of[parent] != name
        }
        for name, keys in groups.items()
    }
    order: list[tuple[str, list]] = []
    done: set[str] = set()
    while len(done) < len(groups):
        ready = sorted(name for name in groups if name not in done and needs[name] <= done)
        if not ready:  # a cycle between groups: one run for everything left
            rest = sorted(name for name in groups if name not in done)
            order.append(("+".join(rest), [key for name in rest for key in groups[name]]))
            break
        for name in ready:
            order.append((name, groups[name]))
            done.add(name)
    return order


def groups_of_the_code_location() -> list[list]:
    """[group, [asset key paths]] in run order, for the code location as this process's
    environment loads it."""
    from glimpse_assets import defs

    return [
        [group, [list(key.path) for key in keys]]
        for group, keys in group_order(defs().get_repository_def().asset_graph)
    ]


def automation_sensors() -> list[str]:
    """The code location's declarative-automation sensors that start RUNNING."""
    import dagster as dg

    from glimpse_assets import defs

    return sorted(
        sensor.name
        for sensor in defs().get_repository_def().sensor_defs
        if isinstance(sensor, dg.AutomationConditionSensorDefinition)
        and sensor.default_status == dg.DefaultSensorStatus.RUNNING
    )


def materialise(day: str) -> list[str]:
    """Run `day` of every asset group through the instance at DAGSTER_HOME with the executor
    GLIMPSE_EXECUTOR chooses; returns the run ids; raises on the first failed run."""
    import warnings

    import dagster as dg
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    from glimpse_assets import defs

    # dagster-celery registers its one task again for every step it submits; celery 5.7 warns
    # that the name is taken, and the first registration (the same function) is the one used.
    warnings.filterwarnings("ignore", message="Task name 'execute_plan' is already registered")

    asset_graph = defs().get_repository_def().asset_graph
    job = ReconstructableRepository.for_module(
        "glimpse_assets", "defs", working_directory=str(REPO_ROOT)
    ).get_reconstructable_job("__ASSET_JOB")
    run_ids = []
    with dg.DagsterInstance.get() as instance:
        for group, keys in group_order(asset_graph):
            result = dg.execute_job(
                job,
                instance=instance,
                run_config=QUIET,
                tags={"dagster/partition": day, "glimpse/deploy-test": group},
                asset_selection=keys,
            )
            run_ids.append(result.run_id)
            if not result.success:
                failed = [
                    f"{event.step_key}: {event.event_specific_data.error.message.strip()}"
                    for event in result.all_events
                    if event.is_step_failure
                ]
                raise DeployTestError(
                    f"the {group} run for {day} failed: {failed[0] if failed else 'no step failed'}"
                )
    return run_ids


# -- the parent: services, the two runs, the comparison -------------------------------------


def clean_env() -> dict[str, str]:
    """This process's environment without Glimpse, Dagster, AWS or OpenAI settings."""
    prefixes = ("GLIMPSE_", "DAGSTER_", "AWS_", "OPENAI_", "CURRENTS_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def run_day(day: str, env: Mapping[str, str], log: Path) -> list[str]:
    with open(log, "ab") as out:
        completed = subprocess.run(
            [sys.executable, "-m", "deploy.deploy_test", "--materialise", day],
            cwd=REPO_ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=out,
            timeout=1800,
        )
    lines = completed.stdout.decode(errors="replace").strip().splitlines()
    if completed.returncode != 0 or not lines:
        reason = lines[-1] if lines else f"exit code {completed.returncode}"
        raise DeployTestError(f"{reason} (log: {log})")
    return json.loads(lines[-1])


def objects(client, bucket: str, prefix: str = "") -> dict[str, bytes]:
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            found[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


def outputs(all_objects: Mapping[str, bytes], bucket: str) -> dict[str, bytes]:
    """The outputs (not the store's bookkeeping: `.locks/`, `_ledger/`, `_cache/` and the other
    `_` folders say when and by which run), the storage URI replaced by `<storage>`."""
    root = f"s3://{bucket}/{PREFIX}".encode()
    return {
        key.removeprefix(f"{PREFIX}/"): data.replace(root, b"<storage>")
        for key, data in all_objects.items()
        if not key.removeprefix(f"{PREFIX}/").startswith((".", "_"))
    }


def differences(deployed: Mapping[str, bytes], reference: Mapping[str, bytes], work: Path):
    """Keys whose objects differ: missing on one side, or different in bytes and in content."""
    from glimpse_assets_tests.support.output_digests import content_digest

    different = sorted(set(deployed) ^ set(reference))
    for key in sorted(set(deployed) & set(reference)):
        if deployed[key] == reference[key]:
            continue
        digests = []
        for side, data in (("deployed", deployed[key]), ("reference", reference[key])):
            path = work / side / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            digests.append(content_digest(path, work / side))
        if digests[0] != digests[1]:
            different.append(key)
    return different


def worker_processes(instance, run_ids: list[str]) -> tuple[set[int], set[str]]:
    """The process ids that started the runs' steps, and the Celery workers that ran them;
    raises if a run skipped the queue or a step started in a run's own process."""
    from dagster import DagsterEventType

    pids, hosts, run_pids, queued = set(), set(), set(), set()
    for run_id in run_ids:
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type == DagsterEventType.RUN_ENQUEUED:
                queued.add(run_id)
            if event.event_type == DagsterEventType.RUN_START:
                run_pids.add(event.pid)
            if event.event_type == DagsterEventType.STEP_START:
                pids.add(event.pid)
            if event.event_type == DagsterEventType.ENGINE_EVENT and entry.step_key:
                data = event.engine_event_data.metadata if event.engine_event_data else {}
                if "Celery worker" in data:
                    hosts.add(str(data["Celery worker"].value))
    if queued != set(run_ids):
        raise DeployTestError("some runs did not go through the run queue")
    if pids & run_pids:
        raise DeployTestError("some steps ran in their run's own process, not on a worker")
    return pids, hosts


def step_logs(client, run_ids: list[str]) -> dict[str, str]:
    """The step logs the runs left in LOGS_BUCKET ({key: text}), read with a plain S3 client;
    raises unless every run has a stderr file showing its steps starting. The instance's
    S3ComputeLogManager keeps them as <prefix>/storage/<run id>/compute_logs/<step>.out|.err
    (stdout, stderr; empty ones are skipped)."""
    logs = {}
    for run_id in run_ids:
        found = objects(client, LOGS_BUCKET, f"{LOGS_PREFIX}/storage/{run_id}/")
        started = [
            key
            for key, data in found.items()
            if key.endswith(".err") and STEP_STARTED in data.decode(errors="replace")
        ]
        if not started:
            seen = {key: data[:200].decode(errors="replace") for key, data in found.items()}
            raise DeployTestError(
                f"run {run_id} left no step log on S3 showing a step start "
                f"(found {seen or 'nothing'} in s3://{LOGS_BUCKET}/{LOGS_PREFIX}/)"
            )
        empty = [key for key, data in found.items() if not data.strip()]
        if empty:
            raise DeployTestError(f"empty step logs were uploaded: {empty[:3]}")
        logs |= {key: data.decode(errors="replace") for key, data in found.items()}
    return logs


def materialised_assets(instance_home: Path, run_ids: list[str]) -> set[str]:
    """The asset key paths (`a/b`) the runs materialised, from the instance's event log."""
    import dagster as dg

    keys = set()
    with dg.DagsterInstance.from_config(str(instance_home)) as instance:
        for run_id in run_ids:
            for entry in instance.all_logs(
                run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
            ):
                keys.add("/".join(entry.dagster_event.asset_key.path))
    return keys


def default_day() -> str:
    """The last complete UTC day (the newest partition is today, the day so far)."""
    from glimpse_assets.partitions import last_complete_day

    return last_complete_day()


@contextlib.contextmanager
def deployment(folder: Path) -> Iterator[dict]:
    """Postgres, Redis, SeaweedFS and the workers, started in that order and stopped in the
    reverse order, whatever happens in between."""
    from glimpse_assets_tests.support.seaweedfs import SeaweedFS

    with contextlib.ExitStack() as stack:
        postgres = stack.enter_context(PostgresServer(folder / "postgres"))
        redis = stack.enter_context(RedisServer(folder / "redis"))
        s3 = stack.enter_context(SeaweedFS(folder / "seaweedfs", "glimpse-deploy", "deploy-secret"))
        client = s3.client()
        for bucket in (DEPLOY_BUCKET, REFERENCE_BUCKET, LOGS_BUCKET):
            client.create_bucket(Bucket=bucket)
        home = folder / "dagster_postgres"
        home.mkdir()
        (home / "dagster.yaml").write_text(
            (REPO_ROOT / "deploy" / "dagster.postgres.yaml").read_text()
        )
        env = {
            **clean_env(),
            **postgres.env(),
            **s3.env(),
            "DAGSTER_HOME": str(home),
            "GLIMPSE_EXECUTOR": "celery",
            "GLIMPSE_CELERY_BROKER_URL": redis.url,
            "GLIMPSE_STORAGE_URI": f"s3://{DEPLOY_BUCKET}/{PREFIX}",
            "GLIMPSE_COMPUTE_LOGS_BUCKET": LOGS_BUCKET,
        }
        workers = [CeleryWorker(f"glimpse-{n}@deploy-test", folder, env) for n in (1, 2)]
        for worker in workers:
            stack.callback(worker.stop)
            worker.start()
        # The server: the code server, the webserver and the daemon, from the image's
        # entrypoint, the webserver and the daemon reaching the code server over gRPC.
        env |= {
            "GLIMPSE_BIND_HOST": HOST,
            "GLIMPSE_CODE_SERVER_HOST": HOST,
            "GLIMPSE_CODE_SERVER_PORT": str(free_port()),
            "GLIMPSE_WEBSERVER_PORT": str(free_port()),
            "GLIMPSE_WORKSPACE": str(REPO_ROOT / "deploy" / "workspace.grpc.yaml"),
        }
        servers = folder / "server"
        health = ["dagster", "api", "grpc-health-check", "-h", HOST, "-p"]
        stack.enter_context(
            EntrypointService(
                "code-server",
                servers,
                env,
                lambda: _passes([*health, env["GLIMPSE_CODE_SERVER_PORT"]], env),
            )
        )
        webserver_port = int(env["GLIMPSE_WEBSERVER_PORT"])
        stack.enter_context(
            EntrypointService("webserver", servers, env, lambda: location_loaded(webserver_port))
        )
        stack.enter_context(
            EntrypointService(
                "daemon", servers, env, lambda: _passes(["dagster-daemon", "liveness-check"], env)
            )
        )
        yield {
            "postgres": postgres,
            "s3": s3,
            "client": client,
            "env": env,
            "home": home,
            "webserver_port": webserver_port,
        }


def _passes(command: list[str], env: Mapping[str, str]) -> bool:
    command = [str(VENV_BIN / command[0]), *command[1:]]
    return subprocess.run(command, env=dict(env), capture_output=True, timeout=60).returncode == 0


def launch_day(day: str, deployed: Mapping, log: Path) -> list[str]:
    """One run per asset group, submitted to the webserver (GraphQL) as the UI submits it: the
    run is queued, the daemon launches it through the code server, its steps go to Celery."""
    import dagster as dg
    from dagster_graphql import DagsterGraphQLClient

    completed = subprocess.run(
        [sys.executable, "-m", "deploy.deploy_test", "--groups"],
        cwd=REPO_ROOT,
        env=dict(deployed["env"]),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if completed.returncode != 0:
        raise DeployTestError(f"the code location did not load: {completed.stderr[-2000:]}")
    stop_sensors(deployed)
    client = DagsterGraphQLClient(HOST, port_number=deployed["webserver_port"], timeout=60)
    run_ids = []
    for group, paths in json.loads(completed.stdout.strip().splitlines()[-1]):
        run_id = client.submit_job_execution(
            "__ASSET_JOB",
            repository_location_name="glimpse_assets",
            repository_name="__repository__",
            run_config=STEP_LOGS,
            tags={"dagster/partition": day, "glimpse/deploy-test": group},
            asset_selection=[dg.AssetKey(path) for path in paths],
        )
        run_ids.append(run_id)
        deadline = time.monotonic() + 1200
        while True:
            status = client.get_run_status(run_id)
            if status in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE):
                break
            if status == dg.DagsterRunStatus.CANCELED or time.monotonic() > deadline:
                raise DeployTestError(f"the {group} run for {day} is {status.value}")
            time.sleep(1)
        if status != dg.DagsterRunStatus.SUCCESS:
            raise DeployTestError(
                f"the {group} run for {day} failed: {first_failure(deployed, run_id)} "
                f"(logs in {log.parent})"
            )
    return run_ids


def stop_sensors(deployed: Mapping) -> None:
    """Stop the automation sensors before the day's runs are launched by hand: they would run
    the chains that follow raw_news a second time, and the outputs would no longer be those of
    the in-process run, which makes each asset once."""
    env = dict(deployed["env"])
    listed = subprocess.run(
        [sys.executable, "-m", "deploy.deploy_test", "--sensors"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if listed.returncode != 0:
        raise DeployTestError(f"the code location did not load: {listed.stderr[-2000:]}")
    for name in json.loads(listed.stdout.strip().splitlines()[-1]):
        stop = [str(VENV_BIN / "dagster"), "sensor", "stop", name, "-w", env["GLIMPSE_WORKSPACE"]]
        stopped = subprocess.run(stop, env=env, capture_output=True, text=True, timeout=300)
        if stopped.returncode != 0:
            raise DeployTestError(f"could not stop the sensor {name}: {stopped.stderr[-2000:]}")


def settled_runs(instance, timeout: float = 600):
    """Every run record once none is queued or in progress (the daemon's automation may launch
    runs of its own after the day's); raises after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        records = instance.get_run_records()
        if all(record.dagster_run.is_finished for record in records):
            return records
        if time.monotonic() > deadline:
            busy = [r.dagster_run.run_id for r in records if not r.dagster_run.is_finished]
            raise DeployTestError(f"runs still in progress after {timeout:.0f} s: {busy}")
        time.sleep(2)


def first_failure(deployed: Mapping, run_id: str) -> str:
    import dagster as dg

    os.environ.update(deployed["postgres"].env())
    with dg.DagsterInstance.from_config(str(deployed["home"])) as instance:
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is not None and event.is_step_failure:
                return f"{event.step_key}: {event.step_failure_data.error.message.strip()}"
            if event is not None and event.event_type == dg.DagsterEventType.RUN_FAILURE:
                return entry.message or "the run failed"
    return "no failure recorded"


def deploy_test(folder: Path, day: str) -> str:
    import dagster as dg

    with deployment(folder) as deployed:
        reference_home = folder / "dagster_sqlite"
        reference_home.mkdir()
        (reference_home / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
        reference_env = {
            **clean_env(),
            **deployed["s3"].env(),
            "DAGSTER_HOME": str(reference_home),
            "GLIMPSE_STORAGE_URI": f"s3://{REFERENCE_BUCKET}/{PREFIX}",
        }
        run_day(day, reference_env, folder / "in_process.log")
        run_ids = launch_day(day, deployed, folder / "server" / "daemon.log")

        # Read back what the instance holds, from Postgres: the runs launched here and any the
        # daemon's automation launched after them (waited for: they write to the same bucket).
        os.environ.update(deployed["postgres"].env())
        with dg.DagsterInstance.from_config(str(deployed["home"])) as instance:
            records = settled_runs(instance)
            not_successful = [r.dagster_run.run_id for r in records if not r.dagster_run.is_success]
            missing = set(run_ids) - {r.dagster_run.run_id for r in records}
            if not_successful or missing:
                raise DeployTestError(
                    f"runs in Postgres not all successful: {not_successful}; missing: {missing}"
                )
            pids, hosts = worker_processes(instance, run_ids)
        if len(hosts) < WORKERS:
            raise DeployTestError(f"steps ran on {sorted(hosts)}, not on both workers")
        client = deployed["client"]
        deployed_objects = objects(client, DEPLOY_BUCKET)
        deployed_outputs = outputs(deployed_objects, DEPLOY_BUCKET)
        materialised = materialised_assets(instance_home=deployed["home"], run_ids=run_ids)
        missing = sorted(
            key
            for key in materialised
            if not any(name.startswith(f"{key}/") for name in deployed_outputs)
        )
        if missing:
            raise DeployTestError(f"no stored object for the materialised assets {missing}")
        different = differences(
            deployed_outputs,
            outputs(objects(client, REFERENCE_BUCKET), REFERENCE_BUCKET),
            folder / "compare",
        )
        if different:
            raise DeployTestError(
                f"{len(different)} outputs differ from the in-process run's: {different[:5]}"
            )
        logs = step_logs(client, run_ids)
        return (
            f"deploy-test: {len(records)} runs in Postgres, steps on {len(pids)} worker "
            f"processes, {len(deployed_objects)} objects on S3, {len(logs)} step logs on S3, "
            "outputs identical"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--day", help="the day (YYYY-MM-DD); default: the last complete UTC day")
    parser.add_argument("--materialise", metavar="DAY", help=argparse.SUPPRESS)
    parser.add_argument("--groups", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sensors", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    if args.sensors:
        print(json.dumps(automation_sensors()))
        return 0
    if args.groups:
        print(json.dumps(groups_of_the_code_location()))
        return 0
    if args.materialise:
        try:
            print(json.dumps(materialise(args.materialise)))
        except DeployTestError as error:
            print(error)
            return 1
        return 0

    missing = missing_binaries()
    if missing:
        print(f"deploy-test failed: missing {', '.join(missing)}")
        return 1
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="glimpse-deploy-test-"))
    try:
        line = deploy_test(folder, args.day or default_day())
    except (DeployTestError, ServiceError) as error:
        print(f"deploy-test failed: {error}")
        print(f"(logs kept in {folder})")
        return 1
    else:
        if not args.keep:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
    print(line)
    print(f"(wall time {time.monotonic() - started:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
