from mediaforge.cli.main import app

app()
