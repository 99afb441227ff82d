"""``mediaforge --version`` answered before typer, rich and the commands are imported.

Those imports take ~100 ms, several times what the interpreter needs to start,
and printing the version needs none of them. This module is imported by the
``mediaforge.cli`` package itself, ahead of ``mediaforge.cli.main`` (which the
``mediaforge`` script and ``python -m mediaforge`` import), so it only acts
when this process *is* the mediaforge command run as exactly ``--version``.
Anything else (``--version`` with other arguments, a library caller) goes on
to typer, which prints the same line.
"""

from __future__ import annotations

import os
import sys

from mediaforge import __version__


def _is_the_command() -> bool:
    program = sys.argv[0] if sys.argv else ""
    # The installed script, or ``python -m mediaforge`` (argv[0] is then its __main__.py).
    return os.path.basename(program) == "mediaforge" or program.endswith(
        os.path.join("mediaforge", "__main__.py")
    )


def answer_version_early() -> None:
    """Print the version and exit, when the command line is ``mediaforge --version``."""
    if sys.argv[1:] == ["--version"] and _is_the_command():
        sys.stdout.write(f"mediaforge {__version__}\n")
        raise SystemExit(0)
