# Staging at scale (issue 14): cost per row and peak RSS from 1 to 10
# million rows (SIZES= to choose others).
.PHONY: bench-scale

bench-scale: all bench-deps
	@MB_BUILD=$(O) $(if $(SIZES),SIZES="$(SIZES)") sh bench/bench-scale.sh
