"""Accessibility checks in the real browser: axe-core (vendored, test-only) run on a page, and keyboard focus.

`serious_violations(page)` injects tests/browser/vendor/axe.min.js (never fetched at test time) and returns what axe
finds of impact "serious" or "critical"; `describe(violations)` words them for an assertion message, one line per
rule and the elements it found.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.async_api import Page

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")
# WCAG 2.1 A and AA, and axe's best practices (landmarks, one main, headings, labels that name things).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
AXE_TIMEOUT_SECONDS = 20.0

RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary || ""})),
  }));
}"""

# True when the focused element shows that it has the focus: an outline or a box shadow that is drawn.
FOCUS_IS_VISIBLE = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return false;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  return outline || style.boxShadow !== "none";
}"""


async def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe's violations of impact serious or critical on the page as it is now."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.add_script_tag(path=str(AXE))
    violations = await asyncio.wait_for(page.evaluate(RUN_AXE, AXE_TAGS), AXE_TIMEOUT_SECONDS)
    return [v for v in violations if v["impact"] in BLOCKING_IMPACTS]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']}")
        for node in v["nodes"][:8]:
            summary = " ".join(node["summary"].split())[:300]
            lines.append(f"    {node['target']} -- {summary}")
        if len(v["nodes"]) > 8:
            lines.append(f"    ... and {len(v['nodes']) - 8} more")
    return "\n".join(lines)
