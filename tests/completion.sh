#!/bin/sh
# completion: contrib/jobctl.bash completes jobctl's commands, options and
# values, taking them from the jobctl just built.  Exits 0 (pass), 1
# (fail) or 77 (no bash).
set -u

srcdir=${srcdir:-.}
if ! command -v bash >/dev/null 2>&1; then
	echo "bash not installed: completion not checked"
	exit 77
fi
if [ -z "${JOBCTL:-}" ]; then
	echo "\$JOBCTL missing (run from make check)"
	exit 1
fi

# complete LINE: the words the completion offers for LINE (cursor at end).
exec bash --norc --noprofile -c '
jobctl=$1
. "$2/contrib/jobctl.bash"
fail=0
complete_line() {
	read -ra COMP_WORDS <<<"$1"
	case $1 in *" ") COMP_WORDS+=("") ;; esac
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_jobctl "$jobctl" "${COMP_WORDS[COMP_CWORD]}" \
	    "${COMP_WORDS[COMP_CWORD-1]}"
	echo "${COMPREPLY[*]}"
}
expect() {
	got=$(complete_line "$1")
	if [ "$got" != "$2" ]; then
		echo "FAIL: \"$1\" completes to \"$got\", not \"$2\""
		fail=1
	fi
}
contains() {
	got=" $(complete_line "$1") "
	case $got in
	*" $2 "*) ;;
	*) echo "FAIL: \"$1\" does not offer \"$2\" (offers:$got)"; fail=1 ;;
	esac
}
expect "jobctl ru" "run"
expect "jobctl q" "queues queue"
contains "jobctl " "cron"
expect "jobctl run --ti" "--timeout"
expect "jobctl run --out" "--output-cap"
expect "jobctl --js" "--json"
expect "jobctl --addr /tmp/s li" "list"
expect "jobctl list --state tim" "timed_out"
expect "jobctl run --kind gr" "group_by"
expect "jobctl queue set nightly --run" "--run-as"
expect "jobctl queue dr" "drain"
expect "jobctl cron re" "remove"
expect "jobctl help wa" "wait watch"
expect "jobctl nosuchcommand --" ""
[ $fail -eq 0 ] && echo "completion: all cases pass"
exit $fail
' completion "$JOBCTL" "$srcdir"
