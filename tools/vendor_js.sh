#!/usr/bin/env bash
# Refresh the JavaScript that the built book serves itself, so that pages need
# no CDN: MathJax 3 (TeX input, CommonHTML output), RequireJS, and the ipywidgets
# HTML manager that renders saved widgets. Needs npm; fetches pinned versions
# from the npm registry and keeps only the files the pages load.
#
# The results live in vendor/, which Sphinx copies to the root of the site
# (html_extra_path in _config.yml). Run from anywhere: tools/vendor_js.sh
set -euo pipefail

MATHJAX=3.2.2
REQUIREJS=2.3.8
HTML_MANAGER=1.0.15   # the @jupyter-widgets/html-manager that matches ipywidgets 8

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fetch() {  # fetch NAME@VERSION DIR: unpack an npm package into DIR
    local tarball
    tarball="$(cd "$work" && npm pack --silent "$1" | tail -n 1)"
    mkdir -p "$2"
    tar -xzf "$work/$tarball" -C "$2" --strip-components=1
    rm -f "$work/$tarball"
}

fetch "mathjax@$MATHJAX" "$work/mathjax"
fetch "requirejs@$REQUIREJS" "$work/requirejs"
fetch "@jupyter-widgets/html-manager@$HTML_MANAGER" "$work/html-manager"

rm -rf "$dest/mathjax" "$dest/requirejs" "$dest/jupyter-widgets"

# MathJax: the combined TeX-to-CommonHTML component, the fonts it loads, and the
# TeX extensions its autoload package fetches when a page uses their macros
# (all-packages.js bundles them all again and is not needed).
es5="$work/mathjax/es5"
mkdir -p "$dest/mathjax/output/chtml/fonts" "$dest/mathjax/input/tex"
cp "$es5/tex-chtml.js" "$dest/mathjax/"
cp -r "$es5/output/chtml/fonts/woff-v2" "$dest/mathjax/output/chtml/fonts/"
cp -r "$es5/input/tex/extensions" "$dest/mathjax/input/tex/"
rm "$dest/mathjax/input/tex/extensions/all-packages.js"
cp "$work/mathjax/LICENSE" "$dest/mathjax/LICENSE"

# RequireJS: one file; its licence is in its header.
mkdir -p "$dest/requirejs"
cp "$work/requirejs/require.js" "$dest/requirejs/"

# The widget manager: embed-amd.js bundles @jupyter-widgets/base, controls and
# output. The Font Awesome files its CSS refers to sit next to it; browsers take
# the woff2 (or woff) version, so the eot/svg/ttf copies are left out.
mkdir -p "$dest/jupyter-widgets"
cp "$work/html-manager/dist/embed-amd.js" \
   "$work/html-manager/dist/embed.js.LICENSE.txt" \
   "$work/html-manager/dist/"*.woff2 \
   "$work/html-manager/dist/"*.woff \
   "$dest/jupyter-widgets/"

cat > "$dest/VERSIONS.txt" <<EOF
Third-party JavaScript served by the book, refreshed by tools/vendor_js.sh.

mathjax/          mathjax@$MATHJAX (Apache-2.0, see mathjax/LICENSE)
requirejs/        requirejs@$REQUIREJS (MIT, see the header of require.js)
jupyter-widgets/  @jupyter-widgets/html-manager@$HTML_MANAGER (BSD-3-Clause;
                  bundled packages: embed.js.LICENSE.txt)
EOF

du -sh "$dest"
