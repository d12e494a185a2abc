"""The ``restore ui`` command (click only: the server and its libraries load when it runs)."""

from __future__ import annotations

import sys

import click

from ..groups import CONTEXT
from . import LOCAL_HOSTS

#: the optional extra that installs the server's libraries
UI_EXTRA = "ui"


@click.command("ui", context_settings=CONTEXT, short_help="a local browser app: paint the mask, run any task")
@click.option("--port", type=click.IntRange(0, 65535), default=7860, show_default=True,
              help="TCP port (0: any free one).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Anything but the local machine lets others on the network use it.")
@click.option("--open", "open_", is_flag=True, help="Open the page in the default browser.")
@click.option("--weights", type=str, default=None, help="Prior directory or shipped name (default: restore-small).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--max-pixels", type=click.IntRange(1), default=None,
              help="Refuse larger uploads (default 100 MP, as the command line).")
@click.option("--threads", type=click.IntRange(1, 1024), default=None, help="CPU threads for the network.")
def ui(port, host, open_, weights, device, max_pixels, threads):
    """A local browser app: paint the mask, run any task, compare, download.

    Needs the ui extra: pip install "restore[ui]".
    """
    try:
        import uvicorn

        from .server import create_app, network_names
    except ImportError as e:
        click.echo(f"error: restore ui needs the '{UI_EXTRA}' extra: pip install \"restore[{UI_EXTRA}]\" "
                   f"({e.name or e} is missing)", err=True)
        sys.exit(2)
    import socket

    try:  # bound here, so that the address printed is the one served (--port 0: a free one)
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(128)
    except OSError as e:
        click.echo(f"error: cannot listen on {host}:{port} ({e.strerror or e})", err=True)
        sys.exit(1)
    bound = sock.getsockname()
    if host not in LOCAL_HOSTS:  # the port bound (--port 0: the free one taken)
        click.echo(f"warning: binding {host}: anyone who can reach this machine on port {bound[1]} can use the app "
                   "(upload images, run jobs); there is no login", err=True)
    anywhere = bound[0] in ("0.0.0.0", "::")  # every address: this machine's own is the one to open here
    shown = "127.0.0.1" if anywhere else f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    url = f"http://{shown}:{bound[1]}/"
    # the Host names it answers to besides IP addresses (a DNS name rebound to this machine is refused)
    hosts = network_names() if anywhere else LOCAL_HOSTS if host in LOCAL_HOSTS else (*LOCAL_HOSTS, host.lower())
    app = create_app(weights=weights, device=device, max_pixels=max_pixels, threads=threads, hosts=hosts)
    click.echo(f"restore ui: {url}  (Ctrl+C stops)" + ("; from other machines: this machine's address, port "
                                                       f"{bound[1]}" if anywhere else ""))
    sys.stdout.flush()
    if open_:
        import webbrowser

        webbrowser.open(url)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
