# Nightly sync benchmark (issue 5): stage + diff of a second night against
# a plain stage, and the requests a second night sends.
.PHONY: bench-sync

bench: bench-sync

bench-sync: all bench-deps
	@MB_BUILD=$(O) sh bench/bench-sync.sh
