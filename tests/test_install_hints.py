"""Every install hint names the distribution this project publishes.

The bare name ``mediaforge`` on the package index is an unrelated program with
the same ``mediaforge`` command, so a hint like ``pipx install mediaforge``
installs the wrong thing. The hints in the sources, the docs and the README
must use the name in pyproject.toml (the command and the import stay
``mediaforge``)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# `pip install ...`, `pipx install ...`, `pipx inject ...`, `pipx upgrade ...`:
# the options after the verb are skipped, the first argument is the package.
HINT = re.compile(
    r"\bpipx?\s+(?:install|inject|upgrade|uninstall)\s+(?:--?[\w-]+\s+)*"
    r"['\"]?(?P<name>[A-Za-z0-9][\w.-]*)(?P<extras>\[[\w,]+\])?"
)


def published_name() -> str:
    with (REPO / "pyproject.toml").open("rb") as f:
        name: str = tomllib.load(f)["project"]["name"]
    return name


def hint_files() -> list[Path]:
    files = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    for path in sorted((REPO / "src").rglob("*")):
        if path.is_file() and path.suffix in {".py", ".yaml", ".service", ".md", ".txt"}:
            files.append(path)
    return files


def project_hints() -> list[tuple[str, str]]:
    """(where, name) for each hint that installs this project, by any name."""
    found = []
    for path in hint_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in HINT.finditer(line):
                name = match["name"]
                if name.lower().startswith("mediaforge"):
                    found.append((f"{path.relative_to(REPO)}:{number}: {line.strip()}", name))
    return found


def test_no_install_hint_names_the_unrelated_mediaforge_on_the_index() -> None:
    wrong = [where for where, name in project_hints() if name.lower() == "mediaforge"]
    assert not wrong, "hints that install the unrelated 'mediaforge':\n" + "\n".join(wrong)


def test_every_install_hint_uses_the_name_in_pyproject() -> None:
    name = published_name()
    hints = project_hints()
    assert hints, "no install hint found: the pattern no longer matches the docs"
    wrong = [where for where, used in hints if used != name]
    assert not wrong, f"hints not naming {name!r}:\n" + "\n".join(wrong)


def test_the_published_name_is_not_the_bare_command_name() -> None:
    assert published_name() != "mediaforge"
