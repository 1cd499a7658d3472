# make soak: bench/soak.sh, a 200,000-contact import against meisa-sandbox
# with 5xx, drops, lost acks, a 429 storm and 10 SIGKILLs, re-run until it
# converges to exactly the expected sandbox state with flat memory.  Takes
# minutes; not part of make check.  N=, KILLS=, SEED= to vary it.
.PHONY: soak
soak: all bench-deps
	@MB_BUILD=$(O) $(if $(N),N=$(N)) $(if $(KILLS),KILLS=$(KILLS)) \
		$(if $(SEED),SEED=$(SEED)) sh bench/soak.sh
