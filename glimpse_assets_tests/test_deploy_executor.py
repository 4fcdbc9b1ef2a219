"""GLIMPSE_EXECUTOR: in_process (default), multiprocess or celery, chosen at load; dagster-celery is
imported only when celery is chosen, and its config is what deploy/celery.yaml gives workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from glimpse_assets.definitions import build_definitions
from glimpse_assets.executors import (
    BROKER_VARIABLE,
    ExecutorSettings,
    celery_executor_config,
    executor_from_env,
)
from glimpse_assets.settings import ConfigurationError

pytestmark = pytest.mark.deploy

REPO_ROOT = Path(__file__).resolve().parent.parent
BROKER = "redis://:broker-password@127.0.0.1:6390/0"
CELERY = {"GLIMPSE_EXECUTOR": "celery", BROKER_VARIABLE: BROKER}


def loaded_modules_after_load(env_overrides: dict[str, str]) -> set[str]:
    script = (
        "import sys; from glimpse_assets import defs; defs().get_repository_def(); "
        "print(','.join(sorted(m for m in ('celery', 'dagster_celery', 'kombu', 'redis') "
        "if m in sys.modules)))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLIMPSE_", "OPENAI_"))}
    completed = subprocess.run(
        [sys.executable, "-c", script],
        env=env | env_overrides,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stderr
    return {name for name in completed.stdout.strip().split(",") if name}


def test_the_default_and_multiprocess_executors():
    assert executor_from_env({}).name == "in_process_or_parallel_ranges"
    assert executor_from_env({"GLIMPSE_EXECUTOR": " MultiProcess "}).name == "multiprocess"
    assert (
        executor_from_env({"GLIMPSE_EXECUTOR": "in-process"}).name
        == "in_process_or_parallel_ranges"
    )


@pytest.mark.process
def test_loading_without_celery_chosen_loads_no_celery():
    for env in ({}, {"GLIMPSE_EXECUTOR": "multiprocess", BROKER_VARIABLE: BROKER}):
        assert loaded_modules_after_load(env) == set()


@pytest.mark.process
def test_celery_is_loaded_only_when_chosen():
    pytest.importorskip("dagster_celery", reason="the deploy extra is not installed")
    # dagster-celery's executor module; celery itself is imported when a run submits a step.
    assert "dagster_celery" in loaded_modules_after_load(CELERY)


def test_celery_needs_a_redis_broker_and_says_so():
    with pytest.raises(ConfigurationError, match=BROKER_VARIABLE):
        executor_from_env({"GLIMPSE_EXECUTOR": "celery"})
    with pytest.raises(ConfigurationError, match="redis://"):
        executor_from_env({**CELERY, BROKER_VARIABLE: "amqp://guest@127.0.0.1//"})
    with pytest.raises(ConfigurationError, match="GLIMPSE_EXECUTOR"):
        executor_from_env({"GLIMPSE_EXECUTOR": "dask"})


def test_the_broker_url_is_not_kept_in_the_settings_or_the_definitions():
    pytest.importorskip("dagster_celery", reason="the deploy extra is not installed")
    settings = ExecutorSettings.from_env(CELERY)
    assert "broker-password" not in repr(settings)
    assert "broker-password" not in repr(celery_executor_config())
    assert celery_executor_config() == {
        "broker": {"env": BROKER_VARIABLE},
        "backend": {"env": BROKER_VARIABLE},
        # Steps' output stays on the workers' stdout/stderr, where compute logs capture it.
        "config_source": {"worker_redirect_stdouts": False},
    }


def test_every_job_runs_on_the_celery_executor_when_chosen():
    pytest.importorskip("dagster_celery", reason="the deploy extra is not installed")
    defs = build_definitions(CELERY)
    repository = defs.get_repository_def()
    jobs = repository.get_all_jobs()
    assert jobs
    assert {job.executor_def.name for job in jobs} == {"celery"}


def test_the_celery_executor_reads_the_broker_from_the_environment_at_run_start(monkeypatch):
    """The configured executor resolves to dagster-celery's config with the broker and the
    result backend both the Redis URL, read when the config is resolved (a run's start)."""
    pytest.importorskip("dagster_celery", reason="the deploy extra is not installed")
    monkeypatch.setenv(BROKER_VARIABLE, BROKER)
    executor = executor_from_env(CELERY)

    resolved = executor.config_schema.resolve_config({})

    assert resolved.success, resolved.errors
    config = resolved.value["config"]
    assert config["broker"] == BROKER
    assert config["backend"] == BROKER
    assert config["retries"] == {"enabled": {}}


def test_the_workers_config_file_is_the_executors_config():
    """deploy/celery.yaml (what `make workers` and `dagster-celery worker start -y` read) names
    the same broker and backend as the executor, and dagster-celery accepts it."""
    pytest.importorskip("dagster_celery", reason="the deploy extra is not installed")
    from dagster_celery.cli import get_validated_config

    path = REPO_ROOT / "deploy" / "celery.yaml"
    assert yaml.safe_load(path.read_text())["execution"]["config"] == celery_executor_config()
    os.environ[BROKER_VARIABLE] = BROKER
    try:
        validated = get_validated_config(str(path))
    finally:
        del os.environ[BROKER_VARIABLE]
    assert validated["broker"] == BROKER
    assert validated["backend"] == BROKER
    assert validated["config_source"] == {"worker_redirect_stdouts": False}
