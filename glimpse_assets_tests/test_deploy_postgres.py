"""deploy/dagster.postgres.yaml: a valid Dagster instance config (checked by Dagster's own loader
against its instance schema) with the settings of dagster.yaml where they should agree, and a
real instance on a real PostgreSQL server on 127.0.0.1 (skipped where PostgreSQL is missing;
.ci/run installs it), its steps' logs on a real SeaweedFS through dagster-aws's
S3ComputeLogManager."""

from __future__ import annotations

from pathlib import Path

import boto3
import dagster as dg
import pytest
import yaml

from deploy.services import PostgresServer, postgres_bin_dir
from glimpse_assets_tests.support.s3 import new_bucket

pytestmark = pytest.mark.deploy

pytest.importorskip("dagster_postgres", reason="the deploy extra is not installed")

REPO_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_FILE = REPO_ROOT / "deploy" / "dagster.postgres.yaml"
PG_ENV = {
    "DAGSTER_PG_HOST": "127.0.0.1",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_PG_USERNAME": "glimpse",
    "DAGSTER_PG_PASSWORD": "p@ss:w/rd",
    "GLIMPSE_COMPUTE_LOGS_BUCKET": "glimpse-logs",
}


def instance_home(folder: Path) -> Path:
    home = folder / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_FILE.read_text())
    return home


@pytest.fixture
def pg_env(monkeypatch):
    for name, value in PG_ENV.items():
        monkeypatch.setenv(name, value)
    return PG_ENV


def test_the_instance_file_validates_against_dagsters_instance_schema(tmp_path, pg_env):
    from dagster._core.instance.config import dagster_instance_config
    from dagster._core.instance.ref import InstanceRef

    home = instance_home(tmp_path)
    config, custom_class = dagster_instance_config(str(home))  # raises on any invalid field
    ref = InstanceRef.from_dir(str(home))

    assert custom_class is None
    assert ref.run_storage_data.class_name == "PostgresRunStorage"
    assert ref.event_storage_data.class_name == "PostgresEventLogStorage"
    assert ref.schedule_storage_data.class_name == "PostgresScheduleStorage"
    assert ref.run_coordinator_data.class_name == "QueuedRunCoordinator"
    assert ref.compute_logs_data.module_name == "dagster_aws.s3.compute_log_manager"
    assert ref.compute_logs_data.class_name == "S3ComputeLogManager"
    assert config["run_monitoring"]["enabled"] is True
    assert config["concurrency"]["runs"]["tag_concurrency_limits"] == [
        {"key": "dagster/backfill", "limit": 2}
    ]


def test_the_instance_file_reads_every_connection_setting_from_the_environment():
    postgres_db = yaml.safe_load(INSTANCE_FILE.read_text())["storage"]["postgres"]["postgres_db"]

    assert {name: value for name, value in postgres_db.items() if name != "scheme"} == {
        "hostname": {"env": "DAGSTER_PG_HOST"},
        "port": {"env": "DAGSTER_PG_PORT"},
        "db_name": {"env": "DAGSTER_PG_DB"},
        "username": {"env": "DAGSTER_PG_USERNAME"},
        "password": {"env": "DAGSTER_PG_PASSWORD"},
    }


def test_the_connection_url_names_psycopg2_and_quotes_the_password(pg_env):
    """SQLAlchemy 2.1 takes a bare postgresql:// for psycopg 3, which is not installed."""
    import sqlalchemy
    from dagster._config import process_config
    from dagster._core.storage.config import pg_config
    from dagster_postgres.utils import pg_url_from_config

    raw = yaml.safe_load(INSTANCE_FILE.read_text())["storage"]["postgres"]
    processed = process_config(pg_config(), raw)
    assert processed.success, processed.errors
    url = pg_url_from_config(processed.value)

    assert url.startswith("postgresql+psycopg2://glimpse:")
    engine = sqlalchemy.create_engine(url)
    assert engine.dialect.driver == "psycopg2"
    assert (engine.url.username, engine.url.password) == ("glimpse", "p@ss:w/rd")
    assert (engine.url.host, engine.url.port, engine.url.database) == ("127.0.0.1", 5432, "dagster")


def test_the_step_logs_go_to_the_bucket_in_the_environment_not_to_a_written_endpoint():
    """The bucket is GLIMPSE_COMPUTE_LOGS_BUCKET; the endpoint and credentials are boto3's own
    (AWS_ENDPOINT_URL, as the object store's), so the file names none and works on AWS too."""
    compute_logs = yaml.safe_load(INSTANCE_FILE.read_text())["compute_logs"]

    assert compute_logs["config"] == {
        "bucket": {"env": "GLIMPSE_COMPUTE_LOGS_BUCKET"},
        "prefix": "compute-logs",
        "skip_empty_files": True,
        "upload_interval": 30,
    }


def test_the_pool_the_queue_and_run_retries_agree_with_dagster_yaml():
    deployed = yaml.safe_load(INSTANCE_FILE.read_text())
    local = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())

    assert deployed["concurrency"]["pools"] == local["concurrency"]["pools"]
    assert deployed["run_retries"] == local["run_retries"]
    assert deployed["telemetry"] == local["telemetry"]
    assert (
        deployed["run_coordinator"]["config"]["dequeue_interval_seconds"]
        == local["run_queue"]["dequeue_interval_seconds"]
    )
    # A crashed run is failed (not resumed in place) and then re-run from failure by run_retries.
    assert deployed["run_monitoring"]["max_resume_run_attempts"] == 0


# -- a real PostgreSQL server ----------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    if postgres_bin_dir() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql; .ci/run does)")
    with PostgresServer(tmp_path_factory.mktemp("postgres")) as server:
        yield server


@dg.asset(partitions_def=dg.DailyPartitionsDefinition(start_date="2026-01-01"), pool="llm")
def deploy_probe(context) -> str:
    print(f"deploy probe stdout for {context.partition_key}")
    return context.partition_key


def test_a_real_postgres_instance_keeps_runs_events_and_the_pool(
    tmp_path, postgres, seaweedfs, monkeypatch
):
    for name, value in {**postgres.env(), **seaweedfs.env()}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # S3ComputeLogManager's default session
    logs = seaweedfs.client()
    bucket = new_bucket(logs)
    monkeypatch.setenv("GLIMPSE_COMPUTE_LOGS_BUCKET", bucket)
    home = instance_home(tmp_path)

    with dg.DagsterInstance.from_config(str(home)) as instance:
        from dagster._core.run_coordinator import QueuedRunCoordinator
        from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert instance.run_monitoring_enabled
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        result = dg.materialize(
            [deploy_probe],
            instance=instance,
            partition_key="2026-11-20",
            resources={"io_manager": dg.FilesystemIOManager(base_dir=str(tmp_path / "io"))},
        )
        assert result.success
        run_id = result.run_id

    # A second instance on the same database (another process would see the same).
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.is_success
        materialized = instance.get_latest_materialization_event(dg.AssetKey("deploy_probe"))
        assert materialized is not None
        assert materialized.dagster_event.partition == "2026-11-20"
        # The llm pool has the default limit of dagster.yaml (2 slots), none held now.
        info = instance.event_log_storage.get_pool_limits()
        pool = instance.event_log_storage.get_concurrency_info("llm")
        assert pool.slot_count == 2, info
        assert pool.active_slot_count == 0

    # The step's stdout is an object in SeaweedFS, under the instance file's prefix and the run.
    listed = logs.list_objects_v2(Bucket=bucket, Prefix=f"compute-logs/storage/{run_id}/")
    keys = [item["Key"] for item in listed.get("Contents", [])]
    (stdout_key,) = [key for key in keys if key.endswith(".out")]
    stdout = logs.get_object(Bucket=bucket, Key=stdout_key)["Body"].read().decode()
    assert "deploy probe stdout for 2026-11-20" in stdout
