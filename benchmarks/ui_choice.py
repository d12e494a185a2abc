"""What each library for `restore ui` costs: install size, start-up to the first response, and
the brush on a 12 MP photo in headless Chromium (issue 28).

    python benchmarks/ui_choice.py --gradio-venv /tmp/ui_venv_gradio --starlette-venv /tmp/ui_venv_star

Each venv holds only its library (``pip install gradio`` / ``pip install starlette uvicorn``
in a fresh ``python3 -m venv``); the size counted is its site-packages minus that of an empty
venv (pip itself). Start-up: from process start to the first HTTP 200 on ``/`` (median of
``--reps``), for a minimal app of each (Gradio: one ``gr.ImageEditor``; Starlette: one
route) and for ``restore ui`` itself. Brush: a 4000x3000 JPEG opened in the page, then a
stroke of 200 pointer moves; the page's animation-frame intervals during the stroke (median,
95th percentile, max) and the stroke's wall time. Prints a markdown report.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

GRADIO_APP = """
import sys, gradio as gr
with gr.Blocks() as demo:
    ed = gr.ImageEditor(type="numpy", label="image")
    out = gr.Image()
    ed.change(lambda v: None, ed, out)
demo.launch(server_name="127.0.0.1", server_port=int(sys.argv[1]), prevent_thread_lock=False)
"""

STARLETTE_APP = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
async def index(request):
    return HTMLResponse("<canvas></canvas>")
uvicorn.run(Starlette(routes=[Route("/", index)]), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def site_size(venv: Path) -> int:
    sp = next(venv.glob("lib/python*/site-packages"), None)
    if sp is None:
        sys.exit(f"error: {venv}: not a virtual environment (no lib/python*/site-packages); see the docstring")
    return sum(f.stat().st_size for f in sp.rglob("*") if f.is_file() and not f.is_symlink())


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def first_response(cmd: list[str], port: int, timeout: float = 120, env=None) -> float:
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        while time.perf_counter() - t0 < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    if r.status == 200:
                        return time.perf_counter() - t0
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"no response from {cmd} in {timeout} s")
    finally:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


FRAME_PROBE = """() => { window.__frames = []; let last = performance.now();
  const tick = (t) => { window.__frames.push(t - last); last = t; if (!window.__stop) requestAnimationFrame(tick); };
  window.__stop = false; requestAnimationFrame(tick); }"""


def stroke(page, x0, y0, x1, y1, n=200) -> dict:
    page.evaluate(FRAME_PROBE)
    t0 = time.perf_counter()
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=n)
    page.mouse.up()
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    wall = time.perf_counter() - t0
    frames = page.evaluate("() => { window.__stop = true; return window.__frames.slice(1); }")
    frames = sorted(frames) or [float("nan")]
    return {"wall": wall, "median": statistics.median(frames), "p95": frames[int(0.95 * (len(frames) - 1))],
            "max": frames[-1], "frames": len(frames)}


def brush_restore(chromium: str, photo: Path) -> dict:
    from playwright.sync_api import sync_playwright

    port = free_port()
    p = subprocess.Popen([sys.executable, "-m", "restore", "ui", "--port", str(port)], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    try:
        p.stdout.readline()
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = b.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function("document.querySelectorAll('#task option').length > 0")
            t0 = time.perf_counter()
            page.set_input_files("#file", str(photo))
            page.wait_for_function("!document.getElementById('run').disabled", timeout=120_000)
            opened = time.perf_counter() - t0
            box = page.locator("#stage").bounding_box()
            cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            fit = stroke(page, cx - 300, cy - 100, cx + 300, cy + 100)
            for _ in range(3):  # 1.25^3: about twice the fit
                page.click("#zoomin")
            zoomed = stroke(page, cx - 300, cy + 100, cx + 300, cy - 100)
            t0 = time.perf_counter()
            page.click("#undo")
            page.evaluate("() => new Promise(r => requestAnimationFrame(r))")
            undo = time.perf_counter() - t0
            b.close()
        return {"opened": opened, "fit": fit, "zoomed": zoomed, "undo": undo}
    finally:
        p.terminate()
        p.wait(timeout=10)


def brush_gradio(chromium: str, photo: Path, venv: Path) -> dict:
    from playwright.sync_api import sync_playwright

    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(GRADIO_APP)
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    p = subprocess.Popen([str(venv / "bin" / "python"), f.name, str(port)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=env)
    try:
        first_wait = time.perf_counter()
        while time.perf_counter() - first_wait < 120:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = b.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("input[type=file]", state="attached", timeout=60_000)
            t0 = time.perf_counter()
            page.locator("input[type=file]").first.set_input_files(str(photo))
            # the editor shows the upload on its canvas: wait until the layer tools appear
            page.wait_for_function("() => document.querySelectorAll('canvas').length > 0", timeout=120_000)
            page.wait_for_timeout(500)
            page.wait_for_load_state("networkidle", timeout=120_000)
            opened = time.perf_counter() - t0
            canvas = page.locator("canvas").first
            box = canvas.bounding_box()
            cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            r = min(box["width"], box["height"]) / 3
            shot = Path(tempfile.gettempdir()) / "ui_choice_gradio.png"
            fit = stroke(page, cx - r, cy - r / 3, cx + r, cy + r / 3)
            page.screenshot(path=str(shot))
            b.close()
        return {"opened": opened, "fit": fit, "screenshot": str(shot)}
    finally:
        p.terminate()
        p.wait(timeout=10)
        os.unlink(f.name)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gradio-venv", type=Path, required=True)
    ap.add_argument("--starlette-venv", type=Path, required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--skip-brush", action="store_true")
    a = ap.parse_args()

    with tempfile.TemporaryDirectory() as d:
        subprocess.run([sys.executable, "-m", "venv", f"{d}/empty"], check=True)
        base = site_size(Path(d) / "empty")
        photo = Path(d) / "photo12mp.jpg"
        import cv2
        import numpy as np

        src = cv2.imread(str(ROOT / "examples" / "photo.png"))
        big = cv2.resize(src, (4000, 3000), interpolation=cv2.INTER_CUBIC)
        big = (big.astype(np.float32) + np.random.default_rng(0).normal(0, 6, big.shape)).clip(0, 255)
        cv2.imwrite(str(photo), big.astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 92])

        sizes = {k: (site_size(v) - base) / 1e6 for k, v in (("gradio", a.gradio_venv), ("starlette", a.starlette_venv))}
        def n_dists(v: Path) -> int:
            return len(list(next(v.glob("lib/python*/site-packages")).glob("*.dist-info")))

        counts = {k: n_dists(v) - n_dists(Path(d) / "empty")  # beyond pip (and setuptools) of an empty venv
                  for k, v in (("gradio", a.gradio_venv), ("starlette", a.starlette_venv))}
        starts = {}
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write(GRADIO_APP)
        env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
        for name, cmd in (("gradio (one ImageEditor)", lambda p: [str(a.gradio_venv / "bin/python"), f.name, str(p)]),
                          ("starlette + uvicorn (one route)",
                           lambda p: [str(a.starlette_venv / "bin/python"), "-c", STARLETTE_APP, str(p)]),
                          ("restore ui (this app)", lambda p: [sys.executable, "-m", "restore", "ui", "--port", str(p)])):
            ts = []
            for _ in range(a.reps):
                port = free_port()
                ts.append(first_response(cmd(port), port, env=env))
            starts[name] = ts
        os.unlink(f.name)
        brush = {}
        if not a.skip_brush:
            for name, fn in (("restore ui", lambda: brush_restore(a.chromium, photo)),
                             ("gradio ImageEditor", lambda: brush_gradio(a.chromium, photo, a.gradio_venv))):
                try:
                    brush[name] = fn()
                except Exception as e:  # noqa: BLE001 - reported as not measured
                    brush[name] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0]}"}

    def ver(venv, pkg):
        out = subprocess.run([str(venv / "bin/python"), "-c", f"import importlib.metadata as m; print(m.version('{pkg}'))"],
                             capture_output=True, text=True)
        return out.stdout.strip()

    print(f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()} "
          f"({os.cpu_count()} cores, shared), Python {platform.python_version()}; command: "
          f"`python benchmarks/ui_choice.py {' '.join(sys.argv[1:])}`\n")
    print("| library | version | packages installed | installed size (MB) | first response (s), median of "
          f"{a.reps} |")
    print("|---|---|---|---|---|")
    print(f"| gradio | {ver(a.gradio_venv, 'gradio')} | {counts['gradio']} | {sizes['gradio']:.1f} | "
          f"{statistics.median(starts['gradio (one ImageEditor)']):.2f} |")
    print(f"| starlette + uvicorn | {ver(a.starlette_venv, 'starlette')} / {ver(a.starlette_venv, 'uvicorn')} | "
          f"{counts['starlette']} | {sizes['starlette']:.1f} | "
          f"{statistics.median(starts['starlette + uvicorn (one route)']):.2f} |")
    print(f"| restore ui (starlette, the page, restore imported) | | | | "
          f"{statistics.median(starts['restore ui (this app)']):.2f} |")
    print()
    print("All start-up times:", {k: [round(t, 2) for t in v] for k, v in starts.items()})
    print()
    if brush:
        print("Brush on a 4000x3000 JPEG in headless Chromium (frame intervals in ms while a 200-move "
              "stroke is drawn; 16.7 = 60 fps):\n")
        print("| app | open (s) | view | stroke wall (s) | frame median | frame p95 | frame max |")
        print("|---|---|---|---|---|---|---|")
        for name, r in brush.items():
            if "error" in r:
                print(f"| {name} | not measured: {r['error']} | | | | | |")
                continue
            for view in ("fit", "zoomed"):
                if view in r:
                    s = r[view]
                    print(f"| {name} | {r['opened']:.2f} | {view} | {s['wall']:.2f} | {s['median']:.1f} | "
                          f"{s['p95']:.1f} | {s['max']:.1f} |")
            if "undo" in r:
                print(f"| {name} | | undo (replay of the log) | {r['undo']:.3f} | | | |")


if __name__ == "__main__":
    main()
