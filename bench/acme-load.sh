#!/bin/bash
# bench/acme-load.sh measures devca acme under load and under faults, with
# Caddy 2.6's acme_server under the same load in the same run, for issue 11:
#
#   load     --clients clients (default 50), one ACME account each, obtain
#            certificates with http-01 for --duration seconds (default 60)
#            against one devca acme on its bbolt file, two devca acme on one
#            PostgreSQL database (one --external-url; every request goes to
#            the next instance), and Caddy: certificates per second, p50 and
#            p99 time to obtain one, errors (goal: 0), peak RSS of a server
#            process
#   faults   the same load on each devca setup while a random instance is
#            SIGKILLed at --kills random moments (default 200) and restarted
#            at once; a client whose order fails starts a new one (a retry).
#            Then the servers stop and the store is read: every certificate a
#            client was given must be in it as given, named by its order and
#            in the CA record (nothing lost), no order may have two
#            certificates (nothing twice), and every client must have
#            finished its last order (unfinished 0)
#
# The load client is bench/acme/faults, which starts and stops the servers
# itself. Everything runs in a network namespace of its own with only
# loopback up (unshare --net --mount; --map-root-user when not root), with an
# /etc/hosts of the bench's own (bind-mounted): acme.bench.test and
# c0.bench.test... 127.0.0.1. PostgreSQL is a throwaway cluster made with
# initdb in the temporary folder (as the user nobody when run as root),
# listening on a Unix socket there only, stopped at the end. All files live
# in that temporary folder, removed at the end: the devca homes (`devca init
# --no-trust`), Caddy's data and config (XDG_DATA_HOME, XDG_CONFIG_HOME and
# HOME point there; skip_install_trust). No trust store is touched; the
# script checks the system's before and after.
#
# It needs go, caddy, unshare, ip and PostgreSQL (Debian's postgresql
# package: initdb, pg_ctl, createdb under /usr/lib/postgresql/*/bin). It
# exits 0 once it has run (PASS or FAIL alike), 1 when it cannot run, 2 on a
# bad command line.

set -euo pipefail

prog=bench/acme-load.sh
duration=${DURATION:-60}
clients=${CLIENTS:-50}
kills=${KILLS:-200}
seed=${SEED:-0}

usage() {
	cat <<'EOF'
Usage:
    bench/acme-load.sh [--duration SECONDS] [--clients N] [--kills N] [--seed N]

Puts devca acme (one instance on bbolt, two on one PostgreSQL database) and
Caddy's acme_server under load in a loopback-only network namespace, then
SIGKILLs devca instances at random during the same load and checks that no
certificate was lost or issued twice. Prints a table with PASS or FAIL per
goal. About 5 x --duration plus a minute.

Options:
    --duration S   seconds of each load test (default 60, or $DURATION)
    --clients N    clients at once (default 50, or $CLIENTS)
    --kills N      SIGKILLs in each fault test (default 200, or $KILLS)
    --seed N       the kill schedule's seed (default from the clock, or $SEED)
    -h, --help     show this help
EOF
}

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

inner=
while [ $# -gt 0 ]; do
	case $1 in
	--duration | --clients | --kills | --seed | --inner)
		[ $# -ge 2 ] || usage_die "$1 needs a value"
		case $1 in
		--duration) duration=$2 ;;
		--clients) clients=$2 ;;
		--kills) kills=$2 ;;
		--seed) seed=$2 ;;
		--inner) inner=$2 ;; # the namespace half; not for people
		esac
		shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage_die "unknown argument '$1'" ;;
	esac
done
for o in "--duration $duration" "--clients $clients"; do
	case ${o#* } in '' | 0 | *[!0-9]*) usage_die "${o% *} must be a positive whole number" ;; esac
done
case $kills in '' | *[!0-9]*) usage_die "--kills must be a whole number" ;; esac
case $seed in '' | *[!0-9]*) usage_die "--seed must be a whole number" ;; esac
opts=(--duration "$duration" --clients "$clients" --kills "$kills" --seed "$seed")

# kv LINE KEY: the value after KEY in a line of "key value" pairs.
kv() { awk -v k="$2" '{ for (i = 1; i < NF; i += 2) if ($i == k) print $(i + 1) }' <<<"$1"; }

# --- inside the namespace -----------------------------------------------------

run_inner() {
	work=$1
	mount --bind "$work/hosts" /etc/hosts
	ip link set lo up
	export HOME=$work/home XDG_DATA_HOME=$work/xdg-data XDG_CONFIG_HOME=$work/xdg-config
	mkdir -p "$HOME"
	local devca=$work/bin/devca faults=$work/bin/faults
	local pg_url="postgres://devca@/DB?host=$work/pg"
	local common=(-clients "$clients" -duration "${duration}s" -seed "$seed")

	# devca_run NAME KILLS BACKEND: runs the load on a fresh CA home and
	# store; prints faults's line.
	# Every client comes from 127.0.0.1, so devca acme's per-address rate
	# limits would refuse most of them; Caddy has none. They are off here.
	local nolimits="--rate-requests 0 --rate-accounts 0 --rate-orders 0"
	devca_run() {
		local name=$1 n=$2 backend=$3 home=$work/ca-$1 args=()
		DEVCA_HOME=$home "$devca" init --no-trust >"$work/init-$name.log" 2>&1 ||
			die "devca init --no-trust failed:" "$(tail -3 "$work/init-$name.log")"
		if [ "$backend" = bolt ]; then
			args=(-dir https://127.0.0.1:14000/directory -backend 127.0.0.1:14000 -bolt "$work/$name.db"
				-server "env DEVCA_HOME=$home $devca acme --addr 127.0.0.1:14000 --db $work/$name.db $nolimits")
		else
			"$pgbin/createdb" -h "$work/pg" -U devca "$name" || die "createdb $name failed"
			local url=${pg_url/DB/$name}
			args=(-dir https://acme.bench.test:14000/directory -pg "$url")
			for port in 14001 14002; do
				args+=(-backend "127.0.0.1:$port"
					-server "env DEVCA_HOME=$home $devca acme --addr 127.0.0.1:$port --external-url https://acme.bench.test:14000 --db $url $nolimits")
			done
		fi
		"$faults" "${common[@]}" -root "$home/rootCA.pem" -ca "$home" -kills "$n" -log "$work/$name-" "${args[@]}" ||
			die "the load client failed on $name; the end of the server's output:" "$(tail -3 "$work/$name-0.log" 2>/dev/null)"
	}

	local out
	declare -A res
	say "load: devca acme on bbolt ($clients clients, $duration s)"
	res[load_bolt]=$(devca_run load_bolt 0 bolt)
	say "load: two devca acme on PostgreSQL"
	res[load_pg]=$(devca_run load_pg 0 pg)
	say "load: Caddy acme_server"
	res[load_caddy]=$("$faults" "${common[@]}" -kills 0 -log "$work/caddy-" \
		-dir https://127.0.0.1:9443/acme/local/directory -root "$XDG_DATA_HOME/caddy/pki/authorities/local/root.crt" \
		-backend 127.0.0.1:9443 -server "caddy run --config $work/Caddyfile --adapter caddyfile") ||
		die "the load client failed on caddy; the end of its output:" "$(tail -3 "$work/caddy-0.log" 2>/dev/null)"
	say "faults: devca acme on bbolt, $kills SIGKILLs"
	res[faults_bolt]=$(devca_run faults_bolt "$kills" bolt)
	say "faults: two devca acme on PostgreSQL, $kills SIGKILLs"
	res[faults_pg]=$(devca_run faults_pg "$kills" pg)
	for k in load_bolt load_pg load_caddy faults_bolt faults_pg; do say "$k: ${res[$k]}"; done

	# --- report ---
	echo
	echo "devca acme and Caddy $(caddy version | awk '{ print $1 }') acme_server under load, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores,"
	echo "$(go version | awk '{ print $3 }'), PostgreSQL $("$pgbin/postgres" --version | awk '{ print $3 }'); $clients clients, $duration s per test"
	echo
	printf '%-26s %8s %8s %8s %7s %9s  %s\n' load certs/s "p50 ms" "p99 ms" errors "RSS MiB" "goal: errors 0"
	for k in load_bolt load_pg load_caddy; do
		out=${res[$k]}
		local label
		case $k in
		load_bolt) label="devca, bbolt" ;;
		load_pg) label="devca x2, PostgreSQL" ;;
		load_caddy) label="caddy" ;;
		esac
		printf '%-26s %8.1f %8.1f %8.1f %7d %9.1f  %s\n' "$label" "$(kv "$out" rate)" "$(kv "$out" p50_ms)" "$(kv "$out" p99_ms)" \
			"$(kv "$out" errors)" "$(kv "$out" rss_mib)" \
			"$([ "$(kv "$out" errors)" = 0 ] && [ "$(kv "$out" unfinished)" = 0 ] && echo PASS || echo FAIL)"
	done
	echo
	printf '%-26s %5s %6s %8s %8s %8s %7s %6s %4s %5s %5s %7s %8s  %s\n' faults kills certs certs/s "p50 ms" "p99 ms" retries unfin lost twice stray resumed "restart" \
		"goal: lost 0, twice 0, unfinished 0"
	for k in faults_bolt faults_pg; do
		out=${res[$k]}
		local label="devca, bbolt" lost
		[ $k = faults_bolt ] || label="devca x2, PostgreSQL"
		lost=$(($(kv "$out" lost) + $(kv "$out" unrecorded)))
		printf '%-26s %5d %6d %8.1f %8.1f %8.1f %7d %6d %4d %5d %5d %7d %6.0fms  %s\n' "$label" "$(kv "$out" kills)" "$(kv "$out" certs)" \
			"$(kv "$out" rate)" "$(kv "$out" p50_ms)" "$(kv "$out" p99_ms)" "$(kv "$out" errors)" "$(kv "$out" unfinished)" \
			"$lost" "$(kv "$out" twice)" "$(kv "$out" stray)" "$(kv "$out" resumed)" "$(kv "$out" restart_ms)" \
			"$([ "$lost" = 0 ] && [ "$(kv "$out" twice)" = 0 ] && [ "$(kv "$out" unfinished)" = 0 ] && echo PASS || echo FAIL)"
	done
	echo
	echo "certs/s: certificates over the time until every client finished; p50/p99: time to obtain one"
	echo "(newOrder to downloaded chain; under faults from the first try, retries included); errors and"
	echo "retries: orders that failed (under faults each is retried with a new order); RSS: the largest"
	echo "peak resident memory of one server process; lost: certificates a client was given that the"
	echo "store (read after the servers stop) or the CA record lacks or that their order does not name;"
	echo "twice: orders with two certificates in the store; stray: CA record entries of the run in no"
	echo "store record (signed, then cut off before the store had them; never given to a client);"
	echo "resumed: issuances a server resumed after a kill; restart: median time from a kill to the"
	echo "instance answering again. Each client orders for its own name, so after its first order"
	echo "its authorization is valid already and it skips validation, on devca and Caddy alike."
}

# The newest PostgreSQL's binaries, or nothing.
pgbin=$(for d in /usr/lib/postgresql/*/bin; do [ -x "$d/pg_ctl" ] && echo "$d"; done | sort -t/ -k4 -n | tail -1)

if [ -n "$inner" ]; then
	run_inner "$inner"
	exit 0
fi

# --- outside: tools, build, PostgreSQL, then the namespace ----------------------

for tool in go caddy unshare ip; do
	command -v "$tool" >/dev/null || die "$tool is not installed" "apt-get install golang caddy util-linux iproute2"
done
[ -n "$pgbin" ] || die "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl)" "apt-get install postgresql"
acme_netns

cd "$(dirname "$0")/.."
bench_workdir devca-bench-acme-load
# Server command lines are split at spaces.
case $work in *[[:space:]\'\"\\]*) die "temporary folder $work has a space or quote in its name" "set TMPDIR to a plain path" ;; esac
# PostgreSQL refuses root: as root it runs as nobody, which must reach its
# folder.
pg_as=()
if [ "$(id -u)" = 0 ]; then
	command -v runuser >/dev/null || die "runuser is not installed" "apt-get install util-linux"
	pg_as=(runuser -u nobody --)
	chmod 711 "$work"
fi
# shellcheck disable=SC2317 # called from the EXIT trap
pg_stop() {
	if [ -e "$work/pg/data/postmaster.pid" ]; then
		"${pg_as[@]}" "$pgbin/pg_ctl" -D "$work/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
}
trap 'pg_stop; bench_cleanup' EXIT
trust_state >"$work/trust.before"

say "building devca and bench/acme/faults in $work"
CGO_ENABLED=0 go build -trimpath -o "$work/bin/devca" ./cmd/devca || die "building devca failed"
CGO_ENABLED=0 go build -trimpath -o "$work/bin/faults" ./bench/acme/faults || die "building bench/acme/faults failed"

say "starting PostgreSQL ($pgbin) in $work/pg"
mkdir "$work/pg"
[ ${#pg_as[@]} -eq 0 ] || chown nobody "$work/pg"
"${pg_as[@]}" "$pgbin/initdb" -D "$work/pg/data" -U devca --auth=trust -E UTF8 --no-locale --no-sync >"$work/initdb.log" 2>&1 ||
	die "initdb failed:" "$(tail -3 "$work/initdb.log")"
printf "\nlisten_addresses = ''\nunix_socket_directories = '%s'\nfsync = off\nfull_page_writes = off\nmax_connections = 200\n" "$work/pg" |
	"${pg_as[@]}" tee -a "$work/pg/data/postgresql.conf" >/dev/null
"${pg_as[@]}" "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w -t 60 start >/dev/null ||
	die "pg_ctl start failed:" "$(tail -3 "$work/pg/log")"

acme_hosts "$work/hosts" "bench.test acme.bench.test" "$clients"
caddy_acme_config "$work/Caddyfile"

"${ns[@]}" "$0" "${opts[@]}" --inner "$work" || die "the benchmark did not finish (see above)"

trust_report "$work/trust.before"
exit 0
