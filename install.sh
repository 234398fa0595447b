#!/bin/sh
# install.sh builds devca from this checkout with the machine's Go and installs
# the binary. Run it from anywhere: `sh /path/to/devca/install.sh` or
# `./install.sh`. See usage below, or run it with --help.
#
# Output rules (as in devca itself): every message goes to stderr, prefixed
# "install.sh:", lowercase, no final period; failures are "install.sh: error: …"
# followed by "install.sh: hint: …" lines and a non-zero exit. Only --help
# writes to stdout.

set -eu

prog=install.sh

usage() {
	cat <<'EOF'
Usage:
    ./install.sh [--prefix DIR]
    ./install.sh --uninstall [--prefix DIR]

Builds devca from this checkout with the Go on your PATH (it must be at least
the version in go.mod) and installs it as:

    /usr/local/bin/devca     when /usr/local/bin is writable
    ~/.local/bin/devca       otherwise
    DIR/bin/devca            with --prefix DIR

Running it again rebuilds and replaces the binary atomically.

Options:
    --prefix DIR    install into DIR/bin instead
    --uninstall     remove the installed binary; the CA home (shown by
                    'devca home') is left alone, so run 'devca uninstall'
                    first if you also want the root removed from trust stores
    -h, --help      show this help

Examples:
    ./install.sh
    sh ~/src/devca/install.sh --prefix "$HOME/opt/devca"
    ./install.sh --uninstall
EOF
}

say() { printf '%s: %s\n' "$prog" "$*" >&2; }
hint() { printf '%s: hint: %s\n' "$prog" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$prog" "$1" >&2
	shift
	for h in "$@"; do hint "$h"; done
	exit 1
}
usage_die() {
	printf '%s: error: %s\n' "$prog" "$1" >&2
	hint "run '$0 --help' for usage"
	exit 2
}

# --- arguments ---------------------------------------------------------------

prefix=
uninstall=false
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	--uninstall) uninstall=true ;;
	--prefix)
		[ $# -ge 2 ] || usage_die "--prefix needs a folder, as in '--prefix \$HOME/opt'"
		prefix=$2
		shift
		;;
	--prefix=*) prefix=${1#--prefix=} ;;
	*) usage_die "unknown argument '$1'" ;;
	esac
	shift
done
if [ -n "$prefix" ] && [ "$prefix" != / ]; then
	prefix=${prefix%/}
fi
case $prefix in
'' | /*) ;;
*) prefix=$(pwd -P)/$prefix ;; # make it absolute before we cd away
esac

# --- where the binary goes ---------------------------------------------------

is_devca() { "$1" --version 2>/dev/null | grep -q '^devca version'; }

if $uninstall; then
	if [ -n "$prefix" ]; then
		set -- "$prefix/bin/devca"
	elif [ -n "${HOME:-}" ]; then
		set -- /usr/local/bin/devca "$HOME/.local/bin/devca"
	else
		set -- /usr/local/bin/devca
	fi
	removed=false
	home=
	looked=
	for f in "$@"; do
		looked=${looked:+$looked or }$f
		if [ ! -e "$f" ] && [ ! -L "$f" ]; then
			continue
		fi
		is_devca "$f" || die "$f does not look like devca ('$f --version' does not say devca)" \
			"nothing was removed; delete it by hand if it is a devca build"
		[ -n "$home" ] || home=$("$f" home 2>/dev/null) || home=
		rm -f -- "$f" || die "removing $f failed" "run this script as a user who can write to $(dirname -- "$f")"
		say "removed $f"
		removed=true
	done
	$removed || say "no devca binary found at $looked; nothing to remove"
	if [ -n "$home" ]; then
		say "the CA home \"$home\" was left alone; delete it yourself if you no longer need the CA"
	else
		say "the CA home (shown by 'devca home') was left alone"
	fi
	say "to remove the root from the trust stores too, run 'devca uninstall' before removing the binary (reinstall first if it is gone)"
	exit 0
fi

if [ -n "$prefix" ]; then
	bindir=$prefix/bin
elif [ -d /usr/local/bin ] && [ -w /usr/local/bin ]; then
	bindir=/usr/local/bin
else
	[ -n "${HOME:-}" ] || die "HOME is not set and /usr/local/bin is not writable" "pass --prefix DIR"
	bindir=$HOME/.local/bin
fi

# --- the checkout ------------------------------------------------------------

case $0 in
*/*) src=$(dirname -- "$0") ;;
*) src=. ;;
esac
src=$(cd -- "$src" && pwd -P) || die "cannot find the folder that holds $prog"
if [ ! -f "$src/go.mod" ] || [ ! -d "$src/cmd/devca" ]; then
	die "$src is not a devca checkout (no go.mod or cmd/devca next to $prog)" \
		"run the install.sh that sits in a clone of the devca repository"
fi

# --- Go ------------------------------------------------------------------------

need=$(sed -n 's/^go[[:space:]][[:space:]]*\([0-9][0-9.]*\).*/\1/p' "$src/go.mod" | head -n 1)
[ -n "$need" ] || die "cannot read the go version line in $src/go.mod"

command -v go >/dev/null 2>&1 ||
	die "go not found on PATH; devca needs Go $need or newer to build" \
		"install Go from https://go.dev/dl/ (or your package manager), then run $prog again"

# Use the machine's Go as it is: GOTOOLCHAIN=local stops the go command from
# quietly downloading a newer toolchain, so the check below tells the truth.
# The query runs outside the module, where a too-new go.mod cannot make it fail.
GOTOOLCHAIN=local
export GOTOOLCHAIN
have=$(cd / && go env GOVERSION 2>/dev/null) || have=
case $have in
go[0-9]*) have=$(echo "${have#go}" | sed 's/[^0-9.].*//') ;;
devel* | *) have= ;;
esac

# version_ge A B: whether dotted version A is at least B (missing parts are 0).
version_ge() {
	echo "$1 $2" | awk '{
		n = split($1, a, "."); m = split($2, b, ".")
		for (i = 1; i <= 3; i++) {
			x = (i <= n) ? a[i] + 0 : 0; y = (i <= m) ? b[i] + 0 : 0
			if (x > y) exit 0
			if (x < y) exit 1
		}
		exit 0
	}'
}

if [ -z "$have" ]; then
	say "warning: cannot tell the version of $(command -v go) ('go env GOVERSION' says '$(cd / && go env GOVERSION 2>&1 | head -n 1)'); trying anyway"
elif ! version_ge "$have" "$need"; then
	die "$(command -v go) is Go $have, but devca needs Go $need or newer (the go line in go.mod)" \
		"install a newer Go from https://go.dev/dl/ and put it first on PATH, then run $prog again"
fi

# --- build and install -------------------------------------------------------

# When git cannot describe the checkout (not a clone, git missing, or a clone
# owned by another user that git refuses to read), the version is "dev" and
# VCS stamping is turned off too, or go build would fail on the same error.
buildvcs=auto
version=$(git -C "$src" describe --always --dirty 2>/dev/null) || {
	version=dev
	buildvcs=false
}

if [ ! -d "$bindir" ]; then
	mkdir -p -- "$bindir" || die "cannot create $bindir" "pass --prefix with a folder you can write to"
fi
[ -w "$bindir" ] || die "$bindir is not writable" "pass --prefix with a folder you can write to"

# Build next to the target and rename it into place: the rename is atomic, so
# a devca that is running or being started never sees a half-written file.
tmp=$bindir/.devca.install.$$
trap 'rm -f -- "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "building devca $version with Go ${have:-(unknown version)} from $src"
# urfave_cli_no_docs leaves out the cli library's man-page generator, which devca
# never uses, -s -w the symbol tables, and CGO_ENABLED=0 links statically (no
# dynamic loader at start): all make start-up, most of what a devca issue
# costs, faster.
(cd -- "$src" && CGO_ENABLED=0 go build -trimpath -buildvcs="$buildvcs" -tags urfave_cli_no_docs -ldflags "-s -w -X main.version=$version" -o "$tmp" ./cmd/devca) ||
	die "go build failed (see above); $bindir/devca was not changed"
chmod 0755 "$tmp"
mv -f -- "$tmp" "$bindir/devca" || die "moving the new binary to $bindir/devca failed"
trap - EXIT

say "installed $bindir/devca ($("$bindir/devca" --version 2>/dev/null || echo "version unknown"))"

case :${PATH:-}: in
*:"$bindir":* | *:"$bindir"/:*)
	found=$(command -v devca 2>/dev/null || true)
	if [ -n "$found" ] && [ "$found" != "$bindir/devca" ]; then
		say "warning: 'devca' on your PATH is $found, which comes before $bindir/devca"
	fi
	;;
*)
	say "$bindir is not on your PATH; add this line to your shell profile (for example ~/.profile):"
	printf "\n    export PATH=\"%s:\$PATH\"\n\n" "$bindir" >&2
	;;
esac
say "next: 'devca init' creates your CA, then 'devca issue localhost'"
