#!/bin/sh
# libjobd-example: doc/examples/jobd-run.c builds against the installed
# libjobd (jobd.h, libjobd.so, libjobd.pc: installed into a scratch
# DESTDIR, found by pkg-config alone) and runs jobs through a real jobd on
# a unix socket in a temporary directory: an exit status comes back, the
# output too, and a jobd that is not there is a clear error.  Exits 0
# (pass) or 1 (fail).
set -u

srcdir=${srcdir:-.}
for v in JOBD LIBJOBD_BUILDDIR LIBJOBD_CC LIBJOBD_LIBDIR; do
	eval "val=\${$v:-}"
	if [ -z "$val" ]; then
		echo "\$$v missing (run from make check)"
		exit 1
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/libjobd-example.XXXXXX") || exit 1
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid"
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	[ -f "$tmp/jobd.log" ] && sed 's/^/jobd: /' "$tmp/jobd.log"
	exit 1
}

# Install the library's files only, as a package would.
make -s -C "$LIBJOBD_BUILDDIR" DESTDIR="$tmp/root" \
    install-libLTLIBRARIES install-includeHEADERS install-pkgconfigDATA \
    >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "install"; }
pcdir="$tmp/root$LIBJOBD_LIBDIR/pkgconfig"
[ -f "$pcdir/libjobd.pc" ] || fail "no libjobd.pc in $pcdir"
[ -f "$tmp/root$LIBJOBD_LIBDIR/libjobd.so" ] || fail "no libjobd.so"

# pkg-config finds the rest: DESTDIR is its sysroot.
export PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$tmp/root"
pc="pkg-config"
$pc --exists libjobd || fail "pkg-config does not find libjobd"
cflags=$($pc --cflags libjobd) && libs=$($pc --libs libjobd) ||
    fail "pkg-config --cflags --libs libjobd"
case $cflags in *"$tmp/root"*) ;; *) fail "cflags not relocated: $cflags" ;; esac
# shellcheck disable=SC2086
$LIBJOBD_CC -std=c11 -pedantic -Wall -Wextra -Werror $cflags \
    -o "$tmp/jobd-run" "$srcdir/doc/examples/jobd-run.c" $libs \
    >"$tmp/cc.log" 2>&1 || { cat "$tmp/cc.log"; fail "example does not build"; }
export LD_LIBRARY_PATH="$tmp/root$LIBJOBD_LIBDIR"
ldd "$tmp/jobd-run" | grep -q "$tmp/root.*libjobd.so" ||
    fail "example not linked with the installed library: $(ldd "$tmp/jobd-run")"

# A jobd that is not there.
JOBD_ADDR="unix:$tmp/nothere.sock" "$tmp/jobd-run" true >"$tmp/out" 2>"$tmp/err"
st=$?
[ "$st" = 2 ] || fail "no jobd: exit $st"
grep -q "cannot connect to unix:$tmp/nothere.sock" "$tmp/err" ||
    fail "no jobd: $(cat "$tmp/err")"

# A real one, ready when it says so (deadline 20 s).
mkdir "$tmp/state"
"$JOBD" --config none --socket "$tmp/jobd.sock" --state-dir "$tmp/state" \
    >"$tmp/jobd.log" 2>&1 &
pid=$!
i=0
until grep -q " ready: " "$tmp/jobd.log"; do
	i=$((i + 1))
	[ $i -le 400 ] && kill -0 "$pid" 2>/dev/null || fail "jobd not ready"
	sleep 0.05
done
export JOBD_ADDR="unix:$tmp/jobd.sock"

"$tmp/jobd-run" echo "hello, libjobd" >"$tmp/out" 2>"$tmp/err"
st=$?
[ "$st" = 0 ] || fail "echo: exit $st: $(cat "$tmp/err")"
[ "$(cat "$tmp/out")" = "hello, libjobd" ] || fail "echo: $(cat "$tmp/out")"
grep -q "^jobd-run: job 1 succeeded after 1 attempt(s)$" "$tmp/err" ||
    fail "echo: $(cat "$tmp/err")"
grep -q "jobd has taken 1 job(s)" "$tmp/err" || fail "stats: $(cat "$tmp/err")"

# A failing command: retried once (max_attempts 2), its code comes back.
"$tmp/jobd-run" sh -c 'echo oops >&2; exit 3' >"$tmp/out" 2>"$tmp/err"
st=$?
[ "$st" = 3 ] || fail "exit 3: exit $st: $(cat "$tmp/err")"
grep -q "^oops$" "$tmp/err" || fail "stderr: $(cat "$tmp/err")"
grep -q "^jobd-run: job 2 failed after 2 attempt(s)$" "$tmp/err" ||
    fail "failed job: $(cat "$tmp/err")"

# A command jobd cannot run is jobd's refusal, said as such.
"$tmp/jobd-run" "" >"$tmp/out" 2>"$tmp/err"
st=$?
[ "$st" = 2 ] || fail "empty command: exit $st"
grep -q "^jobd-run: submit: bad_request: " "$tmp/err" ||
    fail "empty command: $(cat "$tmp/err")"

kill "$pid" && wait "$pid"
st=$?
pid=
[ "$st" = 0 ] || fail "jobd exited $st"
echo "libjobd example: built with $cflags $libs; 4 runs as expected"
exit 0
