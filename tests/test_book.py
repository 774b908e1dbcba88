"""The book as a reader gets it: a clean build, then every page in a browser.

The build runs once per session, into _build/html (the same place as
`make book`), with warnings treated as errors. The browser test serves that
folder on 127.0.0.1 and opens every page in _toc.yml in Debian's Chromium,
driven by Playwright. It checks that nothing is fetched from anywhere else,
that math is typeset, that every image has loaded, that saved widgets and
animations render, and it leaves a screenshot of each page in
_build/screenshots/ for review.
"""

import functools
import http.server
import re
import shutil
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
HTML = BUILD / "html"
SHOTS = BUILD / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 30_000

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
def test_site_has_favicon_and_vendored_scripts(site):
    intro = (site / "book" / "intro.html").read_text(encoding="utf-8")
    assert re.search(r'<link rel="icon" href="[^"]*favicon\.png"', intro)
    assert (site / "_static" / "favicon.png").exists()
    for path in ("mathjax/tex-chtml.js", "requirejs/require.js", "jupyter-widgets/embed-amd.js"):
        assert (site / path).stat().st_size > 0, path


# ---------------------------------------------------------------------------
# The browser test


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
        if message.type == "error":
            self.errors.append(f"console error: {message.text}")

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

WIDGETS_RENDERED = """() => {
    const views = [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')];
    return views.every(s => {
        const area = s.previousElementSibling;
        return area !== null && area.classList.contains('widget-subarea')
            && area.querySelector('.jupyter-widgets, .lm-Widget') !== null;
    });
}"""

IMAGES_LOADED = """async () => {
    const images = [...document.images];
    images.forEach(img => { img.loading = 'eager'; });
    await Promise.all(images.map(img => img.complete ? null :
        new Promise(done => { img.addEventListener('load', done); img.addEventListener('error', done); })));
    return images.filter(img => !(img.naturalWidth > 0))
                 .map(img => img.id || (img.getAttribute('src') || '(no src)').slice(0, 80));
}"""

ANIMATION_FRAMES = """() => [...document.querySelectorAll('.animation')].map(a => {
    const img = a.querySelector('img');
    return img !== null && img.naturalWidth > 0;
})"""


@pytest.mark.browser
@pytest.mark.parametrize("docname", PAGES)
def test_page_renders_offline(browser, server, docname):
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  service_workers="block")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    log = PageLog(page, server)
    try:
        page.goto(f"{server}/{docname}.html", wait_until="load")
        html = page.content()

        if page.locator("span.math, div.math").count():
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
            page.evaluate("() => MathJax.startup.promise")
            math = page.evaluate(MATH_STATE)
            assert math["containers"] > 0, "MathJax typeset nothing"
            assert not math["untypeset"], f"math left as TeX: {math['untypeset']}"
            assert math["raw"] == 0, "raw \\( or \\[ left in the page text"
            assert not math["errors"], f"TeX errors: {math['errors']}"

        views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
        if views:
            assert 'type="application/vnd.jupyter.widget-state+json"' in html, (
                f"{views} widget view(s) but no saved widget state: re-execute the notebook "
                "with `make notebooks` (it stores widget state)")
            page.wait_for_function(WIDGETS_RENDERED)

        animations = page.evaluate(ANIMATION_FRAMES)   # matplotlib's to_jshtml
        for i, has_frame in enumerate(animations):
            assert has_frame, f"animation {i} shows no first frame"

        broken = page.evaluate(IMAGES_LOADED)
        assert not broken, f"images that did not load: {broken}"

        if animations:  # Font Awesome (from the theme) turns the buttons' <i> into SVG icons
            page.wait_for_function(
                "() => document.querySelectorAll('.animation i.fa:not(.svg-inline--fa)').length === 0")

        page.screenshot(path=SHOTS / f"{Path(docname).name}.png", full_page=True)
        # what happened up to here (closing the page may abort requests still in flight)
        outside, failed, errors = list(log.outside), list(log.failed), log.unexplained_errors()
    except Exception as exc:
        pytest.fail(f"{docname}: {exc}\n{log.report()}")
    finally:
        context.close()

    assert not outside, f"requests left 127.0.0.1: {outside}"
    assert not failed, f"failed requests: {failed}"
    assert not errors, f"errors in the page: {errors}"


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
