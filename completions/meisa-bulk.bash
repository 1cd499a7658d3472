# bash completion for meisa-bulk and meisa-sandbox.
#
# Installed as share/bash-completion/completions/meisa-bulk (and a
# meisa-sandbox link to it), where bash-completion loads it on first use;
# or source it from ~/.bashrc.  It needs nothing from bash-completion: only
# COMP_WORDS, COMP_CWORD and compgen, so it also works in a bare bash.
#
# The lists below mirror `meisa-bulk help COMMAND`, `meisa-sandbox --help`
# and lib/presets.c; tests/e2e/test_docs.py checks that they agree.

_meisa_bulk_commands="import stage push status export report ping sequences help"
_meisa_bulk_presets="auto mailchimp sendgrid klaviyo hubspot kit \
activecampaign brevo mailerlite customerio beehiiv substack intercom ghost \
listmonk keila mautic buttondown sendy constantcontact aweber getresponse \
campaignmonitor emailoctopus moosend omnisend drip loops generic"
_meisa_bulk_fields="email external_id first_name last_name display_name \
tags status ignore custom:"
_meisa_bulk_exports="rejects results suppressed missing unsubscribed"

# Options that take a value (the next word is that value, not a command).
_meisa_bulk_valued="--db --preset --map --delimiter --encoding --tag --source \
--sequence --rate --concurrency --max-requests --api-key-file -o --output \
--search --metrics-file --ping-url --trace --max-missing"

# The options each command accepts.
_meisa_bulk_options()
{
	local common="--db --json -q --quiet -v --verbose -h --help"
	local stage="--preset --map --delimiter --encoding --tag --source"
	local push="--sequence --rate --concurrency --max-requests --full \
--retry-failed --include-unconfirmed --dry-run --yes --api-key-file \
--insecure --trace --trace-bodies --max-missing --allow-partial"
	local key="--api-key-file --insecure --trace --trace-bodies"
	local quiet="-q --quiet -v --verbose -h --help"
	local monitor="--metrics-file --ping-url"

	case $1 in
	import)    echo "$stage $push $monitor $common" ;;
	stage)     echo "$stage $monitor $common" ;;
	push)      echo "$push $monitor $common" ;;
	status)    echo "--runs --metrics-file $common" ;;
	export)    echo "-o --output $key $common" ;;
	report)    echo "-o --output --no-examples --db $quiet" ;;
	ping)      echo "--json $key $quiet" ;;
	sequences) echo "--search --json $key $quiet" ;;
	help)      echo "-h --help" ;;
	esac
}

# Add to COMPREPLY the files and directories matching cur whose names end
# in one of the suffixes given (every file when none is given).
_meisa_bulk_files()
{
	local cur=$1 f s IFS=$'\n'
	shift

	compopt -o filenames 2>/dev/null
	for f in $(compgen -f -- "$cur"); do
		if [[ -d $f || $# -eq 0 ]]; then
			COMPREPLY+=("$f")
			continue
		fi
		for s in "$@"; do
			if [[ $f == *"$s" ]]; then
				COMPREPLY+=("$f")
				break
			fi
		done
	done
}

_meisa_bulk_words()
{
	local IFS=$' \t\n'
	COMPREPLY+=($(compgen -W "$1" -- "$2"))
}

_meisa_bulk()
{
	local cur prev cmd word i before nargs=0

	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	# With '=' in COMP_WORDBREAKS, "--db=x" is three words: "--db" "=" "x".
	if [[ $cur == = ]]; then
		cur=
		before=$((COMP_CWORD - 1))
	elif [[ $prev == = ]]; then
		before=$((COMP_CWORD - 2))
	fi
	if [[ -n $before ]]; then
		prev=${COMP_WORDS[before]}
		# "--map COLUMN=FIELD": complete FIELD.
		if ((before > 1)) && [[ ${COMP_WORDS[before - 1]} == --map ]]
		then
			_meisa_bulk_words "$_meisa_bulk_fields" "$cur"
			[[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *: ]] &&
				compopt -o nospace 2>/dev/null
			return 0
		fi
	fi

	# The command, and how many arguments it has before the cursor.
	for ((i = 1; i < COMP_CWORD; i++)); do
		word=${COMP_WORDS[i]}
		if [[ $word == = ]]; then
			((i++))         # "=" and the value after it
		elif [[ ${COMP_WORDS[i + 1]} == = ]]; then
			:               # "--opt" of "--opt=value"
		elif [[ " $_meisa_bulk_valued " == *" $word "* ]]; then
			((i++))         # "--opt value"
		elif [[ $word == -* ]]; then
			:
		elif [[ -z $cmd ]]; then
			cmd=$word
		else
			((nargs++))
		fi
	done

	case $prev in
	--db)
		_meisa_bulk_files "$cur" .db
		return 0 ;;
	--api-key-file|-o|--output|--trace)
		_meisa_bulk_files "$cur"
		return 0 ;;
	--preset)
		_meisa_bulk_words "$_meisa_bulk_presets" "$cur"
		return 0 ;;
	--source)
		_meisa_bulk_words "import initial_sync" "$cur"
		return 0 ;;
	--delimiter)
		# Quoted: a bare ; or | would end the command line.
		for word in , "';'" tab "'|'"; do
			[[ $word == "$cur"* ]] && COMPREPLY+=("$word")
		done
		return 0 ;;
	--encoding)
		_meisa_bulk_words "windows-1252 iso-8859-1 iso-8859-15 macintosh \
shift_jis UTF-16LE UTF-16BE UTF-8" "$cur"
		return 0 ;;
	--rate)
		_meisa_bulk_words "60/m,1000/h none" "$cur"
		return 0 ;;
	--map)
		# COLUMN=FIELD when '=' does not break words: complete FIELD.
		if [[ $cur == *=* ]]; then
			local IFS=$' \t\n' f
			compopt -o nospace 2>/dev/null
			for f in $_meisa_bulk_fields; do
				[[ ${cur%%=*}=$f == "$cur"* ]] &&
					COMPREPLY+=("${cur%%=*}=$f")
			done
		fi
		return 0 ;;
	--sequence|--tag|--concurrency|--max-requests|--search)
		return 0 ;;
	--max-missing)
		_meisa_bulk_words "10% none" "$cur"
		return 0 ;;
	esac

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			_meisa_bulk_words "-h --help --version" "$cur"
		else
			_meisa_bulk_words "$_meisa_bulk_commands" "$cur"
		fi
		return 0
	fi
	if [[ $cur == -* ]]; then
		_meisa_bulk_words "$(_meisa_bulk_options "$cmd")" "$cur"
		return 0
	fi
	case $cmd in
	import|stage)
		_meisa_bulk_files "$cur" .csv .CSV .gz .zip .ZIP .tsv .txt ;;
	export)
		[[ $nargs -eq 0 ]] &&
			_meisa_bulk_words "$_meisa_bulk_exports" "$cur" ;;
	help)
		[[ $nargs -eq 0 ]] &&
			_meisa_bulk_words "$_meisa_bulk_commands" "$cur" ;;
	esac
	return 0
}

_meisa_sandbox()
{
	local cur prev
	local opts="--port --port-file --db --threads --commit-ms -v --verbose \
--key --sequence --unsubscribed --trigger --rate --rate-storm \
--no-retry-after --fail-rate --drop-rate --lost-ack-rate --seed \
--fault-paths --latency-ms -h --help --version"

	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	if [[ $cur == = ]]; then
		cur=
	elif [[ $prev == = ]]; then
		prev=${COMP_WORDS[COMP_CWORD - 2]}
	fi
	case $prev in
	--db)
		_meisa_bulk_files "$cur" .db
		return 0 ;;
	--port-file|--unsubscribed)
		_meisa_bulk_files "$cur"
		return 0 ;;
	--rate)
		_meisa_bulk_words "60/m,1000/h none" "$cur"
		return 0 ;;
	--port|--threads|--commit-ms|--key|--sequence|--trigger| \
	--rate-storm|--fail-rate|--drop-rate|--lost-ack-rate|--seed| \
	--fault-paths|--latency-ms)
		return 0 ;;
	esac
	_meisa_bulk_words "$opts" "$cur"
	return 0
}

complete -F _meisa_bulk meisa-bulk
complete -F _meisa_sandbox meisa-sandbox
