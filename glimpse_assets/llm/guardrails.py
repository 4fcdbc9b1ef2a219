"""Outside text is data, never instructions; model output is checked before it is stored."""

from __future__ import annotations

import re

from glimpse_assets.providers.base import ProviderOutputError

_URL = re.compile(r"(?i)\b(?:https?://|www\.)\S+")
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


def reject_links_and_markup(text: str, what: str) -> str:
    if not text.strip():
        raise ProviderOutputError(f"the {what} is empty")
    if _URL.search(text):
        raise ProviderOutputError(f"the {what} contains a URL: {text!r}")
    if _MARKUP.search(text):
        raise ProviderOutputError(f"the {what} contains markup: {text!r}")
    return text


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
