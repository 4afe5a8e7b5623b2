#!/bin/sh
# Removes what Corral's install.sh installed (installed as /usr/local/bin/corral-uninstall.sh):
# stops and disables corral.service (a clean stop: corral stops its tasks), removes the unit, the
# binary, /etc/corral, the addon cache /var/cache/corral and the directories install.sh created.
# The data (/var/lib/corral: the store, tokens, task sandboxes) stays unless --purge is given.
#
#   corral-uninstall.sh [--purge] [--root DIR]
#
#   --purge      also delete /var/lib/corral
#   --root DIR   uninstall from DIR as if it were / (what install.sh --root DIR wrote)
set -eu

BIN=/usr/local/bin/corral
UNINSTALL=/usr/local/bin/corral-uninstall.sh
ETC=/etc/corral
DIRS_FILE=$ETC/installed-dirs
UNIT=/etc/systemd/system/corral.service
WANTS=/etc/systemd/system/multi-user.target.wants/corral.service
DATA=/var/lib/corral
# Where an uninstall that keeps the data remembers the directories still to remove on --purge.
DATA_DIRS_FILE=$DATA/.installed-dirs
CACHE=/var/cache/corral

info() { printf '[corral] %s\n' "$*"; }
die() {
	printf '[corral] error: %s\n' "$*" >&2
	exit 1
}

ROOT=
PURGE=0
while [ $# -gt 0 ]; do
	case $1 in
	--root)
		[ $# -ge 2 ] || die "--root needs a directory"
		ROOT=$2
		shift 2
		;;
	--root=*)
		ROOT=${1#--root=}
		shift
		;;
	--purge)
		PURGE=1
		shift
		;;
	-h | --help)
		sed -n '2,/^set -eu/p' "$0" | sed -e '/^set -eu/d' -e 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
done
if [ -n "$ROOT" ]; then
	case $ROOT in /*) ;; *) die "--root must be an absolute path, got '$ROOT'" ;; esac
	[ -d "$ROOT" ] || die "--root $ROOT is not a directory"
	ROOT=${ROOT%/}
elif [ "$(id -u)" -ne 0 ]; then
	die "run as root (or with --root DIR)"
fi

LIVE_SYSTEMD=0
if [ -z "$ROOT" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then LIVE_SYSTEMD=1; fi

if [ "$LIVE_SYSTEMD" -eq 1 ] && [ -f "$UNIT" ]; then
	info "stopping corral.service"
	systemctl stop corral.service || true
	systemctl disable corral.service >/dev/null 2>&1 || true
fi

# The directories install.sh created, oldest first (read before /etc/corral goes).
CREATED=$(cat "$ROOT$DIRS_FILE" "$ROOT$DATA_DIRS_FILE" 2>/dev/null | awk 'NF && !seen[$0]++')

for f in "$WANTS" "$UNIT" "$BIN" "$UNINSTALL"; do
	if [ -e "$ROOT$f" ] || [ -L "$ROOT$f" ]; then
		rm -f "$ROOT$f"
		info "removed $f"
	fi
done
if [ "$LIVE_SYSTEMD" -eq 1 ]; then
	systemctl daemon-reload
	systemctl reset-failed corral.service >/dev/null 2>&1 || true
fi
for d in "$ETC" "$CACHE"; do
	if [ -d "$ROOT$d" ]; then
		rm -rf "$ROOT$d"
		info "removed $d"
	fi
done
if [ "$PURGE" -eq 1 ] && [ -d "$ROOT$DATA" ]; then
	rm -rf "$ROOT$DATA"
	info "removed $DATA (--purge)"
elif [ -d "$ROOT$DATA" ]; then
	info "kept the data in $DATA (--purge deletes it)"
fi

# The directories install.sh created, newest first, if nothing else lives in them now.
printf '%s\n' "$CREATED" | awk 'NF { line[n++] = $0 } END { while (n > 0) print line[--n] }' | while IFS= read -r d; do
	case $d in /?*) ;; *) continue ;; esac
	[ ! -d "$ROOT$d" ] || rmdir "$ROOT$d" 2>/dev/null || true
done
if [ -d "$ROOT$DATA" ]; then
	printf '%s\n' "$CREATED" | while IFS= read -r d; do
		[ -z "$d" ] || [ ! -d "$ROOT$d" ] || printf '%s\n' "$d"
	done >"$ROOT$DATA_DIRS_FILE"
fi
info "corral is uninstalled"
