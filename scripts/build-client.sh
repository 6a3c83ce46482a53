#!/bin/sh
# Builds dist/bin/ptsfs-client (src/cli/fast-client.c) for bin/ptsfs. Without
# a C compiler ptsfs still works, each mount and umount then starting Node.
set -e
cd "$(dirname "$0")/.."
if ! command -v cc >/dev/null 2>&1; then
  echo "ptsfs: no C compiler (cc): mount and umount will start Node each time" >&2
  exit 0
fi
mkdir -p dist/bin
cc -O2 -Wall -Wextra -Werror -o dist/bin/ptsfs-client src/cli/fast-client.c
