#!/bin/sh
# systemd-units: the service and socket units are valid and the service's
# sandbox scores "OK" (2.0 or better) in `systemd-analyze security`.
#
# The unit as `make` generated it (systemd/jobd.service in the build
# tree) is checked with ExecStart= pointing at the jobd just built, so the
# check runs before anything is installed; the drop-in for several users
# is checked too.  Exits 0 (pass), 1 (fail), 77 (no systemd-analyze).
set -u

srcdir=${srcdir:-.}
unit=systemd/jobd.service
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "systemd-analyze not installed: units not checked"
	exit 77
fi
if [ ! -f "$unit" ] || [ -z "${JOBD:-}" ]; then
	echo "$unit or \$JOBD missing (run from make check)"
	exit 1
fi
work=$(mktemp -d /tmp/jobd-units.XXXXXX)
trap 'rm -rf "$work"' EXIT
sed "s|^ExecStart=[^ ]*/jobd|ExecStart=$JOBD|" "$unit" >"$work/jobd.service"
cp "$srcdir/systemd/jobd.socket" "$work/jobd.socket"
fail=0

if ! (cd "$work" && systemd-analyze verify --man=no ./jobd.service \
    ./jobd.socket) >"$work/verify.out" 2>&1; then
	cat "$work/verify.out"
	echo "FAIL: systemd-analyze verify"
	fail=1
fi

# The score of the default unit.
(cd "$work" && systemd-analyze security --offline=true ./jobd.service) \
    >"$work/security.out" 2>&1
score=$(sed -n 's/.*Overall exposure level for jobd.service: \([0-9.]*\).*/\1/p' \
    "$work/security.out")
echo "systemd-analyze security: jobd.service exposure $score"
if [ -z "$score" ] || ! awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then
	tail -20 "$work/security.out"
	echo "FAIL: exposure ${score:-?} is above 2.0"
	fail=1
fi

# With the drop-in for several users (root with three capabilities).
mkdir "$work/jobd.service.d"
cp "$srcdir/systemd/jobd.service.d/multiuser.conf" "$work/jobd.service.d/"
if ! (cd "$work" && systemd-analyze verify --man=no ./jobd.service) \
    >"$work/verify2.out" 2>&1; then
	cat "$work/verify2.out"
	echo "FAIL: systemd-analyze verify with the drop-in"
	fail=1
fi
(cd "$work" && systemd-analyze security --offline=true ./jobd.service) \
    2>&1 | sed -n 's/.*Overall exposure level for jobd.service: /with the multiuser drop-in: /p'
exit $fail
