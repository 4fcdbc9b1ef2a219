"""Outside text is data, never instructions; model output is checked before it is stored;
secrets never reach an error message; a prompt flagged by moderation is never drawn."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit, urlunsplit

import dagster as dg

from glimpse_assets.providers.base import ProviderOutputError

if TYPE_CHECKING:
    from glimpse_assets.storage.records import JsonRecords

_URL = re.compile(r"(?i)\b(?:https?://|www\.)\S+")
_URL_START = re.compile(r"(?i)\b(?:https?://|www\.)")  # bare, a "." after it would make a URL
_MARKUP = re.compile(r"<\s*/?\s*[A-Za-z!][^>]*>|\[[^\]]*\]\([^)]*\)")
_INSTRUCTION_PATTERNS = [
    # "ignore all previous instructions", "disregard the system prompt"; not "ignore the rules
    # on parking", which is news
    r"\b(ignore|disregard|forget|override)\s+(all\s+|any\s+)?(of\s+)?(the\s+|your\s+)?"
    r"(previous|prior|above|earlier|preceding|system|original)\b.{0,30}"
    r"\b(instructions?|prompts?|rules|directions|guidelines|messages?)\b",
    r"\b(ignore|disregard|forget|override)\s+(all\s+)?(of\s+)?your\s+"
    r"(instructions?|prompts?|rules|guidelines)\b",
    r"\b(ignore|disregard|forget|override)\s+(all\s+)?(of\s+)?(the\s+)?"
    r"(instructions?|prompts?|rules|guidelines)\s+(above|before|so far|you were given)\b",
    r"\b(system prompt|developer message|you are now|new instructions|jailbreak)\b",
    # an imperative at the start of a sentence: "Write X instead.", not "Police say only ..."
    r"^\W*(please\s+)?(write|say|output|print|respond with|reply with|answer with)\b.{0,40}"
    r"\b(instead|only|verbatim)\b",
]
_INSTRUCTION = re.compile("|".join(_INSTRUCTION_PATTERNS), re.IGNORECASE)


def fence(text: str, tag: str) -> str:
    """`text` between <tag> and </tag>, with any copy of those markers inside it removed, so the
    data cannot close its own fence and speak as instructions."""
    marker = re.compile(rf"<\s*/?\s*{re.escape(tag)}\s*>", re.IGNORECASE)
    return f"<{tag}>\n{marker.sub(' ', text).strip()}\n</{tag}>"


def looks_like_instruction(text: str) -> bool:
    """Whether outside text addresses a model ("ignore previous instructions and ...")."""
    return bool(_INSTRUCTION.search(text))


def strip_urls(text: str) -> str:
    return " ".join(_URL.sub(" ", text).split())


def _link_text(match: re.Match) -> str:
    """A Markdown link keeps its text; an HTML tag becomes a word boundary."""
    found = match.group(0)
    return " " + found[1 : found.index("]")] + " " if found.startswith("[") else " "


def strip_links_and_markup(text: str) -> str:
    """`text` without anything `reject_links_and_markup` rejects: tags, Markdown links (their
    text is kept), URLs and bare URL starts ("https://", "www."), removed until none is left
    (removing one can reveal another)."""
    while True:
        stripped = _URL_START.sub(" ", _URL.sub(" ", _MARKUP.sub(_link_text, text)))
        if stripped == text:
            return " ".join(text.split())
        text = stripped


def reject_links_and_markup(text: str, what: str) -> str:
    if not text.strip():
        raise ProviderOutputError(f"the {what} is empty")
    if _URL.search(text):
        raise ProviderOutputError(f"the {what} contains a URL: {text!r}")
    if _MARKUP.search(text):
        raise ProviderOutputError(f"the {what} contains markup: {text!r}")
    return text


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every secret of 4 characters or more replaced by ***, longest first (so a
    secret that contains another is replaced whole)."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


# -- secrets in URLs ------------------------------------------------------------------------

# Query parameters whose values are credentials: api_key, access_token, sig, password, ...
_SENSITIVE_PARAMETER = re.compile(
    r"(?i)(token|secret|passw|pwd|credential|signature|api[_-]?key|auth)"
    r"|(^|[_-])(key|sig|code|pass|session|sid|jwt)$"
)


def _encodings(value: str) -> list[str]:
    """A value as it may appear in a text: raw, percent-decoded and percent-encoded."""
    decoded = unquote(value)
    return [value, decoded, quote(decoded, safe=""), quote_plus(decoded, safe="")]


def url_secrets(url: str | None) -> list[str]:
    """What in `url` is a credential: the password of its user info (with the Basic auth token
    an HTTP client makes of it) and the values of query parameters named like credentials."""
    if not url:
        return []
    try:
        parts = urlsplit(url)
        username, password = parts.username or "", parts.password
    except ValueError:  # e.g. an unreadable port: nothing to take apart
        return []
    secrets: list[str] = []
    if password:
        pair = f"{unquote(username)}:{unquote(password)}"
        secrets += [*_encodings(password), pair, base64.b64encode(pair.encode()).decode("ascii")]
    for name, value in parse_qsl(parts.query):
        if _SENSITIVE_PARAMETER.search(name):
            secrets += _encodings(value)
    return secrets


def redact_url(url: str) -> str:
    """`url` fit for a message: its user info replaced by ***, and the values of its query
    parameters named like credentials (`api_key`, `token`, `sig`, ...) by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact(url, url_secrets(url))
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    pieces = []
    for piece in parts.query.split("&") if parts.query else []:
        name, equals, _ = piece.partition("=")
        sensitive = equals and _SENSITIVE_PARAMETER.search(unquote(name))
        pieces.append(f"{name}=***" if sensitive else piece)
    return urlunsplit((parts.scheme, netloc, parts.path, "&".join(pieces), parts.fragment))


def redact_outside_text(
    text: str, secrets: Iterable[str | None] = (), urls: Iterable[str | None] = ()
) -> str:
    """An error text built from an outside answer or exception, made safe to show: each of
    `urls` shown as `redact_url` gives it, then the `secrets` and every credential of the
    `urls` (wherever an answer echoed them) replaced by ***."""
    urls = sorted({url for url in urls if url}, key=len, reverse=True)
    for url in urls:
        text = text.replace(url, redact_url(url))
    return redact(text, [*secrets, *(secret for url in urls for secret in url_secrets(url))])


# -- moderation verdicts --------------------------------------------------------------------

MODERATION_PREFIX = "_moderation"


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ModerationVerdicts:
    """Moderation verdicts on text meant for publication, one JSON record per text at
    `_moderation/<sha256 of the text>.json` on the object store, whatever day or run gave them.

    A text flagged once stays flagged: a later verdict that passes it is listed beside the flag,
    never over it (delete the record to clear a wrong flag). Records are written with the
    store's conditional writes, so two runs checking one text at once cannot lose a flag.
    """

    def __init__(self, records: JsonRecords) -> None:
        self.records = records

    def name(self, text: str) -> str:
        return text_sha256(text)

    def uri(self, text: str) -> str:
        return self.records.uri(self.name(text))

    def add(
        self, text: str, *, flagged: bool, categories: list[str], model: str, day: str | None
    ) -> dict[str, Any]:
        """Record a verdict (once: the same verdict again changes nothing); the record."""
        from glimpse_assets.storage.object_store import AlreadyExistsError, ObjectChangedError

        name = self.name(text)
        verdict = {"flagged": flagged, "categories": sorted(categories), "model": model, "day": day}
        for _ in range(5):
            found = self.records.get_versioned(name)
            record, etag = found or ({"sha256": name, "text": text, "verdicts": []}, None)
            known = [
                {k: v for k, v in seen.items() if k != "checked_at"} for seen in record["verdicts"]
            ]
            if verdict in known:
                return record
            record["verdicts"].append(
                {**verdict, "checked_at": datetime.now(UTC).isoformat(timespec="seconds")}
            )
            flags = [seen for seen in record["verdicts"] if seen["flagged"]]
            record["flagged"] = bool(flags)
            record["categories"] = sorted({c for seen in flags for c in seen["categories"]})
            try:
                if etag is None:
                    self.records.create(name, record)
                else:
                    self.records.replace(name, record, etag)
                return record
            except (AlreadyExistsError, ObjectChangedError):
                continue  # another run wrote it meanwhile: read it again and add to that
        raise RuntimeError(f"could not record the moderation verdict at {self.uri(text)}")

    def flags(self, text: str) -> list[dict[str, Any]]:
        """The verdicts that flagged this exact text; none when it was never flagged."""
        record = self.records.get(self.name(text)) or {}
        return [seen for seen in record.get("verdicts") or [] if seen.get("flagged")]

    def refuse_if_flagged(self, text: str, what: str = "the image prompt") -> None:
        """A non-retryable `dagster.Failure` naming the categories when `text` was ever flagged."""
        flags = self.flags(text)
        if not flags:
            return
        categories = sorted({c for verdict in flags for c in verdict.get("categories") or []})
        days = sorted({str(verdict["day"]) for verdict in flags if verdict.get("day")})
        raise dg.Failure(
            description=(
                f"{what} was flagged by moderation ({', '.join(categories) or 'no category given'}"
                f"{'; on ' + ', '.join(days) if days else ''}), so it is never drawn: write a new "
                "prompt (materialise image_prompt with force: true) or, if the verdict is "
                f"wrong, delete {self.uri(text)}"
            ),
            metadata={
                "moderation_categories": ", ".join(categories),
                "moderation_record": self.uri(text),
            },
            allow_retries=False,
        )
