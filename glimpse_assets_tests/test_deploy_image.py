"""The Dockerfile and its entrypoint, without a container engine (none runs here): the file is
read for what the image must be (non-root, the package installed, everything it copies in the
build context), and deploy/entrypoint.sh is run for real with this environment's Dagster: the
code server answers gRPC health checks, the webserver reaches it through
deploy/workspace.grpc.yaml and loads the code location, and the daemon's heartbeats pass its
liveness check. Every process listens on 127.0.0.1 only and is stopped at the end."""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.services import kill_group, location_loaded
from glimpse_assets_tests.support.net import free_port, wait_until

pytestmark = pytest.mark.deploy

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()
ENTRYPOINT = REPO_ROOT / "deploy" / "entrypoint.sh"


def instructions(name: str) -> list[str]:
    return [
        line.split(None, 1)[1]
        for line in DOCKERFILE.replace("\\\n", " ").splitlines()
        if line.split(None, 1)[:1] == [name]
    ]


def ignored(path: str) -> bool:
    patterns = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return any(
        fnmatch.fnmatch(path, pattern.strip("/")) or path.startswith(pattern.strip("/") + "/")
        for pattern in patterns
    )


def test_the_image_runs_as_a_non_root_user():
    (user,) = instructions("USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0  # numeric, so runAsNonRoot can verify it
    assert re.search(rf"useradd --uid {uid}\b", DOCKERFILE)


def test_the_image_installs_the_package_with_the_deploy_extra_not_a_checkout():
    runs = " ".join(instructions("RUN"))
    assert "pip install '.[deploy]'" in runs
    assert "-e " not in runs and "--editable" not in runs
    assert "deploy = [" in (REPO_ROOT / "pyproject.toml").read_text()
    (base,) = instructions("FROM")
    version = re.search(r"python:(\d+)\.(\d+)", base)
    assert version and (3, 11) <= tuple(map(int, version.groups())) < (3, 14)


def test_everything_the_image_copies_is_in_the_build_context():
    sources = []
    for copy in instructions("COPY"):
        parts = [part for part in copy.split() if not part.startswith("--")]
        sources += parts[:-1]
    assert sources
    for source in sources:
        assert (REPO_ROOT / source).exists(), source
        assert not ignored(source), f"{source} is excluded by .dockerignore"
    for heavy in (".venv", ".git", ".dagster", ".glimpse", "glimpse_assets_tests"):
        assert ignored(heavy), heavy


def test_the_entrypoint_names_the_three_services_and_defaults_to_the_code_server():
    (entrypoint,) = instructions("ENTRYPOINT")
    (command,) = instructions("CMD")
    assert json.loads(entrypoint) == ["glimpse-entrypoint"]
    assert json.loads(command) == ["code-server"]
    text = ENTRYPOINT.read_text()
    for service in ("code-server)", "webserver)", "daemon)", "worker)"):
        assert service in text


# -- the entrypoint's services, for real, on 127.0.0.1 ------------------------------------------


@pytest.fixture
def service_env(tmp_path) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("GLIMPSE_", "OPENAI_", "DAGSTER_"))
    }
    return env | {
        "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        "DAGSTER_HOME": str(home),
        "GLIMPSE_STORAGE_URI": str(tmp_path / "storage"),
        "GLIMPSE_BIND_HOST": "127.0.0.1",
        "GLIMPSE_CODE_SERVER_HOST": "127.0.0.1",
        "GLIMPSE_CODE_SERVER_PORT": str(free_port()),
        "GLIMPSE_WEBSERVER_PORT": str(free_port()),
        "GLIMPSE_WORKSPACE": str(REPO_ROOT / "deploy" / "workspace.grpc.yaml"),
    }


@contextlib.contextmanager
def service(name: str, env: dict[str, str], log: Path):
    with open(log, "wb") as out:
        process = subprocess.Popen(
            ["sh", str(ENTRYPOINT), name],
            cwd=env["DAGSTER_HOME"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        kill_group(process, grace=30)


def command_passes(args: list[str], env: dict[str, str]) -> bool:
    completed = subprocess.run(args, env=env, capture_output=True, timeout=60)
    return completed.returncode == 0


@pytest.mark.process
def test_the_code_server_webserver_and_daemon_start_from_the_entrypoint(service_env, tmp_path):
    env = service_env
    health = [
        str(VENV_BIN / "dagster"),
        "api",
        "grpc-health-check",
        "-h",
        "127.0.0.1",
        "-p",
        env["GLIMPSE_CODE_SERVER_PORT"],
    ]
    with service("code-server", env, tmp_path / "code-server.log") as code_server:
        wait_until(
            lambda: command_passes(health, env),
            "the code server",
            process=code_server,
            log=tmp_path / "code-server.log",
            timeout=120,
            interval=0.5,
        )
        with (
            service("webserver", env, tmp_path / "webserver.log") as webserver,
            service("daemon", env, tmp_path / "daemon.log") as daemon,
        ):
            wait_until(
                lambda: location_loaded(env["GLIMPSE_WEBSERVER_PORT"]),
                "the webserver with the code location",
                process=webserver,
                log=tmp_path / "webserver.log",
                timeout=120,
                interval=0.5,
            )
            liveness = [str(VENV_BIN / "dagster-daemon"), "liveness-check"]
            wait_until(
                lambda: command_passes(liveness, env),
                "the daemon's heartbeat",
                process=daemon,
                log=tmp_path / "daemon.log",
                timeout=180,
                interval=0.5,
            )
