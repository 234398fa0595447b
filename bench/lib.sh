# shellcheck shell=bash disable=SC2154
# bench/lib.sh: shared by the bench scripts, which source it after setting
# prog (their name in messages). Not a script of its own.

say() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$prog" "$1" >&2
	[ $# -lt 2 ] || printf '%s: hint: %s\n' "$prog" "$2" >&2
	exit 1
}
# usage_die MESSAGE: a bad command line; exits 2.
usage_die() {
	printf '%s: error: %s\n' "$prog" "$1" >&2
	printf '%s: hint: %s\n' "$prog" "run '$0 --help' for usage" >&2
	exit 2
}

# bench_workdir NAME: makes the temporary folder $work, removed on exit
# after every process listed in $pids is stopped.
bench_workdir() {
	work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	pids=()
	trap bench_cleanup EXIT
}
bench_cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}

# serve_setup WORK: builds devca and the serve helpers (fileserver,
# firstreq) into WORK, makes WORK/site with a 1 KiB binary file, a
# throwaway CA in WORK/cahome (exported as DEVCA_HOME) and a leaf for
# localhost and 127.0.0.1 in WORK/cert.pem and WORK/key.pem. Run it from
# the repository root.
serve_setup() {
	local work=$1
	say "building devca and the helpers in $work"
	# devca as install.sh builds it (static, no cli docs generator, no
	# symbol tables), and the bare server the same way, so start-up times
	# compare what users run rather than a dynamically linked debug build.
	CGO_ENABLED=0 go build -trimpath -tags urfave_cli_no_docs -ldflags "-s -w" -o "$work/devca" ./cmd/devca
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/fileserver" ./bench/serve/fileserver
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/firstreq" ./bench/serve/firstreq
	# Binary, so that no server compresses it.
	mkdir -p "$work/site"
	head -c 1024 /dev/urandom >"$work/site/1k.bin"
	export DEVCA_HOME=$work/cahome
	"$work/devca" init --no-trust >/dev/null 2>&1 || die "devca init failed"
	"$work/devca" issue --cert-file "$work/cert.pem" --key-file "$work/key.pem" localhost 127.0.0.1 >/dev/null 2>&1 ||
		die "devca issue failed"
}
