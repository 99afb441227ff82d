from mediaforge.cli import app

app()
