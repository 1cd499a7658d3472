# make check-valgrind: end-to-end tests with every meisa-bulk run under
# valgrind (memcheck), on the release build (no ASan: the two do not mix).
#
# MB_BUILD points the tests at $(O)/valgrind/, where meisa-bulk is a
# wrapper that execs valgrind on $(O)/meisa-bulk; meisa-sandbox is the
# plain release binary (it is the test's peer, not what is checked).
# Each run writes $(O)/valgrind/logs/<pid>.log; the target fails if any
# log reports an error (invalid read or write, use of uninitialised
# memory, bad free) or a definite leak, and names the logs.
#
#   make check-valgrind                      the representative subset
#   make check-valgrind VALGRIND_TESTS='tests/e2e/test_stage.py -k gzip'

VALGRIND      ?= valgrind
VALGRIND_DIR  := $(O)/valgrind
VALGRIND_OPTS := --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite --error-exitcode=99 --num-callers=30
# The e2e files that run meisa-bulk (not test_sandbox, test_docs), less
# the fuzz replays, which run ASan binaries of their own, and the tests
# whose timing assumes native speed: SIGKILLs at given moments; a 10/s
# server limit, which valgrind's uneven pace overruns by one; and status
# polled while a push starts, which at valgrind's pace loses the race
# test_a_reader_does_not_lock_out_a_run describes (the push exits 73).
VALGRIND_TESTS ?= tests/e2e/test_stage.py tests/e2e/test_push.py \
	tests/e2e/test_sync.py tests/e2e/test_fixtures.py \
	tests/e2e/test_adversarial.py tests/e2e/test_key_hygiene.py \
	-k 'not fuzz_regressions and not sigkill and not known_limit and not \
	status_and_export_while_a_push_runs'

.PHONY: check-valgrind valgrind-deps
valgrind-deps:
	@$(MAKE) --no-print-directory PKGS_WANTED="valgrind" pkgs-ok

check-valgrind: deps-ok valgrind-deps
	$(MAKE) --no-print-directory WERROR=-Werror $(O)/meisa-bulk \
		$(O)/meisa-sandbox
	@rm -rf $(VALGRIND_DIR) && mkdir -p $(VALGRIND_DIR)/logs
	@printf '#!/bin/sh\nexec %s %s --log-file=%s/logs/%%p.log %s "$$@"\n' \
		'$(VALGRIND)' '$(VALGRIND_OPTS)' '$(abspath $(VALGRIND_DIR))' \
		'$(abspath $(O))/meisa-bulk' > $(VALGRIND_DIR)/meisa-bulk
	@chmod +x $(VALGRIND_DIR)/meisa-bulk
	@ln -s $(abspath $(O))/meisa-sandbox $(VALGRIND_DIR)/meisa-sandbox
	@start=$$(date +%s); status=0; \
	MB_BUILD=$(abspath $(VALGRIND_DIR)) MB_VALGRIND=1 \
		$(PYTHON) -m pytest -q -p no:cacheprovider $(VALGRIND_TESTS) \
		|| status=$$?; \
	runs=$$(ls $(VALGRIND_DIR)/logs | wc -l); \
	ended=$$(grep -l 'ERROR SUMMARY:' $(VALGRIND_DIR)/logs/*.log | wc -l); \
	bad=$$(grep -lE 'ERROR SUMMARY: [1-9]|definitely lost: [1-9]' \
		$(VALGRIND_DIR)/logs/*.log 2>/dev/null); \
	echo "valgrind: $$runs runs of meisa-bulk ($$ended ran to exit;" \
		"the others were killed by a test) in" \
		"$$(( $$(date +%s) - start )) s"; \
	if [ -n "$$bad" ]; then echo "valgrind: errors in:"; \
		for f in $$bad; do echo "  $$f"; grep -m3 -E '^==[0-9]+== .*(Invalid|uninitialised|definitely lost in|Mismatched|overlap|Syscall param)' $$f; done; \
		exit 1; fi; \
	echo "valgrind: no error and no definite leak in any run"; \
	exit $$status
