"""The book as a reader gets it: a clean build, then every page in a browser, wide and narrow."""

# The build runs once per session, into _build/html (the same place as
# `make book`), with warnings treated as errors. The browser tests serve that
# folder on 127.0.0.1 and open every page in _toc.yml in Debian's Chromium,
# driven by Playwright, with every request to another host blocked. On each
# page they check that math is typeset and every image has loaded; they
# operate every control in the content (each slider to several values, each
# button, checkbox and grid cell, each solution and copy button), count the
# controls that change nothing (there must be none) and compare what the
# explorers show with what cnnlib computes; they run draw-and-classify on
# two dozen drawings against cnnlib and drag across its grid with a mouse and
# a finger, open the phone menu, check that nothing is clipped at phone width,
# that text outputs fit at 1280 px, that whatever scrolls sideways at 390 px
# shows a scroll shadow, that figure text stays legible at 390 px, and weigh
# every page. Console errors, and warnings from the site's own scripts, fail a
# page. Screenshots at both widths land in _build/screenshots/, and the
# numbers in _build/browser-report.json.

import functools
import http.server
import json
import re
import shutil
import statistics
import subprocess
import sys
import threading
import warnings
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from book_pages import STYLED_CHAPTERS

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
HTML = BUILD / "html"
SHOTS = BUILD / "screenshots"
REPORT = BUILD / "browser-report.json"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 30_000
WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

MAX_PAGE_BYTES = 5_000_000            # any page, counting everything it loads
# the median chapter page: 2.5 MB until figures and explorer frames were drawn at twice the
# resolution (retina) for phones, which added about 0.15 MB to the median page
MAX_MEDIAN_CHAPTER_BYTES = 2_750_000
MIN_EXPLORER_WIDTH = 300              # px, an explorer's picture on a phone
# A figure drawn at 100 dpi with 10-point labels has 14 px text; shrunk below
# this factor of the width the page gives it (for a retina PNG, half its
# pixels) to fit the phone's column, the text drops under 8 px. A failure on
# every page.
MIN_FIGURE_SCALE = 0.55
DRAWINGS = 24                         # grids drawn on draw-and-classify
# Figure legibility at 390 px: the smallest text of a figure drawn with the book
# style (cnnlib.book.viz: 11 pt) is MIN_FONT_PT * dpi / 72 * shown / natural CSS
# px tall, from the PNG's own dpi (its pHYs chunk) and the widths the browser
# reports; it must reach MIN_TEXT_PX (the rule fontsize / width >= 2.2 at a
# 358 px column gives 10.94). Checked on every page and reported; a failure
# only on the chapters in tests/book_pages.py's STYLED_CHAPTERS, which are
# drawn with the style. The same list makes printed lines over 80 characters
# (cut off at 1280 px) a failure.
MIN_FONT_PT = 11
MIN_TEXT_PX = 10.9
MAX_OUTPUT_CHARS = 80

# Page errors (uncaught exceptions) and console errors that are known to be
# harmless, as {regular expression: why it is harmless}. Every other error
# fails the test.
KNOWN_HARMLESS_ERRORS = {}


def toc_pages():
    """Docnames in _toc.yml, in reading order (root first)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return pages


PAGES = toc_pages()
CHAPTERS = [p for p in PAGES if re.fullmatch(r"book/\d\d_\w+", p)]


def jupyter_book():
    exe = Path(sys.executable).with_name("jupyter-book")
    return str(exe) if exe.exists() else shutil.which("jupyter-book")


@pytest.fixture(scope="session")
def build():
    """A clean build of the whole book into _build/html; the finished process."""
    for stale in (HTML, BUILD / ".doctrees", BUILD / "jupyter_execute"):
        shutil.rmtree(stale, ignore_errors=True)
    return subprocess.run(
        [jupyter_book(), "build", str(ROOT), "--all", "-W", "-n", "--keep-going"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def site(build):
    """The built site's folder; fails (rather than skips) when there is none."""
    if not (HTML / "index.html").exists():
        pytest.fail("the book did not build:\n" + build.stdout[-3000:] + build.stderr[-3000:])
    return HTML


@pytest.mark.build
def test_build_succeeds_with_warnings_as_errors(build):
    assert build.returncode == 0, (
        "jupyter-book build -W failed:\n" + build.stderr[-6000:] + build.stdout[-2000:])
    for docname in PAGES:
        assert (HTML / f"{docname}.html").exists(), f"{docname} from _toc.yml was not built"


class _Loads(HTMLParser):
    """Collects every URL an HTML page would load by itself (not links to follow)."""

    LOADING_ATTRS = {
        "script": "src", "img": "src", "iframe": "src", "source": "src", "video": "src",
        "audio": "src", "embed": "src", "object": "data", "link": "href",
    }

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = self.LOADING_ATTRS.get(tag)
        if name and attrs.get(name):
            self.urls.append((tag, attrs[name]))
        if attrs.get("style"):
            self.urls += [("style", u) for u in re.findall(r"url\(\s*['\"]?([^'\")]+)", attrs["style"])]

    def handle_data(self, data):
        self.urls += [("css", u) for u in re.findall(r"@import\s+(?:url\()?\s*['\"]?([^'\");]+)", data)]


def _is_external(url):
    return url.startswith(("http:", "https:", "//"))


@pytest.mark.build
def test_site_loads_nothing_from_outside(site):
    """No <script src="http...">, stylesheet, font or image from another host."""
    external = []
    for page in site.rglob("*.html"):
        parser = _Loads()
        parser.feed(page.read_text(encoding="utf-8"))
        external += [(page.relative_to(site).as_posix(), tag, url)
                     for tag, url in parser.urls if _is_external(url)]
    for css in site.rglob("*.css"):
        text = css.read_text(encoding="utf-8", errors="replace")
        external += [(css.relative_to(site).as_posix(), "css", url)
                     for url in re.findall(r"(?:url\(|@import)\s*['\"]?((?:https?:)?//[^'\")\s]+)", text)]
    assert not external, "the site loads files from outside itself:\n" + "\n".join(map(str, external))


@pytest.mark.build
def test_site_serves_its_own_mathjax_and_no_heavy_extras(site):
    intro = (site / "book" / "intro.html").read_text(encoding="utf-8")
    assert re.search(r'<link rel="icon" href="[^"]*favicon\.png"', intro)
    assert (site / "_static" / "favicon.png").exists()
    for path in ("mathjax/startup.js", "mathjax/core.js", "mathjax/input/tex.js",
                 "mathjax/output/chtml.js", "mathjax/output/chtml/fonts/tex.js"):
        assert (site / path).stat().st_size > 0, path
    for docname in PAGES:
        page = (site / f"{docname}.html").read_text(encoding="utf-8")
        for heavy in ("fontawesome.js", "embed-amd.js", "require.js", "tex-chtml.js",
                      "application/vnd.jupyter.widget-state+json"):
            assert heavy not in page, f"{docname} still loads or embeds {heavy}"


@pytest.mark.build
def test_pages_use_the_book_stylesheet_and_a_clean_mathjax_config(site):
    css = (site / "_static" / "book.css").read_text(encoding="utf-8")
    assert "no-repeat local" in css           # the scroll shadows move with the content
    assert ".print-only" in css and ".screen-only" in css
    for docname in PAGES:
        page = (site / f"{docname}.html").read_text(encoding="utf-8")
        assert re.search(r'<link rel="stylesheet"[^>]*href="[^"]*_static/book\.css', page), docname
        config = re.search(r"window\.MathJax = (\{.*?\})</script>", page)
        if config:
            options = json.loads(config.group(1)).get("options", {})
            assert "enableMenu" not in options, (
                f"{docname}: MathJax rejects enableMenu when ui/menu is not loaded")


@pytest.mark.build
def test_chapters_are_saved_without_widget_state():
    """Saved widget state would make myst-nb load the widget manager; the pages show viewers."""
    for docname in PAGES:
        path = ROOT / f"{docname}.ipynb"
        if path.exists():
            widgets = json.loads(path.read_text(encoding="utf-8"))["metadata"].get("widgets", {})
            assert not widgets, (
                f"{path.name} has saved widget state: execute it with "
                "--ExecutePreprocessor.store_widget_state=False")


class _Ids(HTMLParser):
    """Collects every element id of a page."""

    def __init__(self):
        super().__init__()
        self.ids = []

    def handle_starttag(self, tag, attrs):
        self.ids += [value for name, value in attrs if name == "id" and value]


@pytest.mark.build
def test_no_repeated_ids_and_solution_titles_open_their_solution(site):
    for docname in PAGES:
        html = (site / f"{docname}.html").read_text(encoding="utf-8")
        parser = _Ids()
        parser.feed(html)
        repeated = sorted({i for i in parser.ids if parser.ids.count(i) > 1})
        assert not repeated, f"{docname}: repeated element ids {repeated}"
        titles = re.findall(
            r'<div class="solution[^"]*"[^>]*>\s*<p class="admonition-title">(.*?)</p>', html, re.S)
        linked = [t for t in titles if "<a " in t]
        assert not linked, (f"{docname}: solution titles with a link inside, which a click "
                            f"follows instead of opening the solution: {linked}")


# ---------------------------------------------------------------------------
# The browser tests


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (the browser test "
                    "uses Debian's Chromium and never downloads one)")
    from playwright.sync_api import sync_playwright

    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def report():
    """What the browser tests measured, written to _build/browser-report.json at the end."""
    numbers = {"bytes": {}, "controls": {}, "dead": {}, "reported": {}}
    yield numbers
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(numbers, indent=1, sort_keys=True))


class PageLog:
    """Everything a page did that the test looks at afterwards."""

    def __init__(self, page, origin):
        self.origin = origin
        self.outside = []     # requests to anywhere but the test server (aborted)
        self.failed = []      # local requests that failed or returned an error status
        self.errors = []      # uncaught exceptions and console errors
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("console", self._console)
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)
        # Only requests to other hosts are intercepted (the regular expression is
        # matched inside the browser driver, so local requests are not slowed down).
        page.route(re.compile("^(?!" + re.escape(origin + "/") + ")"), self._abort_outside)

    def _abort_outside(self, route):
        self.outside.append(route.request.url)
        route.abort()

    def _console(self, message):
        source = (message.location or {}).get("url", "")
        if message.type == "error":
            self.errors.append(f"console error: {message.text} ({source})")
        elif message.type == "warning" and source.startswith(self.origin + "/"):
            self.errors.append(f"console warning: {message.text} ({source})")

    def _request_failed(self, request):
        if request.url.startswith(self.origin + "/"):
            self.failed.append(f"{request.url}: {request.failure}")

    def _response(self, response):
        if response.status >= 400:
            self.failed.append(f"{response.url}: HTTP {response.status}")

    def report(self):
        return "\n".join(f"{what}: {items}" for what, items in [
            ("requests to other hosts", self.outside), ("failed requests", self.failed),
            ("errors", self.errors)] if items)

    def unexplained_errors(self):
        return [e for e in self.errors
                if not any(re.search(pattern, e) for pattern in KNOWN_HARMLESS_ERRORS)]

    def assert_clean(self):
        assert not self.outside, f"requests left 127.0.0.1: {self.outside}"
        assert not self.failed, f"failed requests: {self.failed}"
        assert not self.unexplained_errors(), f"errors in the page: {self.unexplained_errors()}"


def open_page(browser, server, docname, viewport, query="", **options):
    """A fresh context and page on ``docname``, loaded; returns (context, page, log)."""
    context = browser.new_context(viewport=viewport, service_workers="block", **options)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    log = PageLog(page, server)
    page.goto(f"{server}/{docname}.html{query}", wait_until="load")
    if page.locator("span.math, div.math").count():
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("() => MathJax.startup.promise")
    page.evaluate("() => document.fonts.ready.then(() => null)")
    return context, page, log


# The checks, run in the page.
MATH_STATE = """() => {
    const math = [...document.querySelectorAll('span.math, div.math')];
    const untypeset = math.filter(el => !el.querySelector('mjx-container')).map(el => el.textContent);
    const body = document.body.cloneNode(true);
    body.querySelectorAll('pre, code, script, style, mjx-container, textarea').forEach(el => el.remove());
    const raw = (body.textContent.match(/\\\\[(\\[]/g) || []).length;
    const errors = [...document.querySelectorAll('mjx-merror')]
        .map(el => el.getAttribute('data-mjx-error') || el.textContent);
    return {math: math.length, containers: document.querySelectorAll('mjx-container').length,
            untypeset: untypeset.slice(0, 5), raw, errors};
}"""

IMAGES_LOADED = """async () => {
    const images = [...document.images];
    images.forEach(img => { img.loading = 'eager'; });
    await Promise.all(images.map(img => img.complete ? null :
        new Promise(done => { img.addEventListener('load', done); img.addEventListener('error', done); })));
    return images.filter(img => !(img.naturalWidth > 0))
                 .map(img => img.id || (img.getAttribute('src') || '(no src)').slice(0, 80));
}"""

# Everything the page fetched, in bytes as sent (each test page has a fresh context, so no cache).
PAGE_BYTES = """() => performance.getEntriesByType('navigation')
    .concat(performance.getEntriesByType('resource'))
    .reduce((total, entry) => total + entry.transferSize, 0)"""

CONTROLS = ('button, input, select, textarea, summary, [role="button"], [role="slider"], '
            '[role="checkbox"], [contenteditable="true"]')

# Operates every control in the page's content and says what changed. A control
# is dead when operating it leaves what it controls as it was. Viewers report
# every setting they went through, with what they showed, for the Python side
# to check against cnnlib.
OPERATE = """async (controlsSelector) => {
  const article = document.querySelector('article.bd-article');
  const all = new Set(article.querySelectorAll(controlsSelector));
  const done = new Set(), dead = [], counts = {}, viewers = [];
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const name = el => (el.getAttribute('aria-label') || el.textContent.trim() || el.type ||
                      el.tagName).slice(0, 40);
  const count = (kind, el, changed) => {
    counts[kind] = (counts[kind] || 0) + 1;
    done.add(el);
    if (!changed) dead.push(kind + ': ' + name(el));
  };

  for (const root of article.querySelectorAll('.cnnv-viewer')) {
    const data = JSON.parse(root.querySelector('script.cnnv-data').textContent);
    const img = root.querySelector('.cnnv-frame'), caption = root.querySelector('.cnnv-caption');
    const shown = () => img.src + '|' + caption.textContent;
    const states = [];
    const setting = () => data.controls.map((c, i) => {
      const els = [...root.querySelectorAll(`[data-control="${i}"]:not(.cnnv-play)`)];
      if (els[0].type === 'range') return c.values[Number(els[0].value)];
      if (els[0].type === 'checkbox') return els[0].checked;
      return c.values[els.findIndex(b => b.getAttribute('aria-pressed') === 'true')];
    });
    const record = () => states.push({setting: setting(), caption: caption.textContent,
                                      values: JSON.parse(root.dataset.values),
                                      width: img.naturalWidth});
    const act = fn => { const before = shown(); fn(); record(); return shown() !== before; };
    record();
    for (const [i, c] of data.controls.entries()) {
      const els = [...root.querySelectorAll(`[data-control="${i}"]`)];
      const slider = els.find(el => el.type === 'range');
      const box = els.find(el => el.type === 'checkbox');
      const play = els.find(el => el.classList.contains('cnnv-play'));
      if (slider) {
        const last = c.values.length - 1, start = Number(slider.value);
        const targets = (last < 5 ? [...Array(last + 1).keys()]
                                  : [last, 0, Math.floor(last / 2), 1, last - 1]).concat([start]);
        let moves = 0, changes = 0;
        for (const t of targets) {
          if (Number(slider.value) === t) continue;
          moves += 1;
          changes += act(() => { slider.value = t;
                                 slider.dispatchEvent(new Event('input', {bubbles: true})); });
        }
        count('slider', slider, moves >= 2 && changes === moves);
      } else if (box) {
        count('checkbox', box, act(() => box.click()) && act(() => box.click()));
      } else {
        const pressedFirst = els.filter(b => b.getAttribute('aria-pressed') !== 'true')
          .concat(els.filter(b => b.getAttribute('aria-pressed') === 'true'));
        for (const b of pressedFirst) count('button', b, act(() => b.click()));
      }
      if (play) {
        act(() => { slider.value = 0; slider.dispatchEvent(new Event('input', {bubbles: true})); });
        const before = shown();
        play.click();
        await sleep(data.interval * 1.6);
        const moved = shown() !== before;
        play.click();
        const stopped = shown();
        await sleep(data.interval * 1.2);
        record();
        count('play button', play, moved && shown() === stopped
              && play.getAttribute('aria-pressed') === 'false');
      }
    }
    viewers.push({names: data.controls.map(c => c.name), inputs: data.inputs, states});
  }

  for (const root of article.querySelectorAll('.cnnv-pad')) {
    const shown = () => root.dataset.score + '|' +
      [...root.querySelectorAll('.cnnv-cell')].map(c => c.getAttribute('aria-pressed')).join();
    for (const cell of root.querySelectorAll('.cnnv-cell')) {
      const before = shown(); cell.click(); count('grid cell', cell, shown() !== before);
    }
    for (const sel of ['.cnnv-clear', '.cnnv-reset']) {
      const b = root.querySelector(sel), before = shown();
      b.click();
      count('pad button', b, shown() !== before);
    }
    const eraser = root.querySelector('.cnnv-eraser');
    const mode = () => eraser.getAttribute('aria-pressed');
    const was = mode();
    eraser.click();
    const flipped = mode() !== was;
    eraser.click();
    count('pad button', eraser, flipped && mode() === was);
  }

  for (const box of article.querySelectorAll('.dropdown.toggle')) {
    const title = box.querySelector(':scope > .admonition-title');
    const button = box.querySelector('button.toggle-button');
    const body = box.querySelector(':scope > section, :scope > .toggle-details__container');
    const visible = () => body !== null && getComputedStyle(body).visibility !== 'hidden';
    const wasOpen = visible();
    title.click();
    count('solution title', title, visible() !== wasOpen);
    if (button) { button.click(); count('solution button', button, visible() === wasOpen); }
  }

  for (const button of article.querySelectorAll('button.copybtn')) {
    const code = document.querySelector(button.dataset.clipboardTarget);
    await navigator.clipboard.writeText('');
    button.click();
    // the copy is asynchronous: wait for it (up to a second) on a busy machine
    let copied = '';
    for (let tries = 0; tries < 20 && copied === ''; tries++) {
      copied = await navigator.clipboard.readText();
      if (copied === '') await sleep(50);
    }
    count('copy button', button, copied.trim() !== '' && copied.trim() === code.textContent.trim());
  }

  const left = [...all].filter(el => !done.has(el)).map(el => el.outerHTML.slice(0, 120));
  return {counts, dead, viewers, left};
}"""


def _detection_point(inputs, score, iou):
    """Boxes kept by cnnlib's batched NMS and the true positives among them, per image."""
    from cnnlib.tools.average_precision import match_detections
    from cnnlib.tools.boxes import batched_nms

    kept, tp, objects = [], 0, 0
    for c, t in zip(inputs["candidates"], inputs["targets"]):
        scores = np.array(c["scores"], np.float64)
        above = np.flatnonzero(scores >= score)
        boxes = np.array(c["boxes"], np.float64).reshape(-1, 4)
        labels = np.array(c["labels"], np.int64)
        keep = above[batched_nms(boxes[above], scores[above], labels[above], iou)]
        m = match_detections(boxes[keep], scores[keep], labels[keep],
                             np.array(t["boxes"], np.float64).reshape(-1, 4),
                             np.array(t["labels"], np.int64), inputs["match_iou"])
        kept.append(keep.tolist())
        tp += int((m >= 0).sum())
        objects += len(t["labels"])
    return {"kept": kept, "tp": tp, "recall": tp / objects}


def _check_viewer(viewer):
    """Compare every state a viewer went through with cnnlib; returns the mismatches."""
    from cnnlib import functional as F
    from cnnlib.book.widgets.signal import step_text
    from cnnlib.nn.conv import conv1d
    from cnnlib.nn.windows import window_starts

    names, inputs, wrong = viewer["names"], viewer["inputs"], []
    for state in viewer["states"]:
        s, values, caption = dict(zip(names, state["setting"])), state["values"], state["caption"]
        if names == ["kernel", "position"]:
            x, kernel = np.array(inputs["x"]), np.array(inputs["kernels"][s["kernel"]])
            ok = (caption == step_text(x, kernel, s["position"])
                  and abs(values["y"] - conv1d(x, kernel)[s["position"]]) < 1e-12)
        elif names == ["preset", "centre"]:
            kernel = np.array(inputs["kernels"][s["preset"]])
            kernel[1, 1] += s["centre"]
            h, w = inputs["image_shape"]
            ok = (np.allclose(values["kernel"], kernel, rtol=0, atol=1e-12)
                  and values["shape"] == [F.output_size(h, 3), F.output_size(w, 3)]
                  and f"sum to {kernel.sum():.3g}" in caption)
        elif names == ["n", "kernel", "stride", "padding", "ceil_mode"]:
            args = dict(stride=s["stride"], padding=s["padding"], ceil_mode=s["ceil_mode"])
            m = F.output_size(s["n"], s["kernel"], **args)
            ok = (values["output"] == m and f"output {m} × {m}" in caption
                  and values["starts"] == window_starts(s["n"], s["kernel"], **args).tolist())
        elif names == ["kernel", "stride", "padding"]:
            size = F.conv_transpose_output_size(4, s["kernel"], stride=s["stride"],
                                                padding=s["padding"])
            ones = F.conv_transpose2d(np.ones((1, 1, 12, 12)), np.ones((1, 1, s["kernel"],
                                                                          s["kernel"])),
                                      stride=s["stride"])[0, 0, 0]
            inside = set(ones[s["kernel"] - 1: 11 * s["stride"] + 1].astype(int).tolist())
            ok = (values["output"] == size and f"output {size}×{size}" in caption
                  and inside == {values["low"], values["high"]})
        elif names == ["score", "iou"]:
            point = _detection_point(inputs, s["score"] / 100, s["iou"] / 100)
            ok = (values["kept"] == point["kept"] and values["tp"] == point["tp"]
                  and f"{point['tp']} correct" in caption
                  and f"recall {point['recall']:.2f}" in caption)
        else:
            pytest.fail(f"no cnnlib check for a viewer with controls {names}: add one here")
        if not ok:
            wrong.append((s, caption, values))
    return wrong


PHONE_LAYOUT = """(minExplorer) => {
  const article = document.querySelector('article.bd-article');
  const vw = document.documentElement.clientWidth;
  const out = {overflow: document.documentElement.scrollWidth - vw, clipped: [], narrow: []};
  const what = el => (el.className && el.className.baseVal === undefined ? el.className : '') ||
                     el.tagName;
  for (const el of article.querySelectorAll('img, canvas, svg, video, button, input, select')) {
    if (el.closest('.highlight, mjx-container')) continue;    // code and math scroll by design
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    let clipped = r.left < -1 || r.right > vw + 1;
    for (let a = el.parentElement; a && a !== article && !clipped; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== 'visible') {
        const box = a.getBoundingClientRect();
        clipped = r.left < box.left - 1 || r.right > box.right + 1;
      }
    }
    if (clipped) out.clipped.push(what(el) + ' ' + Math.round(r.left) + '..' + Math.round(r.right));
  }
  for (const img of article.querySelectorAll('.cnnv-frame')) {
    const w = img.getBoundingClientRect().width;
    if (w < minExplorer) out.narrow.push(Math.round(w));
  }
  return out;
}"""


# At 1280 px: every printed output, its longest line and whether it is cut off.
OUTPUT_FIT = """() => [...document.querySelectorAll('article.bd-article .cell_output pre')]
  .map(pre => ({longest: Math.max(...pre.textContent.split('\\n').map(line => line.length)),
                cut: pre.scrollWidth > pre.clientWidth + 1,
                start: pre.textContent.slice(0, 60)}))"""

# At 390 px: blocks that scroll sideways, and whether each shows it (a scroll
# shadow: a background gradient that scrolls with the content), or is clipped.
# A block whose overflow is visible spills into a parent, which is checked.
SCROLL_CUES = """() => {
  const out = [];
  const kinds = ['pre', 'mjx-container[display="true"]', 'div.math', '.table-wrapper', 'table',
                 '.output'];
  const sel = kinds.map(k => 'article.bd-article ' + k).join(', ');
  for (const el of document.querySelectorAll(sel)) {
    if (el.scrollWidth <= el.clientWidth + 1) continue;
    const cs = getComputedStyle(el);
    if (cs.overflowX === 'visible') continue;
    const scrolls = cs.overflowX === 'auto' || cs.overflowX === 'scroll';
    const cue = cs.backgroundImage.includes('gradient')
                && cs.backgroundAttachment.includes('local');
    const cls = typeof el.className === 'string' && el.className
      ? '.' + el.className.split(' ')[0] : '';
    out.push({what: el.tagName.toLowerCase() + cls, scrolls, cue,
              text: el.textContent.slice(0, 50)});
  }
  return out;
}"""

# At 390 px: each notebook figure's file, natural width, the width the page
# gives it (its style's width: half the pixels for a retina PNG; else its
# pixels) and the width shown, and the section it is in (the nearest heading
# above it), to name it in reports.
FIGURES = """() => {
  const headings = [...document.querySelectorAll('article.bd-article h1, article.bd-article h2')];
  const images = document.querySelectorAll('article.bd-article .cell_output img:not(.cnnv-frame)');
  return [...images].map((img, i) => {
    const above = headings.filter(
      h => h.compareDocumentPosition(img) & Node.DOCUMENT_POSITION_FOLLOWING);
    const section = above.length ? above[above.length - 1].textContent.replace('#', '').trim() : '';
    return {src: new URL(img.src).pathname, natural: img.naturalWidth, index: i + 1, section,
            css: parseFloat(img.style.width) || img.naturalWidth,
            shown: img.getBoundingClientRect().width};
  });
}"""


def figure_dpi(figure):
    """Pixels per inch of a figure's PNG (its pHYs chunk); None for other images."""
    path = HTML / figure["src"].lstrip("/")
    if path.suffix.lower() != ".png" or not path.exists() or not figure["natural"]:
        return None
    with Image.open(path) as png:
        return png.info.get("dpi", (72, 72))[0]


def figure_text_px(figure):
    """Smallest text of a figure drawn with the book style, in CSS px as shown; None if unknown."""
    dpi = figure_dpi(figure)
    return None if dpi is None else MIN_FONT_PT * dpi / 72 * figure["shown"] / figure["natural"]


def reader_checks(page, docname, wide):
    """The reader's-experience checks at the current width: (hard problems, reported only)."""
    hard, soft = [], []
    styled = docname in STYLED_CHAPTERS
    if wide:
        outputs = page.evaluate(OUTPUT_FIT)
        short_cut = [o["start"] for o in outputs if o["cut"] and o["longest"] <= MAX_OUTPUT_CHARS]
        if short_cut:
            hard.append(f"outputs of at most {MAX_OUTPUT_CHARS} characters a line cut off at "
                        f"1280 px: {short_cut[:3]}")
        long = [f"{o['longest']} chars: {o['start']!r}" for o in outputs
                if o["longest"] > MAX_OUTPUT_CHARS]
        if long:
            (hard if styled else soft).append(
                f"outputs with lines over {MAX_OUTPUT_CHARS} characters: {long[:4]}")
        return hard, soft
    cues = page.evaluate(SCROLL_CUES)
    no_cue = [c for c in cues if not (c["scrolls"] and c["cue"])]
    if no_cue:
        hard.append(f"blocks wider than the screen at 390 px without a scroll shadow, or "
                    f"clipped: {no_cue[:4]}")
    small, shrunk = [], []
    for figure in page.evaluate(FIGURES):
        if figure["css"] and figure["shown"] / figure["css"] < MIN_FIGURE_SCALE:
            shrunk.append(f"figure {figure['index']} (in '{figure['section'][:40]}')")
        px = figure_text_px(figure)
        if px is not None and px < MIN_TEXT_PX:
            small.append(f"figure {figure['index']} (in '{figure['section'][:40]}', "
                         f"{Path(figure['src']).name[:10]}…): {figure['natural']} px shown at "
                         f"{figure['shown']:.0f} px, {px:.1f} px text")
    if shrunk:
        hard.append(f"figures shrunk below {MIN_FIGURE_SCALE} of their size at 390 px, so that "
                    f"their labels are unreadable (draw them narrower): {shrunk}")
    if small:
        (hard if styled else soft).append(
            f"figures whose smallest text ({MIN_FONT_PT} pt with the book style) is under "
            f"{MIN_TEXT_PX} px at 390 px: {small}")
    return hard, soft


@pytest.mark.browser
@pytest.mark.parametrize("docname", PAGES)
def test_page(browser, server, report, docname):
    """One page, wide and at phone width: it renders, is light, fits, and every control works."""
    problems = []
    context, page, log = open_page(browser, server, docname, WIDE,
                                   permissions=["clipboard-read", "clipboard-write"])
    try:
        report["bytes"][docname] = page.evaluate(PAGE_BYTES)
        if report["bytes"][docname] > MAX_PAGE_BYTES:
            problems.append(f"loads {report['bytes'][docname] / 1e6:.2f} MB")
        if page.locator("span.math, div.math").count():
            math = page.evaluate(MATH_STATE)
            assert math["containers"] > 0, "MathJax typeset nothing"
            assert not math["untypeset"], f"math left as TeX: {math['untypeset']}"
            assert math["raw"] == 0, "raw \\( or \\[ left in the page text"
            assert not math["errors"], f"TeX errors: {math['errors']}"
        broken = page.evaluate(IMAGES_LOADED)
        assert not broken, f"images that did not load: {broken}"
        hard, soft = reader_checks(page, docname, wide=True)
        name = Path(docname).name
        page.screenshot(path=SHOTS / f"{name}.jpg", full_page=True, type="jpeg", quality=70)

        page.set_viewport_size(PHONE)
        phone_hard, phone_soft = reader_checks(page, docname, wide=False)
        hard, soft = hard + phone_hard, soft + phone_soft
        problems += hard
        report["reported"][docname] = soft
        for finding in soft:
            warnings.warn(f"{docname} (reported, not failed): {finding}")
        layout = page.evaluate(PHONE_LAYOUT, MIN_EXPLORER_WIDTH)
        page.screenshot(path=SHOTS / f"{name}-phone.jpg", full_page=True, type="jpeg",
                        quality=70)
        if layout["overflow"] > 0:
            problems.append(f"at 390 px the page scrolls sideways by {layout['overflow']} px")
        if layout["clipped"]:
            problems.append(f"clipped at 390 px: {layout['clipped']}")
        if layout["narrow"]:
            problems.append(f"explorer pictures narrower than {MIN_EXPLORER_WIDTH} px at 390 px: "
                            f"{layout['narrow']}")
        page.set_viewport_size(WIDE)

        operated = page.evaluate(OPERATE, CONTROLS)
        report["controls"][docname] = operated["counts"]
        report["dead"][docname] = operated["dead"]
        if operated["left"]:
            problems.append(f"controls the test does not know how to operate: {operated['left']}")
        if operated["dead"]:
            problems.append(f"controls that change nothing: {operated['dead']}")
        for viewer in operated["viewers"]:
            wrong = _check_viewer(viewer)
            if wrong:
                problems.append(f"explorer shows something other than cnnlib: {wrong[:3]}")
            if len(viewer["states"]) < 5:
                problems.append(f"explorer {viewer['names']} went through too few settings")
    except Exception as exc:
        pytest.fail(f"{docname}: {exc}\n{log.report()}")
    finally:
        context.close()
    log.assert_clean()
    assert not problems, f"{docname}:\n" + "\n".join(problems)


@pytest.mark.browser
def test_median_chapter_page_is_light(report):
    weights = {d: report["bytes"].get(d) for d in CHAPTERS}
    missing = [d for d, b in weights.items() if b is None]
    assert not missing, f"not weighed (their page test failed early): {missing}"
    median = statistics.median(weights.values())
    assert median <= MAX_MEDIAN_CHAPTER_BYTES, (
        f"median chapter page {median / 1e6:.2f} MB: "
        + ", ".join(f"{d} {b / 1e6:.2f}" for d, b in weights.items()))


@pytest.mark.browser
def test_phone_menu_opens_and_a_chapter_link_works(browser, server):
    target = CHAPTERS[min(2, len(CHAPTERS) - 1)]
    context, page, log = open_page(browser, server, PAGES[0], PHONE, is_mobile=True,
                                   has_touch=True)
    try:
        page.locator(".primary-toggle:visible").first.click()
        page.wait_for_selector("#pst-primary-sidebar-modal[open]")
        link = page.locator(f'#pst-primary-sidebar-modal a[href$="{Path(target).name}.html"]')
        link.first.click()
        page.wait_for_url(re.compile(re.escape(target) + r"\.html$"))
        heading = page.locator("article h1").first.inner_text()
        page.screenshot(path=SHOTS / "phone-menu-followed.png")
    finally:
        context.close()
    log.assert_clean()
    html = (HTML / f"{target}.html").read_text(encoding="utf-8")
    title = re.search(r"<title>(.*?) &#8212;", html)
    assert title and title.group(1).split(". ", 1)[-1] in heading


@pytest.mark.browser
def test_draw_and_classify_matches_cnnlib(browser, server):
    from cnnlib.data import letter_shape, place
    from cnnlib.models import tl_cnn

    docname = next((d for d in PAGES if 'class="cnnv cnnv-pad"' in (HTML / f"{d}.html").read_text(
        encoding="utf-8")), None)
    assert docname, "no page has draw-and-classify"
    context, page, log = open_page(browser, server, docname, WIDE)
    try:
        pad = page.locator(".cnnv-pad").first
        data = json.loads(pad.locator("script.cnnv-data").text_content())
        net = data["network"]
        kernels, hidden = np.shape(net["conv"]["weight"])[0], np.shape(net["hidden"]["weight"])[0]
        model = tl_cnn(kernels, hidden, rng=np.random.default_rng(0))
        for layer, name in ((model[0], "conv"), (model[4], "hidden"), (model[6], "out")):
            for key in ("weight", "bias"):
                layer.params[key][...] = np.array(net[name][key])

        rng = np.random.default_rng(12)
        grids = [np.array(data["initial"]), np.zeros((8, 8), int), np.ones((8, 8), int)]
        grids += [place(letter_shape(letter, side), row, col)
                  for letter, side, row, col in [("T", 3, 0, 0), ("L", 5, 3, 2), ("T", 5, 1, 2),
                                                 ("L", 3, 5, 5), ("T", 4, 4, 1)]]
        grids += [(rng.random((8, 8)) < p).astype(int) for p in np.linspace(0.1, 0.6, DRAWINGS - 8)]
        cells = pad.locator(".cnnv-cell")
        for n, grid in enumerate(grids):
            now = np.array(pad.evaluate("r => [...r.querySelectorAll('.cnnv-cell')].map("
                                        "c => c.getAttribute('aria-pressed') === 'true' ? 1 : 0)"))
            flips = np.flatnonzero(now != grid.ravel())
            if n == 1:
                pad.locator(".cnnv-clear").click()            # a real click on the button
                flips = []
            for i in flips[:6] if n == 2 else []:
                cells.nth(int(i)).click()                     # real mouse clicks on the grid
            pad.evaluate("(r, flips) => flips.forEach(i => r.querySelectorAll('.cnnv-cell')[i]"
                         ".click())", [int(i) for i in flips[6 if n == 2 else 0:]])
            score = float(pad.get_attribute("data-score"))
            maps = np.array(json.loads(pad.get_attribute("data-maps")))
            x = grid.astype(np.float64)[None, None]
            expected = model.forward(x)[0, 0]
            assert abs(score - expected) <= 1e-6, f"drawing {n}: page {score}, cnnlib {expected}"
            np.testing.assert_allclose(maps, model[1](model[0](x))[0], rtol=0, atol=1e-6)
            if not grid.any():
                assert pad.locator(".cnnv-letter").inner_text() == "draw a letter"
                assert pad.locator(".cnnv-score").inner_text() == ""
                continue
            letter = "T" if expected > data["threshold"] else "L"
            assert pad.locator(".cnnv-letter").inner_text() == letter
            assert f"model output {expected:.2f}" in pad.locator(".cnnv-score").inner_text()
    finally:
        context.close()
    log.assert_clean()


PAD_CELLS = ("r => [...r.querySelectorAll('.cnnv-cell')].map("
             "c => c.getAttribute('aria-pressed') === 'true' ? 1 : 0)")


def _pad_page(browser, server, viewport, **options):
    docname = next((d for d in PAGES if 'class="cnnv cnnv-pad"' in (HTML / f"{d}.html").read_text(
        encoding="utf-8")), None)
    assert docname, "no page has draw-and-classify"
    context, page, log = open_page(browser, server, docname, viewport, **options)
    pad = page.locator(".cnnv-pad").first
    pad.scroll_into_view_if_needed()
    return context, page, log, pad


def _centre(pad, row, col):
    box = pad.locator(".cnnv-cell").nth(8 * row + col).bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def _grid(pad):
    return np.array(pad.evaluate(PAD_CELLS)).reshape(8, 8)


def _drag(page, pad, cells, button="left"):
    """Press on the first cell, move through the others in small steps, release."""
    page.mouse.move(*_centre(pad, *cells[0]))
    page.mouse.down(button=button)
    for cell in cells[1:]:
        page.mouse.move(*_centre(pad, *cell), steps=6)
    page.mouse.up(button=button)


@pytest.mark.browser
def test_pad_paints_while_a_mouse_drags(browser, server):
    context, page, log, pad = _pad_page(browser, server, WIDE)
    try:
        pad.locator(".cnnv-clear").click()
        assert pad.locator(".cnnv-letter").inner_text() == "draw a letter"
        _drag(page, pad, [(1, 1), (1, 6)])                       # the bar of a T
        _drag(page, pad, [(2, 4), (6, 4)])                       # its stem
        want = np.zeros((8, 8), int)
        want[1, 1:7] = 1
        want[2:7, 4] = 1
        np.testing.assert_array_equal(_grid(pad), want)
        assert pad.locator(".cnnv-letter").inner_text() in ("T", "L")
        page.screenshot(path=SHOTS / "pad-drawn.png")
        _drag(page, pad, [(1, 1), (1, 3)])                       # starts on ink: rubs out
        want[1, 1:4] = 0
        np.testing.assert_array_equal(_grid(pad), want)
        _drag(page, pad, [(6, 4), (4, 4)], button="right")       # the right button rubs out
        want[4:7, 4] = 0
        np.testing.assert_array_equal(_grid(pad), want)
        pad.locator(".cnnv-eraser").click()                      # eraser: even a stroke from
        _drag(page, pad, [(3, 5), (1, 5)])                       # an empty cell rubs out
        want[1:4, 5] = 0
        np.testing.assert_array_equal(_grid(pad), want)
        pad.locator(".cnnv-eraser").click()
        page.mouse.click(*_centre(pad, 7, 7))                    # a plain click still toggles
        want[7, 7] = 1
        np.testing.assert_array_equal(_grid(pad), want)
        page.mouse.click(*_centre(pad, 7, 7))
        want[7, 7] = 0
        np.testing.assert_array_equal(_grid(pad), want)
    finally:
        context.close()
    log.assert_clean()


@pytest.mark.browser
def test_pad_paints_while_a_finger_drags(browser, server):
    context, page, log, pad = _pad_page(browser, server, PHONE, is_mobile=True, has_touch=True)
    try:
        assert pad.locator(".cnnv-grid").evaluate("g => getComputedStyle(g).touchAction") == "none"
        pad.locator(".cnnv-clear").tap()
        cdp = context.new_cdp_session(page)
        scrolled = page.evaluate("() => window.scrollY")
        path = [_centre(pad, r, 3) for r in (1, 2, 3, 4, 5, 6)] + [_centre(pad, 6, c)
                                                                  for c in (4, 5)]
        points = []
        for (x0, y0), (x1, y1) in zip(path, path[1:]):
            points += [(x0 + (x1 - x0) * t / 4, y0 + (y1 - y0) * t / 4) for t in range(4)]
        points.append(path[-1])
        for kind, (x, y) in zip(["touchStart"] + ["touchMove"] * (len(points) - 1), points):
            cdp.send("Input.dispatchTouchEvent",
                     {"type": kind, "touchPoints": [{"x": x, "y": y, "id": 1}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        want = np.zeros((8, 8), int)
        want[1:7, 3] = 1
        want[6, 3:6] = 1                                          # an L, drawn with a finger
        np.testing.assert_array_equal(_grid(pad), want)
        assert page.evaluate("() => window.scrollY") == scrolled, "the drag scrolled the page"
        page.screenshot(path=SHOTS / "pad-touch-phone.png")
    finally:
        context.close()
    log.assert_clean()


@pytest.mark.browser
def test_home_page_first_screen(browser, server):
    """On a phone, the first screen says who the course is for and links to chapter 1."""
    context, page, log = open_page(browser, server, PAGES[0], PHONE, is_mobile=True)
    try:
        start = page.locator(".start-here a").first
        assert start.get_attribute("href").endswith(f"{Path(CHAPTERS[0]).name}.html")
        assert "Start here" in start.inner_text()
        box = start.bounding_box()
        assert box["y"] + box["height"] <= PHONE["height"], (
            "the start link is below the first screen")
        who = page.get_by_text("Who it is for").first.bounding_box()
        assert who["y"] < PHONE["height"]
        page.screenshot(path=SHOTS / "home-first-screen-phone.png")
        # web-only wording on screen, the print edition's own wording in the PDF
        shown = "() => [...document.querySelectorAll('.screen-only, .print-only')].map(" \
                "el => [el.className.includes('print-only'), el.offsetParent !== null])"
        assert sorted(page.evaluate(shown)) == [[False, True], [True, False]]
        page.emulate_media(media="print")
        assert sorted(page.evaluate(shown)) == [[False, False], [True, True]]
    finally:
        context.close()
    log.assert_clean()


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["1280", "390"])
def test_one_search_box(browser, server, viewport):
    context, page, log = open_page(browser, server, CHAPTERS[0], viewport)
    try:
        visible = page.evaluate("""() => [...document.querySelectorAll(
            '.search-button-field, .search-button, .bd-search, form[role=search]')]
            .filter(el => el.offsetParent !== null && el.getBoundingClientRect().width > 0)
            .map(el => el.className)""")
    finally:
        context.close()
    assert len(visible) == 1, f"search boxes on the page: {visible}"


@pytest.mark.browser
def test_search_snippets_show_no_tex(browser, server):
    snippets = []
    for query in ("padding", "stride"):
        context, page, log = open_page(browser, server, "search", WIDE, query=f"?q={query}")
        try:
            page.wait_for_function("""() => {
                const found = document.querySelectorAll('#search-results li').length;
                return found >= 3 && document.querySelectorAll('#search-results p.context')
                    .length === found; }""")
            snippets += page.locator("#search-results p.context").all_inner_texts()
        finally:
            context.close()
        log.assert_clean()
    tex = [s for s in snippets if re.search(r"\\[()\[\]]|\\[a-zA-Z]{2,}", s)]
    assert not tex, f"search results quote TeX source: {tex[:2]}"
    assert any("×" in s or "⌊" in s for s in snippets), "no snippet shows math as symbols"


@pytest.mark.browser
def test_index_redirects_to_intro(browser, server):
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    log = PageLog(page, server)
    try:
        page.goto(f"{server}/index.html")
        page.wait_for_url(re.compile(re.escape(PAGES[0]) + r"\.html$"), timeout=TIMEOUT_MS)
    finally:
        context.close()
    assert not log.outside
