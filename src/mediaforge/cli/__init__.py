"""The command line: a thin skin over the core.
Each command parses its arguments, calls one core function and renders the result.
"""

from mediaforge.cli.fastpath import answer_version_early

answer_version_early()
