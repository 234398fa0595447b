#!/bin/bash
# bench/issue.sh times `devca issue localhost` against Debian's mkcert (RSA and
# ECDSA), minica and "the floor" (bench/floor: read a P-256 root, sign one
# leaf, write two files), and checks the goals of issue #2:
#
#     devca <= 0.1 x `mkcert localhost`     devca <= 1.5 x the floor
#
# Everything happens in a temporary folder that is removed at the end: a
# throwaway devca home (init --no-trust), a throwaway mkcert CAROOT (mkcert is
# never given -install, and runs with TRUST_STORES=none and a temporary HOME)
# and a throwaway minica CA. The script checks before and after that the
# system trust stores and the real ~/.local/share/mkcert did not change.
#
# It prints the median of each command and the ratios, with PASS or FAIL for
# each goal, and exits 0 either way: a benchmark never fails CI. It exits 1
# only when it cannot run (devca does not build, a tool crashes), and 2 on a
# bad command line.

set -eu

prog=bench/issue.sh
runs=50
warmup=3
keep_json=

usage() {
	cat <<'EOF'
Usage:
    bench/issue.sh [--runs N] [--warmup N] [--json FILE]

Times devca issue localhost against mkcert localhost, mkcert -ecdsa localhost,
minica and a minimal Go signer (bench/floor), with hyperfine, and prints the
medians, the ratios and PASS/FAIL for the goals (devca <= 0.1x mkcert,
devca <= 1.5x floor). Always exits 0 once the benchmark has run.

Options:
    --runs N      timed runs per command (default 50)
    --warmup N    untimed runs first (default 3)
    --json FILE   keep hyperfine's JSON results in FILE
    -h, --help    show this help

Environment:
    MKCERT, MINICA, HYPERFINE    the binaries to use (default: from PATH)
EOF
}

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
skip() {
	say "skipped: $*"
	exit 0
}

while [ $# -gt 0 ]; do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	--runs | --warmup | --json)
		[ $# -ge 2 ] || usage_die "$1 needs a value"
		case $1 in
		--runs) runs=$2 ;;
		--warmup) warmup=$2 ;;
		--json) keep_json=$2 ;;
		esac
		shift
		;;
	*) usage_die "unknown argument '$1'" ;;
	esac
	shift
done
case $runs in *[!0-9]* | '') usage_die "--runs takes a whole number" ;; esac
case $warmup in *[!0-9]* | '') usage_die "--warmup takes a whole number" ;; esac
[ "$runs" -ge 2 ] || usage_die "--runs must be at least 2"
case $keep_json in '' | /*) ;; *) keep_json=$(pwd -P)/$keep_json ;; esac

# --- tools -------------------------------------------------------------------

hyperfine=${HYPERFINE:-$(command -v hyperfine || true)}
mkcert=${MKCERT:-$(command -v mkcert || true)}
minica=${MINICA:-$(command -v minica || true)}
[ -n "$hyperfine" ] || skip "hyperfine is not installed (apt-get install hyperfine)"
[ -n "$mkcert" ] || skip "mkcert is not installed (apt-get install mkcert)"
command -v go >/dev/null 2>&1 || die "go not found on PATH"

src=$(cd -- "$(dirname -- "$0")/.." && pwd -P)
if [ ! -f "$src/go.mod" ] || [ ! -d "$src/cmd/devca" ]; then
	die "$src is not a devca checkout"
fi

# --- what must not change ----------------------------------------------------

real_home=${HOME:-/nonexistent}
# state prints one line per entry of the trust store folders and of the real
# mkcert, devca and NSS homes, so that a before/after diff shows any change.
state() {
	for p in /etc/ssl/certs /usr/local/share/ca-certificates /etc/pki/ca-trust/source/anchors \
		/etc/ca-certificates/trust-source/anchors /usr/share/pki/trust/anchors \
		"$real_home/.local/share/mkcert" "$real_home/.local/share/devca" "$real_home/.pki/nssdb"; do
		if [ -e "$p" ]; then
			find "$p" -maxdepth 1 -exec stat -c '%n %s %Y' {} + 2>/dev/null
		else
			echo "$p absent"
		fi
	done | sort
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/devca-bench.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# hyperfine -N splits command lines at spaces, so the paths must have none.
case $tmp in *[[:space:]\'\"\\]*) die "temporary folder $tmp has a space or quote in its name" "set TMPDIR to a plain path" ;; esac

state >"$tmp/state.before"

# --- build -------------------------------------------------------------------
# Built with the caller's HOME so the Go build cache is reused.

mkdir -p "$tmp/bin" "$tmp/home" "$tmp/devca-home" "$tmp/caroot" "$tmp/minica" "$tmp/work"
say "building devca and bench/floor"
gover=$(go env GOVERSION)
version=$(git -C "$src" describe --always --dirty 2>/dev/null) || version=dev
(cd -- "$src" && CGO_ENABLED=0 go build -trimpath -tags urfave_cli_no_docs -ldflags "-s -w -X main.version=$version" -o "$tmp/bin/devca" ./cmd/devca) ||
	die "building devca failed" "if someone is editing the tree, wait a minute and run it again"
(cd -- "$src" && CGO_ENABLED=0 go build -trimpath -o "$tmp/bin/floor" ./bench/floor) || die "building bench/floor failed"
devca=$tmp/bin/devca
floor=$tmp/bin/floor

# --- throwaway CAs -----------------------------------------------------------
# From here on every tool sees only temporary homes.

HOME=$tmp/home
DEVCA_HOME=$tmp/devca-home
CAROOT=$tmp/caroot
TRUST_STORES=none # mkcert: neither check nor touch any trust store
export HOME DEVCA_HOME CAROOT TRUST_STORES
unset JAVA_HOME

"$devca" init --no-trust >"$tmp/devca-init.log" 2>&1 || {
	cat "$tmp/devca-init.log" >&2
	die "devca init --no-trust failed"
}
# Without -install, mkcert only creates the CA (rootCA.pem, rootCA-key.pem in
# CAROOT) and the leaf; it installs nothing.
(cd "$tmp/caroot" && "$mkcert" localhost) >"$tmp/mkcert-init.log" 2>&1 || {
	cat "$tmp/mkcert-init.log" >&2
	die "creating the mkcert CA failed"
}
[ -f "$CAROOT/rootCA-key.pem" ] || die "mkcert did not create its CA in $CAROOT"

# Debian ships paultag's minica ("minica NAME" writes NAME.crt and NAME.key);
# jsha's minica takes --domains and refuses to overwrite its output folder.
# Use whichever is installed; both create their CA on the first run.
minica_cmd=
if [ -n "$minica" ]; then
	if "$minica" -h 2>&1 | grep -q -- '-domains'; then
		minica_name="minica --domains localhost"
		minica_cmd="$minica -ca-cert $tmp/minica/minica.pem -ca-key $tmp/minica/minica-key.pem -domains localhost"
		minica_prep="rm -rf localhost"
	else
		minica_name="minica localhost"
		minica_cmd="$minica -ca-cert $tmp/minica/cacert.crt -ca-key $tmp/minica/cakey.key localhost"
		minica_prep="rm -f localhost.crt localhost.key"
	fi
	(cd "$tmp/minica" && $minica_cmd) >"$tmp/minica-init.log" 2>&1 || {
		cat "$tmp/minica-init.log" >&2
		die "creating the minica CA failed"
	}
else
	say "minica is not installed; its row is left out"
fi

# --- timing ------------------------------------------------------------------
# All commands run in $tmp/work, one after the other; each preparation step
# removes the previous outputs, so every timed run writes fresh files.

cd "$tmp/work"
leaf_prep="rm -f localhost.pem localhost-key.pem"
set -- \
	-n "devca issue localhost" --prepare "$leaf_prep" "$devca issue localhost --force" \
	-n "mkcert localhost" --prepare "$leaf_prep" "$mkcert localhost" \
	-n "mkcert -ecdsa localhost" --prepare "$leaf_prep" "$mkcert -ecdsa localhost"
if [ -n "$minica_cmd" ]; then
	set -- "$@" -n "$minica_name" --prepare "$minica_prep" "$minica_cmd"
fi
set -- "$@" \
	-n "floor" --prepare "$leaf_prep" "$floor $DEVCA_HOME/rootCA.pem $DEVCA_HOME/rootCA-key.pem localhost.pem localhost-key.pem" \
	-n "devca --version" --prepare "true" "$devca --version"

say "timing $runs runs of each command after $warmup warm-up runs (hyperfine's report follows)"
"$hyperfine" -N --style basic --warmup "$warmup" --runs "$runs" \
	--export-json "$tmp/results.json" --export-csv "$tmp/results.csv" "$@" >&2 ||
	die "hyperfine failed (see above)"
[ -z "$keep_json" ] || cp "$tmp/results.json" "$keep_json"

# A last sanity check: the devca leaf written by the final run must verify.
if command -v openssl >/dev/null 2>&1; then
	"$devca" issue localhost --force >/dev/null 2>&1
	openssl verify -CAfile "$DEVCA_HOME/rootCA.pem" localhost.pem >/dev/null 2>&1 ||
		say "warning: the devca leaf did not verify against its root"
fi

state >"$tmp/state.after"

# --- report ------------------------------------------------------------------

# median NAME prints the median of command NAME in milliseconds.
median() {
	awk -F, -v name="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "median") c = i; next }
		$1 == name { printf "%.2f", $c * 1000 }' "$tmp/results.csv"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
# goal TEXT RATIO LIMIT prints one goal line.
goal() {
	verdict=$(awk -v r="$2" -v l="$3" 'BEGIN { print (r <= l) ? "PASS" : "FAIL" }')
	printf '  %-40s %7sx  (goal <= %sx)  %s\n' "$1" "$2" "$3" "$verdict"
}

d=$(median "devca issue localhost")
m=$(median "mkcert localhost")
me=$(median "mkcert -ecdsa localhost")
f=$(median "floor")
v=$(median "devca --version")

echo
fs=$(df -T "$tmp" 2>/dev/null | awk 'NR == 2 { print $2 }')
minica_version=
if [ -n "$minica_cmd" ]; then
	minica_version=", minica $(dpkg-query -W -f '${Version}' minica 2>/dev/null || echo '(version unknown)')"
fi
echo "devca issue benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -sm), $(nproc 2>/dev/null || echo '?') CPUs, files on ${fs:-unknown filesystem}"
echo "  devca $("$devca" --version | sed 's/^devca version //') ($gover), mkcert $("$mkcert" -version 2>&1)$minica_version, $("$hyperfine" --version)"
echo "  $runs timed runs after $warmup warm-up runs per command"
echo
printf '  %-36s %10s   %s\n' "command" "median ms" "devca / this"
row() { printf '  %-36s %10s   %s\n' "$1" "$2" "$(ratio "$d" "$2")"; }
row "devca issue localhost (P-256)" "$d"
row "mkcert localhost (RSA-2048)" "$m"
row "mkcert -ecdsa localhost (P-256)" "$me"
if [ -n "$minica_cmd" ]; then
	mi=$(median "$minica_name")
	row "$minica_name (RSA-2048)" "$mi"
fi
row "floor (bench/floor, P-256)" "$f"
printf '  %-36s %10s   %s\n' "devca --version (start-up only)" "$v" "-"
echo
echo "goals (issue #2):"
goal "devca / mkcert localhost" "$(ratio "$d" "$m")" 0.1
goal "devca / floor" "$(ratio "$d" "$f")" 1.5

if cmp -s "$tmp/state.before" "$tmp/state.after"; then
	echo
	echo "system trust stores and ~/.local/share/mkcert: unchanged"
else
	echo
	echo "WARNING: trust store or mkcert folders changed during the run:"
	diff "$tmp/state.before" "$tmp/state.after" || true
fi
[ -z "$keep_json" ] || echo "hyperfine results: $keep_json"
exit 0
