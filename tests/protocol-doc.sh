#!/bin/sh
# protocol-doc: doc/jobd-protocol.7 keeps up with the code.
#
# - every op of the op table in daemon/ops.c has a ".SS OP" subsection,
#   and every ".SS" under OPERATIONS is an op of that table;
# - every error code of PROTO_ERRORS (lib/proto.h, expanded by lib/proto.c)
#   has a ".B CODE" entry under ERRORS, and every entry there is a code;
# - groff formats the page without a single warning.
#
# Run by `make check` with $srcdir set; exits 0 (pass), 1 (fail), 77 (the
# page is complete but groff is missing, so the formatting was not checked)
# or 99 (the sources could not be read).
set -u

srcdir=${srcdir:-.}
page=$srcdir/doc/jobd-protocol.7
ops_c=$srcdir/daemon/ops.c
proto_h=$srcdir/lib/proto.h
proto_c=$srcdir/lib/proto.c

for f in "$page" "$ops_c" "$proto_h" "$proto_c"; do
	if [ ! -r "$f" ]; then
		echo "protocol-doc: cannot read $f" >&2
		exit 99
	fi
done

# The op table: the entries between "} ops[] = {" and "};".  An entry that
# does not look like {"name", op_handler, ...} means this parser is out of
# date, which must not pass for "no ops".
ops=$(awk '
	/^} ops\[\] = \{/ { table = 1; next }
	table && /^};/ { table = 0; next }
	table && /op_/ {
		if (match($0, /\{"[a-z_]+", op_/) == 0) {
			print "UNPARSED: " $0
			next
		}
		name = substr($0, RSTART + 2, RLENGTH - 2)
		sub(/", op_$/, "", name)
		print name
	}' "$ops_c")
codes=$(cat "$proto_h" "$proto_c" |
    sed -n 's/^[[:space:]]*E([A-Z0-9_]*, "\([a-z0-9_]*\)").*/\1/p')

case $ops in
*UNPARSED*)
	echo "protocol-doc: cannot parse the op table in $ops_c:" >&2
	echo "$ops" | grep UNPARSED >&2
	exit 99
	;;
esac
# A few that must be there: if these are missing, the parsing is broken.
for must in submit get wait; do
	if ! echo "$ops" | grep -qx "$must"; then
		echo "protocol-doc: op '$must' not found in $ops_c" >&2
		exit 99
	fi
done
for must in bad_json bad_request internal; do
	if ! echo "$codes" | grep -qx "$must"; then
		echo "protocol-doc: code '$must' not found in $proto_h" >&2
		exit 99
	fi
done

# The lines of one .SH section of the page (up to the next .SH).
section() {
	awk -v name="$1" '
		/^\.SH / { inside = ($0 == ".SH " name); next }
		inside' "$page"
}

failed=0

# OPERATIONS: the ".SS" headings, with any quotes dropped.
documented_ops=$(section OPERATIONS | sed -n 's/^\.SS "*\([^" ]*\).*/\1/p')
for op in $ops; do
	if ! echo "$documented_ops" | grep -qx "$op"; then
		echo "protocol-doc: op '$op' (daemon/ops.c) has no" \
		    "'.SS $op' under OPERATIONS in doc/jobd-protocol.7" >&2
		failed=1
	fi
done
for op in $documented_ops; do
	if ! echo "$ops" | grep -qx "$op"; then
		echo "protocol-doc: '.SS $op' under OPERATIONS is not an op" \
		    "of daemon/ops.c" >&2
		failed=1
	fi
done

# ERRORS: the tag of each .TP entry.
documented_codes=$(section ERRORS |
    awk 'tag { if (sub(/^\.B /, "")) print; tag = 0; next }
	/^\.TP/ { tag = 1 }')
for code in $codes; do
	if ! echo "$documented_codes" | grep -qx "$code"; then
		echo "protocol-doc: error code '$code' (lib/proto.h) has no" \
		    "'.B $code' entry under ERRORS in doc/jobd-protocol.7" >&2
		failed=1
	fi
done
for code in $documented_codes; do
	if ! echo "$codes" | grep -qx "$code"; then
		echo "protocol-doc: '$code' under ERRORS is not an error code" \
		    "of lib/proto.h" >&2
		failed=1
	fi
done

if [ "$failed" -ne 0 ]; then
	exit 1
fi
echo "protocol-doc: $(echo "$ops" | wc -w) ops and" \
    "$(echo "$codes" | wc -w) error codes documented"

if ! command -v groff >/dev/null 2>&1; then
	echo "protocol-doc: groff not found: formatting not checked (SKIP)"
	exit 77
fi
warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
if [ -n "$warnings" ]; then
	echo "protocol-doc: groff warns about doc/jobd-protocol.7:" >&2
	echo "$warnings" >&2
	exit 1
fi
echo "protocol-doc: groff -man -ww: no warnings"
exit 0
