"""``python -m mediaforge``: the same command as the ``mediaforge`` script."""

from mediaforge.cli.main import app

# The same name as the script, in usage lines and for shell completion.
app(prog_name="mediaforge")
