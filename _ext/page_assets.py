"""Two fixes to what the built pages load.

1. Animations made with matplotlib's ``to_jshtml`` carry a ``<link>`` to Font
   Awesome 4 on a public CDN, for the icons on their buttons. The theme already
   ships Font Awesome 6 (``_static/scripts/fontawesome.js``), which knows the
   old icon names too, so the link is dropped and the buttons keep their icons
   with no network.
2. Sphinx 7.4 writes an inline script twice when an extension adds it after the
   builder has started (sphinx-thebe's configuration script is one), and the
   second copy fails with "Identifier 'THEBE_JS_URL' has already been
   declared". Repeated scripts are dropped, keeping the first.
"""

import os
import re

_CDN_FONT_AWESOME = re.compile(
    r'<link[^>]*href="https://maxcdn\.bootstrapcdn\.com/font-awesome/[^"]*"[^>]*>\s*')


def _key(js):
    return (os.fspath(js.filename or ""), tuple(sorted(js.attributes.items())))


def _tidy_page(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if body and "maxcdn.bootstrapcdn.com/font-awesome" in body:
        context["body"] = _CDN_FONT_AWESOME.sub("", body)

    scripts = context.get("script_files")
    if scripts:
        seen = set()
        unique = []
        for js in scripts:
            if _key(js) not in seen:
                seen.add(_key(js))
                unique.append(js)
        scripts[:] = unique   # Sphinx restores its own list after each page


def setup(app):
    # After the handlers that add per-page scripts (myst-nb's widget scripts).
    app.connect("html-page-context", _tidy_page, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
