#!/bin/sh
# One ptsfs mount (an independent pts namespace) per container name.
#
#   one-mount-per-container.sh add NAME      make /run/ptsfs-containers/NAME
#   one-mount-per-container.sh remove NAME   hang up its ptys, unmount, rmdir
#   one-mount-per-container.sh list          the mounts made here
#
# Wire the container to the mount: bind DIR over /dev/pts, DIR/tty over
# /dev/tty, and make /dev/ptmx a symlink to pts/ptmx (or bind DIR/ptmx over
# it); see podman.sh, nspawn.sh and oci/ beside this file.
# PTSFS names the ptsfs command (default: ptsfs, the host daemon's client).
set -eu
PTSFS=${PTSFS:-ptsfs}
BASE=${PTSFS_CONTAINERS:-/run/ptsfs-containers}
# devpts options as runtimes give their own devpts: anyone may open ptmx, the
# entries are rw for their owner and writable by group tty (5, for write(1)).
OPTIONS=${PTSFS_OPTIONS:-ptmxmode=666,mode=620,gid=5,nosuid,noexec}

usage() {
    echo "usage: $0 add NAME | remove NAME | list" >&2
    exit 2
}

name_ok() {
    case "$1" in
        '' | . | .. | *[!A-Za-z0-9_.-]*) echo "$0: bad container name '$1'" >&2; exit 2 ;;
    esac
}

is_ptsfs_mount() {
    # field 5 of mountinfo is the mount point; the fs type follows " - "
    awk -v d="$1" '$5 == d && / - fuse\.ptsfs / { found = 1 } END { exit !found }' /proc/self/mountinfo
}

case "${1:-}" in
add)
    name_ok "${2:-}"
    dir="$BASE/$2"
    mkdir -p "$dir"
    if is_ptsfs_mount "$dir"; then
        echo "$dir: already mounted" >&2
        exit 1
    fi
    # Returns once the mount is live; the host daemon serves it.
    "$PTSFS" mount -o "$OPTIONS" "$dir"
    echo "$dir"
    ;;
remove)
    name_ok "${2:-}"
    dir="$BASE/$2"
    if is_ptsfs_mount "$dir"; then
        "$PTSFS" umount "$dir"
    fi
    rmdir "$dir" 2>/dev/null || true
    ;;
list)
    awk -v b="$BASE/" 'index($5, b) == 1 && / - fuse\.ptsfs / { print $5 }' /proc/self/mountinfo
    ;;
*)
    usage
    ;;
esac
