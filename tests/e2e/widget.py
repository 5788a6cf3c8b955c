"""Helpers for the widget's tests: the built assets and a shopper's browser page."""

from __future__ import annotations

import fcntl
import gzip
import shutil
import subprocess
from pathlib import Path
from typing import Any

from playwright.async_api import Locator, Page

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "client" / "dist"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
# The record_property name of the widget's gzipped sizes, printed at the end of the run
# (tests/conftest.py): a property travels with the test's report, from an xdist worker too.
WIDGET_SIZES = "widget_gzipped_sizes"


def build_widget(run_dir: Path) -> None:
    """Build client/dist and agent_console/dist from the current sources once per test run (esbuild
    takes well under a second). ``run_dir`` is shared by the run's processes (xdist workers): the
    first to ask builds under a lock there, the others wait and find it built, so no worker serves
    a file another is rewriting."""
    with open(run_dir / "widget-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = run_dir / "widget-built"
        if not built.exists():
            _npm_run_build()
            built.touch()


def _npm_run_build() -> None:
    npm = shutil.which("npm")
    if npm is None or not (ROOT / "node_modules").is_dir():
        raise RuntimeError("the widget's npm packages are missing: run `make install` (npm ci && npm run build)")
    result = subprocess.run([npm, "run", "--silent", "build"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"npm run build failed:\n{result.stdout}\n{result.stderr}")


def gzipped_sizes() -> dict[str, int]:
    """The loader and each lazily loaded chunk, gzipped (level 9), by served path."""
    sizes = {"/widget.js": len(gzip.compress((DIST / "widget.js").read_bytes(), 9))}
    for chunk in sorted((DIST / "widget").glob("*.js")):
        sizes[f"/widget/{chunk.name}"] = len(gzip.compress(chunk.read_bytes(), 9))
    return sizes


async def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    # caret="initial": hiding the caret would set a style attribute, which the demo's CSP refuses.
    await page.screenshot(path=str(ARTIFACTS / f"widget-{name}.png"), caret="initial")


def storage_key(base_url: str) -> str:
    return f"chatserver-widget:{base_url}/"


def panel(page: Page) -> Locator:
    return page.get_by_role("dialog", name="Chat with us")


def launcher(page: Page) -> Locator:
    return page.locator("chatserver-widget").get_by_role("button", name="Chat with us")


def message_bodies(page: Page) -> Locator:
    return panel(page).locator("ol.messages > li .body")


async def widget_state(page: Page, base_url: str) -> dict[str, Any]:
    return await page.evaluate("key => JSON.parse(localStorage.getItem(key) || '{}')",  # type: ignore[no-any-return]
                               storage_key(base_url))
