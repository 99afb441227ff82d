"""The two consoles every command writes to: results on stdout, the rest on stderr."""

from __future__ import annotations

from rich.console import Console

# emoji=False: rich would turn ":v:" in "-b:v:0" (or in a file name) into an emoji.
out = Console(highlight=False, emoji=False)
err = Console(stderr=True, highlight=False, emoji=False)
