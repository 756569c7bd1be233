#!/bin/bash
# Runs the data-plane fuzzer (tests/fuzz/fuzz_qnat.c), as root:
#   tests/fuzz/fuzz.sh [-t SECS] [-c CORPUS] [-q] [LIBFUZZER-ARGS...]
# First replays tests/fuzz/regressions/*, then fuzzes for SECS seconds (300)
# from the seed corpus (build/fuzz/seeds, written by build/fuzz/gen_seeds)
# and CORPUS (default: a fresh temporary one; new inputs are kept there).
# A crash leaves its input in build/fuzz/crashes/.  BUILD=DIR: not build/.  -q: only the summary.
# Last line: "fuzz: N inputs in S s (R/s), cov C ft F corpus K, U outcomes".
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
FUZZ=$BUILD/fuzz/qnat_fuzz
SEEDS=$BUILD/fuzz/seeds
secs=300 corpus= quiet=0
while getopts "t:c:q" o; do
	case $o in
	t) secs=$OPTARG ;;
	c) corpus=$OPTARG ;;
	q) quiet=1 ;;
	*) echo "usage: $0 [-t SECS] [-c CORPUS] [-q] [LIBFUZZER-ARGS...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

if [ "$(id -u)" != 0 ]; then
	echo "fuzz.sh: BPF_PROG_TEST_RUN and a private network namespace need root" >&2
	exit 1
fi
if [ ! -x "$FUZZ" ] || [ ! -d "$SEEDS" ]; then
	echo "fuzz.sh: $FUZZ or $SEEDS missing: make fuzz-build" >&2
	exit 1
fi
tmp=$(mktemp -d /tmp/qnat-fuzz.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
[ -n "$corpus" ] || corpus=$tmp/corpus
mkdir -p "$corpus" "$BUILD/fuzz/crashes"
say() { [ "$quiet" = 1 ] || echo "$@"; }

# Every input that once broke an invariant must pass now: all in one
# process, and one by one to name each that fails.
regs=()
for r in tests/fuzz/regressions/*; do
	[ -f "$r" ] && [[ $r != *README* ]] && regs+=("$r")
done
if [ ${#regs[@]} -gt 0 ] && ! "$FUZZ" "${regs[@]}" >"$tmp/reg.log" 2>&1; then
	bad=0
	for r in "${regs[@]}"; do
		"$FUZZ" "$r" >"$tmp/reg.log" 2>&1 && continue
		bad=$((bad + 1))
		echo "regression FAIL $(basename "$r"):"
		grep -A1 "INVARIANT BROKEN\|ERROR:" "$tmp/reg.log" | head -2 | sed 's/^/  /'
	done
	echo "fuzz: $bad of ${#regs[@]} regression inputs fail (tests/fuzz/regressions)"
	exit 1
fi
say "regressions: ${#regs[@]} inputs pass"

say "fuzzing for up to ${secs}s: corpus $corpus, seeds $SEEDS"
t0=$SECONDS
"$FUZZ" -max_total_time="$secs" -max_len=1601 -timeout=10 -print_final_stats=1 \
	-dict=tests/fuzz/qnat.dict -artifact_prefix="$BUILD/fuzz/crashes/" "$@" "$corpus" "$SEEDS" >"$tmp/log" 2>&1
rc=$?
took=$((SECONDS - t0)) # -runs=N may end it before -t
if [ "$quiet" = 1 ]; then
	:
else
	grep -E "^qnat-fuzz|^  |pulse|INITED|DONE|^Done|^stat::" "$tmp/log" | grep -v "^  [0-9a-f]\{4\}:"
fi
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$tmp/log")
last=$(grep -E "^#[0-9]+" "$tmp/log" | tail -n 1)
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
outcomes=$(sed -n 's/^qnat-fuzz: \([0-9]*\) (program, counter) outcomes.*/\1/p' "$tmp/log")
if [ $rc -ne 0 ]; then
	echo "fuzz: FAILED (exit $rc) after ${runs:-?} inputs:"
	grep -A40 "INVARIANT BROKEN\|ERROR: \(libFuzzer\|AddressSanitizer\|LeakSanitizer\)\|runtime error" "$tmp/log" |
		grep -v "^    #[0-9]" | head -60 | sed 's/^/  /'
	grep "Test unit written to" "$tmp/log" | sed 's/^/  /'
	exit 1
fi
echo "fuzz: ${runs:-0} inputs in ${took} s (${rate:-0}/s), cov ${cov:-?} ft ${ft:-?} corpus ${corp:-?}, ${outcomes:-?} outcomes"
