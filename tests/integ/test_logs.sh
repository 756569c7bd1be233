#!/bin/bash
# Logs you can find: without a syslog (/dev/log missing or not accepting),
# the daemonised supervisor logs to /var/lib/qnat-bpf/netns-NAME/BRIDGE/
# qnat-bpf.log; `the supervisor failed to start` names that file; `status`
# shows the last SIGHUP reload's time and result, ok or the error.
. "$(dirname "$0")/lib.sh"
need unshare jq

topo_init
: >"$WORK/not-a-socket"
# qnat-bpf in the host namespace with /dev/log hidden (a mount namespace of its own).
nolog() {
	in_host unshare -m sh -c "[ ! -e /dev/log ] || mount --bind $WORK/not-a-socket /dev/log; exec $QNAT \"\$@\"" - "$@"
}
conf=$WORK/virbr0.conf
printf 'masq %s\nforward tcp:8080:192.168.122.89:80\n' "$SUBNET" >"$conf"
nolog attach "$BR" --config "$conf" || fail "attach --config"
logf=/var/lib/qnat-bpf/netns-$NS_HOST/$BR/qnat-bpf.log
[ "$(stat -c %a:%U "$logf" 2>/dev/null)" = 600:root ] || fail "no log file $logf (600 root): $(ls -l "$logf" 2>&1)"
qnat status "$BR" | grep -q "last reload" && fail "a reload shown before any SIGHUP"

# A good reload: ok, in status and in the log.
pid=$(qnat status "$BR" --json | jq -r '.[0].supervisor_pid')
printf 'masq %s\nforward tcp:9090:192.168.122.89:80\n' "$SUBNET" >"$conf"
kill -HUP "$pid"
wait_for 5 sh -c "ip netns exec $NS_HOST $QNAT status $BR | grep -q 'last reload'" || fail "status shows no reload"
qnat status "$BR" | grep -qE "^  last reload \(SIGHUP\): 20[0-9-]+T[0-9:]+Z ok: $conf reloaded: 1 forwards" ||
	fail "status: $(qnat status "$BR" | grep reload)"
grep -q "SIGHUP: $conf reloaded" "$logf" || fail "the reload is not in $logf: $(cat "$logf")"

# A bad reload: the error, in status and in the log; the running configuration stays.
printf 'masq %s\nbogus-key 1\n' "$SUBNET" >"$conf"
kill -HUP "$pid"
wait_for 5 sh -c "ip netns exec $NS_HOST $QNAT status $BR | grep -q 'last reload.* error: '" || fail "status shows no failed reload: $(qnat status "$BR" | grep reload)"
qnat status "$BR" | grep -qE "last reload .* error: .*$conf:2: unknown option bogus-key.*not reloaded" ||
	fail "status: $(qnat status "$BR" | grep reload)"
[ "$(qnat status "$BR" --json | jq -r '.[0].last_reload.result')" = error ] || fail "status --json last_reload"
grep -q "bogus-key" "$logf" || fail "the failed reload is not in $logf"
qnat forward list "$BR" | grep -q 9090 || fail "the failed reload changed the running forwards"

# The supervisor failing to start names where its log is.
qnat detach "$BR" || fail "detach"
bg in_host socat TCP-LISTEN:9400,bind=127.0.0.1,reuseaddr,fork /dev/null
wait_for 5 in_host socat -u /dev/null TCP:127.0.0.1:9400 || fail "port 9400 holder did not start"
err=$(nolog attach "$BR" --masq "$SUBNET" --metrics-listen 127.0.0.1:9400 2>&1) &&
	fail "attach succeeded with the metrics port taken"
log1=$logf
echo "$err" | grep -qF "the supervisor failed to start" || fail "unexpected error: $err"
echo "$err" | grep -qF "(its log: $log1)" || fail "the error does not name the log: $err"
grep -q "cannot listen for metrics" "$log1" || fail "$log1 lacks the reason: $(cat "$log1" 2>&1)"
pass
