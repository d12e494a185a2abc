"""``restore ui``: a local browser app over the same API as the command line.

The page (``static/``: one HTML file, one script, no framework) paints the mask on a canvas
and talks JSON to this Starlette app. Everything that restores goes through the command
line's own loader and solver (:func:`restore.cli.runner.load` / :func:`~restore.cli.runner.solve`,
i.e. :func:`restore.api.run`), so a page run and ``restore TASK`` give the same pixels.

Why Starlette and a hand-written canvas rather than Gradio: ``benchmarks/results/ui_choice.md``
(install size, start-up time, brush on a 12 MP photo).

Safety: the server binds 127.0.0.1 unless told otherwise, and answers to IP addresses and
the machine's own names alone (a page whose DNS name was rebound to it is refused); a request
that changes anything from another site's page (a browser names it: ``Origin``,
``Sec-Fetch-Site``) is refused (:func:`restore.cli.ui.server.refusal`); it never takes a
file-system path from the page (uploads are bytes, stored under names it chooses; a text
parameter that may name a file takes the NAME:NUMBERS form alone, never looked for on the
disk); uploads and jobs obey the command line's pixel limit (``--max-pixels``, default
:data:`restore.io.DEFAULT_MAX_PIXELS`) and byte limits derived from it; every failure reaches
the page as one line.
"""

# nothing else imported here: ``restore --help`` loads the command (cli/ui/command.py), not the server

#: the local machine's names: binding one of them keeps others off, and the app then answers to these
#: names and IP addresses alone (the Host header: a site whose DNS name was rebound to 127.0.0.1 sends its own)
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
