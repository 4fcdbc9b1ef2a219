"""Documents from files (`search.files`, what `glimpse ingest` reads): titles, text, and a
one-line problem for a file that gives no document."""

from pathlib import Path

import pytest

from glimpse_assets.search.files import (
    MAX_TEXT_FILE_BYTES,
    FileProblem,
    file_document,
    files_under,
    html_document,
    markdown_title,
)
from glimpse_assets.search.inbox import MAX_DOCUMENT_BYTES, accepted_document
from glimpse_assets_tests.support.pdf import pdf_bytes


def test_html_title_and_text_without_markup_scripts_or_styles():
    page = (
        "<html><head><title> Orchard  Fair </title><style>p {color: red}</style></head>"
        "<body><h1>Fair</h1><p>Apples &amp; pears</p><script>alert(1)</script></body></html>"
    )
    assert html_document(page) == ("Orchard Fair", "Fair Apples & pears")


def test_html_without_a_title_takes_its_first_heading():
    assert html_document("<h1>Tide <em>tables</em></h1><p>High at noon.</p>")[0] == "Tide tables"


def test_markdown_title_is_the_first_heading_else_the_first_line():
    assert markdown_title("intro\n\n## Harbour Reopens ##\ntext") == "Harbour Reopens"
    assert markdown_title("\n  Plain first line\nmore") == "Plain first line"


def test_a_pdf_gives_its_title_and_the_text_of_its_pages(tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf_bytes(["Keepers repaint (the) lighthouse.", "Gulls nest."], "Report"))
    document = file_document(path)
    assert document == {
        "title": "Report",
        "text": "Keepers repaint (the) lighthouse.\nGulls nest.",
        "metadata": {"file": "report.pdf", "format": "pdf"},
    }
    untitled = tmp_path / "untitled.pdf"
    untitled.write_bytes(pdf_bytes(["First words here."]))
    assert file_document(untitled)["title"] == "First words here."


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("latin.txt", "caf\xe9".encode("latin-1"), "not UTF-8 text"),
        ("blank.md", b"  \n\t\n", "no text in it"),
        ("broken.pdf", b"%PDF-1.4 nothing", "not a readable PDF"),
        ("table.csv", b"a,b", "not a file of a known kind"),
        ("huge.txt", b"x" * (MAX_TEXT_FILE_BYTES + 1), "larger than the"),
    ],
)
def test_a_file_that_gives_no_document_says_why_without_quoting_it(
    tmp_path, name, content, problem
):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(FileProblem) as raised:
        file_document(path)
    assert problem in str(raised.value)
    assert "caf" not in str(raised.value) and "xxx" not in str(raised.value)


def test_text_over_the_inbox_limit_is_refused_as_post_documents_refuses_it(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text("word " * (MAX_DOCUMENT_BYTES // 5 + 10))
    with pytest.raises(ValueError, match=f"at most {MAX_DOCUMENT_BYTES} are taken"):
        accepted_document(file_document(path))


def test_folders_give_their_known_files_sorted_and_not_the_hidden_ones(tmp_path):
    for name in ["b.md", "a/c.pdf", "a/d.csv", ".git/e.txt", "a/.f.txt", "g.HTML"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    found = [path.relative_to(tmp_path).as_posix() for path in files_under([tmp_path])]
    assert found == ["a/c.pdf", "b.md", "g.HTML"]
    assert list(files_under([Path("missing.txt")])) == [Path("missing.txt")]
