from tnaas.cli import app

app(prog_name="tnaas")
