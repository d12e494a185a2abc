"""``restore ui``: a local browser app over the same API as the command line.

The page (``static/``: one HTML file, one script, no framework) paints the mask on a canvas
and talks JSON to this Starlette app. Everything that restores goes through the command
line's own loader and solver (:func:`restore.cli.runner.load` / :func:`~restore.cli.runner.solve`,
i.e. :func:`restore.api.run`), so a page run and ``restore TASK`` give the same pixels.

Why Starlette and a hand-written canvas rather than Gradio: ``benchmarks/results/ui_choice.md``
(install size, start-up time, brush on a 12 MP photo).

Safety: the server binds 127.0.0.1 unless told otherwise; it never takes a file-system
path from the page (uploads are bytes, stored under names it chooses; a text parameter
naming an existing file is refused); uploads obey the command line's pixel limit
(``--max-pixels``, default :data:`restore.io.DEFAULT_MAX_PIXELS`) and a byte limit derived
from it; every failure reaches the page as one line.
"""

# nothing imported here: ``restore --help`` loads the command (cli/ui/command.py), not the server
