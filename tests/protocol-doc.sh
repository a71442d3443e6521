#!/bin/sh
# protocol-doc: doc/jobd-protocol.7 keeps up with the code.
#
# - every op of the op table in daemon/ops.c has a ".SS OP" subsection,
#   and every ".SS" under OPERATIONS is an op of that table;
# - every error code of PROTO_ERRORS (lib/proto.h, expanded by lib/proto.c)
#   has a ".B CODE" entry under ERRORS, and every entry there is a code;
#   README.md's list of error codes names each one too;
# - every counter, gauge and histogram of COUNTERS_LIST (lib/counters.h)
#   has an entry under COUNTERS, in its subsection ".SS counters",
#   ".SS gauges" or ".SS histograms", and every entry there is one;
# - every job state of state_names (daemon/job.c) has a ".B STATE" entry
#   under JOB STATES, and every entry there is a state;
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
counters_h=$srcdir/lib/counters.h
job_c=$srcdir/daemon/job.c

for f in "$page" "$ops_c" "$proto_h" "$proto_c" "$counters_h" "$job_c" \
    "$srcdir/README.md"; do
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
# The figures: "KIND NAME" lines (KIND counters, gauges or histograms) from
# the C(name, ...), G(name, ...) and H(name, ...) entries of the
# COUNTERS_LIST macro, which ends at its first line without a backslash.
figures=$(awk '
	/^#define COUNTERS_LIST\(/ { list = 1; next }
	list {
		if (match($0, /^[[:space:]]*[CGH]\([a-z0-9_]+,/)) {
			entry = substr($0, RSTART, RLENGTH)
			sub(/^[[:space:]]*/, "", entry)
			kind = substr(entry, 1, 1)
			name = substr(entry, 3, length(entry) - 3)
			print (kind == "C" ? "counters" : \
			    kind == "G" ? "gauges" : "histograms") " " name
		} else if ($0 !~ /^[[:space:]]*"/)
			print "UNPARSED: " $0
		if ($0 !~ /\\$/)
			list = 0
	}' "$counters_h")
# The job states: the strings of state_names[] in daemon/job.c.
states=$(awk '
	/state_names\[\] = \{/ { table = 1; next }
	table && /^};/ { table = 0; next }
	table {
		if (match($0, /\] = "[a-z_]+",/) == 0) {
			print "UNPARSED: " $0
			next
		}
		name = substr($0, RSTART + 5, RLENGTH - 7)
		print name
	}' "$job_c")

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
case $figures$states in
*UNPARSED*)
	echo "protocol-doc: cannot parse $counters_h or $job_c:" >&2
	echo "$figures" "$states" | grep UNPARSED >&2
	exit 99
	;;
esac
for must in "counters jobs_submitted" "gauges jobs_queued" \
    "histograms queue_wait_us"; do
	if ! echo "$figures" | grep -qx "$must"; then
		echo "protocol-doc: '$must' not found in $counters_h" >&2
		exit 99
	fi
done
for must in queued running succeeded; do
	if ! echo "$states" | grep -qx "$must"; then
		echo "protocol-doc: state '$must' not found in $job_c" >&2
		exit 99
	fi
done

# The lines of one .SH section of the page (up to the next .SH).
section() {
	awk -v name="$1" '
		/^\.SH / { inside = ($0 == ".SH " name); next }
		inside' "$page"
}

# The names each .TP entry of a section tags, one per line, after the name
# of the .SS subsection they are in ("-" before the first): ".B NAME", or
# ".BR NAME1 \", \" NAME2 ..." for entries that name several.
tags() {
	section "$1" | awk '
		/^\.SS / { sub(/^\.SS "*/, ""); sub(/".*/, ""); ss = $0; next }
		tag {
			tag = 0
			if (sub(/^\.B /, "")) {
				print ss " " $0
			} else if (sub(/^\.BR /, "")) {
				gsub(/"[^"]*"/, " ")
				for (i = 1; i <= NF; i++)
					print ss " " $i
			}
			next
		}
		/^\.TP/ { tag = 1 }
		BEGIN { ss = "-" }'
}

failed=0

# Say so for each word of $1 (split as IFS says) that is not a line of
# $2; $3 is the message, with @ for the word.
missing() {
	for word in $1; do
		if ! echo "$2" | grep -qx "$word"; then
			echo "protocol-doc: $3" | sed "s|@|$word|g" >&2
			failed=1
		fi
	done
}

# OPERATIONS: the ".SS" headings, with any quotes dropped.
documented_ops=$(section OPERATIONS | sed -n 's/^\.SS "*\([^" ]*\).*/\1/p')
missing "$ops" "$documented_ops" \
    "op '@' (daemon/ops.c) has no '.SS @' under OPERATIONS in doc/jobd-protocol.7"
missing "$documented_ops" "$ops" \
    "'.SS @' under OPERATIONS is not an op of daemon/ops.c"

# ERRORS: the tag of each .TP entry.
documented_codes=$(section ERRORS |
    awk 'tag { if (sub(/^\.B /, "")) print; tag = 0; next }
	/^\.TP/ { tag = 1 }')
missing "$codes" "$documented_codes" \
    "error code '@' (lib/proto.h) has no '.B @' entry under ERRORS in doc/jobd-protocol.7"
missing "$documented_codes" "$codes" \
    "'@' under ERRORS is not an error code of lib/proto.h"
# README.md: the paragraph that starts "Error codes:".
readme_codes=$(awk '/^Error codes:/ { on = 1 } on && /^$/ { on = 0 } on' \
    "$srcdir/README.md" | grep -o '`[a-z0-9_]*`' | tr -d '`')
missing "$codes" "$readme_codes" \
    "error code '@' (lib/proto.h) is missing from README.md's \"Error codes:\" list"

# COUNTERS: each figure under the subsection of its kind.  The lists are
# "KIND NAME" lines, walked a line at a time.
documented_figures=$(tags COUNTERS)
saved_ifs=$IFS
IFS='
'
missing "$figures" "$documented_figures" \
    "'@' (lib/counters.h) has no entry under the '.SS' of its kind in COUNTERS of doc/jobd-protocol.7"
missing "$documented_figures" "$figures" \
    "'@' (kind and name) under COUNTERS is not one of lib/counters.h"
IFS=$saved_ifs

# JOB STATES: the tag of each .TP entry.
documented_states=$(tags "JOB STATES" | sed 's/^[^ ]* //')
missing "$states" "$documented_states" \
    "job state '@' (daemon/job.c) has no '.B @' entry under JOB STATES in doc/jobd-protocol.7"
missing "$documented_states" "$states" \
    "'@' under JOB STATES is not a job state of daemon/job.c"

if [ "$failed" -ne 0 ]; then
	exit 1
fi
echo "protocol-doc: $(echo "$ops" | wc -w) ops," \
    "$(echo "$codes" | wc -w) error codes," \
    "$(echo "$figures" | wc -l) counters, gauges and histograms and" \
    "$(echo "$states" | wc -w) job states documented"

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
