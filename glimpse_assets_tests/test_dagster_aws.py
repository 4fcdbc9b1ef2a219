"""dagster-aws: S3Resource's session settings make every S3 client; secrets from AWS Secrets
Manager or SSM Parameter Store (GLIMPSE_SECRETS_FROM); nothing of it loads unless configured.

S3 runs on moto's server and SeaweedFS (the conftest's `s3_server`, both on 127.0.0.1), the
secrets on moto's server (ThreadedMotoServer, which also speaks Secrets Manager and SSM). The
secret's way into a resource is checked end to end: stored in moto, loaded into the
environment when the resources are built, read by a run through `dg.EnvVar`, sent by the openai
SDK to `FakeOpenAI` as the Authorization header.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import dagster as dg
import pytest
from dagster_aws.s3 import S3Resource

from glimpse_assets.providers.openai_client import OpenAIClient
from glimpse_assets.resources import shared_resources
from glimpse_assets.secrets import SecretsError, load_secrets
from glimpse_assets.settings import ConfigurationError
from glimpse_assets.storage.object_store import (
    REQUEST_LIMITS,
    AlreadyExistsError,
    ObjectChangedError,
    StorageError,
    open_object_store,
)
from glimpse_assets.storage.resource import ObjectStoreResource
from glimpse_assets_tests.support.fake_openai import CHAT
from glimpse_assets_tests.support.s3 import new_bucket

PACKAGE = Path(__file__).resolve().parent.parent / "glimpse_assets"


# -- S3Resource makes the clients --------------------------------------------------------


@pytest.mark.parametrize("limits", [None, REQUEST_LIMITS], ids=["run", "request"])
def test_the_s3_resources_session_settings_make_the_stores_client(s3_server, limits, monkeypatch):
    """The credentials and endpoint given to S3Resource (not the environment's, which are wrong
    here) are those the store's calls use, conditional writes included; with request limits
    the same settings get the limits' timeouts and attempts."""
    bucket = new_bucket(s3_server.client())
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "wrong-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    settings = S3Resource(
        endpoint_url=s3_server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
        max_attempts=3,
    )

    store = open_object_store(f"s3://{bucket}/glimpse", limits=limits, settings=settings)

    etag = store.create("day/a.json", b"1")
    with pytest.raises(AlreadyExistsError):
        store.create("day/a.json", b"2")
    store.replace("day/a.json", b"3", etag=etag)
    with pytest.raises(ObjectChangedError):
        store.replace("day/a.json", b"4", etag=etag)
    assert store.get("day/a.json") == b"3"
    config = store.client.meta.config
    if limits is None:
        assert config.retries == {"mode": "standard", "total_max_attempts": 4}
        assert (config.connect_timeout, config.read_timeout) == (60, 60)
    else:
        assert config.retries == {"mode": "standard", "total_max_attempts": limits.attempts}
        assert (config.connect_timeout, config.read_timeout) == (
            limits.connect_seconds,
            limits.read_seconds,
        )


def test_without_settings_the_store_takes_the_endpoint_from_its_resource(s3_server, monkeypatch):
    """ObjectStoreResource's endpoint and region become S3Resource's; credentials come from
    the environment (the standard chain) as before."""
    bucket = new_bucket(s3_server.client())
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    resource = ObjectStoreResource(
        storage_uri=f"s3://{bucket}/glimpse", endpoint_url=s3_server.endpoint_url
    )

    resource.store.put("a.txt", b"x")

    assert resource.store.client.meta.endpoint_url == s3_server.endpoint_url
    assert s3_server.client().get_object(Bucket=bucket, Key="glimpse/a.txt")["Body"].read() == b"x"


def test_wrong_credentials_in_the_settings_are_refused_by_seaweedfs(seaweedfs):
    settings = S3Resource(
        endpoint_url=seaweedfs.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=seaweedfs.access_key,
        aws_secret_access_key="not-the-secret",
    )
    store = open_object_store("s3://any-bucket/glimpse", settings=settings)

    with pytest.raises(StorageError, match=r"credentials refused|access denied") as refused:
        store.get("a.txt")
    assert "not-the-secret" not in str(refused.value)


def test_no_module_but_the_object_store_makes_an_s3_client():
    """Every S3 client in the package comes from `object_store.s3_client` (S3Resource)."""
    making = re.compile(r"""\b(?:client|resource)\(\s*["']s3["']""")
    found = [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if making.search(path.read_text())
    ]
    assert found == ["storage/object_store.py"]


# -- secrets from Secrets Manager and Parameter Store, on moto's server -------------------


@pytest.fixture
def aws_secrets(moto_server, monkeypatch):
    """Secrets Manager and SSM clients on moto's server, and the environment pointing
    dagster-aws's resources there (by their service-specific endpoint variables)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_server)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", moto_server)
    for name in [*os.environ, "OPENAI_API_KEY", "TWILIO_AUTH_TOKEN"]:
        if name.startswith(("GLIMPSE_", "OPENAI_", "TWILIO_")):
            # Set, then removed: the variables the secrets set are restored after the test.
            monkeypatch.setenv(name, "")
            monkeypatch.delenv(name)
    session = boto3.session.Session()
    return (
        session.client("secretsmanager", endpoint_url=moto_server, region_name="us-east-1"),
        session.client("ssm", endpoint_url=moto_server, region_name="us-east-1"),
    )


@pytest.mark.slow
def test_a_secret_in_secrets_manager_reaches_the_resource_that_needs_it(
    aws_secrets, fake, tmp_path, monkeypatch
):
    secretsmanager, _ = aws_secrets
    folder = f"glimpse-{uuid.uuid4().hex[:8]}"
    key = f"sk-from-secrets-manager-{uuid.uuid4().hex}"
    secretsmanager.create_secret(Name=f"{folder}/OPENAI_API_KEY", SecretString=key)
    monkeypatch.setenv("GLIMPSE_SECRETS_FROM", f"secretsmanager:{folder}/OPENAI_API_KEY")
    monkeypatch.setenv("GLIMPSE_STORAGE_URI", str(tmp_path / "storage"))
    monkeypatch.setenv("GLIMPSE_PROVIDER", "openai")  # needs OPENAI_API_KEY: the secret
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)

    resources = shared_resources(os.environ).resources

    @dg.asset
    def greeting(openai: OpenAIClient) -> str:
        with openai.get_client() as client:
            answer = client.chat.completions.create(
                model="test-model", messages=[{"role": "user", "content": "Hello"}]
            )
        return answer.choices[0].message.content

    result = dg.materialize([greeting], resources={"openai": resources["openai"]})

    assert result.success
    (request,) = fake.requests(CHAT)
    assert request.headers["authorization"] == f"Bearer {key}"
    events = "\n".join(str(event) for event in result.all_events)
    assert key not in events


@pytest.mark.slow
def test_parameters_under_an_ssm_path_are_loaded_and_a_set_variable_is_kept(
    aws_secrets, monkeypatch
):
    _, ssm = aws_secrets
    path = f"/glimpse-{uuid.uuid4().hex[:8]}"
    ssm.put_parameter(Name=f"{path}/TWILIO_AUTH_TOKEN", Value="token-ssm", Type="SecureString")
    ssm.put_parameter(Name=f"{path}/OPENAI_API_KEY", Value="sk-ssm", Type="SecureString")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-exported")

    env = load_secrets({"GLIMPSE_SECRETS_FROM": f"ssm:{path}/"})

    assert os.environ["TWILIO_AUTH_TOKEN"] == env["TWILIO_AUTH_TOKEN"] == "token-ssm"
    assert os.environ["OPENAI_API_KEY"] == "sk-exported"  # already set: kept


def test_a_missing_secret_fails_in_one_line_naming_it_and_loads_nothing(aws_secrets, monkeypatch):
    secretsmanager, _ = aws_secrets
    folder = f"glimpse-{uuid.uuid4().hex[:8]}"
    value = f"sk-present-{uuid.uuid4().hex}"
    secretsmanager.create_secret(Name=f"{folder}/OPENAI_API_KEY", SecretString=value)
    listed = f"{folder}/OPENAI_API_KEY,{folder}/TWILIO_AUTH_TOKEN"
    monkeypatch.setenv("GLIMPSE_SECRETS_FROM", f"secretsmanager:{listed}")

    with pytest.raises(SecretsError) as failed:
        load_secrets()

    message = str(failed.value)
    assert message == (
        f"GLIMPSE_SECRETS_FROM: AWS Secrets Manager has no secret '{folder}/TWILIO_AUTH_TOKEN'"
    )
    assert value not in message
    assert "OPENAI_API_KEY" not in os.environ and "TWILIO_AUTH_TOKEN" not in os.environ


@pytest.mark.slow
def test_a_missing_ssm_parameter_is_named(aws_secrets, monkeypatch):
    _, ssm = aws_secrets
    path = f"/glimpse-{uuid.uuid4().hex[:8]}"
    ssm.put_parameter(Name=f"{path}/OPENAI_API_KEY", Value="sk-ssm", Type="SecureString")

    with pytest.raises(SecretsError, match=rf"no parameter '{path}/TWILIO_AUTH_TOKEN'$"):
        load_secrets(
            {"GLIMPSE_SECRETS_FROM": f"ssm:{path}/OPENAI_API_KEY,{path}/TWILIO_AUTH_TOKEN"}
        )
    assert "OPENAI_API_KEY" not in os.environ


@pytest.mark.parametrize(
    "spec", ["vault:OPENAI_API_KEY", "secretsmanager:", "ssm: , "], ids=["source", "none", "blank"]
)
def test_a_bad_secrets_source_is_a_configuration_error_naming_the_variable(spec):
    with pytest.raises(ConfigurationError, match=r"^GLIMPSE_SECRETS_FROM="):
        load_secrets({"GLIMPSE_SECRETS_FROM": spec})


# -- nothing loads unless configured ------------------------------------------------------

AWS_AND_OPENAI = ["boto3", "botocore", "dagster_aws", "openai", "dagster_openai"]


@pytest.mark.process
@pytest.mark.parametrize(
    ("configured", "loaded"),
    [
        ({}, []),
        ({"GLIMPSE_STORAGE_URI": "s3://glimpse-bench/storage"}, []),
        (
            {
                "GLIMPSE_STORAGE_URI": "s3://glimpse-bench/storage",
                "GLIMPSE_PROVIDER": "openai",
                "OPENAI_API_KEY": "unused",
            },
            ["openai", "dagster_openai"],
        ),
    ],
    ids=["offline-default", "s3", "s3-and-openai"],
)
def test_the_code_location_loads_dagster_aws_and_dagster_openai_only_when_configured(
    configured, loaded
):
    """S3 storage loads dagster-aws and boto3 at the store's first use, not with the code
    location; OpenAI is the configured resource (OpenAIResource), so it loads with it."""
    script = (
        "import sys; from glimpse_assets import defs; defs().get_repository_def(); "
        f"print(','.join(m for m in {AWS_AND_OPENAI!r} if m in sys.modules))"
    )
    prefixes = ("GLIMPSE_", "OPENAI_", "AWS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)} | configured
    completed = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=180
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == ",".join(loaded)
