#!/bin/sh
# man-pages: jobd(8) and jobd.conf(5) keep up with `jobd --help`,
# jobctl(1) with `jobctl help COMMAND`, and libjobd(3) with jobd.h.
#
# - every long option `jobd --help` lists is described in jobd(8);
# - every one of them that is a settings key (all but config, gen-token,
#   help, version) is listed in jobd.conf(5), and jobd(8) names no option
#   that --help does not;
# - every function jobd.h declares is in libjobd(3)'s synopsis and
#   described, and the page names no jobd_ function jobd.h lacks;
# - groff formats the pages without a warning (skipped without groff).
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
# libjobd(3): every function of jobd.h.
page3=$srcdir/doc/libjobd.3
header=$srcdir/libjobd/jobd.h
funcs=$(grep -o '^[a-z].*[ *]\(jobd_[a-z_]*\)(' "$header" |
    grep -o 'jobd_[a-z_]*' | sort -u)
if [ -z "$funcs" ]; then
	echo "man-pages: no functions in $header"
	fail=1
fi
for f in $funcs; do
	if ! grep -q "^\.BI\{0,1\} \"[^\"]*[ *]$f(" "$page3"; then
		echo "libjobd.3 lacks $f in its synopsis"
		fail=1
	fi
	if ! grep -q "^\.BR $f ()" "$page3"; then
		echo "libjobd.3 does not describe $f"
		fail=1
	fi
done
for f in $(grep -o 'jobd_[a-z_]*' "$page3" | sort -u); do
	case " $(echo $funcs) jobd_options " in
	*" $f "*) ;;
	*) echo "libjobd.3 names $f, which jobd.h does not declare"
	   fail=1 ;;
	esac
done
if command -v groff >/dev/null 2>&1; then
	for page in "$page8" "$page5" "$page1" "$page3"; do
		warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
		if [ -n "$warnings" ]; then
			echo "$page: groff warns:"
			echo "$warnings"
			fail=1
		fi
	done
fi
[ $fail -eq 0 ] && echo "man-pages: $(echo "$options" | wc -l) options," \
    "$(echo "$funcs" | wc -l) libjobd functions described"
exit $fail
