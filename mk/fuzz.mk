# make fuzz: libFuzzer targets (fuzz/fuzz_*.c), built with clang against
# the library compiled by clang with ASan and UBSan in $(O)/fuzz, each run
# for FUZZ_SECONDS from a seed corpus built from fixtures/ (fuzz/corpus.py).
# New inputs found are kept in $(O)/fuzz/corpus/<target> between runs.
#
#   make fuzz                      every target, 60 s each
#   make fuzz FUZZ_SECONDS=900     longer
#   make fuzz FUZZ_TARGETS=fuzz_stage FUZZ_ARGS='-runs=1000000'
#   make fuzz FUZZ_JOBS=2 ...      two processes on one corpus (libFuzzer
#                                  -jobs/-workers; each job gets FUZZ_ARGS,
#                                  so -runs counts per process); the total
#                                  of executions is printed at the end
#
# A crash leaves crash-* / leak-* / timeout-* in $(O)/fuzz/findings: keep
# the input as a regression case in fixtures/fuzz/<target>/ (replayed by
# tests/e2e/test_adversarial.py under make check) and fix the bug.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_ARGS    ?=
FUZZ_JOBS    ?= 1
FUZZ_DIR     := $(O)/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS  := -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN)
ALL_FUZZ_TARGETS := $(patsubst fuzz/%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_TARGETS ?= $(ALL_FUZZ_TARGETS)
# The targets exercise the client (and the core under it), never the
# sandbox: they link those two libraries and the client's link line.
client_archives = $(1)/libmeisa-client.a $(1)/libmeisa-core.a

$(FUZZ_DIR)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(STD_FLAGS) $(WARN_FLAGS) $(WERROR) $(FUZZ_CFLAGS) \
		-fsanitize=fuzzer-no-link $(DEP_FLAGS) $(PKG_CFLAGS) -Ilib \
		-c $< -o $@

$(FUZZ_DIR)/%.o: fuzz/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(STD_FLAGS) $(WARN_FLAGS) $(WERROR) $(FUZZ_CFLAGS) \
		-fsanitize=fuzzer-no-link $(DEP_FLAGS) $(PKG_CFLAGS) -Ilib \
		-c $< -o $@

$(eval $(call libs,$(FUZZ_DIR)))

FUZZ_BINS := $(patsubst %,$(FUZZ_DIR)/%,$(FUZZ_TARGETS))
$(patsubst %,$(FUZZ_DIR)/%,$(ALL_FUZZ_TARGETS)): $(FUZZ_DIR)/%: \
		$(FUZZ_DIR)/%.o $(call client_archives,$(FUZZ_DIR))
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ $(CLIENT_LIBS) -o $@

# Replay runners: the same targets with a plain main() (fuzz/replay.c),
# built by the normal compiler in the sanitised tree, so make check replays
# fixtures/fuzz/ without clang.
$(O)/asan/fuzz/%.o: fuzz/%.c
	@mkdir -p $(@D)
	$(CC) $(STD_FLAGS) $(WARN_FLAGS) $(WERROR) $(SAN_FLAGS) $(DEP_FLAGS) \
		$(PKG_CFLAGS) -Ilib -c $< -o $@

FUZZ_REPLAY_BINS := $(patsubst %,$(O)/asan/fuzz/%,$(ALL_FUZZ_TARGETS))
$(FUZZ_REPLAY_BINS): $(O)/asan/fuzz/%: $(O)/asan/fuzz/%.o \
		$(O)/asan/fuzz/replay.o $(call client_archives,$(O)/asan)
	$(CC) $(SAN_FLAGS) $^ $(CLIENT_LIBS) -o $@

-include $(wildcard $(FUZZ_DIR)/*.d $(FUZZ_DIR)/lib/*.d $(O)/asan/fuzz/*.d)

.PHONY: fuzz fuzz-build fuzz-bins fuzz-deps fuzz-corpus fuzz-replay
fuzz-deps:
	@$(MAKE) --no-print-directory \
		PKGS_WANTED="clang libclang-rt-14-dev python3" pkgs-ok

# Top-level: the package checks first, then the build (see all).
fuzz-build: deps-ok fuzz-deps
	@$(MAKE) --no-print-directory fuzz-bins

fuzz-bins: $(FUZZ_BINS)
	@:

fuzz-corpus:
	@$(PYTHON) fuzz/corpus.py $(FUZZ_DIR)/seeds

fuzz-replay: $(FUZZ_REPLAY_BINS)

# The e2e suite replays fixtures/fuzz/ with these.
e2e: $(FUZZ_REPLAY_BINS)
CHECK_BINS += $(FUZZ_REPLAY_BINS)

fuzz: fuzz-build fuzz-corpus
	@set -e; mkdir -p $(FUZZ_DIR)/findings; \
	for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_DIR)/corpus/$$t; \
		case $$t in fuzz_http) dict=-dict=fuzz/http.dict;; \
		fuzz_rate) dict=-dict=fuzz/rate.dict;; \
		*) dict=-dict=fuzz/csv.dict;; esac; \
		echo "== $$t: $(FUZZ_SECONDS) s, $(FUZZ_JOBS) process(es)"; \
		logs=$(FUZZ_DIR)/$$t.log; jobs=; \
		if [ $(FUZZ_JOBS) -gt 1 ]; then \
			rm -rf $(FUZZ_DIR)/$$t.jobs; mkdir $(FUZZ_DIR)/$$t.jobs; \
			jobs="-jobs=$(FUZZ_JOBS) -workers=$(FUZZ_JOBS)"; \
			logs="$$logs $(FUZZ_DIR)/$$t.jobs/fuzz-*.log"; \
		fi; \
		(mkdir -p $(FUZZ_DIR)/$$t.jobs && cd $(FUZZ_DIR)/$$t.jobs && \
		ASAN_OPTIONS=detect_leaks=1 $(abspath $(FUZZ_DIR))/$$t \
			$$(echo $$dict | sed 's|=|=$(CURDIR)/|') $$jobs \
			-max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-timeout=20 -rss_limit_mb=2048 -max_len=65536 \
			-artifact_prefix=$(abspath $(FUZZ_DIR))/findings/$$t- \
			$(FUZZ_ARGS) $(abspath $(FUZZ_DIR))/corpus/$$t \
			$(abspath $(FUZZ_DIR))/seeds/$$t \
			$$(ls -d $(CURDIR)/fixtures/fuzz/$$t 2>/dev/null)) 2>&1 \
			| tee $(FUZZ_DIR)/$$t.log \
			| grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::(number|average)|ERROR|SUMMARY' \
			|| true; \
		if [ $(FUZZ_JOBS) -gt 1 ]; then \
			cat $(FUZZ_DIR)/$$t.jobs/fuzz-*.log | awk \
				'/^stat::number_of_executed_units/ { n += $$2 } \
				END { print "stat::total_executed_units: " n }'; \
		fi; \
		if cat $$logs | grep -qE '^==[0-9]+==ERROR|^SUMMARY|deadly signal|fuzz_[a-z]+: '; \
			then echo "$$t: FINDING, see $$logs"; exit 1; fi; \
	done

# make fuzz-coverage: line and branch coverage of lib/ reached by each
# target's corpus ($(O)/fuzz/corpus/<target>, the seeds and fixtures/fuzz/),
# replayed by a clang source-coverage build (no sanitizers).
FUZZ_COV_DIR   := $(O)/fuzz-cov
FUZZ_COV_FLAGS := -O0 -g -fprofile-instr-generate -fcoverage-mapping
LLVM_PROFDATA  ?= llvm-profdata-14
LLVM_COV       ?= llvm-cov-14

$(FUZZ_COV_DIR)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(STD_FLAGS) $(WARN_FLAGS) $(FUZZ_COV_FLAGS) $(DEP_FLAGS) \
		$(PKG_CFLAGS) -Ilib -c $< -o $@

$(FUZZ_COV_DIR)/%.o: fuzz/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(STD_FLAGS) $(WARN_FLAGS) $(FUZZ_COV_FLAGS) $(DEP_FLAGS) \
		$(PKG_CFLAGS) -Ilib -c $< -o $@

$(eval $(call libs,$(FUZZ_COV_DIR)))

FUZZ_COV_BINS := $(patsubst %,$(FUZZ_COV_DIR)/%,$(FUZZ_TARGETS))
$(patsubst %,$(FUZZ_COV_DIR)/%,$(ALL_FUZZ_TARGETS)): $(FUZZ_COV_DIR)/%: \
		$(FUZZ_COV_DIR)/%.o $(FUZZ_COV_DIR)/replay.o \
		$(call client_archives,$(FUZZ_COV_DIR))
	$(FUZZ_CC) $(FUZZ_COV_FLAGS) $^ $(CLIENT_LIBS) -o $@

-include $(wildcard $(FUZZ_COV_DIR)/*.d $(FUZZ_COV_DIR)/lib/*.d)

.PHONY: fuzz-coverage fuzz-coverage-bins
fuzz-coverage-bins: $(FUZZ_COV_BINS)
	@:

fuzz-coverage: deps-ok fuzz-deps fuzz-corpus
	@$(MAKE) --no-print-directory fuzz-coverage-bins
	@set -e; for t in $(FUZZ_TARGETS); do \
		rm -f $(FUZZ_COV_DIR)/$$t.profraw; \
		LLVM_PROFILE_FILE=$(FUZZ_COV_DIR)/$$t.profraw \
			$(FUZZ_COV_DIR)/$$t $$(ls -d $(FUZZ_DIR)/corpus/$$t \
			$(FUZZ_DIR)/seeds/$$t fixtures/fuzz/$$t 2>/dev/null) \
			>/dev/null 2>&1; \
		$(LLVM_PROFDATA) merge -o $(FUZZ_COV_DIR)/$$t.profdata \
			$(FUZZ_COV_DIR)/$$t.profraw; \
		echo "== $$t"; \
		$(LLVM_COV) report $(FUZZ_COV_DIR)/$$t \
			-instr-profile=$(FUZZ_COV_DIR)/$$t.profdata \
			$$(case $$t in \
			fuzz_http) echo lib/http.c lib/meisa.c lib/push.c \
				lib/ratelimit.c lib/backoff.c;; \
			fuzz_rate) echo lib/ratelimit.c lib/ratespec.c \
				lib/backoff.c lib/rng.c;; \
			*) echo lib/source.c lib/csvread.c lib/mapping.c \
				lib/mapping_build.c lib/mapping_custom.c lib/presets.c \
				lib/typing.c \
				lib/validate.c lib/utf8.c lib/json.c lib/stage.c \
				lib/bodyhash.c;; esac) \
			| sed 's|^$(CURDIR)/||'; \
	done
