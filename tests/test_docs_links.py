"""The documentation holds together: README.md is a short front door, and every relative link in it,
in docs/*.md and in bench/README.md leads to a file (and heading) that exists.

Each check takes the repository root and returns its problems, one sentence each, so that the last
test can show on a deliberately broken tree that every check reports what it should.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 200
SHELL_LANGUAGES = {"bash", "sh", "shell", "console", "zsh"}
SETUP_COMMANDS = ["make run", "make test"]

_FENCE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[ \t]*$", re.M | re.S)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


def doc_files(root: Path) -> list[Path]:
    """The files these checks read: README.md, docs/*.md and bench/README.md (those that exist)."""
    files = [root / "README.md", *sorted((root / "docs").glob("*.md")), root / "bench" / "README.md"]
    return [f for f in files if f.is_file()]


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code, where brackets are not links."""
    return _INLINE_CODE.sub("", _FENCE.sub("", text))


def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading: its rendered text lowercased, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link renders as its text
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a markdown file, with GitHub's -1, -2 … for repeated headings."""
    seen: dict[str, int] = {}
    found = set()
    for heading in _HEADING.findall(_FENCE.sub("", path.read_text())):
        slug = github_slug(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def broken_links(root: Path) -> list[str]:
    """Relative links (and their #anchors) that lead nowhere."""
    problems = []
    for source in doc_files(root):
        name = source.relative_to(root)
        for target in _LINK.findall(_prose(source.read_text())):
            if _SCHEME.match(target):
                continue  # http(s), mailto: not checked here (no network in the tests)
            path_part, _, anchor = target.partition("#")
            linked = (source.parent / path_part).resolve() if path_part else source
            if not linked.exists():
                problems.append(f"{name}: link to {target} — no such file")
            elif anchor and linked.suffix == ".md" and anchor.lower() not in anchors(linked):
                problems.append(f"{name}: link to {target} — no heading #{anchor} in {linked.name}")
    return problems


def readme_too_long(root: Path, limit: int = README_MAX_LINES) -> list[str]:
    lines = len((root / "README.md").read_text().splitlines())
    return [f"README.md has {lines} lines (at most {limit})"] if lines > limit else []


def outside_references(root: Path) -> list[str]:
    """Files that point outside the repository (`../shared/...`)."""
    return [f"{f.relative_to(root)} refers to ../shared" for f in doc_files(root) if "../shared" in f.read_text()]


def setup_block_problems(root: Path) -> list[str]:
    """The README's first fenced shell block must hold exactly `make run` and `make test`."""
    for match in _FENCE.finditer((root / "README.md").read_text()):
        block = match.group(0).splitlines()
        if block[0].strip("`~ \t").split(" ")[0].lower() not in SHELL_LANGUAGES:
            continue
        commands = [line.split("#", 1)[0].strip() for line in block[1:-1]]
        commands = [c for c in commands if c]
        if commands != SETUP_COMMANDS:
            return [f"README.md's first shell block runs {commands}, not {SETUP_COMMANDS}"]
        return []
    return ["README.md has no fenced shell block"]


# ----- the repository's documentation ------------------------------------------------------------


def test_every_relative_link_resolves() -> None:
    assert broken_links(ROOT) == []


def test_the_readme_is_a_front_door() -> None:
    assert readme_too_long(ROOT) == []


def test_nothing_points_outside_the_repository() -> None:
    assert outside_references(ROOT) == []


def test_the_readme_starts_with_make_run_and_make_test() -> None:
    assert setup_block_problems(ROOT) == []


def test_the_checks_read_every_doc() -> None:
    names = {str(f.relative_to(ROOT)) for f in doc_files(ROOT)}
    assert {"README.md", "bench/README.md", "docs/domain.md", "docs/configuration.md"} <= names


# ----- the checks themselves ---------------------------------------------------------------------


def test_github_slugs() -> None:
    assert github_slug("Ports and servers of `make run`") == "ports-and-servers-of-make-run"
    assert github_slug("Figure 5: the brief at 10k, 100k and 1M") == "figure-5-the-brief-at-10k-100k-and-1m"
    assert github_slug("Parent consent for a coach's cancellation") == "parent-consent-for-a-coachs-cancellation"
    assert github_slug("Layers: where each kind of code lives") == "layers-where-each-kind-of-code-lives"


def test_each_check_reports_a_bad_tree(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "good.md").write_text(
        "# Good\n\n## Same\n\n## Same\n\n```bash\n# not a heading\n```\n"
        "[back](../README.md) [twice](#same-1) [self](#good) [web](https://example.org/x)\n"
        "`[not a link](nowhere.md)`\n"
    )
    (tmp_path / "docs" / "bad.md").write_text("See [notes](../shared/notes.md) and [gone](#not-here).\n")
    readme = [
        "# Project",
        "",
        "```bash",
        "make run",
        "make install  # not the pair",
        "```",
        "",
        "[missing](docs/missing.md) [good](docs/good.md#same) [no heading](docs/good.md#nope)",
    ]
    (tmp_path / "README.md").write_text("\n".join(readme + ["line"] * (201 - len(readme))) + "\n")

    links = broken_links(tmp_path)
    assert any("docs/missing.md" in p and "no such file" in p for p in links), links
    assert any("docs/good.md#nope" in p and "no heading" in p for p in links), links
    assert any("../shared/notes.md" in p for p in links), links
    assert any("#not-here" in p for p in links), links
    assert len(links) == 4, links  # the good links, the code span and the web link are not reported
    assert readme_too_long(tmp_path) == ["README.md has 201 lines (at most 200)"]
    assert outside_references(tmp_path) == ["docs/bad.md refers to ../shared"]
    assert setup_block_problems(tmp_path) == [
        "README.md's first shell block runs ['make run', 'make install'], not ['make run', 'make test']"
    ]

    # Mended, the same tree passes every check.
    (tmp_path / "docs" / "bad.md").write_text("See [good](good.md#same).\n")
    mended = "# Project\n\n```bash\nmake run   # up\nmake test\n```\n\n[good](docs/good.md)\n"
    (tmp_path / "README.md").write_text(mended)
    assert broken_links(tmp_path) == []
    assert readme_too_long(tmp_path) == []
    assert outside_references(tmp_path) == []
    assert setup_block_problems(tmp_path) == []
