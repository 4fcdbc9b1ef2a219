"""Real PostgreSQL, Redis and dagster-celery worker processes on 127.0.0.1, each in a folder of
its own, for `make deploy-test` and the deploy tests. Each has `start()` (which returns once the
service answers), `stop()` (which also kills what is left of its process group) and `env()`
where a client needs settings. Nothing here listens on anything but 127.0.0.1.

PostgreSQL refuses to run as root: as root, initdb and the server run as the `postgres` user
(Debian's package makes it) or else `nobody`, in a folder that user owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from pathlib import Path

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
CELERY_CONFIG = REPO_ROOT / "deploy" / "celery.yaml"


class ServiceError(RuntimeError):
    """A service did not start; the message says which and ends with the tail of its log."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def kill_group(process: subprocess.Popen | None, grace: float = 10.0) -> None:
    """SIGTERM to the process group, SIGKILL to what is left after `grace` seconds."""
    if process is None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    # Children that outlived their group leader (celery's pool) are still in the group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def location_loaded(port: int | str) -> bool:
    """The webserver on `port` has loaded the glimpse_assets code location (from its code
    server), as its GraphQL API tells."""
    import json
    import urllib.request

    query = (
        "{ workspaceOrError { ... on Workspace { locationEntries { name "
        "locationOrLoadError { __typename } } } } }"
    )
    request = urllib.request.Request(
        f"http://{HOST}:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            entries = json.load(response)["data"]["workspaceOrError"]["locationEntries"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    loaded = [(e["name"], (e["locationOrLoadError"] or {}).get("__typename")) for e in entries]
    return loaded == [("glimpse_assets", "RepositoryLocation")]


def postgres_bin_dir() -> Path | None:
    """Where initdb and pg_ctl are: Debian's /usr/lib/postgresql/<version>/bin (newest), or PATH."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: (
            int(Path(path).parent.parent.name) if Path(path).parent.parent.name.isdigit() else 0
        ),
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def missing_binaries() -> list[str]:
    """The deploy services' programs this machine lacks (`.ci/run` installs them)."""
    missing = []
    if postgres_bin_dir() is None or not (postgres_bin_dir() / "pg_ctl").exists():
        missing.append("PostgreSQL (initdb, pg_ctl: apt-get install postgresql)")
    if shutil.which("redis-server") is None:
        missing.append("redis-server (apt-get install redis-server)")
    return missing


class PostgresServer:
    """A throwaway PostgreSQL cluster in `folder`, password-authenticated on 127.0.0.1:port."""

    def __init__(self, folder: str | Path, database: str = "dagster", username: str = "glimpse"):
        self.folder = Path(folder).resolve()
        self.data = self.folder / "data"
        self.log_path = self.folder / "postgres.log"
        self.database = database
        self.username = username
        self.password = secrets.token_urlsafe(16)
        self.port = free_port()
        self.bin = postgres_bin_dir()
        self._run_as: pwd.struct_passwd | None = None
        if os.getuid() == 0:
            for name in ("postgres", "nobody"):
                with contextlib.suppress(KeyError):
                    self._run_as = pwd.getpwnam(name)
                    break

    def _run(self, args: list[str], **kwargs) -> subprocess.CompletedProcess:
        user = {}
        if self._run_as is not None:
            user = {"user": self._run_as.pw_uid, "group": self._run_as.pw_gid, "extra_groups": []}
        env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "LANG": "C"}
        return subprocess.run(
            args, cwd=self.folder, env=env, capture_output=True, text=True, **user, **kwargs
        )

    def start(self) -> PostgresServer:
        if self.bin is None:
            raise ServiceError("PostgreSQL is not installed (apt-get install postgresql)")
        self.folder.mkdir(parents=True, exist_ok=True)
        password_file = self.folder / "password"
        password_file.write_text(self.password + "\n")
        if self._run_as is not None:
            # The user the server runs as must reach and own its folder (and nothing else).
            for parent in [self.folder, *self.folder.parents]:
                if parent == Path("/"):
                    break
                parent.chmod(parent.stat().st_mode | 0o111)
            os.chown(self.folder, self._run_as.pw_uid, self._run_as.pw_gid)
            os.chown(password_file, self._run_as.pw_uid, self._run_as.pw_gid)
        password_file.chmod(0o600)
        initdb = self._run(
            [
                str(self.bin / "initdb"),
                f"--pgdata={self.data}",
                f"--username={self.username}",
                f"--pwfile={password_file}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
            ],
            timeout=120,
        )
        password_file.unlink()
        if initdb.returncode != 0:
            raise ServiceError(f"initdb failed\n{initdb.stdout}\n{initdb.stderr}")
        options = (
            f"-c listen_addresses={HOST} -p {self.port} -c unix_socket_directories='' "
            "-c fsync=off -c max_connections=200"
        )
        started = self._run(
            [
                str(self.bin / "pg_ctl"),
                f"--pgdata={self.data}",
                f"--log={self.log_path}",
                f"--options={options}",
                "--wait",
                "--timeout=60",
                "start",
            ],
            timeout=90,
        )
        if started.returncode != 0:
            raise ServiceError(
                f"PostgreSQL did not start\n{started.stderr}\n{log_tail(self.log_path)}"
            )
        self._create_database()
        return self

    def _create_database(self) -> None:
        import psycopg2

        deadline = time.monotonic() + 30
        while True:
            try:
                connection = psycopg2.connect(
                    host=HOST,
                    port=self.port,
                    user=self.username,
                    password=self.password,
                    dbname="postgres",
                )
                break
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        connection.autocommit = True  # CREATE DATABASE runs outside a transaction
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            connection.close()

    def env(self) -> dict[str, str]:
        """The DAGSTER_PG_* variables deploy/dagster.postgres.yaml reads."""
        return {
            "DAGSTER_PG_HOST": HOST,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_DB": self.database,
            "DAGSTER_PG_USERNAME": self.username,
            "DAGSTER_PG_PASSWORD": self.password,
        }

    def stop(self) -> None:
        if self.bin is None or not (self.data / "postmaster.pid").exists():
            return
        self._run(
            [str(self.bin / "pg_ctl"), f"--pgdata={self.data}", "--mode=immediate", "stop"],
            timeout=60,
        )

    def __enter__(self) -> PostgresServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class ProcessService(ABC):
    """What the services started as one process group share: the process, its log, waiting
    until it answers (or fails, with the log's tail), stopping the whole group, and `with`."""

    grace_seconds = 10.0
    poll_seconds = 0.2
    log_path: Path
    _process: subprocess.Popen | None = None

    def describe(self) -> str:
        return type(self).__name__

    @abstractmethod
    def start(self):
        """Start the process (`_popen`) and return `_wait_until(ready, timeout)`."""

    def _popen(self, command: list[str], **options) -> None:
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **options,
            )

    def _wait_until(self, ready, timeout: float):
        """`self` once `ready()` is true; a ServiceError (the process stopped) if it exits or
        does not answer within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise ServiceError(f"{self.describe()} exited\n{log_tail(self.log_path)}")
            if ready():
                return self
            time.sleep(self.poll_seconds)
        self.stop()
        raise ServiceError(f"{self.describe()} did not answer\n{log_tail(self.log_path)}")

    def stop(self) -> None:
        process, self._process = self._process, None
        kill_group(process, grace=self.grace_seconds)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class RedisServer(ProcessService):
    """`redis-server` on 127.0.0.1:port, nothing saved to disk."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder).resolve()
        self.log_path = self.folder / "redis.log"
        self.port = free_port()
        self.url = f"redis://{HOST}:{self.port}/0"
        self._process: subprocess.Popen | None = None

    grace_seconds = 5.0
    poll_seconds = 0.1

    def describe(self) -> str:
        return "redis-server"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceError("redis-server is not installed (apt-get install redis-server)")
        self.folder.mkdir(parents=True, exist_ok=True)
        self._popen(
            [
                binary,
                "--bind",
                HOST,
                "--port",
                str(self.port),
                "--dir",
                str(self.folder),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ]
        )
        return self._wait_until(self._answers_ping, 30)

    def _answers_ping(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), 1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
        return False


class CeleryWorker(ProcessService):
    """One `dagster-celery worker start` (deploy/celery.yaml) running one step at a time, with
    the environment `env` (the broker, the instance, the storage: what the runs have)."""

    def __init__(self, name: str, folder: str | Path, env: dict[str, str]):
        self.name = name
        self.folder = Path(folder).resolve()
        self.log_path = self.folder / f"celery-{name}.log"
        self.env = {**env, "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"}
        self._process: subprocess.Popen | None = None

    grace_seconds = 15.0

    def describe(self) -> str:
        return f"worker {self.name}"

    def start(self, timeout: float = 120.0) -> CeleryWorker:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._popen(
            [
                str(VENV_BIN / "dagster-celery"),
                "worker",
                "start",
                "--app=dagster_celery.app",
                f"--config-yaml={CELERY_CONFIG}",
                f"--name={self.name}",
                "--loglevel=INFO",
                "--",
                "--concurrency=1",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=REPO_ROOT,
            env=self.env,
        )
        return self._wait_until(
            lambda: " ready." in self.log_path.read_text(errors="replace"), timeout
        )


class EntrypointService(ProcessService):
    """One of the image's services (`deploy/entrypoint.sh code-server|webserver|daemon`) run
    from this environment, as the image runs it; `ready()` says when it answers."""

    def __init__(self, name: str, folder: str | Path, env: dict[str, str], ready):
        self.name = name
        self.folder = Path(folder).resolve()
        self.log_path = self.folder / f"{name}.log"
        self.env = {**env, "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"}
        self.ready = ready
        self._process: subprocess.Popen | None = None

    grace_seconds = 20.0
    poll_seconds = 0.5

    def describe(self) -> str:
        return f"the {self.name}"

    def start(self, timeout: float = 180.0) -> EntrypointService:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._popen(
            ["sh", str(REPO_ROOT / "deploy" / "entrypoint.sh"), self.name],
            cwd=self.folder,
            env=self.env,
        )
        return self._wait_until(self.ready, timeout)
