#!/bin/sh
# Debian sid's makedumpfile (1.7.8 when written: the first with -z, zstd, in Debian) runnable on
# this host, for benchmarks/suite.py --mdf-zstd.  sid's package needs a newer glibc than
# bookworm's, so it runs in a minimal sid chroot, entered through a private mount namespace that
# binds /proc, /dev, /tmp, /var/tmp, /root/.cache and /work (nothing stays mounted on the host).
#
# usage: benchmarks/sid-makedumpfile.sh [DIR]     (default /var/tmp/sid-mdf; about 300 MB)
# then:  DIR/makedumpfile -v ;  benchmarks/suite.py VMCORE --mdf-zstd DIR/makedumpfile
set -eu
DIR=${1:-/var/tmp/sid-mdf}
ROOT=$DIR/chroot
if [ ! -x "$ROOT/usr/bin/makedumpfile" ]; then
	command -v debootstrap >/dev/null || { apt-get update -q && apt-get install -y -q debootstrap; }
	mkdir -p "$DIR"
	debootstrap --variant=minbase sid "$ROOT" http://deb.debian.org/debian
	# a mirror snapshot older than a week reads as expired to apt: accept it
	echo 'Acquire::Check-Valid-Until "false";' > "$ROOT/etc/apt/apt.conf.d/99no-valid-until"
	chroot "$ROOT" sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends makedumpfile && apt-get clean'
fi
cat > "$DIR/makedumpfile" <<'WRAP'
#!/bin/sh
# sid's makedumpfile in its chroot, with the caller's working directory and arguments
set -e
ROOT=$(dirname "$(readlink -f "$0")")/chroot
exec unshare --mount --propagation private -- /bin/sh -c '
ROOT=$1; shift
for d in /proc /dev /tmp /var/tmp /root/.cache /work; do
	[ -d "$d" ] || continue
	mkdir -p "$ROOT$d"
	mount --bind "$d" "$ROOT$d"
done
exec chroot "$ROOT" /bin/sh -c "cd \"\$1\" 2>/dev/null || cd /; shift; exec /usr/bin/makedumpfile \"\$@\"" sh "$PWD" "$@"
' sh "$ROOT" "$@"
WRAP
chmod +x "$DIR/makedumpfile"
"$DIR/makedumpfile" -v
