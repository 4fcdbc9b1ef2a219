"""A notifier test double shared by the publishing and notification tests."""

from __future__ import annotations

import json
from pathlib import Path

from glimpse_assets.publish.notifiers import Notifier


class RecordingNotifier(Notifier):
    """Every message is appended to a JSON-lines file (Dagster may copy a resource, so the
    record lives outside the object)."""

    inbox: str

    @property
    def kind(self) -> str:
        return "recording"

    def send(self, subject: str, text: str) -> None:
        with open(self.inbox, "a", encoding="utf-8") as file:
            file.write(json.dumps({"subject": subject, "text": text}) + "\n")

    def messages(self) -> list[dict[str, str]]:
        path = Path(self.inbox)
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text("utf-8").splitlines()]
