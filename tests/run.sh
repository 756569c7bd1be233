#!/bin/bash
# The test suite: BPF unit tests, then every integration test in its own
# namespaces.  Last line: "N passed, N failed, N skipped"; exit 1 on failure.
#   tests/run.sh [PATTERN]   runs the integration tests whose name matches
set -u
cd "$(dirname "$0")/.."
pattern=${1:-}
passed=0 failed=0 skipped=0
logs=$(mktemp -d /tmp/qnat-tests.XXXXXX)
trap 'rm -rf "$logs"' EXIT

if [ "$(id -u)" != 0 ]; then
	echo "tests/run.sh: the tests load BPF programs and build namespaces: run them as root" >&2
	exit 1
fi

echo "== unit tests (BPF_PROG_TEST_RUN)"
build/test_progs >"$logs/unit" 2>&1
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

echo "== integration tests (network namespaces)"
for t in tests/integ/test_*.sh; do
	name=$(basename "$t" .sh)
	[ -n "$pattern" ] && [[ $name != *$pattern* ]] && continue
	start=$(date +%s)
	timeout --kill-after=10 300 bash "$t" >"$logs/$name" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	case $rc in
	0) passed=$((passed + 1)); echo "  ok   $name (${secs}s)" ;;
	77) skipped=$((skipped + 1)); echo "  skip $name: $(grep -m1 SKIP "$logs/$name" | sed 's/.*SKIP: //')" ;;
	*) failed=$((failed + 1)); echo "  FAIL $name (${secs}s, exit $rc)"; tail -n 30 "$logs/$name" | sed 's/^/    /' ;;
	esac
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
