#!/bin/bash
# bench/serve-cpu.sh measures what `devca serve` costs over a bare
# net/http.FileServer (bench/serve/fileserver) with the same certificate, as
# ratios devca / net/http of the server's CPU time (lower is better):
#
#   h1 1KiB     CPU per request, HTTP/1.1 keep-alive, 1 KiB file (wrk)
#   h2 1KiB     CPU per request, HTTP/2, same file (h2load -m 10)
#   handshake   CPU per new connection: a full TLS handshake and one request
#               (h2load with as many clients as requests)
#   first response cached   time from exec to the first 200, with the
#                           serve certificate cached
#   first response new      the same on a first start, when devca issues and
#                           caches its serve certificate (the cache is
#                           removed before each start)
#                           both with the server pinned to one core, and
#                           again unpinned (marked *)
#   log on/off  devca with its access log (to a file) over devca --quiet,
#               CPU per request as in h1
#
# Each server runs pinned to one core (taskset) and the load generator on
# another, so CPU time per request is what the server itself spends; it is
# read from /proc (every thread's schedstat, in nanoseconds). Background load
# on a shared machine moves CPU time far less than throughput, but it still
# moves it: every figure is measured ROUNDS times with the servers side by
# side in alternating order, and the table shows each round's ratio, the
# median and the spread. The issue 13 goals are printed next to them.
#
# Everything listens on 127.0.0.1 only and lives in a temporary folder that
# is removed at the end; no trust store is touched. It needs go, wrk, h2load
# (nghttp2-client), curl and taskset (util-linux). It exits 0 once it has
# run, 1 when it cannot run, 2 on a bad command line.

set -euo pipefail

prog=bench/serve-cpu.sh
duration=${DURATION:-3}
rounds=${ROUNDS:-5}
starts=${STARTS:-7}
hs_conns=${HS_CONNS:-500}

usage() {
	cat <<'EOF'
Usage:
    bench/serve-cpu.sh [--duration SECONDS] [--rounds N] [--starts N]

Compares devca serve with a bare net/http FileServer on loopback, in server
CPU time per request (HTTP/1.1, HTTP/2, TLS handshakes), time to first
response (certificate cached and first start) and the access log's cost,
printing the ratios of each round, their median and spread. About two
minutes with the defaults.

Options:
    --duration S   seconds per load test (default 3, or $DURATION)
    --rounds N     rounds of every load test (default 5, or $ROUNDS)
    --starts N     starts per server for time to first response (default 7, or $STARTS)
    -h, --help     show this help
EOF
}

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
posint() { case $2 in '' | 0 | *[!0-9]*) die "$1 must be a positive whole number" ;; esac }

while [ $# -gt 0 ]; do
	case $1 in
	--duration | --rounds | --starts)
		[ $# -ge 2 ] || { usage >&2; exit 2; }
		case $1 in --duration) duration=$2 ;; --rounds) rounds=$2 ;; --starts) starts=$2 ;; esac
		shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) printf '%s: error: unknown argument %q\n' "$prog" "$1" >&2; usage >&2; exit 2 ;;
	esac
done
posint --duration "$duration"
posint --rounds "$rounds"
posint --starts "$starts"

for tool in go wrk h2load curl taskset; do
	command -v "$tool" >/dev/null || die "$tool is not installed" "apt-get install wrk nghttp2-client curl util-linux (and golang)"
done
[ "$(nproc)" -ge 2 ] || die "this needs two cores: one for the server, one for the load" "run it on a machine with two or more cores"
# The server gets the last core, the load generator the one before it.
server_cpu=$(($(nproc) - 1))
load_cpu=$((server_cpu - 1))

cd "$(dirname "$0")/.."
bench_workdir devca-bench-cpu

serve_setup "$work"
site=$work/site

declare -A port=([devca]=18453 [devlog]=18454 [nethttp]=18456)
start_cmd() { # name -> the server's command line, one word per line
	case $1 in
	devca) printf '%s\n' "$work/devca" serve --quiet --addr "127.0.0.1:${port[devca]}" "$site" ;;
	devlog) printf '%s\n' "$work/devca" serve --addr "127.0.0.1:${port[devlog]}" "$site" ;;
	nethttp) printf '%s\n' "$work/fileserver" "127.0.0.1:${port[nethttp]}" "$site" "$work/cert.pem" "$work/key.pem" ;;
	esac
}
url() { echo "https://127.0.0.1:${port[$1]}/1k.bin"; }

# Time to first response, one server at a time. Pinned like the load tests,
# any work the server does beside answering (checks run after it starts
# listening) delays the answer; unpinned, a second core can hide it. Both
# are shown. firstreq prints one start's milliseconds; the median is taken
# here so that the cache can be removed between first starts.
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
first() { # name pin|free [fresh]
	local argv pin=()
	mapfile -t argv < <(start_cmd "$1")
	[ "$2" = free ] || pin=(taskset -c "$server_cpu")
	for _ in $(seq "$starts"); do
		[ -z "${3:-}" ] || rm -rf "$DEVCA_HOME/serve"
		"$work/firstreq" -runs 1 "$(url "$1")" -- "${pin[@]}" "${argv[@]}"
	done | median
}
first devca pin >/dev/null # issue and cache devca's certificate
say "time to first response ($starts starts each)"
declare -A fr
for round in 1 2; do
	# Two alternating passes, so that a burst of background load does not
	# land on one server only; each keeps the lower median.
	for pin in pin free; do
		for s in devca nethttp devca-new; do
			case $s in devca-new) v=$(first devca "$pin" fresh) ;; *) v=$(first "$s" "$pin") ;; esac
			k=$s,$pin
			if [ -z "${fr[$k]:-}" ] || awk -v a="$v" -v b="${fr[$k]}" 'BEGIN { exit !(a < b) }'; then fr[$k]=$v; fi
		done
	done
done
first devca pin >/dev/null # leave a cached certificate for the load tests

declare -A pid_of

for s in devca devlog nethttp; do
	mapfile -t argv < <(start_cmd "$s")
	taskset -c "$server_cpu" "${argv[@]}" >"$work/$s.out" 2>&1 &
	pid_of[$s]=$!
	pids+=("${pid_of[$s]}")
done
for s in devca devlog nethttp; do
	ok=
	for _ in $(seq 100); do
		if curl -sk -o /dev/null --max-time 1 "$(url "$s")"; then ok=1; break; fi
		sleep 0.1
	done
	[ -n "$ok" ] || die "$s did not start; see its output:" "$(tail -3 "$work/$s.out")"
done

# cpu_ns PID: CPU time of all of PID's threads so far, in nanoseconds.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ t += $1 } END { printf "%.0f", t }'; }

measure() { # kind server -> server CPU microseconds per request
	local pid=${pid_of[$2]} t0 t1 n
	t0=$(cpu_ns "$pid")
	case $1 in
	h1) n=$(taskset -c "$load_cpu" wrk -t1 -c20 -d"${duration}s" "$(url "$2")" | awk '/requests in/ { print $1 }') ;;
	h2) n=$(taskset -c "$load_cpu" h2load -D "$duration" -c 10 -m 10 -t 1 "$(url "$2")" 2>/dev/null |
		awk '/^requests:/ { print $8 }') ;;
	hs) # As many clients as requests: each makes one full TLS handshake
		# (no session resumption) and one request.
		n=$(taskset -c "$load_cpu" h2load -n "$hs_conns" -c "$hs_conns" -t 1 "$(url "$2")" 2>/dev/null |
			awk '/^requests:/ { print $8 }') ;;
	esac
	t1=$(cpu_ns "$pid")
	awk -v t=$((t1 - t0)) -v n="${n:-0}" 'BEGIN { if (n > 0) printf "%.2f", t / 1e3 / n }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b + 0 == 0) print "-"; else printf "%.3f", a / b }'; }
declare -A rows
for kind in h1 h2 hs log; do
	for round in $(seq "$rounds"); do
		case $kind in log) pair=(devlog devca) m=h1 ;; *) pair=(devca nethttp) m=$kind ;; esac
		# Alternate which server goes first.
		if [ $((round % 2)) -eq 0 ]; then pair=("${pair[1]}" "${pair[0]}"); fi
		say "$kind: round $round of $rounds"
		declare -A v=()
		for s in "${pair[@]}"; do v[$s]=$(measure "$m" "$s"); done
		case $kind in
		log) r=$(ratio "${v[devlog]}" "${v[devca]}") ;;
		*) r=$(ratio "${v[devca]}" "${v[nethttp]}") ;;
		esac
		rows[$kind]="${rows[$kind]:-} $r"
		say "$kind: ${pair[0]} ${v[${pair[0]}]} us, ${pair[1]} ${v[${pair[1]}]} us, ratio $r"
		unset v
	done
done

summary() { # label goal ratios...
	local label=$1 goal=$2
	shift 2
	printf '%s\n' "$@" | sort -g | awk -v label="$label" -v goal="$goal" '
		{ v[NR] = $1; line = line sprintf(" %.2f", $1) }
		END {
			med = v[int((NR + 1) / 2)]
			printf "%-22s %6.2fx  %.2f-%.2f  %-6s %s  (rounds:%s)\n", label, med, v[1], v[NR],
				"<=" goal, (med <= goal ? "PASS" : "FAIL"), line
		}'
}
printf '\n%-22s %7s  %-9s  %-6s %s\n' figure median spread goal ""
# shellcheck disable=SC2086
{
	summary "h1 1KiB CPU/req" 1.10 ${rows[h1]}
	summary "h2 1KiB CPU/req" 1.10 ${rows[h2]}
	summary "handshake CPU/conn" 1.05 ${rows[hs]}
	summary "access log on/off" 1.10 ${rows[log]}
}
for pin in pin free; do
	for s in devca devca-new; do
		label="first response $([ "$s" = devca ] && echo cached || echo new)"
		[ "$pin" = pin ] || label="$label*"
		r=$(ratio "${fr[$s,$pin]}" "${fr[nethttp,$pin]}")
		printf '%-22s %6.2fx  %s vs %s ms  %-6s %s\n' "$label" "$r" "${fr[$s,$pin]}" "${fr[nethttp,$pin]}" "<=1.30" \
			"$(awk -v r="$r" 'BEGIN { print (r <= 1.3 ? "PASS" : "FAIL") }')"
	done
done
printf '\nratios are devca / net/http (log: devca with its access log / devca --quiet), server CPU time\n'
printf 'per request on core %d, load on core %d, %d rounds of %s s; first response: lower median of\n' "$server_cpu" "$load_cpu" "$rounds" "$duration"
printf '2 passes of %d starts, the server pinned to core %d (* unpinned); %d cores, %s\n' "$starts" "$server_cpu" "$(nproc)" "$(go version | awk '{print $3}')"
