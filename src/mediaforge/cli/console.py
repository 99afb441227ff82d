"""The two consoles every command writes to: results on stdout, the rest on stderr."""

from __future__ import annotations

from rich.console import Console

# Piped or redirected output has no screen to fit: it is never wrapped (a path
# broken in two cannot be copied or grepped); tables drop their padding (render.py).
PIPED_WIDTH = 100_000


def _console(stderr: bool) -> Console:
    # emoji=False: rich would turn ":v:" in "-b:v:0" (or in a file name) into an emoji.
    console = Console(stderr=stderr, highlight=False, emoji=False)
    if not console.is_terminal:
        console.width = PIPED_WIDTH
        console.soft_wrap = True
    return console


out = _console(stderr=False)
err = _console(stderr=True)
