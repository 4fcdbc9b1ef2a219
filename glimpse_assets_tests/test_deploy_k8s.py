"""deploy/helm/values.yaml for Dagster's Helm chart, tested without a cluster or a container engine.

No package on a registry ships the chart's values.schema.json (nor the `schema` package it is
generated from), and there is no `helm` here, so the chart is not rendered. What is tested: the
values parse and agree with deploy/dagster.postgres.yaml and the Dockerfile; the run launcher
config the chart's instance template makes from `runLauncher.config.k8sRunLauncher` (mirrored in
`chart_run_launcher_config`, key by key) is accepted by dagster-k8s's own config schema; and the
Kubernetes Job that dagster-k8s's K8sRunLauncher builds for a run of this code location from it
(`K8sContainerContext.create_for_run`, `get_k8s_job_config`, `construct_dagster_k8s_job`, as
`K8sRunLauncher.launch_run` does) runs the image as non-root, with the instance, the Postgres
password and the S3 secret. The kubeconfig points at a closed port on 127.0.0.1: nothing is sent.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.deploy

pytest.importorskip("dagster_k8s", reason="the deploy extra is not installed")

REPO_ROOT = Path(__file__).resolve().parent.parent
VALUES = yaml.safe_load((REPO_ROOT / "deploy" / "helm" / "values.yaml").read_text())
INSTANCE = yaml.safe_load((REPO_ROOT / "deploy" / "dagster.postgres.yaml").read_text())
RELEASE = "glimpse"
DAGSTER_HOME = "/opt/dagster/dagster_home"  # the chart's `dagsterHome` default
IMAGE = "glimpse-assets:0.1.0"


def chart_run_launcher_config(values: dict) -> dict:
    """The `run_launcher.config` the chart's `dagsterYaml.runLauncher.k8s` template renders
    (helm/dagster/templates/helpers/instance/_run-launcher.tpl), for the release RELEASE."""
    k8s = values["runLauncher"]["config"]["k8sRunLauncher"]
    config = {
        "load_incluster_config": k8s["loadInclusterConfig"],
        "job_namespace": k8s.get("jobNamespace") or "default",
        "image_pull_policy": k8s["imagePullPolicy"],
        "service_account_name": f"{RELEASE}-dagster",
        "dagster_home": {"env": "DAGSTER_HOME"},
        "instance_config_map": {"env": "DAGSTER_K8S_INSTANCE_CONFIG_MAP"},
        "postgres_password_secret": {"env": "DAGSTER_K8S_PG_PASSWORD_SECRET"},
        "env_config_maps": [{"env": "DAGSTER_K8S_PIPELINE_RUN_ENV_CONFIGMAP"}]
        + [item["name"] for item in k8s.get("envConfigMaps", []) if "name" in item],
    }
    if k8s.get("envSecrets"):
        config["env_secrets"] = [item["name"] for item in k8s["envSecrets"] if "name" in item]
    if k8s.get("envVars"):
        config["env_vars"] = k8s["envVars"]
    if "failPodOnRunFailure" in k8s:
        config["fail_pod_on_run_failure"] = k8s["failPodOnRunFailure"]
    if k8s.get("runK8sConfig"):
        config["run_k8s_config"] = {
            _snake(key): value for key, value in k8s["runK8sConfig"].items()
        }
    return config


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@pytest.fixture
def chart_env(monkeypatch):
    """What the chart sets on the daemon's pod, which the launcher config reads."""
    for name, value in {
        "DAGSTER_HOME": DAGSTER_HOME,
        "DAGSTER_K8S_INSTANCE_CONFIG_MAP": f"{RELEASE}-dagster-instance",
        "DAGSTER_K8S_PG_PASSWORD_SECRET": VALUES["global"]["postgresqlSecretName"],
        "DAGSTER_K8S_PIPELINE_RUN_ENV_CONFIGMAP": f"{RELEASE}-dagster-pipeline-env",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def kubeconfig(tmp_path) -> Path:
    """A kubeconfig for a cluster on a closed loopback port: loading it contacts nothing."""
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "none", "cluster": {"server": "https://127.0.0.1:9"}}],
                "users": [{"name": "none", "user": {"token": "unused"}}],
                "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none"}}],
                "current-context": "none",
            }
        )
    )
    return path


def run_launcher(kubeconfig: Path):
    from dagster._config import process_config
    from dagster_k8s import K8sRunLauncher

    config = chart_run_launcher_config(VALUES)
    processed = process_config(K8sRunLauncher.config_type(), config)
    assert processed.success, processed.errors
    # In the cluster the pod's service account is used; here a kubeconfig that contacts nothing.
    value = {**processed.value, "load_incluster_config": False, "kubeconfig_file": str(kubeconfig)}
    return K8sRunLauncher.from_config_value(None, value)


def run_of_this_code_location():
    from dagster._core.code_pointer import ModuleCodePointer
    from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
    from dagster._core.storage.dagster_run import DagsterRun

    deployment = VALUES["dagster-user-deployments"]["deployments"][0]
    origin = JobPythonOrigin(
        "__ASSET_JOB",
        RepositoryPythonOrigin(
            executable_path="/usr/local/bin/python",
            code_pointer=ModuleCodePointer("glimpse_assets", "defs", working_directory=None),
            container_image=f"{deployment['image']['repository']}:{deployment['image']['tag']}",
            entry_point=["dagster"],
            container_context=None,
        ),
    )
    return DagsterRun(
        job_name="__ASSET_JOB",
        run_id="0123abcd-0000-4000-8000-000000000001",
        tags={"dagster/partition": "2026-11-20"},
        job_code_origin=origin,
    )


def k8s_job_for_a_run(kubeconfig: Path):
    from dagster._grpc.types import ExecuteRunArgs
    from dagster_k8s.job import construct_dagster_k8s_job, get_job_name_from_run_id

    launcher = run_launcher(kubeconfig)
    run = run_of_this_code_location()
    context = launcher.get_container_context_for_run(run)
    job_config = context.get_k8s_job_config(
        job_image=run.job_code_origin.repository_origin.container_image, run_launcher=launcher
    )
    args = ExecuteRunArgs(
        job_origin=run.job_code_origin, run_id=run.run_id, instance_ref=None
    ).get_command_args()
    name = get_job_name_from_run_id(run.run_id)
    return construct_dagster_k8s_job(
        job_config=job_config,
        args=args,
        job_name=name,
        pod_name=name,
        component="run_worker",
        user_defined_k8s_config=context.run_k8s_config,
        labels={"dagster/job": run.job_name, "dagster/run-id": run.run_id},
        env_vars=[{"name": "DAGSTER_RUN_JOB_NAME", "value": run.job_name}],
    )


def test_the_chart_run_launcher_config_is_accepted_by_dagster_k8s(chart_env, kubeconfig):
    launcher = run_launcher(kubeconfig)

    assert launcher.image_pull_policy == "IfNotPresent"
    assert launcher.env_secrets == ["glimpse-s3"]
    assert launcher.postgres_password_secret == "glimpse-postgresql"
    assert launcher.fail_pod_on_run_failure is True


def test_a_runs_kubernetes_job_runs_the_image_as_non_root_with_the_instance_and_secrets(
    chart_env, kubeconfig
):
    job = k8s_job_for_a_run(kubeconfig)
    pod = job.spec.template.spec
    (container,) = pod.containers
    env = {item.name: item for item in container.env}

    assert container.image == IMAGE
    assert container.image_pull_policy == "IfNotPresent"
    assert container.args[:3] == ["dagster", "api", "execute_run"]
    assert job.metadata.labels["dagster/run-id"] == "0123abcd-0000-4000-8000-000000000001"
    # The instance travels in the command (its ref, read from the chart's config map by the
    # daemon); Postgres' password comes from its secret, the chart's run env from its config map.
    assert env["DAGSTER_HOME"].value == DAGSTER_HOME
    password = env["DAGSTER_PG_PASSWORD"].value_from.secret_key_ref
    assert (password.name, password.key) == ("glimpse-postgresql", "postgresql-password")
    config_maps = {
        source.config_map_ref.name for source in container.env_from if source.config_map_ref
    }
    assert config_maps == {f"{RELEASE}-dagster-pipeline-env"}
    # S3: the credentials from the secret, the storage and the executor as plain settings.
    assert {source.secret_ref.name for source in container.env_from if source.secret_ref} == {
        "glimpse-s3"
    }
    assert env["GLIMPSE_STORAGE_URI"].value == "s3://glimpse/storage"
    assert env["GLIMPSE_EXECUTOR"].value == "in_process"
    assert not any("SECRET" in name or "ACCESS_KEY" in name for name in env)
    # Non-root, no privilege escalation, bounded memory (the Dockerfile's user).
    assert pod.security_context.run_as_non_root is True
    assert pod.security_context.run_as_user == 10001
    assert container.security_context.allow_privilege_escalation is False
    assert container.security_context.capabilities.drop == ["ALL"]
    assert container.resources.limits["memory"] == "4Gi"
    assert job.spec.backoff_limit == 0


def test_the_values_agree_with_the_instance_file():
    daemon = VALUES["dagsterDaemon"]
    monitoring = INSTANCE["run_monitoring"]

    assert daemon["runCoordinator"]["type"] == "QueuedRunCoordinator"
    assert (
        daemon["runCoordinator"]["config"]["queuedRunCoordinator"]["dequeueIntervalSeconds"]
        == INSTANCE["run_coordinator"]["config"]["dequeue_interval_seconds"]
    )
    assert {_snake(k): v for k, v in daemon["runMonitoring"].items()} == monitoring
    assert {_snake(k): v for k, v in daemon["runRetries"].items()} == INSTANCE["run_retries"]
    assert VALUES["concurrency"]["enabled"] is True
    assert {_snake(k): v for k, v in VALUES["concurrency"]["pools"].items()} == INSTANCE[
        "concurrency"
    ]["pools"]
    runs = VALUES["concurrency"]["runs"]
    assert runs["maxConcurrentRuns"] == INSTANCE["concurrency"]["runs"]["max_concurrent_runs"]
    assert runs["tagConcurrencyLimits"] == INSTANCE["concurrency"]["runs"]["tag_concurrency_limits"]
    # Tag limits in both places would make the chart fail (and Dagster refuse the instance).
    assert "tagConcurrencyLimits" not in daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    postgres = VALUES["postgresql"]
    assert postgres["enabled"] is False
    assert postgres["postgresqlScheme"] == INSTANCE["storage"]["postgres"]["postgres_db"]["scheme"]
    assert "postgresqlPassword" not in postgres  # from the secret global.postgresqlSecretName
    assert VALUES["generatePostgresqlPasswordSecret"] is False
    assert VALUES["telemetry"] == INSTANCE["telemetry"]
    # The steps' logs: dagster-aws's S3ComputeLogManager with the instance file's settings, in
    # the storage bucket outside the storage prefix, read by the webserver with the S3 secret.
    logs = VALUES["computeLogManager"]
    assert INSTANCE["compute_logs"]["class"] == logs["type"] == "S3ComputeLogManager"
    s3_logs = {_snake(k): v for k, v in logs["config"]["s3ComputeLogManager"].items()}
    launcher = VALUES["runLauncher"]["config"]["k8sRunLauncher"]
    storage = dict(item.split("=", 1) for item in launcher["envVars"])["GLIMPSE_STORAGE_URI"]
    assert storage == "s3://glimpse/storage"
    assert s3_logs.pop("bucket") == "glimpse"
    assert s3_logs == {k: v for k, v in INSTANCE["compute_logs"]["config"].items() if k != "bucket"}
    assert {"name": "glimpse-s3"} in VALUES["dagsterWebserver"]["envSecrets"]


def test_the_user_code_deployment_runs_this_image_and_code_location():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    (deployment,) = VALUES["dagster-user-deployments"]["deployments"]

    assert VALUES["dagster-user-deployments"]["enabled"] is True
    assert deployment["image"]["repository"] == IMAGE.split(":")[0]
    assert f"-t {IMAGE}" in dockerfile
    args = deployment["dagsterApiGrpcArgs"]
    assert args[args.index("--module-name") + 1] == "glimpse_assets"
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    assert {"name": "glimpse-s3"} in deployment["envSecrets"]
    uid = re.search(r"^USER (\d+)", dockerfile, re.MULTILINE).group(1)
    assert deployment["podSecurityContext"]["runAsUser"] == int(uid)
    assert deployment["podSecurityContext"]["runAsNonRoot"] is True
    run_pod = VALUES["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]["podSpecConfig"]
    assert run_pod["securityContext"]["runAsUser"] == int(uid)
    # The storage settings of the code server and of the runs are the same.
    code_env = {item["name"]: item["value"] for item in deployment["env"]}
    run_env = dict(
        item.split("=", 1) for item in VALUES["runLauncher"]["config"]["k8sRunLauncher"]["envVars"]
    )
    for name, value in run_env.items():
        assert code_env[name] == value


def test_no_secret_value_is_written_in_the_values():
    text = (REPO_ROOT / "deploy" / "helm" / "values.yaml").read_text()
    for pattern in (r"AWS_SECRET_ACCESS_KEY\s*[:=]\s*\S+[^.]$", r"postgresqlPassword:"):
        assert not re.search(pattern, text, re.MULTILINE)
