"""The README's picture of the browser app (docs/ui.png): the example photo, the bear painted
over with the Fill layer, a patch of the far shore marked Keep out, run with the defaults, the
result card below. Needs the ui extra, Playwright and a Chromium.

    python benchmarks/ui_screenshot.py [--out docs/ui.png] [--chromium /usr/bin/chromium]
"""
from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "ui.png")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = subprocess.Popen([sys.executable, "-m", "restore", "ui", "--port", str(port)], stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/"
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=a.chromium, args=["--no-sandbox", "--disable-gpu"])
            page = b.new_page(viewport={"width": 1180, "height": 900})
            for _ in range(100):  # the server starting
                try:
                    page.goto(url)
                    break
                except Exception:  # noqa: BLE001
                    time.sleep(0.2)
            page.wait_for_function("document.querySelectorAll('#task option').length > 0")
            page.set_input_files("#file", str(ROOT / "examples" / "photo.png"))
            page.wait_for_function("!document.getElementById('run').disabled")
            page.select_option("#task", "inpaint")

            def stroke(pts):
                first = page.evaluate(f"() => window.restoreUI.toPage({pts[0][0]}, {pts[0][1]})")
                page.mouse.move(*first)
                page.mouse.down()
                for x, y in pts[1:]:
                    page.mouse.move(*page.evaluate(f"() => window.restoreUI.toPage({x}, {y})"), steps=8)
                page.mouse.up()

            page.locator("#size").evaluate("el => { el.value = 30; el.dispatchEvent(new Event('input')); }")
            for y in (108, 124, 140, 156):  # the bear
                stroke([(2, y), (112, y)])
            page.click("#layer-excl")
            page.locator("#size").evaluate("el => { el.value = 20; el.dispatchEvent(new Event('input')); }")
            stroke([(150, 20), (250, 24)])  # the far shore: not copied into the hole
            page.click("#layer-mask")
            page.click("#run")
            page.wait_for_function("document.querySelectorAll('.card').length > 0", timeout=300_000)
            time.sleep(0.5)
            a.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(a.out), full_page=True)
            b.close()
    finally:
        srv.terminate()
        srv.wait(timeout=30)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
