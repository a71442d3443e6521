#!/bin/sh
# man-pages: jobd(8) and jobd.conf(5) keep up with `jobd --help`, and
# jobctl(1) with `jobctl help COMMAND`.
#
# - every long option `jobd --help` lists is described in jobd(8);
# - every one of them that is a settings key (all but config, gen-token,
#   help, version) is listed in jobd.conf(5), and jobd(8) names no option
#   that --help does not;
# - groff formats both pages without a warning (skipped without groff).
#
# Run by `make check` with $srcdir, $JOBD and $JOBCTL set; exits 0 (pass)
# or 1.
set -u

srcdir=${srcdir:-.}
page8=$srcdir/doc/jobd.8
page5=$srcdir/doc/jobd.conf.5
fail=0

options=$("$JOBD" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
if [ -z "$options" ]; then
	echo "man-pages: no options in jobd --help"
	exit 1
fi
# groff spells "-" as "\-".
esc() { printf '%s' "$1" | sed 's/-/\\\\-/g'; }

for opt in $options; do
	if ! grep -q -- "$(esc "$opt")\\>" "$page8"; then
		echo "jobd.8 lacks $opt"
		fail=1
	fi
	key=${opt#--}
	case $key in config | gen-token | help | version) continue ;; esac
	if ! grep -q -- "^\.BR $(esc "$key") ,\$\|^\.BR $(esc "$key") \.\$" \
	    "$page5"; then
		echo "jobd.conf.5 lacks the key $key"
		fail=1
	fi
done
for opt in $(grep -o -- '\\-\\-[a-z]\([a-z]*\\-\)*[a-z]*' "$page8" |
    sed 's/\\-/-/g' | sort -u); do
	case " $(echo $options) " in
	*" $opt "*) ;;
	*) echo "jobd.8 names $opt, which jobd --help does not list"
	   fail=1 ;;
	esac
done
# jobctl(1): every option of every command's usage.
page1=$srcdir/doc/jobctl.1
for cmd in $("$JOBCTL" help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z]*\) .*/\1/p'); do
	for opt in $("$JOBCTL" help "$cmd" 2>/dev/null |
	    grep -o -- '--[a-z][a-z-]*' | sort -u); do
		if ! grep -q -- "$(esc "$opt")" "$page1"; then
			echo "jobctl.1 lacks $opt (jobctl $cmd)"
			fail=1
		fi
	done
done
if command -v groff >/dev/null 2>&1; then
	for page in "$page8" "$page5" "$page1"; do
		warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
		if [ -n "$warnings" ]; then
			echo "$page: groff warns:"
			echo "$warnings"
			fail=1
		fi
	done
fi
[ $fail -eq 0 ] && echo "man-pages: $(echo "$options" | wc -l) options described"
exit $fail
