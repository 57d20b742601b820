#!/usr/bin/env bash
# Builds the .deb from a release build: build/release/cutover_<version>_amd64.deb.
#   tools/package/build-deb.sh            then: sudo apt-get install ./build/release/cutover_*.deb
set -euo pipefail
cd "$(dirname "$0")/../.."
cmake --preset release >/dev/null
cmake --build --preset release --target cutover cutover_manpage
(cd build/release && cpack -G DEB >/dev/null)
ls build/release/cutover_*.deb
