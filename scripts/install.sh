#!/bin/sh
# Turns a Linux machine into a Corral node: the cluster's first master, or a node that joins one.
# Modelled on K3s's installer, but offline by design: it installs the binary you give it and never
# contacts anything else.
#
#   # the first machine: every role, a new cluster (prints the command that joins other machines)
#   CORRAL_BINARY=./corral-linux-x64 sh install.sh
#   # another machine: an agent of that cluster
#   CORRAL_BINARY=http://10.0.0.5:8080/corral CORRAL_JOIN=10.0.0.5:49737 CORRAL_TOKEN=<hex> sh install.sh
#
# Settings (environment):
#   CORRAL_BINARY        path or http(s) URL of corral-linux-x64 (default: corral-linux-x64 beside
#                        this script, or ../dist/corral-linux-x64 in a checkout)
#   CORRAL_BINARY_SHA256 if set, the binary's SHA-256 must match it
#   CORRAL_JOIN          masters to join, HOST[:PORT],... : this node joins that cluster (roles
#                        default to agent) and needs CORRAL_TOKEN
#   CORRAL_TOKEN         the cluster token (the first master's /var/lib/corral/cluster.token)
#   CORRAL_ROLES         roles of this node, e.g. agent or master,init,cron (default: all on a first
#                        master, agent when joining)
#   CORRAL_CLUSTER_HOST  this node's IPv4 address for the cluster (default: the address of the
#                        interface of the default route, else the first global one)
#   CORRAL_CLUSTER_PORT  cluster UDP port (default 49737 on a master, random on an agent)
#   CORRAL_LISTEN        HTTP API address of a master (default 127.0.0.1:5050)
# Settings not given keep the values of an earlier install; other lines you add to
# /etc/corral/corral.env are kept.
#
# Options:
#   --root DIR   install into DIR as if it were / (for tests and image builds); never starts anything
#   --no-start   install and enable, but do not start the service
#
# What it writes: /usr/local/bin/corral, /usr/local/bin/corral-uninstall.sh (when uninstall.sh is
# beside this script), /etc/corral/corral.env (the settings, mode 0600), /etc/corral/installed-dirs
# (directories it created, for the uninstaller), /etc/systemd/system/corral.service and its
# multi-user.target.wants link, /var/lib/corral (data, 0700; on a first master its cluster.token) and
# /var/cache/corral (the native addons the binary extracts, 0700). Running it again is safe: files
# that did not change are not touched, and the service is restarted only when something changed.
set -eu
umask 022

BIN=/usr/local/bin/corral
UNINSTALL=/usr/local/bin/corral-uninstall.sh
ETC=/etc/corral
ENV_FILE=$ETC/corral.env
DIRS_FILE=$ETC/installed-dirs
UNIT=/etc/systemd/system/corral.service
WANTS=/etc/systemd/system/multi-user.target.wants/corral.service
DATA=/var/lib/corral
DATA_DIRS_FILE=$DATA/.installed-dirs
CACHE=/var/cache/corral
DEFAULT_CLUSTER_PORT=49737
ROLE_NAMES="master agent init cron discovery"

info() { printf '[corral] %s\n' "$*"; }
die() {
	printf '[corral] error: %s\n' "$*" >&2
	exit 1
}

usage() {
	sed -n '2,/^set -eu/p' "$0" | sed -e '/^set -eu/d' -e 's/^# \{0,1\}//'
}

ROOT=
START=1
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
	--no-start)
		START=0
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
done

if [ -n "$ROOT" ]; then
	case $ROOT in /*) ;; *) die "--root must be an absolute path, got '$ROOT'" ;; esac
	[ -d "$ROOT" ] || die "--root $ROOT is not a directory"
	ROOT=${ROOT%/}
	START=0
elif [ "$(id -u)" -ne 0 ]; then
	die "run as root (or with --root DIR to install into a directory)"
fi
[ "$(uname -s)" = Linux ] || die "Corral runs on Linux only"

# systemd runs the service when it is the init of this machine and we install into /.
LIVE_SYSTEMD=0
if [ -z "$ROOT" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then LIVE_SYSTEMD=1; fi

TMP_FILES=
cleanup() {
	for f in $TMP_FILES; do rm -f "$f"; done
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# ---------------------------------------------------------------------------------------------
# Settings: the environment, else the earlier install's env file, else the defaults.

SCRIPT_DIR=$(dirname -- "$0")

# The value of KEY in the existing env file (empty when absent).
previous() {
	[ -f "$ROOT$ENV_FILE" ] || return 0
	sed -n "s/^$1=//p" "$ROOT$ENV_FILE" | tail -n 1
}

# A value goes into the env file unquoted: only characters that need no quoting are accepted.
check_value() {
	case $2 in
	*[!A-Za-z0-9_.,:/@+=-]*) die "$1 has characters other than letters, digits and _.,:/@+=- : '$2'" ;;
	esac
}

setting() {
	eval "_given=\${$1:-}"
	# shellcheck disable=SC2154 # _given is set by the eval above
	if [ -n "$_given" ]; then _value=$_given; else _value=$(previous "$1"); fi
	check_value "$1" "$_value"
	printf '%s' "$_value"
}

JOIN=$(setting CORRAL_JOIN)
TOKEN=$(setting CORRAL_TOKEN)
ROLES=$(setting CORRAL_ROLES)
CLUSTER_HOST=$(setting CORRAL_CLUSTER_HOST)
CLUSTER_PORT=$(setting CORRAL_CLUSTER_PORT)
LISTEN=$(setting CORRAL_LISTEN)

if [ -n "$JOIN" ]; then
	[ -n "$TOKEN" ] || die "CORRAL_JOIN needs CORRAL_TOKEN: the first master's $DATA/cluster.token (its install printed the command)"
	[ -n "$ROLES" ] || ROLES=agent
fi
if [ -n "$TOKEN" ]; then
	printf '%s' "$TOKEN" | grep -Eq '^[0-9a-fA-F]{64}$' || die "CORRAL_TOKEN must be 64 hexadecimal characters"
fi
for role in $(printf '%s' "$ROLES" | tr ',' ' '); do
	case " $ROLE_NAMES " in *" $role "*) ;; *) die "unknown role '$role' in CORRAL_ROLES (known: $ROLE_NAMES)" ;; esac
done
IS_MASTER=0
case ",${ROLES:-master}," in *,master,*) IS_MASTER=1 ;; esac

# This machine's address: the source address of the default route (a routing-table lookup, no
# packet is sent), else its first global IPv4 address. Only when installing into /.
detect_address() {
	[ -z "$ROOT" ] || return 0
	command -v ip >/dev/null 2>&1 || return 0
	_addr=$(ip -4 route get 192.0.2.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -n 1)
	[ -n "$_addr" ] || _addr=$(ip -4 -o addr show scope global 2>/dev/null | sed -n 's/.* inet \([0-9.]*\)\/.*/\1/p' | head -n 1)
	printf '%s' "$_addr"
}
[ -n "$CLUSTER_HOST" ] || CLUSTER_HOST=$(detect_address)
if [ -n "$CLUSTER_HOST" ]; then
	printf '%s' "$CLUSTER_HOST" | grep -Eq '^[0-9]{1,3}(\.[0-9]{1,3}){3}$' || die "CORRAL_CLUSTER_HOST must be an IPv4 address, got '$CLUSTER_HOST'"
fi

# ---------------------------------------------------------------------------------------------
# Files and directories (under ROOT), remembering what this install created.

CHANGED=0
CREATED=

# make_dir DIR [MODE]: DIR and its missing parents; MODE is applied to DIR itself.
make_dir() {
	_sofar=
	_rest=${1#/}
	while [ -n "$_rest" ]; do
		_part=${_rest%%/*}
		case $_rest in */*) _rest=${_rest#*/} ;; *) _rest= ;; esac
		_sofar=$_sofar/$_part
		if [ ! -d "$ROOT$_sofar" ]; then
			mkdir "$ROOT$_sofar"
			CREATED="$CREATED$_sofar
"
		fi
	done
	[ $# -lt 2 ] || chmod "$2" "$ROOT$1"
}

# put_file SRC DEST MODE: installs SRC (a temporary file, consumed) as DEST unless DEST already has
# the same content and mode.
put_file() {
	if [ -f "$ROOT$2" ] && cmp -s "$1" "$ROOT$2" && [ "$(stat -c %a "$ROOT$2")" = "$3" ]; then
		rm -f "$1"
		return 0
	fi
	chmod "$3" "$1"
	mv -f "$1" "$ROOT$2"
	CHANGED=1
	info "wrote $2"
}

# temp_for DEST: sets TMP to a new empty file next to DEST (same file system, so the final mv is
# atomic), removed at exit if still there. Not a $(...) function: TMP_FILES must outlive it.
temp_for() {
	TMP="$ROOT$1.install.$$"
	TMP_FILES="$TMP_FILES $TMP"
	: >"$TMP"
}

# ---------------------------------------------------------------------------------------------
# 1. The binary.

SRC=${CORRAL_BINARY:-}
if [ -z "$SRC" ]; then
	for candidate in "$SCRIPT_DIR/corral-linux-x64" "$SCRIPT_DIR/../dist/corral-linux-x64"; do
		if [ -f "$candidate" ]; then
			SRC=$candidate
			break
		fi
	done
fi
[ -n "$SRC" ] || die "no binary: set CORRAL_BINARY to the path or http(s) URL of corral-linux-x64 (this script downloads nothing by itself)"

make_dir "${BIN%/*}"
temp_for "$BIN"
NEW_BIN=$TMP
case $SRC in
http://* | https://*)
	info "downloading $SRC"
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL --retry 3 -o "$NEW_BIN" "$SRC" || die "could not download $SRC"
	elif command -v wget >/dev/null 2>&1; then
		wget -q -O "$NEW_BIN" "$SRC" || die "could not download $SRC"
	else
		die "CORRAL_BINARY is a URL but neither curl nor wget is installed"
	fi
	;;
file://*) cp "${SRC#file://}" "$NEW_BIN" || die "cannot read ${SRC#file://}" ;;
*) cp "$SRC" "$NEW_BIN" || die "cannot read $SRC" ;;
esac
if [ -n "${CORRAL_BINARY_SHA256:-}" ]; then
	sum=$(sha256sum "$NEW_BIN" | cut -d ' ' -f 1)
	[ "$sum" = "$CORRAL_BINARY_SHA256" ] || die "the binary's SHA-256 is $sum, not CORRAL_BINARY_SHA256 ($CORRAL_BINARY_SHA256)"
fi
chmod 755 "$NEW_BIN"
VERSION=$("$NEW_BIN" --version 2>/dev/null) || die "$SRC does not run here (not a corral binary for $(uname -m)?)"
put_file "$NEW_BIN" "$BIN" 755
if [ -f "$SCRIPT_DIR/uninstall.sh" ]; then
	temp_for "$UNINSTALL"
	NEW_UNINSTALL=$TMP
	cp "$SCRIPT_DIR/uninstall.sh" "$NEW_UNINSTALL"
	put_file "$NEW_UNINSTALL" "$UNINSTALL" 755
fi

# ---------------------------------------------------------------------------------------------
# 2. Data, cache and, on a first master, the cluster token (so the join command can be printed
#    before the service ever ran; corral up uses the token it finds there).

make_dir "$ETC" 755
make_dir "$DATA" 700
make_dir "$CACHE" 700
if [ "$IS_MASTER" -eq 1 ] && [ -z "$JOIN" ] && [ -z "$TOKEN" ] && [ ! -f "$ROOT$DATA/cluster.token" ]; then
	temp_for "$DATA/cluster.token"
	NEW_TOKEN=$TMP
	(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' && echo) >"$NEW_TOKEN"
	put_file "$NEW_TOKEN" "$DATA/cluster.token" 600
fi

# ---------------------------------------------------------------------------------------------
# 3. The settings: /etc/corral/corral.env (0600: it may hold the cluster token).

temp_for "$ENV_FILE"
NEW_ENV=$TMP
chmod 600 "$NEW_ENV"
{
	echo "# Corral's settings, read by corral.service (EnvironmentFile). Written by install.sh, which keeps"
	echo "# lines it does not manage; every CORRAL_* setting of corral up may go here (corral up --help)."
	echo "CORRAL_DATA_DIR=$DATA"
	echo "# Where the binary extracts its native addons: $CACHE/<hash>/"
	echo "XDG_CACHE_HOME=${CACHE%/corral}"
	for key in CORRAL_ROLES CORRAL_JOIN CORRAL_TOKEN CORRAL_CLUSTER_HOST CORRAL_CLUSTER_PORT CORRAL_LISTEN; do
		case $key in
		CORRAL_ROLES) value=$ROLES ;;
		CORRAL_JOIN) value=$JOIN ;;
		CORRAL_TOKEN) value=$TOKEN ;;
		CORRAL_CLUSTER_HOST) value=$CLUSTER_HOST ;;
		CORRAL_CLUSTER_PORT) value=$CLUSTER_PORT ;;
		CORRAL_LISTEN) value=$LISTEN ;;
		esac
		[ -z "$value" ] || echo "$key=$value"
	done
	if [ -f "$ROOT$ENV_FILE" ]; then
		grep -Ev '^(#|[[:space:]]*$|(CORRAL_DATA_DIR|XDG_CACHE_HOME|CORRAL_ROLES|CORRAL_JOIN|CORRAL_TOKEN|CORRAL_CLUSTER_HOST|CORRAL_CLUSTER_PORT|CORRAL_LISTEN)=)' "$ROOT$ENV_FILE" || true
	fi
} >>"$NEW_ENV"
put_file "$NEW_ENV" "$ENV_FILE" 600

# ---------------------------------------------------------------------------------------------
# 4. The systemd unit. Delegate=yes: the agent makes its own cgroups to isolate tasks.
#    KillMode=process: a restart of corral (or a crash) stops only corral itself; its tasks keep
#    running and the agent re-adopts them when it is back. Restart=always: it comes back.

make_dir "${UNIT%/*}"
temp_for "$UNIT"
NEW_UNIT=$TMP
cat >"$NEW_UNIT" <<EOF
# Written by Corral's install.sh; removed by corral-uninstall.sh.
[Unit]
Description=Corral node (datacenter OS: resource kernel, init, cron, discovery, packages)
Documentation=file://$ETC
Wants=network-online.target
After=network-online.target

[Service]
Type=exec
EnvironmentFile=$ENV_FILE
ExecStart=$BIN up
Restart=always
RestartSec=5s
KillMode=process
Delegate=yes
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
TimeoutStopSec=90s

[Install]
WantedBy=multi-user.target
EOF
put_file "$NEW_UNIT" "$UNIT" 644

# Enabled: with a live systemd through systemctl; otherwise the link systemctl enable would make.
make_dir "${WANTS%/*}"
if [ "$LIVE_SYSTEMD" -eq 1 ]; then
	systemctl daemon-reload
	systemctl enable corral.service >/dev/null 2>&1 || die "systemctl enable corral.service failed"
elif [ ! -L "$ROOT$WANTS" ]; then
	ln -s "$UNIT" "$ROOT$WANTS"
	info "enabled corral.service ($WANTS)"
fi

# The directories this install created, oldest first, for corral-uninstall.sh (merged with those
# an earlier run recorded, and those an uninstall that kept the data left in $DATA_DIRS_FILE).
temp_for "$DIRS_FILE"
NEW_DIRS=$TMP
{
	[ ! -f "$ROOT$DIRS_FILE" ] || cat "$ROOT$DIRS_FILE"
	[ ! -f "$ROOT$DATA_DIRS_FILE" ] || cat "$ROOT$DATA_DIRS_FILE"
	printf '%s' "$CREATED"
} | awk 'NF && !seen[$0]++' >"$NEW_DIRS"
put_file "$NEW_DIRS" "$DIRS_FILE" 644

# ---------------------------------------------------------------------------------------------
# 5. Start, and tell.

if [ "$START" -eq 1 ]; then
	if [ "$LIVE_SYSTEMD" -eq 1 ]; then
		if [ "$CHANGED" -eq 1 ]; then systemctl restart corral.service; else systemctl start corral.service; fi
		info "corral.service is running (journalctl -u corral -f)"
	else
		info "systemd is not running here: start Corral with: set -a; . $ENV_FILE; set +a; $BIN up"
	fi
fi

info "installed corral $VERSION${ROOT:+ into $ROOT}"
if [ -n "$JOIN" ]; then
	info "this node joins the cluster at $JOIN as ${ROLES}"
elif [ "$IS_MASTER" -eq 1 ]; then
	if [ -n "$CLUSTER_HOST" ]; then
		token=${TOKEN:-$(tr -d ' \n' <"$ROOT$DATA/cluster.token")}
		info "first master of a new cluster at $CLUSTER_HOST:${CLUSTER_PORT:-$DEFAULT_CLUSTER_PORT}. To join another machine, give it the"
		info "corral binary (a path, or a URL it can fetch) and this script, then run there as root:"
		echo
		echo "  CORRAL_JOIN=$CLUSTER_HOST:${CLUSTER_PORT:-$DEFAULT_CLUSTER_PORT} CORRAL_TOKEN=$token CORRAL_BINARY=<path or URL of corral> sh install.sh"
		echo
	else
		info "no IPv4 address found for the cluster plane: this node runs alone (set CORRAL_CLUSTER_HOST and run again to let others join)"
	fi
fi
