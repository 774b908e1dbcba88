#!/usr/bin/env bash
# Installs what `make test` needs from the system: Debian's Chromium (the browser
# test; a browser is never downloaded) and Debian's Fashion-MNIST files (the
# real-data chapter and its tests). Uses apt-get as root, or sudo when it can;
# otherwise stops with the one line to run.
set -euo pipefail

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo="sudo"
else
    echo "make test needs ${need[*]}: run 'sudo apt-get install -y ${need[*]}' and try again" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null; then
    echo "make test needs ${need[*]} (Debian packages); on this system install Chromium at" \
         "/usr/bin/chromium and put the Fashion-MNIST files in ~/.cache/cnnlib/fashion-mnist" >&2
    exit 1
fi
echo "installing ${need[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${need[@]}" >/dev/null
