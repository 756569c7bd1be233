#!/bin/bash
# The test suite: BPF unit tests, then every integration test in its own
# namespaces.  Last line: "N passed, N failed, N skipped"; exit 1 on failure.
#   tests/run.sh [PATTERN]   runs the integration tests whose name matches
# The integration phase ends with uplink_leak_check: every masquerading
# topology's uplink was captured throughout (tests/integ/lib.sh), and no
# packet from qnat-bpf carried an address of the masquerade subnet, nor
# (issue 14) of a --masq6 prefix.
# BUILD=DIR: the binaries' directory (build).  FUZZ_TEST_SECS: the fuzzing
# run's length (25).  SANITIZE=1 (make test SANITIZE=1): the binaries carry
# ASan+UBSan; every process reports into a log directory (the daemonised
# supervisor's stderr is /dev/null), and any report fails the run.
set -u
cd "$(dirname "$0")/.."
pattern=${1:-}
passed=0 failed=0 skipped=0
logs=$(mktemp -d /tmp/qnat-tests.XXXXXX)
trap 'rm -rf "$logs"' EXIT
BUILD=${BUILD:-build}
export QNAT=${QNAT:-$PWD/$BUILD/qnat-bpf} TAPRELAY=${TAPRELAY:-$PWD/$BUILD/taprelay}
export FLOWGEN=${FLOWGEN:-$PWD/$BUILD/flowgen}
export FRAGSEND=${FRAGSEND:-$PWD/$BUILD/fragsend}
if [ "${SANITIZE:-}" = 1 ]; then
	san=$(mktemp -d /tmp/qnat-sanitizers.XXXXXX)
	chmod 1777 "$san"
	export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:log_path=$san/asan:${ASAN_OPTIONS:-}"
	export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$san/ubsan:${UBSAN_OPTIONS:-}"
fi

if [ "$(id -u)" != 0 ]; then
	echo "tests/run.sh: the tests load BPF programs and build namespaces: run them as root" >&2
	exit 1
fi

echo "== unit tests (BPF_PROG_TEST_RUN)"
"$BUILD/test_progs" >"$logs/unit" 2>&1
rc=$?
grep -E '^(ok|FAIL)' "$logs/unit" | sed 's/^/  /'
summary=$(tail -n 1 "$logs/unit")
if [[ $summary =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
	passed=$((passed + BASH_REMATCH[1]))
	failed=$((failed + BASH_REMATCH[2]))
else
	failed=$((failed + 1))
fi
if [ $rc -ne 0 ]; then
	grep -vE '^ok' "$logs/unit" | head -40 | sed 's/^/    /'
	[ "$failed" -gt 0 ] || failed=1
fi

# The fuzzer: a short run through every program, one pass/fail entry.
if [ -z "$pattern" ] || [[ fuzz_bpf == *$pattern* ]]; then
	echo "== fuzzing (libFuzzer through BPF_PROG_TEST_RUN)"
	if [ ! -x "$BUILD/fuzz/qnat_fuzz" ]; then
		skipped=$((skipped + 1))
		echo "  skip fuzz_bpf: $BUILD/fuzz/qnat_fuzz not built (clang's libFuzzer runtime: libclang-rt-14-dev)"
	else
		start=$(date +%s)
		# Always sanitized, it reports on its own output, not into $san.
		env -u ASAN_OPTIONS -u UBSAN_OPTIONS BUILD="$BUILD" \
			tests/fuzz/fuzz.sh -q -t "${FUZZ_TEST_SECS:-25}" >"$logs/fuzz" 2>&1
		rc=$?
		secs=$(($(date +%s) - start))
		res=$(tail -n 1 "$logs/fuzz")
		if [ $rc -eq 0 ] && [[ $res =~ ^fuzz:\ ([0-9]+)\ inputs.*\(([0-9]+)/s\) ]]; then
			passed=$((passed + 1))
			echo "  ok   fuzz_bpf (${secs}s, ${BASH_REMATCH[1]} inputs, ${BASH_REMATCH[2]}/s)"
		else
			failed=$((failed + 1))
			echo "  FAIL fuzz_bpf (${secs}s, exit $rc)"
			tail -n 40 "$logs/fuzz" | sed 's/^/    /'
		fi
	fi
fi

echo "== integration tests (network namespaces)"
# Each test's uplink captures (tests/integ/lib.sh) land here, one file each.
export QNAT_UPLINK_CAPTURES=$logs/uplink
mkdir -p "$QNAT_UPLINK_CAPTURES"
masq_tests=() masq_passed=() pending=()
# One test's run, in the background: its log and "RC SECS" land in $logs.
run_one() {
	local start rc
	start=$(date +%s)
	timeout --kill-after=10 300 bash "$1" >"$logs/$2" 2>&1
	rc=$?
	echo "$rc $(($(date +%s) - start))" >"$logs/$2.rc"
}
# Report the tests that have finished, in the order they started.
reap() {
	local name rc secs left=()
	for name in "${pending[@]}"; do
		if [ ! -e "$logs/$name.rc" ]; then
			left+=("$name")
			continue
		fi
		read -r rc secs <"$logs/$name.rc"
		case $rc in
		0) passed=$((passed + 1)); echo "  ok   $name (${secs}s)"; [[ " ${masq_tests[*]} " == *" $name "* ]] && masq_passed+=("$name") ;;
		77) skipped=$((skipped + 1)); echo "  skip $name: $(grep -m1 SKIP "$logs/$name" | sed 's/.*SKIP: //')" ;;
		*) failed=$((failed + 1)); echo "  FAIL $name (${secs}s, exit $rc)"; tail -n 30 "$logs/$name" | sed 's/^/    /' ;;
		esac
	done
	pending=("${left[@]}")
}
# TEST_JOBS tests at once (default 2): every test has namespaces, names and
# state of its own, and most of a test's time is waiting.  Their waits for
# the data plane (attach, a supervisor's pass) allow for the other's load.
jobs_max=${TEST_JOBS:-2}
for t in tests/integ/test_*.sh; do
	name=$(basename "$t" .sh)
	[ -n "$pattern" ] && [[ $name != *$pattern* ]] && continue
	# topo_init (diff_mode calls it) builds a masquerading topology; bridged tests do not.
	grep -qE '\b(topo_init|diff_mode)\b' "$t" && masq_tests+=("$name")
	# A test that boots a QEMU guest (TCG: all the CPU it can get) runs alone.
	if grep -q 'qemu-system\|run-guest' "$t"; then
		wait
		reap
		pending+=("$name")
		run_one "$t" "$name"
		reap
		continue
	fi
	while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; done
	reap
	run_one "$t" "$name" &
	pending+=("$name")
done
wait
reap

# Issue 3: no packet with an address inside the masquerade subnet ever left
# an uplink during the whole run.  Only qnat-bpf's captures count; the
# differential suite's iptables MASQUERADE runs are reported alongside.
if [ ${#masq_tests[@]} -gt 0 ]; then
	declare -A sum=()
	for f in "$QNAT_UPLINK_CAPTURES"/*; do
		[ -e "$f" ] || continue
		read -r _ kind n src qsrc qdst n6 src6 qsrc6 qdst6 <"$f"
		for k in caps:1 pkts:$n src:$src qsrc:$qsrc qdst:$qdst pkts6:${n6:-0} src6:${src6:-0} qsrc6:${qsrc6:-0} \
			qdst6:${qdst6:-0}; do
			sum[$kind.${k%:*}]=$((${sum[$kind.${k%:*}]:-0} + ${k#*:}))
		done
	done
	missing=()
	for name in "${masq_passed[@]}"; do
		compgen -G "$QNAT_UPLINK_CAPTURES/$name.*" >/dev/null || missing+=("$name")
	done
	leaks=$((${sum[qnat.src]:-0} + ${sum[qnat.qsrc]:-0} + ${sum[qnat.qdst]:-0}))
	leaks6=$((${sum[qnat.src6]:-0} + ${sum[qnat.qsrc6]:-0} + ${sum[qnat.qdst6]:-0}))
	res="${sum[qnat.caps]:-0} captures, ${sum[qnat.pkts]:-0} packets out of the uplinks, $leaks with an address inside the masquerade subnet"
	res+="; IPv6: ${sum[qnat.pkts6]:-0} packets, $leaks6 with an address inside a --masq6 prefix"
	[ -z "${sum[kernel.caps]:-}" ] || res+="; iptables MASQUERADE runs (not counted): ${sum[kernel.caps]} captures, \
${sum[kernel.pkts]} packets, inside the subnet: ${sum[kernel.src]} sources, ${sum[kernel.qsrc]} quoted sources, \
${sum[kernel.qdst]} quoted destinations; IPv6: ${sum[kernel.pkts6]} packets, inside a --masq6 prefix: \
${sum[kernel.src6]} sources, ${sum[kernel.qsrc6]} quoted sources, ${sum[kernel.qdst6]} quoted destinations"
	if [ $((leaks + leaks6)) = 0 ] && [ ${#missing[@]} = 0 ]; then
		passed=$((passed + 1))
		echo "  ok   uplink_leak_check ($res)"
	else
		failed=$((failed + 1))
		echo "  FAIL uplink_leak_check ($res)"
		[ ${#missing[@]} = 0 ] || echo "    no uplink capture from: ${missing[*]}"
	fi
	# The packets themselves (the first 20 of each capture), MASQUERADE's too.
	for f in "$QNAT_UPLINK_CAPTURES"/*; do
		[ -e "$f" ] && [ "$(wc -l <"$f")" -gt 1 ] || continue
		echo "    $(basename "$f"):"
		tail -n +2 "$f" | sed 's/^/      /'
	done
fi

if [ "${SANITIZE:-}" = 1 ]; then
	echo "== sanitizers (ASan, LSan, UBSan reports of every process)"
	reports=$(find "$san" -type f | sort)
	if nm "$QNAT" 2>/dev/null | grep -q __asan_init && [ -z "$reports" ]; then
		passed=$((passed + 1))
		echo "  ok   sanitizer_reports (none)"
		rm -rf "$san"
	else
		failed=$((failed + 1))
		if [ -z "$reports" ]; then
			echo "  FAIL sanitizer_reports: $QNAT is not built with ASan (make test SANITIZE=1)"
		else
			echo "  FAIL sanitizer_reports: $(echo "$reports" | wc -l) reports, kept in $san"
			for f in $reports; do
				echo "    == $(basename "$f")"
				grep -E "ERROR|SUMMARY|runtime error|^    #[0-9]+ " "$f" | head -25 | sed 's/^/    /'
			done
		fi
	fi
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
