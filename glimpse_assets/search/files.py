"""Documents from files, for `glimpse ingest`: the title and text of a text, Markdown, HTML or
PDF file, as the fields `POST /documents` takes (`inbox.accepted_document` checks them).

A file that cannot give a document (not UTF-8, an unreadable or encrypted PDF, no text, too big
to read) is a `FileProblem` whose message says what is wrong in a few words, never quoting the
file. The title is the document's own (a Markdown heading, an HTML `<title>` or `<h1>`, a PDF's
title) or its first line, else the file's name; the metadata names the file (its name, not its
folder) and its format. Nothing else is added: the same file gives the same document, and so
the same inbox id, wherever and whenever it is read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from glimpse_assets.search.inbox import MAX_DOCUMENT_BYTES
from glimpse_assets.text import strip_html

FORMATS = {".txt": "text", ".md": "markdown", ".markdown": "markdown", ".html": "html"}
FORMATS |= {".htm": "html", ".pdf": "pdf"}
MAX_TITLE_CHARS = 200
# Files read whole before their text is known: an HTML page carries markup besides its text, a
# PDF its fonts and images. Past these, the text could not be taken anyway (MAX_DOCUMENT_BYTES).
MAX_TEXT_FILE_BYTES = 4 * MAX_DOCUMENT_BYTES
MAX_PDF_BYTES = 100 * 1024 * 1024
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")


class FileProblem(ValueError):
    """Why a file gives no document, in a few words that never quote it."""


def supported(path: Path) -> bool:
    return path.suffix.lower() in FORMATS


def files_under(paths: Iterable[Path]) -> Iterator[Path]:
    """Each path given, and the supported files under each folder given (recursively, sorted,
    hidden files and folders left out). A file named directly is yielded whatever its kind
    (`file_document` says if it is not one it reads); a missing path too."""
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        for found in sorted(path.rglob("*")):
            hidden = any(part.startswith(".") for part in found.relative_to(path).parts)
            if found.is_file() and supported(found) and not hidden:
                yield found


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _title(*candidates: str | None) -> str:
    for candidate in candidates:
        words = " ".join((candidate or "").split())
        if words:
            return words[:MAX_TITLE_CHARS].rstrip()
    return ""


def _check_size(path: Path, limit: int) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise FileProblem("no such file or folder") from None
    if size > limit:
        raise FileProblem(f"{size} bytes: larger than the {limit} bytes read")


def _read(path: Path, limit: int) -> bytes:
    _check_size(path, limit)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise FileProblem("no such file or folder") from None
    except PermissionError:
        raise FileProblem("not readable (permission denied)") from None
    except OSError as error:
        raise FileProblem(f"not readable ({error.strerror or type(error).__name__})") from None


def _decoded(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileProblem("not UTF-8 text") from None


class _HtmlTitles(HTMLParser):
    """The text of the first `<title>` and of the first `<h1>`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: dict[str, list[str]] = {}
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in ("title", "h1") and tag not in self.found:
            self._open = tag
            self.found[tag] = []

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open:
            self.found[self._open].append(data)

    def text(self, tag: str) -> str:
        return "".join(self.found.get(tag, []))


def html_document(page: str) -> tuple[str, str]:
    """(title, text) of an HTML page: its `<title>`, else its first `<h1>`; the text without
    markup, scripts or styles (`text.strip_html`)."""
    titles = _HtmlTitles()
    titles.feed(page)
    titles.close()
    lines = (" ".join(line.split()) for line in strip_html(page).splitlines())
    text = "\n".join(line for line in lines if line)
    return _title(titles.text("title"), titles.text("h1")), text


def markdown_title(text: str) -> str:
    """The first ATX heading (`# Title`), else the first line."""
    for line in text.splitlines():
        if heading := _HEADING.match(line):
            return heading.group(1)
    return _first_line(text)


def pdf_document(path: Path) -> tuple[str, str]:
    """(title, text) of a PDF: its metadata title, and the text of its pages (pypdf). More text
    than a document may hold stops the reading."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings would quote the file
    _check_size(path, MAX_PDF_BYTES)
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise FileProblem("an encrypted PDF (a password is needed)")
        pages, size = [], 0
        for page in reader.pages:
            text = page.extract_text() or ""
            pages.append(text)
            size += len(text.encode("utf-8"))
            if size > MAX_DOCUMENT_BYTES:
                break
        title = reader.metadata.title if reader.metadata else None
    except FileProblem:
        raise
    except FileNotFoundError:
        raise FileProblem("no such file or folder") from None
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError) as error:
        raise FileProblem(f"not a readable PDF ({type(error).__name__})") from None
    text = "\n".join(page.strip() for page in pages if page.strip())
    return _title(title if isinstance(title, str) else None, _first_line(text)), text


def file_document(path: Path) -> dict[str, Any]:
    """The fields of the document `path` holds (`title`, `text`, `metadata`), or `FileProblem`."""
    kind = FORMATS.get(path.suffix.lower())
    if path.is_dir():
        raise FileProblem("a folder")
    if kind is None:
        names = ", ".join(sorted(FORMATS))
        raise FileProblem(f"not a file of a known kind ({names})")
    if kind == "pdf":
        title, text = pdf_document(path)
    else:
        content = _decoded(_read(path, MAX_TEXT_FILE_BYTES))
        if kind == "html":
            title, text = html_document(content)
        else:
            text = content.strip()
            title = _title(markdown_title(text) if kind == "markdown" else _first_line(text))
    if not text.strip():
        raise FileProblem("no text in it")
    return {
        "title": title or _title(path.stem) or path.name,
        "text": text,
        "metadata": {"file": path.name, "format": kind},
    }
