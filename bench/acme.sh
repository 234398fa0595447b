#!/bin/bash
# bench/acme.sh compares `devca acme` with Caddy 2.6's `acme_server`
# (Debian's caddy, its local CA) in one run, and checks the goals of
# issue 10:
#
#   lego, one certificate   time for Debian's lego to obtain one certificate
#                           with http-01 (a new account each run, as a first
#                           `lego run` does), median of --runs (hyperfine)
#   certs/s                 certificates per second with --clients clients at
#                           once: bench/acme/load, one ACME account per client
#                           (golang.org/x/crypto/acme, cert-manager's flow),
#                           each obtaining certificates for --duration seconds;
#                           --rounds rounds with the servers in alternating order
#   floor                   2 x `devca issue` (hyperfine) plus the 11 HTTP round
#                           trips of an http-01 flow (directory, newNonce,
#                           newAccount, newOrder, authorization, challenge,
#                           validation fetch, authorization poll, finalize,
#                           order poll, download), one round trip being the
#                           median POST-as-GET to devca acme
#
# Goals: devca at least as fast as Caddy on the first two, and lego's time on
# devca within the floor's bound.
#
# Everything runs in a network namespace of its own with only loopback up
# (unshare --net --mount; with --map-root-user when not root), where an
# /etc/hosts of the bench's own (bind-mounted) names bench.test and
# c0.bench.test... 127.0.0.1, and both servers validate http-01 on its port
# 80. All files live in a temporary folder removed at the end: a devca home
# made with `devca init --no-trust`, Caddy's data and config (XDG_DATA_HOME,
# XDG_CONFIG_HOME and HOME point there; skip_install_trust), lego's accounts.
# No trust store is touched; the script checks the system's before and after.
#
# It needs go, lego, caddy, hyperfine, curl, openssl, unshare and ip. It
# exits 0 once it has run (PASS or FAIL alike), 1 when it cannot run, 2 on a
# bad command line.

set -euo pipefail

prog=bench/acme.sh
runs=${RUNS:-10}
warmup=${WARMUP:-2}
duration=${DURATION:-10}
rounds=${ROUNDS:-3}
clients=${CLIENTS:-20}
# Round trips of one http-01 certificate: lego's whole flow, as listed
# above, and the load client's flow for an account it has already
# (newOrder, authorization, challenge, validation fetch, authorization poll,
# order poll, finalize, order poll, download).
round_trips=11
client_round_trips=9

usage() {
	cat <<'EOF'
Usage:
    bench/acme.sh [--runs N] [--warmup N] [--duration SECONDS] [--rounds N] [--clients N]

Compares devca acme with Caddy's acme_server in a loopback-only network
namespace: lego's time for one certificate (http-01), certificates per second
with many clients at once, and devca acme against 2x devca issue plus the
protocol's round trips. Prints medians, spreads, ratios devca/caddy and PASS
or FAIL per goal. About two minutes with the defaults.

Options:
    --runs N       timed lego runs per server (default 10, or $RUNS)
    --warmup N     untimed lego runs first (default 2, or $WARMUP)
    --duration S   seconds of each load test (default 10, or $DURATION)
    --rounds N     load tests per server (default 3, or $ROUNDS)
    --clients N    clients at once in the load test (default 20, or $CLIENTS)
    -h, --help     show this help
EOF
}

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

inner=
while [ $# -gt 0 ]; do
	case $1 in
	--runs | --warmup | --duration | --rounds | --clients | --inner)
		[ $# -ge 2 ] || usage_die "$1 needs a value"
		case $1 in
		--runs) runs=$2 ;;
		--warmup) warmup=$2 ;;
		--duration) duration=$2 ;;
		--rounds) rounds=$2 ;;
		--clients) clients=$2 ;;
		--inner) inner=$2 ;; # the namespace half; not for people
		esac
		shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage_die "unknown argument '$1'" ;;
	esac
done
for o in "--runs $runs" "--duration $duration" "--rounds $rounds" "--clients $clients"; do
	case ${o#* } in '' | 0 | *[!0-9]*) usage_die "${o% *} must be a positive whole number" ;; esac
done
case $warmup in '' | *[!0-9]*) usage_die "--warmup must be a whole number" ;; esac
[ "$runs" -ge 2 ] || usage_die "--runs must be at least 2"
opts=(--runs "$runs" --warmup "$warmup" --duration "$duration" --rounds "$rounds" --clients "$clients")

# --- inside the namespace -----------------------------------------------------

devca_dir=https://127.0.0.1:14000/directory
caddy_dir=https://127.0.0.1:9443/acme/local/directory

# wait_dir URL ROOT LOG: waits until the directory answers over HTTPS
# verified by ROOT, or dies with the end of LOG.
wait_dir() {
	for _ in $(seq 100); do
		if [ -s "$2" ] && curl -sf -o /dev/null --max-time 1 --cacert "$2" "$1"; then return 0; fi
		sleep 0.1
	done
	die "$1 did not answer; the end of its output:" "$(tail -3 "$3")"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.3f", a / b }'; }
# spread VALUES...: "min-max" with FORMAT-free two decimals.
spread() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f-%.2f", v[1], v[NR] }'; }
verdict() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b ? "PASS" : "FAIL") }'; }

run_inner() {
	work=$1
	pids=()
	trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
	mount --bind "$work/hosts" /etc/hosts
	ip link set lo up
	export HOME=$work/home XDG_DATA_HOME=$work/xdg-data XDG_CONFIG_HOME=$work/xdg-config DEVCA_HOME=$work/devca-home
	mkdir -p "$HOME" "$work/issue"
	local devca=$work/bin/devca load=$work/bin/load
	"$devca" init --no-trust >"$work/init.log" 2>&1 || die "devca init --no-trust failed:" "$(tail -3 "$work/init.log")"

	# The floor first, with no server running.
	say "timing devca issue ($((runs * 5)) runs)"
	(cd "$work/issue" && hyperfine -N --style basic --warmup 3 --runs "$((runs * 5))" \
		--export-csv "$work/issue.csv" -n "devca issue" "$devca issue bench.test --force") >&2 ||
		die "hyperfine failed on devca issue (see above)"

	# Every client is on 127.0.0.1: the per-address rate limits are off, as
	# Caddy has none.
	"$devca" acme --addr 127.0.0.1:14000 --rate-requests 0 --rate-accounts 0 --rate-orders 0 >"$work/devca-acme.out" 2>&1 &
	pids+=($!)
	caddy run --config "$work/Caddyfile" --adapter caddyfile >"$work/caddy.out" 2>&1 &
	pids+=($!)
	local devca_root=$DEVCA_HOME/rootCA.pem caddy_root=$XDG_DATA_HOME/caddy/pki/authorities/local/root.crt
	wait_dir "$devca_dir" "$devca_root" "$work/devca-acme.out"
	wait_dir "$caddy_dir" "$caddy_root" "$work/caddy.out"

	# 1. lego, one certificate each, a new account every run. lego answers
	# http-01 on port 80, where both servers validate.
	say "timing lego run against each server ($runs runs after $warmup warm-up runs; hyperfine's report follows)"
	lego_cmd() { # NAME DIR ROOT
		echo "env LEGO_CA_CERTIFICATES=$3 lego --path $work/lego-$1 --server $2 --accept-tos --email bench@bench.test --http --http.port :80 --domains bench.test run"
	}
	hyperfine -N --style basic --warmup "$warmup" --runs "$runs" --export-csv "$work/lego.csv" \
		-n devca --prepare "rm -rf $work/lego-devca" "$(lego_cmd devca "$devca_dir" "$devca_root")" \
		-n caddy --prepare "rm -rf $work/lego-caddy" "$(lego_cmd caddy "$caddy_dir" "$caddy_root")" >&2 ||
		die "hyperfine failed on lego (see above; the servers' output is in $work while it runs)"
	# The last run's certificates must verify against their roots.
	local s r
	for s in devca caddy; do
		r=$devca_root
		[ $s = devca ] || r=$caddy_root
		local crt=$work/lego-$s/certificates/bench.test.crt
		openssl verify -CAfile "$r" -untrusted "$crt" "$crt" >/dev/null 2>&1 ||
			say "warning: the certificate lego got from $s does not verify against its root"
	done

	# 3. One HTTPS round trip: POST-as-GET of an authorization.
	local rtt caddy_rtt
	rtt=$("$load" -dir "$devca_dir" -root "$devca_root" -rtt 200 -name bench.test | awk '{ print $2 }')
	caddy_rtt=$("$load" -dir "$caddy_dir" -root "$caddy_root" -rtt 200 -name bench.test | awk '{ print $2 }')

	# One client alone: the server's time per certificate, without lego's
	# start, key generation and account.
	local one_devca one_caddy
	say "load: each server with one client ($duration s)"
	one_devca=$("$load" -dir "$devca_dir" -root "$devca_root" -clients 1 -duration "${duration}s" | awk '{ print $8 }') ||
		die "the load client failed against devca"
	one_caddy=$("$load" -dir "$caddy_dir" -root "$caddy_root" -clients 1 -duration "${duration}s" | awk '{ print $8 }') ||
		die "the load client failed against caddy"

	# 2. Load, the servers in alternating order.
	local round pair out devca_rates=() caddy_rates=() load_ratios=() devca_p50=() caddy_p50=()
	declare -A rate p50
	for round in $(seq "$rounds"); do
		pair=(devca caddy)
		[ $((round % 2)) -eq 1 ] || pair=(caddy devca)
		for s in "${pair[@]}"; do
			say "load: $s, round $round of $rounds ($clients clients, $duration s)"
			if [ "$s" = devca ]; then
				out=$("$load" -dir "$devca_dir" -root "$devca_root" -clients "$clients" -duration "${duration}s")
			else
				out=$("$load" -dir "$caddy_dir" -root "$caddy_root" -clients "$clients" -duration "${duration}s")
			fi || die "the load client failed against $s"
			say "load: $s: $out"
			rate[$s]=$(awk '{ print $6 }' <<<"$out")
			p50[$s]=$(awk '{ print $8 }' <<<"$out")
		done
		devca_rates+=("${rate[devca]}")
		caddy_rates+=("${rate[caddy]}")
		devca_p50+=("${p50[devca]}")
		caddy_p50+=("${p50[caddy]}")
		load_ratios+=("$(ratio "${rate[devca]}" "${rate[caddy]}")")
	done

	# --- report ---
	# hyperfine's CSV: command,mean,stddev,median,user,system,min,max (seconds).
	hf() { # CSV NAME COLUMN -> milliseconds
		awk -F, -v name="$2" -v col="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
			$1 == name { printf "%.2f", $c * 1000 }' "$1"
	}
	local issue_ms md mc lr bound
	issue_ms=$(hf "$work/issue.csv" "devca issue" median)
	md=$(hf "$work/lego.csv" devca median)
	mc=$(hf "$work/lego.csv" caddy median)
	lr=$(ratio "$md" "$mc")
	bound=$(awk -v i="$issue_ms" -v r="$rtt" -v n="$round_trips" 'BEGIN { printf "%.2f", 2 * i + n * r }')
	local cbound
	cbound=$(awk -v i="$issue_ms" -v r="$rtt" -v n="$client_round_trips" 'BEGIN { printf "%.2f", 2 * i + n * r }')
	local rd rc rr
	rd=$(printf '%s\n' "${devca_rates[@]}" | median)
	rc=$(printf '%s\n' "${caddy_rates[@]}" | median)
	rr=$(printf '%s\n' "${load_ratios[@]}" | median)

	echo
	echo "devca acme vs Caddy $(caddy version | awk '{ print $1 }') acme_server, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(go version | awk '{ print $3 }'), lego $(dpkg-query -W -f '${Version}' lego 2>/dev/null || echo '?')"
	echo
	printf '%-28s %-22s %-22s %-12s %-9s %s\n' figure "devca median (spread)" "caddy median (spread)" devca/caddy goal ""
	printf '%-28s %-22s %-22s %-12s %-9s %s\n' "lego, one certificate, ms" \
		"$(printf '%.1f (%.1f-%.1f)' "$md" "$(hf "$work/lego.csv" devca min)" "$(hf "$work/lego.csv" devca max)")" \
		"$(printf '%.1f (%.1f-%.1f)' "$mc" "$(hf "$work/lego.csv" caddy min)" "$(hf "$work/lego.csv" caddy max)")" \
		"$(printf '%.2fx' "$lr")" "<=1.00x" "$(verdict "$lr" 1)"
	# Throughput: higher is better, so the goal is devca/caddy >= 1.
	printf '%-28s %-22s %-22s %-12s %-9s %s\n' "certs/s, $clients clients" \
		"$(printf '%.1f (%s)' "$rd" "$(spread "${devca_rates[@]}")")" "$(printf '%.1f (%s)' "$rc" "$(spread "${caddy_rates[@]}")")" \
		"$(printf '%.2fx' "$rr")" ">=1.00x" "$(verdict 1 "$rr")"
	printf '%-28s %-22s %-22s\n' "  per certificate p50, ms" \
		"$(printf '%.0f (%s)' "$(printf '%s\n' "${devca_p50[@]}" | median)" "$(spread "${devca_p50[@]}")")" \
		"$(printf '%.0f (%s)' "$(printf '%s\n' "${caddy_p50[@]}" | median)" "$(spread "${caddy_p50[@]}")")"
	printf '%-28s %-22s %-22s %-12s\n' "1 client, per cert p50, ms" "$one_devca" "$one_caddy" "$(printf '%.2fx' "$(ratio "$one_devca" "$one_caddy")")"
	printf '%-28s %-22s %-22s\n' "one round trip, ms" "$rtt" "$caddy_rtt"
	echo
	printf 'floor: 2 x devca issue %.2f ms + N round trips x %s ms\n' "$issue_ms" "$rtt"
	printf '%-28s %-22s %-22s %-12s %-9s %s\n' "" devca "floor" devca/floor goal ""
	printf '%-28s %-22s %-22s %-12s %-9s %s\n' "lego, one certificate" "$(printf '%.1f ms' "$md")" "$(printf '%s ms (N=%d)' "$bound" "$round_trips")" \
		"$(printf '%.2fx' "$(ratio "$md" "$bound")")" "<=1.00x" "$(verdict "$md" "$bound")"
	printf '%-28s %-22s %-22s %-12s %-9s %s\n' "1 client, per cert" "$(printf '%.1f ms' "$one_devca")" "$(printf '%s ms (N=%d)' "$cbound" "$client_round_trips")" \
		"$(printf '%.2fx' "$(ratio "$one_devca" "$cbound")")" "<=1.00x" "$(verdict "$one_devca" "$cbound")"
	echo
	printf 'lego: median of %d runs (min-max), a new account each; load: median of %d rounds of %d s,\n' "$runs" "$rounds" "$duration"
	printf 'per-round ratios devca/caddy:%s; 1 client: one run of %d s; round trip: median of 200\n' "$(printf ' %s' "${load_ratios[@]}")" "$duration"
	printf 'POST-as-GET requests; lego includes its own start, two key generations and a new account\n'
	printf 'devca issue: median of %d runs, before the servers start\n' "$((runs * 5))"
}

if [ -n "$inner" ]; then
	run_inner "$inner"
	exit 0
fi

# --- outside: tools, build, then the namespace ----------------------------------

for tool in go lego caddy hyperfine curl openssl unshare ip; do
	command -v "$tool" >/dev/null || die "$tool is not installed" "apt-get install golang lego caddy hyperfine curl openssl util-linux iproute2"
done
acme_netns

cd "$(dirname "$0")/.."
bench_workdir devca-bench-acme
# hyperfine -N splits command lines at spaces.
case $work in *[[:space:]\'\"\\]*) die "temporary folder $work has a space or quote in its name" "set TMPDIR to a plain path" ;; esac
trust_state >"$work/trust.before"

say "building devca and bench/acme/load in $work"
CGO_ENABLED=0 go build -trimpath -o "$work/bin/devca" ./cmd/devca || die "building devca failed"
CGO_ENABLED=0 go build -trimpath -o "$work/bin/load" ./bench/acme/load || die "building bench/acme/load failed"

acme_hosts "$work/hosts" "bench.test" "$clients"
caddy_acme_config "$work/Caddyfile"

"${ns[@]}" "$0" "${opts[@]}" --inner "$work" || die "the benchmark did not finish (see above)"

trust_report "$work/trust.before"
exit 0
