"""Print the book to _build/pdf/book.pdf from a singlehtml build, and check the result."""

import argparse
import contextlib
import functools
import html
import http.server
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "_build" / "pdf"
PDF = OUT / "book.pdf"
STYLESHEET = Path(__file__).with_name("pdf.css")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 120_000
# The printed column of an A4 page with the stylesheet's 17 mm side margins, in
# CSS pixels, so that the clipping check sees the layout that gets printed.
PRINT_VIEWPORT = {"width": round((210 - 2 * 17) / 25.4 * 96), "height": 1000}

# What `make pdf-check` asks of the PDF.
MIN_PAGES = 80
MIN_IMAGES = 20
# The plain-text fallbacks (reprs) of outputs that stand for a figure: a
# widget's `VBox(children=...`, `<IPython.core.display.HTML object>`, a
# matplotlib figure or animation that was never drawn. Code that builds a box
# (`HBox([...])`) does not match.
FALLBACK_TEXT = re.compile(r"\b\w*Box\(children=|<IPython\.[\w.]+ object>|"
                           r"<Figure size \d+x\d+ with|<matplotlib\.animation\.\w+ object")

# Runs in the page once it has loaded: waits for MathJax, the fonts and every
# image, then opens every dropdown (the solutions) and puts every matplotlib
# animation on its first frame.
SETTLE_JS = """async () => {
  const mj = window.MathJax;
  if (mj && mj.startup) {
    await mj.startup.promise;
    await mj.typesetPromise();
  }
  await document.fonts.ready;
  await Promise.all([...document.images].map(img => img.complete ? null :
    new Promise(done => { img.onload = img.onerror = done; })));
  document.querySelectorAll(".toggle-hidden").forEach(e => e.classList.remove("toggle-hidden"));
  document.querySelectorAll("details").forEach(d => { d.open = true; });
  for (const name of Object.keys(window)) {
    const anim = window[name];
    if (name.startsWith("anim") && anim && typeof anim.pause_animation === "function") {
      anim.pause_animation();
      anim.set_frame(0);
    }
  }
  return [...document.images].filter(img => !img.naturalWidth).map(img => img.src);
}"""

# Inserts the title page and the table of contents before the book's first
# page. `parts` is [[caption, numbered, [docname, ...]], ...] in reading order.
# The contents list each document's title and its sections, numbered as in the
# book and linked to their headings, each with an empty page-number slot.
FRONT_MATTER_JS = """([bookTitle, titlePage, parts, rootDoc]) => {
  document.title = bookTitle;
  const article = document.querySelector("article.bd-article");
  const docSection = doc => doc === rootDoc ? article.querySelector(":scope > section")
    : document.getElementById("document-" + doc)?.nextElementSibling;
  const title = heading => {
    const copy = heading.cloneNode(true);
    copy.querySelectorAll(".headerlink, mjx-assistive-mml").forEach(e => e.remove());
    return copy.textContent.replace(/\\s+/g, " ").trim();
  };
  const entry = (heading, level) => {
    const li = document.createElement("li");
    li.className = "pdf-level-" + level;
    const a = document.createElement("a");
    a.href = "#" + heading.parentElement.id;
    const text = document.createElement("span");
    text.className = "pdf-entry";
    text.textContent = title(heading);
    const page = document.createElement("span");
    page.className = "pdf-page";
    a.append(text, page);
    li.append(a);
    return li;
  };
  const contents = document.createElement("nav");
  contents.className = "pdf-contents";
  contents.innerHTML = "<h1>Contents</h1>";
  const missing = [];
  for (const [caption, numbered, docs] of parts) {
    if (caption) {
      const p = document.createElement("p");
      p.className = "pdf-part";
      p.textContent = caption;
      contents.append(p);
    }
    const list = document.createElement("ol");
    for (const doc of docs) {
      const section = docSection(doc);
      const heading = section?.querySelector(":scope > h1, :scope > h2");
      if (!heading) { missing.push(doc); continue; }
      list.append(entry(heading, 1));
      for (const sub of section.querySelectorAll(":scope > section > h2, :scope > section > h3")) {
        list.append(entry(sub, 2));
      }
    }
    contents.append(list);
  }
  article.insertAdjacentHTML("afterbegin", titlePage);
  article.querySelector(".pdf-title-page").after(contents);
  return {missing, entries: [...contents.querySelectorAll(".pdf-entry")].map(e => e.textContent)};
}"""

# Code, outputs and tables whose content overflows their box, and figures and
# display math that reach past the printed column, as short descriptions; the
# stylesheet should leave none. (Inline math is left out: MathJax's hidden
# assistive copy makes its scrollWidth meaningless.)
CLIPPED_JS = """() => {
  const column = document.documentElement.clientWidth + 1;
  const shown = e => e.getClientRects().length > 0;
  const overflows = [...document.querySelectorAll(
      "article pre, article table, article .cell_output > *")]
    .filter(e => shown(e) && (e.scrollWidth > e.clientWidth + 1
                              || e.getBoundingClientRect().right > column));
  const outside = [...document.querySelectorAll('article img, article mjx-container[display="true"]')]
    .filter(e => shown(e) && e.getBoundingClientRect().right > column);
  return [...overflows, ...outside].map(e => e.tagName.toLowerCase() + ": "
    + (e.textContent || e.getAttribute("src") || "").replace(/\\s+/g, " ").trim().slice(0, 60));
}"""


class PrintError(RuntimeError):
    """The book cannot be printed as it should be; the message says why."""


def toc_parts(toc_path=ROOT / "_toc.yml"):
    """The book's documents in reading order, grouped by the parts of `_toc.yml`.

    Returns
    -------
    root : str
        The docname of the root page (the introduction).
    parts : list of (str, bool, list of str)
        Each part's caption ("" for the root page), whether its chapters are
        numbered, and its docnames (sections included).
    """
    toc = yaml.safe_load(toc_path.read_text())

    def docs(entries):
        names = []
        for entry in entries or []:
            if "file" in entry:
                names.append(entry["file"])
            names += docs(entry.get("sections"))
        return names

    parts = [("", False, [toc["root"]])]
    parts += [(part.get("caption", ""), bool(part.get("numbered")), docs(part.get("chapters")))
              for part in toc.get("parts", [])]
    if toc.get("chapters"):
        parts.append(("", False, docs(toc["chapters"])))
    return toc["root"], parts


def document_title(docname):
    """The first `# ` heading of a page of the book (`book/NN_topic`, .ipynb or .md)."""
    path = next((p for p in (ROOT / f"{docname}.ipynb", ROOT / f"{docname}.md") if p.exists()), None)
    if path is None:
        raise PrintError(f"_toc.yml lists {docname}, but there is no {docname}.ipynb or .md")
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    else:
        text = path.read_text()
    match = re.search(r"^# +(.+?)\s*$", text, re.M)
    if match is None:
        raise PrintError(f"{path.relative_to(ROOT)} has no '# ' title")
    return match.group(1)


def chapter_titles():
    """Every chapter's title as the PDF prints it: "3. Tracking dimensions" in a numbered part.

    Chapters are numbered on across parts, as `use_multitoc_numbering` does;
    the root page and the pages of unnumbered parts keep their bare titles.
    """
    _, parts = toc_parts()
    titles, number = [], 0
    for _, numbered, docs in parts:
        for doc in docs:
            plain = re.sub(r"[`*_]", "", document_title(doc))
            if numbered:
                number += 1
                titles.append(f"{number}. {plain}")
            else:
                titles.append(plain)
    return titles


def title_page(config_path=ROOT / "_config.yml"):
    """The book's title and its title page as HTML (logo, title, author, copyright)."""
    config = yaml.safe_load(config_path.read_text())
    title = config["title"]
    logo = f'<img src="_static/{Path(config["logo"]).name}" alt="">' if config.get("logo") else ""
    lines = [config.get("author", ""), f"© {config['copyright']}" if config.get("copyright") else ""]
    page = ('<section class="pdf-title-page">' + logo
            + f'<p class="pdf-title">{html.escape(title)}</p>'
            + "".join(f"<p>{html.escape(str(line))}</p>" for line in lines if line) + "</section>")
    return title, page


def build_singlehtml(*, strict=True):
    """Build the whole book as one HTML page, under `_build/pdf/sphinx/`.

    Parameters
    ----------
    strict : bool
        Treat Sphinx warnings as errors, as `make book` does.

    Returns
    -------
    Path
        The folder of the built site. Its page for printing is `book.html` at
        the site's root: a copy of the root document's page, whose links are
        written relative to the site's root, not to its own folder.

    Raises
    ------
    PrintError
        When the build fails, with its warnings and errors.
    """
    exe = Path(sys.executable).with_name("jupyter-book")
    command = [str(exe if exe.exists() else "jupyter-book"), "build", str(ROOT), "--all",
               "--builder", "singlehtml", "--path-output", str(OUT / "sphinx")]
    if strict:
        command += ["-W", "-n", "--keep-going"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    log = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr).splitlines()   # no colours
    if done.returncode != 0:
        problems = [line for line in log if re.search(r"WARNING|ERROR|Error", line)] or log[-20:]
        raise PrintError("the singlehtml build failed; fix these, or print anyway with "
                         "`.venv/bin/python tools/pdf.py --lenient`:\n  "
                         + "\n  ".join(problems[-20:]))
    site = OUT / "sphinx" / "_build" / "singlehtml"
    root, _ = toc_parts()
    shutil.copyfile(site / f"{root}.html", site / "book.html")
    return site


@contextlib.contextmanager
def serve(folder):
    """Serve `folder` on 127.0.0.1 at a free port; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _poppler(tool, pdf_bytes, *args):
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf_bytes)
        f.flush()
        return subprocess.run([tool, *args, f.name, *(["-"] if tool == "pdftotext" else [])],
                              capture_output=True, text=True, check=True).stdout


def page_count(pdf_bytes):
    """The number of pages of a PDF (read by `pdfinfo`)."""
    return int(re.search(r"^Pages:\s+(\d+)", _poppler("pdfinfo", pdf_bytes), re.M).group(1))


def page_texts(pdf_bytes):
    """The text of each page of a PDF (by `pdftotext`), first page first."""
    return _poppler("pdftotext", pdf_bytes).split("\f")


def image_count(pdf_bytes):
    """The number of images drawn in a PDF (rows of `pdfimages -list`, masks left out)."""
    rows = _poppler("pdfimages", pdf_bytes, "-list").splitlines()[2:]
    return sum(1 for row in rows if row.split()[2] == "image")


def heading_pages(entries, texts, first):
    """Find the page on which each heading of the contents is printed.

    Parameters
    ----------
    entries : list of str
        The headings, in the order they appear in the book.
    texts : list of str
        The text of every page (`page_texts`).
    first : int
        Index of the first page of the body (after the title page and contents).

    Returns
    -------
    list of int
        Page numbers (the first page is 1), one per entry, never decreasing. A
        heading counts only where it fills its lines alone, so a sentence that
        quotes it does not match.

    Raises
    ------
    PrintError
        When a heading is on no page at or after the previous heading's page.
    """
    pages, start = [], first
    for entry in entries:
        words = r"\s+".join(re.escape(w) for w in entry.split())
        pattern = re.compile(rf"(?:^|\n)[ \t]*{words}[ \t]*(?:\n|$)")
        found = next((i for i in range(start, len(texts)) if pattern.search(texts[i])), None)
        if found is None:
            raise PrintError(f"the heading {entry!r} is on no printed page from page {start + 1} "
                             "on, so the contents cannot give its page")
        pages.append(found + 1)
        start = found
    return pages


def print_book(site, pdf_path=PDF):
    """Print the singlehtml site to `pdf_path`: title page, contents with page numbers, the book.

    The page is printed three times: the front matter alone, to count its
    pages; the whole book, to find the page of every heading; and the whole
    book again with those page numbers in the contents.

    Returns
    -------
    int
        The number of pages of the PDF.

    Raises
    ------
    PrintError
        When an image does not load, a document is missing from the page, a
        heading cannot be found in the print, or code would be clipped.
    """
    from playwright.sync_api import sync_playwright

    root, parts = toc_parts()
    with serve(site) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=PRINT_VIEWPORT)
            page.route("**/*", lambda route: route.continue_()
                       if urlsplit(route.request.url).hostname == "127.0.0.1" else route.abort())
            page.goto(base + "book.html", wait_until="load", timeout=TIMEOUT_MS)
            broken = page.evaluate(SETTLE_JS)
            if broken:
                raise PrintError("these images did not load:\n  " + "\n  ".join(broken))
            front = page.evaluate(FRONT_MATTER_JS, [*title_page(), parts, root])
            if front["missing"]:
                raise PrintError(f"the singlehtml page has no section for {front['missing']}")
            page.add_style_tag(content=STYLESHEET.read_text())
            page.emulate_media(media="print")
            clipped = page.evaluate(CLIPPED_JS)
            if clipped:
                raise PrintError("these would be clipped at the right margin; extend the "
                                 "wrapping rules in tools/pdf.css:\n  " + "\n  ".join(clipped))

            options = dict(format="A4", prefer_css_page_size=True, print_background=True)
            body_hidden = page.add_style_tag(content=(
                "article.bd-article > :not(.pdf-title-page):not(.pdf-contents)"
                " { display: none !important; }"))
            n_front = page_count(page.pdf(**options))
            body_hidden.evaluate("style => style.remove()")

            pages = heading_pages(front["entries"], page_texts(page.pdf(**options)), n_front)
            page.evaluate("""pages => document.querySelectorAll(".pdf-contents .pdf-page")
                .forEach((slot, i) => { slot.textContent = pages[i]; })""", pages)
            pdf_path.parent.mkdir(parents=True, exist_ok=True)
            page.pdf(path=pdf_path, outline=True, tagged=True, **options)
        finally:
            browser.close()
    return page_count(pdf_path.read_bytes())


def tex_commands(root=ROOT / "book"):
    """The TeX commands (`\\frac`, `\\times`, ...) that the book's Markdown uses."""
    texts = [p.read_text() for p in root.glob("*.md")]
    for nb in root.glob("*.ipynb"):
        texts += ["".join(c["source"]) for c in json.loads(nb.read_text())["cells"]
                  if c["cell_type"] == "markdown"]
    return sorted(set(re.findall(r"\\([A-Za-z]{2,})", "\n".join(texts))))


def pdf_problems(n_pages, text, n_images, titles, commands):
    """What is wrong with a printed book, as one sentence per problem.

    Parameters
    ----------
    n_pages, n_images : int
        The PDF's pages and images.
    text : str
        Its text (`pdftotext`).
    titles : list of str
        The chapter titles it must contain (`chapter_titles`).
    commands : list of str
        TeX command names that must not appear as raw text (`tex_commands`).

    Returns
    -------
    list of str
        Empty when the PDF passes.
    """
    problems = []
    if n_pages < MIN_PAGES:
        problems.append(f"{n_pages} pages, expected at least {MIN_PAGES}")
    if n_images < MIN_IMAGES:
        problems.append(f"{n_images} images, expected at least {MIN_IMAGES} (figures missing?)")
    flat = " ".join(text.split())
    for title in titles:
        if " ".join(title.split()) not in flat:
            problems.append(f"no chapter title {title!r}")
    raw = re.findall(r"\\[()\[\]]|\$\$", text)
    if commands:
        raw += re.findall(r"\\(?:%s)\b" % "|".join(map(re.escape, commands)), text)
    if raw:
        problems.append(f"raw TeX in the text, math not typeset: {sorted(set(raw))}")
    fallback = sorted(set(FALLBACK_TEXT.findall(text)))
    if fallback:
        problems.append(f"outputs printed as plain text instead of their figure: {fallback}")
    return problems


def check(pdf_path=PDF):
    """Check the printed book (`make pdf-check`); returns its problems, as `pdf_problems` does."""
    if not pdf_path.exists():
        return [f"{pdf_path} does not exist; run make pdf"]
    data = pdf_path.read_bytes()
    return pdf_problems(page_count(data), "\n".join(page_texts(data)), image_count(data),
                        chapter_titles(), tex_commands())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lenient", action="store_true",
                        help="print even if the build has Sphinx warnings (while chapters are edited)")
    parser.add_argument("--check", action="store_true",
                        help="check the existing PDF instead of printing it")
    args = parser.parse_args(argv)
    missing = [tool for tool in ("pdfinfo", "pdftotext", "pdfimages") if shutil.which(tool) is None]
    if missing:
        sys.exit(f"make pdf reads PDFs with {', '.join(missing)} from poppler-utils, which is not "
                 "installed: run 'sudo apt-get install -y poppler-utils'")
    if args.check:
        problems = check()
        if problems:
            sys.exit(f"{PDF.relative_to(ROOT)}:\n  " + "\n  ".join(problems))
        data = PDF.read_bytes()
        print(f"{PDF.relative_to(ROOT)}: {page_count(data)} pages, {image_count(data)} images, "
              "every chapter title, no raw TeX: ok")
        return
    if not Path(CHROMIUM).exists():
        sys.exit(f"make pdf prints with Debian's Chromium at {CHROMIUM}, which is not installed: "
                 "run 'sudo apt-get install -y chromium' (or make system)")
    start = time.perf_counter()
    try:
        site = build_singlehtml(strict=not args.lenient)
        n = print_book(site)
    except PrintError as err:
        sys.exit(f"make pdf: {err}")
    print(f"{PDF.relative_to(ROOT)}: {n} pages in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
