"""The app of ``restore ui`` (Starlette): uploads, task declarations, a one-job-at-a-time queue.

Routes (all JSON unless said), behind :class:`Guard` (:func:`refusal`: another host name, or a
change posted by another site's page, is answered 403 before any route reads it):

- ``GET /``: the page; ``GET /static/...``: its script and style.
- ``GET /api/tasks``: every registered task with its command-line parameters (as
  :func:`restore.cli.groups.param_option` reads them), its file inputs and the samplers that
  serve it; the limits.
- ``POST /api/images``: the body is an image file's bytes (``X-Filename``: its name, used for
  messages and the download's name only). Read by :func:`restore.io.read_image`, as the
  command line reads it; answers its id, size and whether it has alpha.
- ``GET /api/images/{id}/preview.png``: the image as displayed (8-bit PNG).
- ``POST /api/jobs``: ``{"image", "task", "params" (command-line units), "steps", "seed",
  "sampler", "mask" (a PNG data URL: white = fill)}`` (``application/json``, at most
  ``max_job_bytes``); checked before it is queued.
- ``GET /api/jobs/{id}``: its state and progress; ``POST /api/jobs/{id}/cancel``. A job whose
  state nobody has asked for in :data:`ABANDONED` seconds (its page closed or reloaded) is
  cancelled at its next step, so it does not hold up the queue.
- ``GET /api/jobs/{id}/preview.png``, ``GET /api/jobs/{id}/download``: the result shown, and
  as a PNG with the input's bit depth, alpha, EXIF and ICC profile (:func:`restore.io.encode_image`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import itertools
import json
import math
import os
import queue
import re
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from restore.errors import RestoreError
from restore.io import DEFAULT_MAX_PIXELS, READ_EXTS
from restore.prior.denoiser import between_tiles
from restore.registry import MAX_SEED, parse_method
from restore.samplers import SAMPLERS, compatible_samplers
from restore.tasks import TASKS, get_task
from restore.tasks.base import SPEC_FORM

from . import LOCAL_HOSTS

STATIC = Path(__file__).with_name("static")
#: bytes per pixel allowed in an upload: an uncompressed 16-bit RGBA file at the pixel limit
#: (no real image file of that many pixels is larger), plus room for its headers
BYTES_PER_PIXEL = 8
HEADER_ROOM = 1 << 20
KEEP_IMAGES = 8  # uploads kept (oldest dropped first)
KEEP_JOBS = 12  # finished jobs kept with their results (a 12 MP 16-bit PNG is about 50 MB)
MAX_WAITING = 16  # jobs queued or running at once; one more is refused (429) until one ends or is cancelled
CLOSE_WAIT = 10.0  # seconds a stopping server waits for the running job to reach its next step
#: seconds without a poll after which a job counts as abandoned (a page polls 4 times a second; a hidden tab's
#: timers may slow to once a minute, and a closing page cancels its jobs itself)
ABANDONED = 150.0
DIR_PREFIX, OWNER = "restore-ui-", "owner.pid"  # the uploads' folder in the temp dir, and its server's pid file


def network_names() -> tuple[str, ...]:
    """The names a server listening on every address answers to besides IP addresses: the
    local ones and this machine's own (its host name, fully qualified, and as mDNS has it)."""
    import socket

    own = {socket.gethostname().lower(), socket.getfqdn().lower()}
    return (*LOCAL_HOSTS, *sorted(own | {f"{n.split('.')[0]}.local" for n in own}))


def _is_ip(name: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def refusal(method: str, headers: dict, hosts: tuple[str, ...]) -> str | None:
    """Why a request is refused before any handler sees it, or None. ``hosts``: the names the
    app answers to besides an IP address, which it always answers to (no DNS name can be
    rebound to it: a site whose name was rebound to this machine sends its own name, and its
    page would count as the app's). A request that changes anything (not GET / HEAD) must
    come from the app's own page: a page of another site can post to 127.0.0.1 too (a
    "simple" request needs no permission), and browsers name the page a request comes from
    (``Origin``, ``Sec-Fetch-Site``); a program that names none (a script on this machine) is
    let through."""
    host = headers.get("host", "")
    name = (host[1:].split("]")[0] if host.startswith("[") else host.split(":")[0]).lower()
    if name not in hosts and not _is_ip(name):
        return (f"this app answers to {', '.join(hosts)} or an IP address only, not {name or '(no host)'!r} (reach "
                "it by its address, or start it with restore ui --host NAME)")
    if method in ("GET", "HEAD"):
        return None
    site, origin = headers.get("sec-fetch-site"), headers.get("origin")
    if site not in (None, "same-origin", "none") or (
            origin is not None and origin.lower() not in (f"http://{host}".lower(), f"https://{host}".lower())):
        return "refused: a request from another site's page (only the app's own page may use it)"
    return None


class Guard:
    """ASGI middleware: :func:`refusal`'s requests answered 403, before any route reads them."""

    def __init__(self, app, hosts: tuple[str, ...] = LOCAL_HOSTS) -> None:
        self.app, self.hosts = app, hosts

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            why = refusal(scope["method"], headers, self.hosts)
            if why:
                await JSONResponse({"error": why}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _clear_stale_dirs() -> None:
    """Remove upload folders that servers killed without their clean-up (SIGKILL, power loss)
    left in the temp dir: those whose owner's process is gone. A folder without the pid file
    (an older server's) or of a live process is kept."""
    for d in Path(tempfile.gettempdir()).glob(DIR_PREFIX + "*"):
        try:
            pid = int((d / OWNER).read_text())
        except (OSError, ValueError):
            continue
        try:
            os.kill(pid, 0)
            continue  # alive (or not ours to signal)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except OSError:
            continue


class Cancelled(Exception):
    """Raised inside the sampler's step callback (or between the network's tiles) when the
    job is to stop; its message is :meth:`JobState.stop_reason`."""


class PageError(Exception):
    """A problem reported to the page as one line (HTTP ``status``)."""

    def __init__(self, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.status = status


@dataclass
class Upload:
    id: str
    name: str  # the page's file name (sanitised): messages and the download's name only
    path: Path  # where the server stored it (its own name)
    width: int
    height: int
    has_alpha: bool
    dtype: str
    preview: bytes | None = None
    frames: int = 1  # an animation's or a multi-page TIFF's: only the first is restored (said when it opens)


@dataclass
class JobState:
    id: str
    image: Upload
    task: str
    params: dict
    opts: dict
    mask: Path | None
    exclude: Path | None = None  # the painted keep-out layer (inpaint's --exclude), stored as a mask file
    files: dict = field(default_factory=dict)  # a parameter's uploaded file (deblur's kernel): its path and name
    status: str = "queued"  # queued, running, done, error, cancelled
    i: int = 0
    n: int = 0
    message: str = ""
    warnings: list = field(default_factory=list)
    seconds: float | None = None
    result: bytes | None = None
    preview: bytes | None = None
    size: tuple | None = None
    summary: dict = field(default_factory=dict)
    cancel: threading.Event = field(default_factory=threading.Event)
    seen: float = field(default_factory=time.monotonic)  # when its state was last asked for

    def stop_reason(self) -> str | None:
        """Why the job is to stop (its page cancelled it, or stopped asking for it), None to go on."""
        if self.cancel.is_set():
            return "cancelled"
        if time.monotonic() - self.seen > ABANDONED:
            return "cancelled: its page stopped asking for it"
        return None

    def public(self, position: int | None) -> dict:
        return {"id": self.id, "status": self.status, "i": self.i, "n": self.n, "message": self.message,
                "warnings": self.warnings, "seconds": self.seconds, "task": self.task, "image": self.image.id,
                "position": position, "summary": self.summary,
                "width": self.size[1] if self.size else None, "height": self.size[0] if self.size else None}


def _safe_name(name: str) -> str:
    """The last part of a page-given file name, printable characters only (never a path)."""
    name = re.split(r"[\\/]", name or "")[-1]
    name = re.sub(r"[\x00-\x1f\x7f\"*:<>?|]", "_", name).strip(" .")  # control characters and what file systems refuse
    name = re.sub("[\u200e\u200f\u202a-\u202e\u2066-\u2069]", "", name)  # bidi controls ("\u202egnp.exe": "exe.png")
    return name[:120] or "image"


def content_disposition(name: str) -> str:
    """An attachment header for ``name``: an ASCII fallback, and the name itself UTF-8 encoded
    (RFC 6266 / 5987) where it is not ASCII (an HTTP header is latin-1: ``照片.png`` failed)."""
    from urllib.parse import quote

    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    if ascii_name == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def _one_line(e: BaseException, *replace: tuple[str, str]) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    for a, b in replace:
        msg = msg.replace(a, b)
    return msg


def _server_words(msg: str) -> str:
    """A limit the page cannot change, named as the server's option: "raise it with
    --max-pixels" is an option of ``restore ui``, not a field of the page."""
    return msg.replace("raise it with --max-pixels", "start restore ui with a larger --max-pixels")


def _page_help(text: str, task: str) -> str:
    """A parameter's help in the page's words (:func:`_page_words`; the steps field as the page
    labels it), without the repository files it cites (a page user has no checkout)."""
    text = re.sub(r"--steps\b", "steps", _page_words(text, task))
    return re.sub(r"[,;]?\s*(?:measured:?\s*)?benchmarks/[\w/.-]*\w", "", text)


def _page_words(msg: str, task: str) -> str:
    """A message in the page's words: a command-line option (``--kernel``) as the field the
    page labels with its name (``kernel``); no offer of a file name, which the page does not take
    (deblur's kernel: "..., or an image file"); the server's own limits as its options."""
    for q in get_task(task).params:
        if q.cli and q.option:
            msg = re.sub(re.escape(q.option) + r"(?![\w-])", q.option.lstrip("-"), msg)
    msg = re.sub(r";? (?:in the API also an array|[\w_]+= in the API)", "", msg)  # asides for the API's users
    msg = re.sub(r" \(\w+@\w+=N [^)]*\)", "", msg)  # a sampler option's form, which the page's list cannot give
    # the page's mask is painted: no MASK argument nor mask file (inpaint's invert_mask and mask_source)
    msg = msg.replace("no MASK argument", "nothing painted").replace("The mask (a file) marks", "The painted mask marks")
    return _server_words(_no_files(msg))


def _log(job: "JobState") -> None:
    """One line per finished job on the server's stderr, for whoever runs it."""
    how = f"{job.status} in {job.seconds:.1f} s" if job.seconds is not None else job.status
    print(f"restore ui: {job.id} {job.task} {job.image.name}: {how}"
          + (f": {job.message}" if job.status in ("error", "cancelled") and job.message else ""),
          file=sys.stderr, flush=True)


def describe_param(q, task: str) -> dict:
    """A task parameter as the page builds its control: what :func:`param_option` reads, its
    help in the page's words (:func:`_page_help`; no offer of a file, which the page takes only
    as an upload)."""
    if q.switch:
        kind = "switch"
    elif q.metavar == "FILE":
        kind = "file"  # not offered in the page: it takes files only as uploads
    elif q.choices:
        kind = "choice"
    elif q.type in (int, float):
        kind = q.type.__name__
    else:
        kind = "text"
    help_ = _page_help(q.help, task)
    return {"name": q.name, "option": q.option, "kind": kind, "default": q.cli_default,
            "choices": [str(c) for c in q.choices], "range": list(q.range) if q.range else None,
            "help": help_, "required": q.required, "upload": _takes_upload(q)}


def _takes_upload(q) -> bool:
    """Whether a text parameter also takes an image file (deblur's kernel), which the page
    sends as an upload beside the field (``param_files``), never as a name."""
    return q.type is object and _no_files(q.help) != q.help


#: what an uploaded parameter file may be named as (its type, by the name it came with)
UPLOAD_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


def _page_cannot(tk) -> str | None:
    """Why the page cannot run task ``tk``, or None: the page gives a task the image and, as its
    ``mask`` file, the layer painted on it; another file input (a second image) it has no
    control for, so such a task is the command line's alone."""
    other = [f for f in tk.files if f != "mask"]
    if other:
        return (f"it takes a {' and a '.join(f.upper() for f in other)} file, which the page has no control for: "
                "use the command line")
    return None


def _no_files(text: str) -> str:
    """``text`` without its offer of a file ("..., or a kernel image file (normalised)")."""
    return re.sub(r",? or an? (?:[\w-]+ )*file\b(?: \([^)]*\))?", "", text)


def param_from_page(q, value: Any) -> Any:
    """A page value (command-line units, as text, number or bool) -> the API's, checked as
    the command line's click types check it."""
    label = q.option.lstrip("-")  # as the page labels the field
    if value is None or value == "":
        if q.required:
            raise PageError(f"{label} is required")
        return None if not q.switch else False
    if q.switch:
        if isinstance(value, bool):
            return value
        raise PageError(f"{label} is on or off, got {value!r}")
    if q.choices:
        if str(value) not in [str(c) for c in q.choices]:
            raise PageError(f"{label} must be one of {', '.join(map(str, q.choices))}, got {value!r}")
        return q.from_cli(str(value) if q.type is str else q.type(value))
    if q.type in (int, float):
        if isinstance(value, bool):
            raise PageError(f"{label} takes a number, got {value!r}")
        try:
            v = q.type(value) if q.type is float or isinstance(value, int) else int(str(value), 10)
        except (TypeError, ValueError):
            raise PageError(f"{label} takes a{'n' if q.type is int else ''} {q.type.__name__}, got {value!r}") from None
        if q.type is float and not math.isfinite(v):
            raise PageError(f"{label} must be a finite number, got {value!r}")
        if q.range is not None and not q.range[0] <= v <= q.range[1]:
            raise PageError(f"{label} must be in {q.range[0]:g}-{q.range[1]:g}, got {v:g}")
        return q.from_cli(v)
    text = str(value).strip()
    # a value that may name a file (a FILE option; an object option such as deblur's --kernel,
    # "gaussian:1.6" or kernel.png, unless it is a NAME:NUMBERS spec) is refused as it is, without
    # looking on the server's disk: the answer must not tell which files exist there ("k:1.png" in
    # the server's folder was read as the kernel)
    if q.metavar == "FILE":
        raise PageError(f"{label}: the page takes no file names (files come only as uploads), got {text!r}")
    if q.type is object and not SPEC_FORM.fullmatch(text):
        if re.search(r"[\\/]|\.[A-Za-z]", text):
            raise PageError(f"{label}: the page takes no file names (files come only as uploads), got {text!r}")
        raise PageError(f"{label} {text!r} is not understood: use {_no_files(q.help).rstrip('.')}")
    return q.from_cli(text)


class App:
    """State of one server: uploads, the queue and its one worker thread."""

    def __init__(self, *, weights: str | None = None, device: str = "auto", max_pixels: int | None = None,
                 threads: int | None = None, preload: bool = True) -> None:
        self.weights, self.device, self.threads = weights, device, threads
        self.max_pixels = max_pixels or DEFAULT_MAX_PIXELS
        self.max_bytes = self.max_pixels * BYTES_PER_PIXEL + HEADER_ROOM
        self.max_job_bytes = 2 * (4 * (self.max_bytes // 3 + 1)) + HEADER_ROOM  # two masks as base64, and the rest
        _clear_stale_dirs()
        self.dir = Path(tempfile.mkdtemp(prefix=DIR_PREFIX))
        (self.dir / OWNER).write_text(str(os.getpid()))
        self.images: OrderedDict[str, Upload] = OrderedDict()
        self.jobs: OrderedDict[str, JobState] = OrderedDict()
        self.queue: queue.Queue[JobState | None] = queue.Queue()
        self.lock = threading.Lock()
        self.decoding = threading.Lock()  # one upload or job decoded at a time (:meth:`one_at_a_time`)
        self.ids = itertools.count(1)
        self.prior_error: str | None = None
        self.worker = threading.Thread(target=self._work, args=(preload,), name="restore-ui-worker", daemon=True)
        self.worker.start()

    def close(self) -> None:
        """Stop: the running job is cancelled at its next step (a job still inside a long step
        after CLOSE_WAIT seconds ends with the process: exiting under a busy daemon thread
        aborted it, "terminate called without an active exception"), the uploads removed."""
        with self.lock:
            jobs = list(self.jobs.values())
        for j in jobs:
            j.cancel.set()
        self.queue.put(None)
        self.worker.join(timeout=CLOSE_WAIT)
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.worker.is_alive():
            print(f"restore ui: the running job did not stop within {CLOSE_WAIT:g} s; exiting", file=sys.stderr)
            sys.stderr.flush()
            os._exit(0)

    def _id(self, kind: str) -> str:
        return f"{kind}{next(self.ids)}-{os.urandom(4).hex()}"

    # -- uploads -------------------------------------------------------------------------
    def add_image(self, name: str, data_path: Path) -> Upload:
        from restore.io import read_image

        name = _safe_name(name)
        try:
            img = read_image(data_path, max_pixels=self.max_pixels)
        except RestoreError as e:
            data_path.unlink(missing_ok=True)
            raise PageError(_server_words(_one_line(e, (str(data_path), name)))) from None
        except BaseException:  # anything else (a 500): its file is not kept until the server stops
            data_path.unlink(missing_ok=True)
            raise
        a = img.array
        up = Upload(data_path.stem, name, data_path, int(a.shape[1]), int(a.shape[0]), img.has_alpha, str(a.dtype),
                    frames=int(img.frames))
        with self.lock:
            self.images[up.id] = up
            while len(self.images) > KEEP_IMAGES:
                _, old = self.images.popitem(last=False)
                if not any(j.image is old and j.status in ("queued", "running") for j in self.jobs.values()):
                    old.path.unlink(missing_ok=True)
        return up

    def image(self, id: str) -> Upload:
        with self.lock:
            up = self.images.get(id)
        if up is None or not up.path.exists():
            raise PageError("that image is no longer on the server: open it again", 404)
        return up

    def preview(self, up: Upload) -> bytes:
        """The upload as displayed (EXIF orientation applied), 8 bits, PNG. An alpha above 0 stays
        above 0 (1 of 255): the page's "Alpha → mask" takes the transparent pixels (0) from it, as
        ``--mask alpha`` takes them from the file, and 16-bit alphas 1-128 rounded to 0."""
        if up.preview is None:
            from restore.io import encode_image, read_image, to_uint8

            img = read_image(up.path, max_pixels=self.max_pixels)
            a = to_uint8(img.array)
            low = (a[..., -1] == 0) & (img.array[..., -1] > 0) if img.has_alpha else None
            if low is not None and low.any():  # (a copy: an 8-bit image's array is the decoded one, read-only)
                a = a.copy()
                a[..., -1][low] = 1
            up.preview = encode_image(a, ".png")
        return up.preview

    # -- jobs ------------------------------------------------------------------------------
    def tasks(self) -> dict:
        """The registered tasks the page can run (not :func:`_page_cannot`), each with its controls."""
        from restore.api import default_steps

        out = []
        for n in TASKS.names():
            tk = get_task(n)
            if _page_cannot(tk):
                continue
            names = compatible_samplers(tk.capabilities)
            # the steps each sampler takes when none are given, with the task's defaults (the page's placeholder: a
            # trial saw "default (1)", mmse's, beside ddrm chosen, which ran 20)
            rc = tk.recipe({q.name: q.default for q in tk.params})
            steps = {s: default_steps(rc, SAMPLERS.get(s), s) for s in names}
            out.append({"name": n, "summary": tk.summary, "params": [describe_param(q, n) for q in tk.params if q.cli],
                        "files": list(tk.files), "default_sampler": tk.sampler, "samplers": names,
                        "sampler_steps": steps, "default_steps": tk.steps, "default_note": tk.default_note})
        return {"tasks": out, "max_pixels": self.max_pixels, "max_bytes": self.max_bytes,
                "prior": self.weights or "restore-small", "prior_error": self.prior_error}

    def one_at_a_time(self, fn, *args):
        """``fn(*args)`` with no other upload or job decoding beside it (in the request threads:
        eight 12 KB PNGs of 100 MP decoded at once took the server to 3 GB)."""
        with self.decoding:
            return fn(*args)

    def _prune_finished(self) -> None:
        """The oldest finished jobs beyond :data:`KEEP_JOBS` dropped with their results (counted
        among the finished alone: with 13 waiting, a count of all took the last result). Under
        ``self.lock``."""
        done = [k for k, j in self.jobs.items() if j.status in ("done", "error", "cancelled")]
        for k in done[: max(0, len(done) - KEEP_JOBS)]:
            del self.jobs[k]

    def busy(self) -> PageError | None:
        """The refusal of one more job where :data:`MAX_WAITING` wait already (a trial queued
        jobs without end, each holding its masks and files until it ran), else None."""
        with self.lock:
            n = sum(j.status in ("queued", "running") for j in self.jobs.values())
        if n < MAX_WAITING:
            return None
        return PageError(f"{n} jobs are queued or running already: run this one when one of them has finished, "
                         "or cancel one", 429)

    def submit(self, body: dict) -> JobState:
        if not isinstance(body, dict):
            raise PageError("a job is a JSON object")
        if (full := self.busy()) is not None:
            raise full
        task = body.get("task")
        if not isinstance(task, str) or task not in TASKS:  # (a list was an unhashable TypeError: a 500)
            raise PageError(f"unknown task {task!r} (choose from: {', '.join(TASKS.names())})")
        if not isinstance(body.get("image", ""), str):
            raise PageError("image must be the id an upload was given")
        tk = get_task(task)
        if _page_cannot(tk):
            raise PageError(f"{task}: {_page_cannot(tk)}")
        up = self.image(str(body.get("image", "")))
        given = body.get("params") or {}
        if not isinstance(given, dict):
            raise PageError("params must be an object")
        cli_params = [q for q in tk.params if q.cli]
        unknown = sorted(set(given) - {q.name for q in cli_params})
        if unknown:
            raise PageError(f"{task} has no parameter {', '.join(unknown)}")
        sent = body.get("param_files") if isinstance(body.get("param_files"), dict) else {}
        params = {q.name: None if q.name in sent and given.get(q.name) in (None, "") else  # its file: an upload
                  param_from_page(q, given.get(q.name, q.default if q.switch else None)) for q in cli_params}
        for q in cli_params:  # an omitted value takes the declaration's default, as click does
            if q.name not in given and q.default is not None and not q.switch:
                params[q.name] = q.default
        opts = self._opts(body, tk)
        uploaded = self._param_files(body.get("param_files"), tk, params)  # deblur's kernel image
        mask = exclude = None
        try:
            for name, (path, _) in uploaded.items():
                params[name] = str(path)
            if body.get("exclude") and tk.takes("exclude"):
                params["exclude"] = "painted"  # for the usage check (a fill it does not apply to); its file below
            try:
                tk.check_usage(params)
                tk.check_option_files(params)  # an uploaded kernel over 255x255: refused here, not after the queue
                from restore.api import check_unscheduled
                from restore.samplers import check_compatible

                sampler = opts["sampler"] or tk.recipe(params).sampler  # steps mmse cannot take: refused here,
                check_unscheduled(sampler, check_compatible(sampler, tk), opts["steps"])  # as the command line
            except RestoreError as e:  # (an uploaded file said by its own name, not the server's)
                said = _one_line(e, *((str(path), f"the uploaded {shown}") for path, shown in uploaded.values()))
                raise PageError(_page_words(said, task)) from None
            wanted = tk.files[: tk.cli_files(params)]  # the painted layer is the task's MASK file
            if params.get("mask_source") == "alpha" and not up.has_alpha:
                raise PageError(f"{up.name} has no transparency for 'mask: alpha': paint the mask instead")
            if params.get("mask_source") == "alpha" and body.get("mask"):  # the command line refuses both too
                raise PageError("a painted mask and 'mask: alpha' both mark the holes: clear the painting, or set "
                                "mask back to file (the painting)")
            if body.get("exclude") and not tk.takes("exclude"):
                raise PageError(f"{task} takes no keep-out layer")
            if body.get("mask") and "mask" in wanted:
                mask = self._save_mask(body["mask"], up)
            if body.get("exclude"):  # stored as a file, as the command line's --exclude takes it
                exclude = self._save_mask(body["exclude"], up, "the keep-out layer")
                params["exclude"] = str(exclude)
            files = {f: (mask if f == "mask" else None) for f in tk.files}
            try:
                tk.cli_check(files, params)
            except RestoreError as e:
                if "mask" in wanted and mask is None:  # the command line's "missing MASK (or --mask alpha ...)"
                    raise PageError("paint the mask first" + (" (or 'Alpha → mask': its transparent pixels)"
                                                              if up.has_alpha else "")) from None
                raise PageError(_page_words(_one_line(e), task)) from None
        except PageError:
            for f in (mask, exclude, *(path for path, _ in uploaded.values())):
                if f is not None:
                    f.unlink(missing_ok=True)
            raise
        job = JobState(self._id("j"), up, task, params, opts, mask, exclude, uploaded)
        job.summary = {"task": task, "image": up.name,
                       **{q.option.lstrip("-"): given[q.name] for q in cli_params if q.name in given
                          and not (given[q.name] is None or given[q.name] is False or given[q.name] == "")},
                       **({"exclude": "painted"} if exclude is not None else {}),
                       **{name: f"{shown} (uploaded)" for name, (_, shown) in uploaded.items()},
                       **{k: v for k, v in (("sampler", opts["sampler"]), ("steps", opts["steps"]),
                                            ("seed", opts["seed"])) if v}}
        with self.lock:
            self.jobs[job.id] = job
            self._prune_finished()
        self.queue.put(job)
        return job

    def _opts(self, body: dict, tk) -> dict:
        steps, seed, sampler = body.get("steps"), body.get("seed", 0), body.get("sampler") or None
        if steps not in (None, ""):
            if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 1000:
                raise PageError(f"steps must be an integer in 1-1000, got {steps!r}")
        else:
            steps = None
        if seed in (None, ""):
            seed = 0
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise PageError(f"seed must be an integer in 0-{MAX_SEED}, got {seed!r}")
        options = {}
        if sampler is not None:  # NAME or NAME@KEY=VALUE,..., as the command line's --sampler
            if not isinstance(sampler, str):
                raise PageError(f"sampler must be a name, got {sampler!r}")
            try:
                sampler, options = parse_method(sampler)
            except RestoreError as e:
                raise PageError(_one_line(e)) from None
            if sampler not in SAMPLERS:
                raise PageError(f"unknown sampler {sampler!r} (choose from: {', '.join(SAMPLERS.names())})")
            if not SAMPLERS.get(sampler).serves(tk.capabilities):
                raise PageError(f"sampler '{sampler}' cannot serve {tk.name}")
            if options:
                from restore.api import check_sampler_options

                try:
                    options = check_sampler_options(sampler, options, tk.name)
                except RestoreError as e:
                    raise PageError(_one_line(e)) from None
        return {"sampler": sampler, "sampler_options": options, "steps": steps, "seed": seed, "device": self.device,
                "weights": self.weights, "samples": 1, "sigma_max": None, "max_pixels": self.max_pixels,
                "quiet": True, "as_json": False, "compare": False, "overwrite": True}

    def _param_files(self, given: Any, tk, params: dict) -> dict[str, tuple[Path, str]]:
        """``param_files`` (``{name: {"name": file name, "data": data URL}}``) stored as files:
        ``{parameter: (path, name)}``, for the parameters that take an image file (deblur's
        kernel), refused with a value typed beside it."""
        if not given:
            return {}
        ok = {q.name: q for q in tk.params if q.cli and _takes_upload(q)}
        if not isinstance(given, dict) or not all(isinstance(v, dict) for v in given.values()):
            raise PageError("param_files must map a parameter to {name, data}")
        unknown = sorted(set(given) - set(ok))
        if unknown:
            raise PageError(f"{tk.name} takes no file for {', '.join(unknown)}")
        out: dict[str, tuple[Path, str]] = {}
        try:
            for name, item in given.items():
                label = ok[name].option.lstrip("-")
                if params.get(name) not in (None, ok[name].default):
                    raise PageError(f"{label}: both a value and an uploaded file; clear one of them")
                shown = _safe_name(str(item.get("name") or f"{label}.png"))
                data = self._data_url_bytes(item.get("data"), f"{label}: {shown}")
                suffix = Path(shown).suffix.lower()
                p = self.dir / f"{self._id('f')}{suffix if suffix in UPLOAD_SUFFIXES else '.png'}"
                p.write_bytes(data)
                out[name] = (p, shown)
                try:  # read here, as a painted mask is: not queued to fail after the queue
                    from restore.io import read_image

                    read_image(p, max_pixels=self.max_pixels)  # the server's limit, as an upload's
                except RestoreError as e:
                    raise PageError(f"{label}: {shown} is not a readable image "
                                    f"({_one_line(e, (str(p), shown)).split(': ', 1)[-1]})") from None
        except PageError:
            for p, _ in out.values():
                p.unlink(missing_ok=True)
            raise
        return out

    def _data_url_bytes(self, data_url: Any, what: str, png: bool = False) -> bytes:
        """The bytes a page sent as a base64 data URL (a PNG's, with ``png``), within the upload limit."""
        if not isinstance(data_url, str) or not data_url.startswith("data:image/png;base64," if png else "data:") \
                or ";base64," not in data_url:
            raise PageError(f"{what} must come as a {'PNG ' if png else ''}data URL")
        b64 = data_url.split(",", 1)[1]
        if len(b64) * 3 // 4 > self.max_bytes:
            raise PageError(f"{what} is larger than the upload limit")
        try:
            return base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise PageError(f"{what} is not valid base64") from None

    def _save_mask(self, data_url: Any, up: Upload, what: str = "the mask") -> Path:
        data = self._data_url_bytes(data_url, what, png=True)
        p = self.dir / f"{self._id('m')}.png"
        p.write_bytes(data)
        try:  # checked here, not after the queue: a PNG of the image's size
            from PIL import Image as PILImage

            with PILImage.open(p) as im:
                if im.format != "PNG":
                    raise PageError(f"{what} is not a PNG")
                if im.size != (up.width, up.height):
                    raise PageError(f"{what} is {im.size[0]}x{im.size[1]} but the image is {up.width}x{up.height}")
                im.load()
        except PageError:
            p.unlink(missing_ok=True)
            raise
        except Exception as e:  # noqa: BLE001 - Pillow's many decode errors: one line
            p.unlink(missing_ok=True)
            raise PageError(f"{what} is not a readable PNG ({_one_line(e, (str(p), what))})") from None
        return p

    def job(self, id: str) -> JobState:
        with self.lock:
            job = self.jobs.get(id)
        if job is None:
            raise PageError("no such job (results are kept for the last jobs only)", 404)
        return job

    def position(self, job: JobState) -> int | None:
        if job.status != "queued":
            return None
        with self.lock:
            ahead = [j for j in self.jobs.values() if j.status in ("queued", "running")]
        return ahead.index(job)

    def cancel(self, job: JobState) -> None:
        job.cancel.set()
        if job.status == "queued":
            job.status, job.message = "cancelled", "cancelled before it started"
            self._finished(job)
            _log(job)

    def _finished(self, job: JobState) -> None:
        """A job's files go when it ends: its mask, and its image if the page's list has
        dropped it meanwhile and no other queued or running job reads it."""
        for f in (job.mask, job.exclude, *(path for path, _ in job.files.values())):
            if f is not None:
                f.unlink(missing_ok=True)
        with self.lock:
            listed = self.images.get(job.image.id) is job.image
            used = any(j is not job and j.image is job.image and j.status in ("queued", "running")
                       for j in self.jobs.values())
            self._prune_finished()  # (twenty jobs queued at once kept all twenty results until the next submit)
        if not listed and not used:
            job.image.path.unlink(missing_ok=True)

    # -- the worker --------------------------------------------------------------------------
    def _work(self, preload: bool) -> None:
        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        if preload:  # the prior, once, while the page loads (restore.api caches it)
            try:
                from restore.api import get_prior, resolve_device

                get_prior(self.weights, resolve_device(self.device))
            except RestoreError as e:
                self.prior_error = _one_line(e)
            except Exception as e:  # noqa: BLE001 - shown in the page, the server keeps serving
                self.prior_error = f"{type(e).__name__}: {_one_line(e)}"
        while True:
            job = self.queue.get()
            if job is None:
                return
            why = job.stop_reason()
            if why:
                if job.status == "queued":  # (one the page cancelled is "cancelled" already)
                    job.status, job.message = "cancelled", why
                    _log(job)
                self._finished(job)
                continue
            job.status = "running"
            t0 = time.perf_counter()
            try:
                self._run(job)
                job.seconds = round(time.perf_counter() - t0, 3)  # before the status: a poll may read them
                job.status = "done"
            except Cancelled as e:
                job.status, job.message = "cancelled", str(e)
            except RestoreError as e:
                job.status, job.message = "error", _page_words(_one_line(e, *self._names(job)), job.task)
            except Exception as e:  # noqa: BLE001 - one line in the page, the traceback on the server's stderr
                traceback.print_exc(file=sys.stderr)
                job.status, job.message = "error", f"internal error ({type(e).__name__}: {_one_line(e)})"
            finally:
                if job.seconds is None:
                    job.seconds = round(time.perf_counter() - t0, 3)
                self._finished(job)
                _log(job)

    @staticmethod
    def _names(job: JobState) -> list[tuple[str, str]]:
        """The server's own file paths of a job, as the page names them (in its messages)."""
        return [(str(f), name) for f, name in ((job.image.path, job.image.name), (job.mask, "the painted mask"),
                                               (job.exclude, "the painted keep-out layer"),
                                               *((path, f"the uploaded {shown}") for path, shown in job.files.values()))
                if f is not None]

    def _run(self, job: JobState) -> None:
        """The command line's path for one image: its engine's ``load`` (read, the task's file
        inputs, limits, warnings) and ``solve`` (:func:`restore.api.run`), then the
        output array as ``write_outputs`` makes it, encoded with the input's metadata."""
        from restore.api import _alpha_back
        from restore.io import encode_image, to_uint8

        engine, Job, Item, STDIO = _engine()
        rjob = Job(job.task, [job.image.path], {"mask": job.mask}, dict(job.params), dict(job.opts))
        item = Item(job.image.path, {f: (job.mask if f == "mask" else None) for f in get_task(job.task).files},
                    STDIO, None)
        def warn(it, line: str) -> None:  # in the page's words: its fields' names, not --options
            job.warnings.append(_page_words(_one_line(line, *self._names(job)), job.task))

        ld = engine.load(rjob, item, warn=warn)

        def stop_here() -> None:  # at each step, and between the network's tiles: a large photo's step is a minute
            why = job.stop_reason()
            if why:
                raise Cancelled(why)

        def progress(info: dict) -> None:
            stop_here()
            job.i, job.n = int(info["i"]) + 1, int(info["n"])  # where the run is, not a count of reports

        progress.close = lambda: None
        with between_tiles(stop_here):
            res = engine.solve(rjob, [ld], progress)
        if job.cancel.is_set():  # cancelled as the last step ended
            raise Cancelled("cancelled")
        out = _alpha_back(ld.alpha, ld.back(res.image[0:1]), get_task(rjob.task).alpha_resize(res.params))
        from ..jobs import note
        from ..local import grown_note, out_meta

        # the settings and the inputs' digests, as the command line's; the painted layer and an upload by the
        # names the page gives them, not the server's
        named = {**({"exclude": "painted"} if job.exclude is not None else {}),
                 **{name: shown for name, (_, shown) in job.files.items()}}
        job.result = encode_image(out, ".png", meta=out_meta(ld, out), note=note(rjob, item, named=named))
        job.preview = encode_image(to_uint8(out), ".png")
        job.size = out.shape[:2]
        tk = get_task(job.task)
        if res.sigma_estimated:
            sig = res.sigma_y[0] if isinstance(res.sigma_y, list) else res.sigma_y
            said = tk.estimated_note(res.params, sig, tk.sigma_to_try(res.params, sig, ld.x))
            job.warnings.append(_page_words(said, job.task))
        settled = tk.settled_note(res.params)  # (a drawn image's kernel: the page did not say it, a trial)
        if settled:
            job.warnings.append(_page_words(settled, job.task))
        n = res.params.get("holes_grown")
        grown = grown_note({"holes_grown": n[0] if isinstance(n, (list, tuple)) else n})  # as the command line's
        if grown:
            job.warnings.append(f"note: {_page_words(grown, job.task)}")
        if res.steps == 0 and res.params.get("fill"):  # a fill that ran alone (inpaint's scene fill): no sampler
            job.summary = {**job.summary, "fill": res.params["fill"], "sampler": "none (the fill alone)"}
            job.summary.pop("steps", None)
        else:
            job.summary = {**job.summary, "sampler": res.sampler, "steps": res.steps}
            if "scene" in str(res.params.get("fill", "")):  # the page offers another fill (another seed)
                job.summary["fill"] = res.params["fill"]

    def download_name(self, job: JobState) -> str:
        stem = job.image.name.rsplit(".", 1)[0] if "." in job.image.name else job.image.name
        return f"{stem}.{job.task}.png"


def _engine():
    """The command line's local engine (its ``load`` / ``solve``) and job types."""
    from .. import local as engine
    from ..jobs import STDIO, Item, Job

    return engine, Job, Item, STDIO


# -- HTTP ------------------------------------------------------------------------------------
def _error(e: PageError) -> JSONResponse:
    return JSONResponse({"error": str(e)}, status_code=e.status)


def create_app(*, weights: str | None = None, device: str = "auto", max_pixels: int | None = None,
               threads: int | None = None, preload: bool = True,
               hosts: tuple[str, ...] = LOCAL_HOSTS) -> Starlette:
    """The Starlette app (``app.state.ui`` holds the :class:`App`); ``hosts``: the names it
    answers to besides IP addresses (:func:`refusal`; :func:`network_names` for a server that
    listens on every address)."""
    ui = App(weights=weights, device=device, max_pixels=max_pixels, threads=threads, preload=preload)

    def handler(fn):
        async def wrapped(request: Request):
            try:
                return await fn(request)
            except PageError as e:
                return _error(e)
            except ClientDisconnect:  # the page went away mid-request (a cancelled upload): no one to answer
                return Response(status_code=400)
            except Exception as e:  # noqa: BLE001 - one line in the page
                traceback.print_exc(file=sys.stderr)
                return JSONResponse({"error": f"internal error ({type(e).__name__}: {_one_line(e)})"}, status_code=500)
        return wrapped

    async def index(request):
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def tasks(request):
        return JSONResponse(ui.tasks())

    async def upload(request):
        name = request.headers.get("x-filename", "image")
        try:
            from urllib.parse import unquote

            name = unquote(name)
        except Exception:  # noqa: BLE001
            name = "image"
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > ui.max_bytes:
            raise PageError(f"{_safe_name(name)}: {int(length) / 1e6:.1f} MB is over the upload limit of "
                            f"{ui.max_bytes / 1e6:.1f} MB", 413)
        ext = Path(_safe_name(name)).suffix.lower()
        p = ui.dir / f"{ui._id('i')}{ext if ext in READ_EXTS else '.img'}"
        size = 0
        try:
            with open(p, "wb") as f:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > ui.max_bytes:
                        raise PageError(f"{_safe_name(name)}: over the upload limit of {ui.max_bytes / 1e6:.1f} MB",
                                        413)
                    f.write(chunk)
            if size == 0:
                raise PageError(f"{_safe_name(name)}: empty file (0 bytes)")
        except BaseException:  # over the limit, or the page went away mid-upload: its part is not kept until exit
            p.unlink(missing_ok=True)
            raise
        import anyio

        up = await anyio.to_thread.run_sync(ui.one_at_a_time, ui.add_image, name, p)
        return JSONResponse({"id": up.id, "name": up.name, "width": up.width, "height": up.height,
                             "has_alpha": up.has_alpha, "dtype": up.dtype, "frames": up.frames})

    async def image_preview(request):
        import anyio

        up = ui.image(request.path_params["id"])
        data = await anyio.to_thread.run_sync(ui.preview, up)
        return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    async def submit(request):
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            raise PageError("the job must be JSON (Content-Type: application/json)", 415)
        if (full := ui.busy()) is not None:  # before its body is read
            raise full
        too_big = PageError(f"the job is over the limit of {ui.max_job_bytes / 1e6:.1f} MB (its masks as "
                            "base64)", 413)
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > ui.max_job_bytes:
            raise too_big
        data, size = [], 0
        async for chunk in request.stream():  # read up to the limit, not whatever is sent
            size += len(chunk)
            if size > ui.max_job_bytes:
                raise too_big
            data.append(chunk)
        try:
            body = json.loads(b"".join(data))
        except (ValueError, RecursionError):  # (100000 nested brackets: the decoder's recursion)
            raise PageError("the job must be JSON") from None
        import anyio

        # its masks' and files' decoding off the event loop (a 300 MB mask held every page's polling for 9 s)
        job = await anyio.to_thread.run_sync(ui.one_at_a_time, ui.submit, body)
        return JSONResponse(job.public(ui.position(job)), status_code=202)

    async def job_state(request):
        job = ui.job(request.path_params["id"])
        job.seen = time.monotonic()  # its page still asks: not abandoned
        return JSONResponse(job.public(ui.position(job)))

    async def cancel(request):
        job = ui.job(request.path_params["id"])
        ui.cancel(job)
        return JSONResponse(job.public(ui.position(job)))

    def _result(job: JobState) -> None:
        if job.status != "done":
            raise PageError(f"the job is {job.status}", 409)

    async def job_preview(request):
        job = ui.job(request.path_params["id"])
        _result(job)
        return Response(job.preview, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    async def download(request):
        job = ui.job(request.path_params["id"])
        _result(job)
        return Response(job.result, media_type="image/png",
                        headers={"Content-Disposition": content_disposition(ui.download_name(job))})

    routes = [
        Route("/", handler(index)),
        Route("/api/tasks", handler(tasks)),
        Route("/api/images", handler(upload), methods=["POST"]),
        Route("/api/images/{id}/preview.png", handler(image_preview)),
        Route("/api/jobs", handler(submit), methods=["POST"]),
        Route("/api/jobs/{id}", handler(job_state)),
        Route("/api/jobs/{id}/cancel", handler(cancel), methods=["POST"]),
        Route("/api/jobs/{id}/preview.png", handler(job_preview)),
        Route("/api/jobs/{id}/download", handler(download)),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        ui.close()

    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(Guard, hosts=hosts)])
    app.state.ui = ui
    return app
