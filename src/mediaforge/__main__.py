"""``python -m mediaforge``: the same command as the ``mediaforge`` script."""

from mediaforge.cli.main import app

app()
