"""Seven days of both chains with the openai provider pointed at a local OpenAI-compatible
server, twice: how many requests the first pass sends, how many the identical second pass sends
(the response cache should make it zero), and the most requests in flight at once.

Each day runs as a user runs it (`python -m glimpse_assets.run --day D`), four days at a time,
all in one Dagster instance whose dagster.yaml limits the `llm` pool.

Usage: python benchmarks/llm_backfill.py   (from the repository root)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from glimpse_assets_tests.support.fake_openai import CHAT, IMAGES, MODERATIONS, FakeOpenAI  # noqa: E402

DAYS = [(date(2026, 3, 1) + timedelta(days=n)).isoformat() for n in range(7)]
PARALLEL_DAYS = 4


def run_days(env: dict[str, str]) -> list[int]:
    def one(day: str) -> int:
        command = [sys.executable, "-m", "glimpse_assets.run", "--day", day]
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
        if done.returncode:
            failed = [line for line in done.stdout.splitlines() if "failed" in line.lower()]
            print(f"{day} failed:", *(failed or done.stderr.splitlines()[-5:]), sep="\n  ")
        return done.returncode

    with ThreadPoolExecutor(max_workers=PARALLEL_DAYS) as pool:
        return list(pool.map(one, DAYS))


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="glimpse-llm-backfill-"))
    (workdir / "home").mkdir()
    shutil.copy(REPO / "dagster.yaml", workdir / "home" / "dagster.yaml")
    with FakeOpenAI(delay_seconds=0.05) as fake:
        env = {
            **os.environ,
            "DAGSTER_HOME": str(workdir / "home"),
            "GLIMPSE_STORAGE_URI": str(workdir / "storage"),
            "GLIMPSE_PROVIDER": "openai",
            "OPENAI_API_KEY": "sk-local-benchmark",
            "OPENAI_BASE_URL": fake.base_url,
            "GLIMPSE_TEXT_MODEL": "gpt-4o-mini",
            "GLIMPSE_IMAGE_MODEL": "gpt-image-1",
        }
        # Create the instance's SQLite schema once: processes starting together on an empty
        # DAGSTER_HOME would race to migrate it.
        init = [sys.executable, "-c", "import dagster; dagster.DagsterInstance.get()"]
        subprocess.run(init, cwd=REPO, env=env, check=True, capture_output=True)
        passes = []
        for name in ("first pass", "second pass (identical)"):
            before = fake.snapshot()
            codes = run_days(env)
            after = fake.snapshot()
            sent = {
                path: after.get(path, 0) - before.get(path, 0)
                for path in (CHAT, IMAGES, MODERATIONS)
            }
            passes.append((name, codes, sent))
        most = fake.max_in_flight
    shutil.rmtree(workdir, ignore_errors=True)
    print(f"7 days ({DAYS[0]}..{DAYS[-1]}), both chains, {PARALLEL_DAYS} days at a time")
    for name, codes, sent in passes:
        ok = sum(code == 0 for code in codes)
        print(
            f"{name}: {ok}/7 days succeeded; requests: chat {sent[CHAT]}, images {sent[IMAGES]}, "
            f"moderations {sent[MODERATIONS]}, total {sum(sent.values())}"
        )
    print(f"most requests in flight at once: {most}")


if __name__ == "__main__":
    main()
