#!/bin/sh
# podman on a ptsfs mount: the container gets its own pts namespace from
# ptsfs instead of podman's devpts.
#
#   podman.sh ROOTFS [COMMAND...]     (default COMMAND: sh)
#
# No image is needed: --rootfs runs a directory. --mount type=bind over
# /dev/pts replaces podman's devpts (podman does not check the fs type);
# /dev/ptmx is already a symlink to pts/ptmx in podman's /dev, and /dev/tty is
# bound from the mount's tty entry. With -t, the runtime opens /dev/ptmx in
# the container, so the console is pty 0 of this mount.
#
# Flags for hosts like the CI machine (no systemd as pid 1, hybrid cgroups):
#   --runtime runc           crun 1.8 refuses hybrid cgroups ("cgroups in hybrid
#                            mode not supported, drop all controllers from cgroupv2")
#   --cgroup-manager cgroupfs --events-backend file   no systemd/journald
#   --network none           no netavark setup needed
#   --ulimit nofile=..,nproc=..   podman raises RLIMIT_NOFILE/NPROC to its defaults,
#                            above a sandbox's hard limits; runc then fails with
#                            "error setting rlimit type 7: operation not permitted"
# On an ordinary systemd host none of them is needed.
set -eu
PTSFS=${PTSFS:-ptsfs}
[ $# -ge 1 ] || { echo "usage: $0 ROOTFS [COMMAND...]" >&2; exit 2; }
rootfs=$1
shift
[ $# -ge 1 ] || set -- sh

dir=$(mktemp -d /run/ptsfs-podman.XXXXXX)
"$PTSFS" mount -o ptmxmode=666,mode=620,gid=5,nosuid,noexec "$dir"
# Unmount (hanging up what is left) however podman ends.
cleanup() { "$PTSFS" umount "$dir" 2>/dev/null || true; rmdir "$dir" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

tty_flag=
[ -t 0 ] && tty_flag=-t
status=0
podman --runtime runc --cgroup-manager cgroupfs --events-backend file \
    run --rm -i $tty_flag --network none \
    --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
    --mount "type=bind,src=$dir,dst=/dev/pts" \
    --mount "type=bind,src=$dir/tty,dst=/dev/tty" \
    --rootfs "$rootfs" "$@" || status=$?
exit "$status"
