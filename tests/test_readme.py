"""The README and docs/ document what the code does: the config-language table is the registry's own,
the README gives the commands CI runs, stays short, and every relative link points at a file."""

import re
from pathlib import Path

import pytest

from explorer.keys import markdown_table

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
CONFIG_LANGUAGE = ROOT / "docs" / "config-language.md"
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def test_config_language_table_is_current():
    assert markdown_table().strip() in CONFIG_LANGUAGE.read_text(), (
        "regenerate it with: python -m explorer keys --markdown"
    )


def test_readme_links_to_the_config_language():
    assert "(docs/config-language.md)" in README


def test_readme_gives_the_two_commands_that_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 run.py app" in README
    assert "python3 run.py test" in README
    assert "python3 run.py test" in ci


def test_readme_is_short():
    assert len(README.splitlines()) <= 220, "the README is for users: move details into docs/"


def relative_links(path: Path) -> list[str]:
    """Targets of the Markdown links and images in ``path`` that are files of this repository."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)  # code blocks hold no links
    targets = (match.group(1) for match in LINK.finditer(text))
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t) and not t.startswith(("#", "?"))]


def test_links_are_found():
    assert "docs/config-language.md" in relative_links(ROOT / "README.md")
    assert "assets/build-page.png" in relative_links(ROOT / "README.md")


def anchors(path: Path) -> set[str]:
    """GitHub's anchors of the headings in ``path``: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)
    headings = re.findall(r"^#+\s+(.+?)\s*$", text, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_at_files(document):
    missing = []
    for target in relative_links(document):
        file, _, anchor = target.partition("#")
        linked = document.parent / file
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in anchors(linked)):
            missing.append(target)
    assert not missing, f"{document.relative_to(ROOT)} links to missing files or headings: {missing}"
