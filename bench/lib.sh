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

# --- the ACME benches (acme.sh, acme-load.sh) ------------------------------------

# acme_netns: sets ns to the command that runs the rest in a network and
# mount namespace of its own, or dies.
# shellcheck disable=SC2034 # ns is for the caller
acme_netns() {
	if unshare --net --mount true 2>/dev/null; then
		ns=(unshare --net --mount)
	elif unshare --map-root-user --net --mount true 2>/dev/null; then
		ns=(unshare --map-root-user --net --mount)
	else
		die "cannot make a network namespace (unshare --net --mount)" "run it as root, or where user namespaces are allowed"
	fi
}

# trust_state: the trust store folders and the real devca and caddy homes,
# one line per entry.
trust_state() {
	local home=${HOME:-/nonexistent} folder
	for folder in /etc/ssl/certs /usr/local/share/ca-certificates /etc/pki/ca-trust/source/anchors \
		"$home/.local/share/devca" "$home/.local/share/caddy" "$home/.pki/nssdb"; do
		if [ -e "$folder" ]; then find "$folder" -maxdepth 1 -exec stat -c '%n %s %Y' {} + 2>/dev/null; else echo "$folder absent"; fi
	done | sort
}

# trust_report BEFORE: says whether trust_state changed since BEFORE (a file).
trust_report() {
	trust_state >"$1.after"
	if cmp -s "$1" "$1.after"; then
		echo "system trust stores and the real devca and caddy homes: unchanged"
	else
		echo "WARNING: trust store folders changed during the run (Caddy runs with skip_install_trust;"
		echo "another program on this machine may have changed them):"
		diff "$1" "$1.after" || true
	fi
}

# acme_hosts FILE NAMES CLIENTS: an /etc/hosts with NAMES and c0.bench.test
# up to c(CLIENTS-1).bench.test on 127.0.0.1.
acme_hosts() {
	{
		printf '127.0.0.1 localhost %s' "$2"
		for i in $(seq 0 $(($3 - 1))); do printf ' c%d.bench.test' "$i"; done
		printf '\n::1 localhost\n'
	} >"$1"
}

# caddy_acme_config FILE: a Caddyfile whose local CA serves ACME at
# https://127.0.0.1:9443/acme/local/directory. Its HTTP port moves off 80,
# where the clients answer http-01, and it neither redirects nor installs
# its root.
caddy_acme_config() {
	cat >"$1" <<'CADDY'
{
	admin off
	skip_install_trust
	auto_https disable_redirects
	http_port 8080
	https_port 9443
}
https://127.0.0.1:9443 {
	tls internal
	acme_server
}
CADDY
}
