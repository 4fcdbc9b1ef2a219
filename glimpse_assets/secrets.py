"""Secrets from AWS Secrets Manager or SSM Parameter Store, as an option: `GLIMPSE_SECRETS_FROM`.

    GLIMPSE_SECRETS_FROM=secretsmanager:glimpse/OPENAI_API_KEY,glimpse/TWILIO_AUTH_TOKEN
    GLIMPSE_SECRETS_FROM=ssm:/glimpse/OPENAI_API_KEY,/glimpse/TWILIO_AUTH_TOKEN
    GLIMPSE_SECRETS_FROM=ssm:/glimpse/            (every parameter under the path)

Each secret's value is put into this process's environment under the last part of its name
(`glimpse/OPENAI_API_KEY` -> `OPENAI_API_KEY`) before any setting is read, so the resources read
it through `dg.EnvVar` as if it had been exported. A variable that is already set (non-empty) is
kept and its secret not fetched. Every process that builds the resources loads them itself: the
code server, each run, a Celery worker's step, `glimpse serve` (`resources.shared_resources` and
the serve command call `load_secrets`).

The secrets are read with dagster-aws's `SecretsManagerSecretsResource` and
`ParameterStoreResource` (SecureString parameters decrypted; both beta in dagster-aws 0.29).
Region and credentials come from the standard AWS chain; another endpoint (LocalStack, moto)
from AWS_ENDPOINT_URL_SECRETS_MANAGER or AWS_ENDPOINT_URL_SSM. A secret that cannot be read
stops the load with one line naming the secret and why (not found, access denied, not text),
never its value, and none is loaded. Unset, boto3 and dagster-aws are not imported.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Annotated

from pydantic import AfterValidator, Field

from glimpse_assets.settings import ConfigurationError, Settings, shown_as

SOURCES = {"secretsmanager": "AWS Secrets Manager", "ssm": "AWS SSM Parameter Store"}
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@shown_as("`secretsmanager:NAME,...`, `ssm:/NAME,...` or `ssm:/path/`")
def _secrets_from(value: str | None) -> str | None:
    if value is None:
        return None
    source, _, names = value.partition(":")
    if source.strip().lower() not in SOURCES or not [n for n in names.split(",") if n.strip()]:
        raise ValueError(
            "must be secretsmanager:NAME[,NAME...] or ssm:/NAME[,/NAME...] or ssm:/path/"
        )
    return value


class SecretsSettings(Settings):
    """Where secrets come from when they are not in the environment."""

    secrets_from: Annotated[str | None, AfterValidator(_secrets_from)] = Field(
        None,
        alias="GLIMPSE_SECRETS_FROM",
        description="Load secrets (OPENAI_API_KEY, TWILIO_AUTH_TOKEN, ...) from AWS Secrets "
        "Manager (`secretsmanager:glimpse/OPENAI_API_KEY,...`) or SSM Parameter Store "
        "(`ssm:/glimpse/OPENAI_API_KEY,...`, or `ssm:/glimpse/` for a whole path) into the "
        "environment, each under the last part of its name; a variable already set is kept.",
    )


class SecretsError(ConfigurationError):
    """A secret named in GLIMPSE_SECRETS_FROM could not be loaded; the message names it."""


def variable_for(name: str) -> str:
    """The environment variable a secret named `name` (or an ARN) sets: its last part."""
    variable = re.split(r"[/:]", name.rstrip("/"))[-1]
    if not _VARIABLE.match(variable):
        raise SecretsError(
            f"GLIMPSE_SECRETS_FROM: secret {name!r} does not end in an environment variable's "
            "name (letters, digits and _, e.g. glimpse/OPENAI_API_KEY)"
        )
    return variable


def _is_set(name: str, env: Mapping[str, str]) -> bool:
    return bool(env.get(name, "").strip() or os.environ.get(name, "").strip())


def load_secrets(env: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """Load the secrets GLIMPSE_SECRETS_FROM (in `env`, by default the process environment) names
    into `os.environ`; return `env` with them (the same object when it is `os.environ`).
    Raises `SecretsError` when one cannot be read."""
    env = os.environ if env is None else env
    spec = SecretsSettings.from_env(env).secrets_from
    if spec is None:
        return env
    source, _, listed = spec.partition(":")
    source = source.strip().lower()
    names = [name.strip() for name in listed.split(",") if name.strip()]
    if source == "ssm" and len(names) == 1 and names[0].endswith("/"):
        values = _parameters_under(names[0])
    else:
        wanted = [name for name in names if not _is_set(variable_for(name), env)]
        values = _fetch(source, wanted) if wanted else {}
    loaded = {
        variable: value
        for name, value in values.items()
        if not _is_set(variable := variable_for(name), env)
    }
    os.environ.update(loaded)
    return env if env is os.environ else {**env, **loaded}


def _fetch(source: str, names: list[str]) -> dict[str, str]:
    """{name: value} for each name, through dagster-aws's resource for `source`."""
    with _beta_quietly():
        return _fetch_beta(source, names)


@contextmanager
def _beta_quietly() -> Iterator[None]:
    """dagster-aws marks both resources beta: said here once, not on every process's stderr."""
    import dagster as dg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        yield


def _fetch_beta(source: str, names: list[str]) -> dict[str, str]:
    from botocore.exceptions import BotoCoreError, ClientError

    values: dict[str, str] = {}
    if source == "secretsmanager":
        from dagster_aws.secretsmanager import SecretsManagerSecretsResource

        resource = SecretsManagerSecretsResource()
        for name in names:  # one at a time, so that a failure names its secret
            try:
                fetched = resource.fetch_secrets(secrets=[name])
            except (ClientError, BotoCoreError) as error:
                raise _failure(source, name, error) from None
            value = next(iter(fetched.values()), None)
            if not isinstance(value, str):
                raise SecretsError(
                    f"GLIMPSE_SECRETS_FROM: {SOURCES[source]} secret {name!r} holds no text "
                    "(a binary secret?)"
                )
            values[name] = value
        return values
    from dagster_aws.ssm import ParameterStoreResource

    try:
        values = ParameterStoreResource(with_decryption=True).fetch_parameters(parameters=names)
    except (ClientError, BotoCoreError) as error:
        raise _failure(source, ", ".join(names), error) from None
    missing = [name for name in names if name not in values]
    if missing:
        raise SecretsError(
            f"GLIMPSE_SECRETS_FROM: {SOURCES[source]} has no parameter {missing[0]!r}"
            + (f" (nor {', '.join(map(repr, missing[1:]))})" if missing[1:] else "")
        )
    return values


def _parameters_under(path: str) -> dict[str, str]:
    from botocore.exceptions import BotoCoreError, ClientError
    from dagster_aws.ssm import ParameterStoreResource

    try:
        with _beta_quietly():
            values = ParameterStoreResource(with_decryption=True).fetch_parameters(
                parameter_paths=[path.rstrip("/") or "/"]
            )
    except (ClientError, BotoCoreError) as error:
        raise _failure("ssm", path, error) from None
    if not values:
        raise SecretsError(
            f"GLIMPSE_SECRETS_FROM: {SOURCES['ssm']} has no parameter under {path!r}"
        )
    return values


def _failure(source: str, name: str, error: Exception) -> SecretsError:
    """One line naming the secret and the kind of failure: AWS's error code (its messages may
    quote the request), or botocore's class name for a connection or credentials failure."""
    code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
    if code in {"ResourceNotFoundException", "ParameterNotFound"}:
        return SecretsError(f"GLIMPSE_SECRETS_FROM: {SOURCES[source]} has no secret {name!r}")
    if code in {"AccessDeniedException", "AccessDenied"}:
        return SecretsError(
            f"GLIMPSE_SECRETS_FROM: access denied to {SOURCES[source]} secret {name!r}"
        )
    return SecretsError(
        f"GLIMPSE_SECRETS_FROM: could not read {SOURCES[source]} secret {name!r}: "
        f"{code or type(error).__name__}"
    )
