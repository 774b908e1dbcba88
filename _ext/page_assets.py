"""Fixes to what the built pages load and contain: lighter, phone-friendly, valid HTML, the book's CSS."""

import os
import re
from pathlib import Path

from docutils import nodes

# The theme loads Font Awesome twice: as a web font through its CSS, and as
# fontawesome.js (1.5 MB), which swaps every icon for an SVG. The web font alone
# draws every icon the pages use, so the script goes.
_FONTAWESOME_JS = re.compile(r'[ \t]*<script [^>]*src="[^"]*_static/scripts/fontawesome\.js[^"]*"'
                             r'[^>]*></script>\n?')

# pydata-sphinx-theme 0.17 binds the phone menu (and the "on this page" panel) to
# the first .primary-toggle (.secondary-toggle) on the page, which sphinx-book-theme
# hides, so the visible button does nothing (pydata/pydata-sphinx-theme#2451). The
# visible buttons pass their clicks on to the bound ones, whose handlers (both
# themes') then run as they would for a click on them.
_TOGGLES_JS = """
document.addEventListener("DOMContentLoaded", function () {
  for (const selector of [".primary-toggle", ".secondary-toggle"]) {
    const [bound, ...others] = document.querySelectorAll(selector);
    for (const button of others) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        event.stopImmediatePropagation();
        bound.click();
      });
    }
  }
});
"""

# Search results quote the page text, where math is still TeX source (MathJax
# typesets it in the browser); the quotes show it as plain symbols instead
# ("\(n \times n\)" reads "n × n").
_SEARCH_JS = r"""
document.addEventListener("DOMContentLoaded", function () {
  if (typeof Search === "undefined") return;
  const symbols = {times: "×", cdot: "·", le: "≤", leq: "≤", ge: "≥", geq: "≥", ne: "≠",
    neq: "≠", approx: "≈", to: "→", rightarrow: "→", xrightarrow: "→", leftarrow: "←",
    infty: "∞", sum: "Σ", prod: "Π", partial: "∂", nabla: "∇", lfloor: "⌊", rfloor: "⌋",
    lceil: "⌈", rceil: "⌉", ldots: "…", dots: "…", cdots: "⋯", in: "∈", pm: "±", sqrt: "√",
    alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", eta: "η", theta: "θ",
    lambda: "λ", mu: "μ", sigma: "σ", pi: "π", odot: "⊙", circ: "∘", top: "⊤"};
  function plain(tex) {
    return tex
      .replace(/\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}/g, "($1)/($2)")
      .replace(/\\(?:begin|end)\{[^{}]*\}/g, " ")
      .replace(/\\[a-zA-Z]+/g, function (name) { return symbols[name.slice(1)] || ""; })
      .replace(/\\\\|\\[,;:! ]|&/g, " ")
      .replace(/[{}]/g, "")
      .replace(/\s+/g, " ").trim();
  }
  const toText = Search.htmlToText;
  Search.htmlToText = function (html, anchor) {
    return toText(html, anchor).replace(/\\\(([\s\S]*?)\\\)|\\\[([\s\S]*?)\\\]/g,
      function (match, inline, display) { return plain(inline === undefined ? display : inline); });
  };
});
"""


def _key(js):
    return (os.fspath(js.filename or ""), tuple(sorted(js.attributes.items())))


def _tidy_page(app, pagename, templatename, context, doctree):
    """Drop repeated scripts, keeping the first.

    Sphinx 7.4 writes an inline script twice when an extension adds it after
    the builder has started (sphinx-thebe's configuration script is one), and
    the second copy fails with "Identifier 'THEBE_JS_URL' has already been
    declared".
    """
    scripts = context.get("script_files")
    if scripts:
        seen = set()
        unique = []
        for js in scripts:
            if _key(js) not in seen:
                seen.add(_key(js))
                unique.append(js)
        scripts[:] = unique   # Sphinx restores its own list after each page


def _tidy_exercises(app, doctree, docname):
    """Give each exercise and solution body its own id, and make solution titles plain text.

    sphinx-exercise gives every body the same id (``exercise-content``,
    ``solution-content``). A solution's title holds a link to its exercise,
    and sphinx-togglebutton opens a dropdown only when the click lands on
    the title itself, not on an element inside it, so clicking the words
    scrolled away and left the solution closed.
    """
    for admonition in doctree.findall(nodes.Admonition):
        classes = admonition.get("classes", [])
        if "exercise" not in classes and "solution" not in classes:
            continue
        for section in admonition.findall(nodes.section):
            if section["ids"] in (["exercise-content"], ["solution-content"]) and admonition["ids"]:
                section["ids"] = [admonition["ids"][0] + "-content"]
        if "solution" in classes:
            for title in admonition.findall(nodes.title):
                for ref in list(title.findall(nodes.reference)):
                    ref.replace_self(nodes.Text(ref.astext()))


def _drop_fontawesome_js(app, exception):
    """Take the theme's fontawesome.js out of every page, and the file out of the site."""
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    for page in out.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        lighter = _FONTAWESOME_JS.sub("", text)
        if lighter != text:
            page.write_text(lighter, encoding="utf-8")
    for leftover in (out / "_static" / "scripts").glob("fontawesome.js*"):
        leftover.unlink()


def _add_static_folder(app):
    """Serve _ext/static (the book's stylesheet) from _static; it holds no .js files."""
    app.config.html_static_path.append(os.fspath(Path(__file__).with_name("static")))


def setup(app):
    app.connect("builder-inited", _add_static_folder)
    app.add_css_file("book.css")
    app.add_js_file(None, body=_TOGGLES_JS)
    app.add_js_file(None, body=_SEARCH_JS)
    app.connect("doctree-resolved", _tidy_exercises)
    # After the handlers that add per-page scripts (sphinx-thebe's configuration).
    app.connect("html-page-context", _tidy_page, priority=900)
    app.connect("build-finished", _drop_fontawesome_js)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
