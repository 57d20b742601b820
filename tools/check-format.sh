#!/usr/bin/env bash
# Fails (exit 1) when a C++ file of the tree is not formatted as .clang-format says, with
# Debian 12's clang-format 14 (pinned: another version formats differently). Run it
# with --fix to reformat in place.
set -euo pipefail
cd "$(dirname "$0")/.."
cf=clang-format-14
command -v "$cf" >/dev/null || { echo "check-format: $cf is missing (apt-get install clang-format-14)" >&2; exit 1; }
mapfile -t files < <(git ls-files -co --exclude-standard '*.cpp' '*.hpp' '*.h')
if [ "${1:-}" = "--fix" ]; then
  "$cf" -i "${files[@]}"
  exit 0
fi
if ! out=$("$cf" --dry-run -Werror "${files[@]}" 2>&1); then
  echo "$out" | grep -E '^[^ ].*: error:' | cut -d: -f1 | sort -u | sed 's/^/check-format: not formatted: /' >&2
  echo "check-format: run tools/check-format.sh --fix" >&2
  exit 1
fi
