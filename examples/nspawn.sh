#!/bin/sh
# systemd-nspawn on a ptsfs mount.
#
#   nspawn.sh ROOTFS [COMMAND...]     (default COMMAND: /bin/sh)
#
# --bind=DIR:/dev/pts goes over nspawn's own devpts (binds are applied after
# it sets up /dev, whose /dev/ptmx is a symlink to pts/ptmx), and the mount's
# tty entry over /dev/tty.
#
#   --register=no --keep-unit  no systemd-machined / systemd as pid 1 needed
#                              (without them nspawn fails to register the machine)
#   --pipe                     no console pty from nspawn: stdio passes straight through;
#                              with a terminal, --console=interactive would open the
#                              console pty on the host's /dev/pts instead
# ROOTFS must contain /usr (nspawn refuses a tree without it) and, to avoid a
# warning, /usr/lib/os-release. A harmless message "Attempted to remove disk
# file system under /run/systemd/nspawn/propagate/..." shows on hosts whose
# /run is on the root fs.
set -eu
PTSFS=${PTSFS:-ptsfs}
[ $# -ge 1 ] || { echo "usage: $0 ROOTFS [COMMAND...]" >&2; exit 2; }
rootfs=$1
shift
[ $# -ge 1 ] || set -- /bin/sh

dir=$(mktemp -d /run/ptsfs-nspawn.XXXXXX)
"$PTSFS" mount -o ptmxmode=666,mode=620,gid=5,nosuid,noexec "$dir"
cleanup() { "$PTSFS" umount "$dir" 2>/dev/null || true; rmdir "$dir" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

status=0
systemd-nspawn -q --register=no --keep-unit --pipe -D "$rootfs" \
    --bind="$dir:/dev/pts" --bind="$dir/tty:/dev/tty" \
    -- "$@" || status=$?
exit "$status"
