"""The README is the entry point, not the manual: short, its links resolve, and it copies no result.

The manual is the documentation site (docs/, mkdocs.yml); its build (`mkdocs build --strict`, run by
`make test-latest`) checks the site's own links and anchors.
"""
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _prose(text):
    """``text`` without fenced code blocks."""
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def _anchor(heading):
    """GitHub's anchor of a Markdown heading (what its renderer, and the site's toc, link to)."""
    heading = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", heading).replace(" ", "-")


def test_readme_is_at_most_2000_words():
    words = len(README.split())
    assert words <= 2000, f"README.md has {words} words; the manual belongs in docs/"


def test_every_local_link_resolves():
    links = [t for t in LINK.findall(README) if not re.match(r"[a-z]+:", t)]
    assert len(links) >= 10
    for target in links:
        path, _, anchor = target.partition("#")
        file = REPO / (path or "README.md")
        assert file.is_file(), f"README links to {target}: no file {path}"
        if anchor and path.startswith("docs/") and path.endswith(".md"):
            headings = re.findall(r"^#+ (.+)$", _prose(file.read_text(encoding="utf-8")), re.M)
            assert anchor in {_anchor(h) for h in headings}, f"README links to {target}: no such heading"


def test_readme_links_into_every_section_of_the_site():
    nav = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    pages = set(re.findall(r"^\s+- (?:[^:\n]+: )?((?:concepts|tutorials|how-to)/[\w-]+\.md)$", nav, re.M))
    pages |= {"getting-started.md", "theory.md", "reference-results.md", "index.md"}
    linked = {t.partition("#")[0][len("docs/"):] for t in LINK.findall(README) if t.startswith("docs/")}
    assert pages <= linked, f"pages of the site the README does not link: {sorted(pages - linked)}"


def test_test_command_is_what_ci_runs():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make test$", ci, re.M)
    assert "make test        # the test suite on both stacks (what CI runs: .ci/run calls `make test`)" in README


def test_readme_copies_no_number_of_the_generated_verdicts():
    """Numbers come from paper_repro.md (generated), linked, never pasted: none of its verdict table's
    numbers with three or more significant digits may appear in the README's prose."""
    repro = (REPO / "paper_repro.md").read_text(encoding="utf-8")
    table = "\n".join(line for line in repro.split("## ")[0].splitlines() if line.startswith("| C") or
                      line.startswith("| HN"))
    numbers = {n for n in re.findall(r"\d+\.\d+(?:e-?\d+)?", table) if len(re.sub(r"\D|^0+", "", n.replace(".", ""))) >= 3}
    assert len(numbers) > 10, "the verdict table of paper_repro.md holds numbers to compare with"
    prose = _prose(README)
    pasted = sorted(n for n in numbers if re.search(rf"(?<![\d.]){re.escape(n)}(?!\d)", prose))
    assert not pasted, f"README quotes numbers of paper_repro.md's verdicts: {pasted}; link them instead"
