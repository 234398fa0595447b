#!/bin/sh
# bench/acme-scale.sh checks the goal of issue 11 that issuance cost stays flat
# as certificates accumulate:
#
#     time to obtain with 10,000 certificates in the store <= 1.2 x empty store
#
# on both ACME backends (bbolt and PostgreSQL), through the front end with
# golang.org/x/crypto/acme (BenchmarkObtainStoreSize in ca/acme/caissuer), and
# the same for the CA alone (BenchmarkIssueRecordSize in ca): signing a request
# to no files as the ACME server does, and re-issuing over the files of the
# previous issuance as `devca issue` does, with an empty record against one of
# 10,000 entries. Each benchmark alternates between the empty and the full
# server so that both see the same machine load.
#
# It prints each time per certificate, the ratio and PASS or FAIL, and exits 0
# either way: a benchmark never fails CI. It exits 1 when it cannot run (a
# benchmark does not build or fails), and 2 on a bad command line. Without
# PostgreSQL (Debian's postgresql package) the PostgreSQL line says so.
# Everything happens in the tests' temporary folders, removed at the end.

set -eu

prog=bench/acme-scale.sh
count=200
goal=1.2

usage() {
	cat <<'USAGE'
Usage:
    bench/acme-scale.sh [--count N]

Options:
    --count N   certificates obtained from each server (default 200)
USAGE
}

while [ $# -gt 0 ]; do
	case $1 in
	--count)
		[ $# -ge 2 ] || { usage >&2; exit 2; }
		count=$2
		shift 2
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		printf '%s: error: unknown argument %s\n' "$prog" "$1" >&2
		usage >&2
		exit 2
		;;
	esac
done
case $count in '' | *[!0-9]*) printf '%s: error: --count takes a number\n' "$prog" >&2; exit 2 ;; esac

cd "$(dirname "$0")/.."
out=$(mktemp "${TMPDIR:-/tmp}/acme-scale.XXXXXX")
trap 'rm -f "$out"' EXIT

printf '%s: obtaining %s certificates from each server (about a minute)\n' "$prog" "$count" >&2
if ! go test ./ca/acme/caissuer ./ca -run '^$' -bench 'ObtainStoreSize|IssueRecordSize' \
	-benchtime "${count}x" -v >"$out" 2>&1; then
	cat "$out" >&2
	printf '%s: error: the benchmarks failed\n' "$prog" >&2
	exit 1
fi

# One line per benchmark: name, the two times in ms, the ratio, the verdict.
printf '%-44s %10s %10s %7s\n' "" "empty" "10,000" "ratio"
awk -v goal="$goal" '
function row(label, name,   line, e, f, r, i, n, fs) {
	if (!(name in seen)) {
		printf "%-44s %s\n", label, skipped[name] ? "skipped: " skipped[name] : "no result"
		return
	}
	n = split(seen[name], fs, " ")
	for (i = 1; i < n; i++) {
		if (fs[i + 1] == "ns-empty/op") e = fs[i]
		if (fs[i + 1] == "ns-10k/op") f = fs[i]
		if (fs[i + 1] == "x10k/empty") r = fs[i]
	}
	printf "%-44s %8.2f ms %7.2f ms %6.2fx  %s\n", label, e / 1e6, f / 1e6, r, (r <= goal ? "PASS" : "FAIL") " (goal <= " goal "x)"
}
/^Benchmark[A-Za-z]+\/[a-z]+-[0-9]+ / { name = $1; sub(/-[0-9]+$/, "", name); seen[name] = $0 }
/^[ \t]+[^ :]+\.go:[0-9]+: / { said = $0; sub(/^[ \t]+[^:]+:[0-9]+: /, "", said) }
/--- SKIP: Benchmark/ { skipped[$3] = said }
END {
	row("ACME obtain, bbolt", "BenchmarkObtainStoreSize/bbolt")
	row("ACME obtain, PostgreSQL", "BenchmarkObtainStoreSize/postgres")
	row("CA alone: SignCSR to no files (ACME path)", "BenchmarkIssueRecordSize/acme")
	row("CA alone: re-issue over files (devca issue)", "BenchmarkIssueRecordSize/issue")
}' "$out"
