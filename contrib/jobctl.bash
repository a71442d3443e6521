# bash completion for jobctl(1).
#
# Commands and options come from jobctl itself (`jobctl help` and `jobctl
# help COMMAND`, which need no daemon), so they never fall behind it.
# Files are completed after the options that take a file, job states
# after --state, kinds after --kind.

_jobctl_commands()
{
	"$1" help 2>/dev/null | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z]*\) .*/\1/p'
}

_jobctl_options()
{
	# $1: jobctl, $2: the command (or empty for the global options).
	if [ -n "$2" ]; then
		"$1" help "$2" 2>/dev/null
	else
		"$1" --help 2>/dev/null
	fi | grep -o -- '--[a-z][a-z-]*' | sort -u
}

_jobctl()
{
	local cur prev cmd word i
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	cmd=
	for ((i = 1; i < COMP_CWORD; i++)); do
		word=${COMP_WORDS[i]}
		case $word in
		--addr | --token-file | --tls-ca | --tls-cert | --tls-key)
			((i++)) ;;
		-*) ;;
		*) cmd=$word; break ;;
		esac
	done
	case $prev in
	--token-file | --tls-ca | --tls-cert | --tls-key | --stdin | --cwd)
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	--state)
		COMPREPLY=($(compgen -W "queued delayed waiting running succeeded
		    failed timed_out cancelled expired dependency_failed" \
		    -- "$cur"))
		return ;;
	--kind)
		COMPREPLY=($(compgen -W "exec echo sleep sum sort map filter
		    reduce group_by" -- "$cur"))
		return ;;
	esac
	if [ -z "$cmd" ]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$(_jobctl_options "$1" "")" \
			    -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(_jobctl_commands "$1")" \
			    -- "$cur"))
		fi
		return
	fi
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_jobctl_options "$1" "$cmd")" \
		    -- "$cur"))
	elif [ "$prev" = "$cmd" ]; then
		case $cmd in
		queue) COMPREPLY=($(compgen -W "pause resume drain clear limit
		    set" -- "$cur")) ;;
		cron) COMPREPLY=($(compgen -W "add list remove run" \
		    -- "$cur")) ;;
		help) COMPREPLY=($(compgen -W "$(_jobctl_commands "$1")" \
		    -- "$cur")) ;;
		esac
	fi
}
complete -F _jobctl jobctl
