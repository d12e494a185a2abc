"""``python -m restore``: the command line."""

from .cli.main import main

main(prog_name="restore")
