"""axe-core (node_modules/axe-core, pinned in package.json) in the browser tests: a screen passes
when axe finds no violation of any impact on the whole page (the widget's open shadow root
included), in the light and the dark colour scheme, at a desktop and at a phone's viewport.

The page's context needs ``bypass_csp=True``: axe goes in as an inline script, which the demo's
and the console's Content-Security-Policy refuse (as they should)."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page

from .widget import ARTIFACTS, ROOT

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCHEMES = ("light", "dark")
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}

# Frames are left out: the only one is the co-browse view's sandboxed copy of the shopper's page
# (the shop's markup, not ours), where no script, axe's included, may run.
_RUN = """async () => {
  const result = await axe.run(document, { iframes: false, resultTypes: ["violations"] });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({ target: n.target, summary: n.failureSummary })),
  }));
}"""


async def violations(page: Page) -> list[dict[str, Any]]:
    """axe's violations on the page as it is now (axe injected the first time)."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    return await page.evaluate(_RUN)  # type: ignore[no-any-return]


def describe(found: dict[str, list[dict[str, Any]]]) -> str:
    """A readable list: per scheme and viewport, each rule, its help and the elements it flags."""
    lines = []
    for where, rules in found.items():
        for rule in rules:
            lines.append(f"[{where}] {rule['impact']}: {rule['id']}: {rule['help']}")
            for node in rule["nodes"]:
                summary = " ".join((node["summary"] or "").split())
                lines.append(f"    {' >> '.join(map(str, node['target']))}: {summary}")
    return "\n".join(lines)


async def problems(page: Page, screen: str) -> str:
    """axe's violations on ``screen`` in each colour scheme and viewport, readable ("" for none),
    with a screenshot of each scheme and viewport that has any in test-artifacts/a11y-*.png (one of
    a screen that passes shows nothing to fix, and costs a third as much as axe itself); the page is
    left in the light scheme at its viewport as it was."""
    viewport = page.viewport_size
    found: dict[str, list[dict[str, Any]]] = {}
    try:
        for scheme in SCHEMES:
            await page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
            for name, size in VIEWPORTS.items():
                await page.set_viewport_size(size)  # type: ignore[arg-type]
                rules = await violations(page)
                if rules:
                    found[f"{screen}, {scheme}, {name}"] = rules
                    ARTIFACTS.mkdir(exist_ok=True)
                    slug = "-".join(screen.lower().split())
                    await page.screenshot(path=str(ARTIFACTS / f"a11y-{slug}-{scheme}-{name}.png"),
                                          caret="initial")
    finally:
        await page.emulate_media(color_scheme="light")
        if viewport:
            await page.set_viewport_size(viewport)
    return describe(found)


class Walk:
    """Screens checked one after another in one page; ``done`` fails with every screen's
    violations at once (a walk goes on past a failing screen, so one run shows them all)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.found: list[str] = []

    async def check(self, screen: str) -> None:
        if report := await problems(self.page, screen):
            self.found.append(report)

    def done(self) -> None:
        assert not self.found, "axe found violations:\n" + "\n".join(self.found)
