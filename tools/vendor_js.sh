#!/usr/bin/env bash
# Refresh the JavaScript that the built book serves itself, so that pages need
# no CDN: MathJax 3 (TeX input, CommonHTML output). Needs npm; fetches the
# pinned version from the npm registry and keeps only the files the pages load.
# (The explorers need nothing from here: cnnlib.book.viewer inlines its script.)
#
# The results live in vendor/, which Sphinx copies to the root of the site
# (html_extra_path in _config.yml). Run from anywhere: tools/vendor_js.sh
set -euo pipefail

MATHJAX=3.2.2

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

rm -rf "$dest/mathjax" "$dest/requirejs" "$dest/jupyter-widgets"

# MathJax, as separate components that the loader (startup.js) fetches, rather
# than the combined tex-chtml.js: the combination also bundles the context menu
# (ui/menu.js, 0.43 MB of the 1.16), which the book leaves out (see
# mathjax3_config in _config.yml). Also the fonts CommonHTML loads, and the TeX
# extensions the autoload package fetches when a page uses their macros
# (all-packages.js bundles them all again and is not needed).
es5="$work/mathjax/es5"
mkdir -p "$dest/mathjax/output/chtml/fonts" "$dest/mathjax/input/tex" "$dest/mathjax/a11y"
cp "$es5/startup.js" "$es5/core.js" "$dest/mathjax/"
cp "$es5/input/tex.js" "$dest/mathjax/input/"
cp "$es5/output/chtml.js" "$dest/mathjax/output/"
cp "$es5/output/chtml/fonts/tex.js" "$dest/mathjax/output/chtml/fonts/"
cp "$es5/a11y/assistive-mml.js" "$dest/mathjax/a11y/"
cp -r "$es5/output/chtml/fonts/woff-v2" "$dest/mathjax/output/chtml/fonts/"
cp -r "$es5/input/tex/extensions" "$dest/mathjax/input/tex/"
rm "$dest/mathjax/input/tex/extensions/all-packages.js"
cp "$work/mathjax/LICENSE" "$dest/mathjax/LICENSE"

cat > "$dest/VERSIONS.txt" <<EOF
Third-party JavaScript served by the book, refreshed by tools/vendor_js.sh.

mathjax/          mathjax@$MATHJAX (Apache-2.0, see mathjax/LICENSE): startup.js and
                  the components it loads (core, input/tex, output/chtml, its TeX
                  font and a11y/assistive-mml), fonts, TeX extensions
EOF

du -sh "$dest"
