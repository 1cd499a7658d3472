# meisa-bulk: build, test, demo and benchmark.
#
#   make            release build in build/ (installs missing packages first)
#   make check      sanitised build in build/asan/, every unit and e2e test
#   make demo       local sandbox + a real import of a fixture
#   make bench      every benchmark: bench-stage, bench-push, bench-sandbox
#                   and bench-sync (mk/sync.mk)
#   make bench-scale  staging 1, 5 and 10 million rows (mk/scale.mk)
#   make deps       install the Debian packages the build needs

CC      ?= cc
PYTHON  := /usr/bin/python3
PKGS    := sqlite3 libcurl zlib libmicrohttpd libzip libidn2
DEB_PKGS := libcsv-dev zlib1g-dev libzip-dev libsqlite3-dev libcurl4-openssl-dev \
	libmicrohttpd-dev libcriterion-dev python3-pytest pkg-config sqlite3 \
	mandoc libidn2-dev libunistring-dev
# What the benchmarks measure with (installed by make bench-*).
BENCH_PKGS := wrk time bc curl gzip
# What only make check needs: the browser the report's tests render it in
# (tests/e2e/test_report.py).  Big, so make and make demo never install it;
# a check that cannot reach Debian's mirrors still runs (those tests skip).
CHECK_PKGS := chromium

STD_FLAGS  := -std=c11 -D_GNU_SOURCE
WARN_FLAGS := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wvla -Wcast-qual -Wwrite-strings \
	-Wno-unused-parameter
OPT_FLAGS  := -O2 -g
SAN_FLAGS  := -O1 -g -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=all
# -Werror in development and CI (make check), not in the user's build.
WERROR     ?=
# Output tree; helpers and parallel work can use their own (make O=/tmp/x).
O          ?= build

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libunistring has no .pc file either (NFC of addresses: lib/validate.c).
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcsv -lunistring \
	-lpthread -lm

# Three libraries, one link line per program (issue 14), so that each
# program carries only what it uses: meisa-bulk never links libmicrohttpd,
# meisa-sandbox never libcurl, libcsv, libzip or zlib.
#   core     utilities that use nothing outside the core: buffers, errors,
#            JSON, SHA-256, CSV writing, xalloc (both programs link it;
#            the linker takes only the members a program calls)
#   sandbox  lib/sandbox*.c, the local Meisa (libmicrohttpd, SQLite)
#   client   every other lib/*.c, what meisa-bulk is made of: a new file
#            lands here unless it is listed in CORE_SRC or named sandbox*
# A module both programs use belongs in CORE_SRC (the sandbox's link fails
# on it otherwise), and a package a core module needs in SANDBOX_LIBS too.
LIB_SRC     := $(wildcard lib/*.c)
CORE_SRC    := lib/buf.c lib/err.c lib/json.c lib/sha256.c lib/csvwrite.c \
	lib/xalloc.c lib/rng.c lib/utf8.c lib/clock.c lib/ratespec.c
SANDBOX_SRC := $(wildcard lib/sandbox*.c)
CLIENT_SRC  := $(filter-out $(CORE_SRC) $(SANDBOX_SRC),$(LIB_SRC))

# PKGS and PKG_LIBS are the union (every package, for the flags and the
# package check); libmicrohttpd in it is the sandbox's alone.
CLIENT_LIBS  = $(filter-out -lmicrohttpd,$(PKG_LIBS))
SANDBOX_LIBS = $(shell pkg-config --libs sqlite3 libmicrohttpd 2>/dev/null) \
	-lpthread -lm

# Each object depends on the headers it includes, as the compiler lists
# them in a .d file beside the object (-MP: a header removed is no error).
DEP_FLAGS := -MMD -MP

UNIT_SRC := $(wildcard tests/unit/test_*.c)
# A unit test links the library of its module (test_<mod> tests lib/<mod>.c).
UNIT_NAMES    := $(patsubst tests/unit/%.c,%,$(UNIT_SRC))
CORE_TESTS    := $(filter $(patsubst lib/%.c,test_%,$(CORE_SRC)),$(UNIT_NAMES))
SANDBOX_TESTS := $(filter $(patsubst lib/%.c,test_%,$(SANDBOX_SRC)),$(UNIT_NAMES))
CLIENT_TESTS  := $(filter-out $(CORE_TESTS) $(SANDBOX_TESTS),$(UNIT_NAMES))

# $(call lib_objs,dir,sources): the objects of sources in the tree dir.
lib_objs = $(patsubst lib/%.c,$(1)/lib/%.o,$(2))

# The three archives of a tree: $(1) = output dir.
define libs
$(1)/libmeisa-core.a: $(call lib_objs,$(1),$(CORE_SRC))
	rm -f $$@ && ar rcs $$@ $$^

$(1)/libmeisa-client.a: $(call lib_objs,$(1),$(CLIENT_SRC))
	rm -f $$@ && ar rcs $$@ $$^

$(1)/libmeisa-sandbox.a: $(call lib_objs,$(1),$(SANDBOX_SRC))
	rm -f $$@ && ar rcs $$@ $$^
endef

# Tree-parametrised rules: $(1) = output dir, $(2) = extra flags.
define tree
$(1)/lib/%.o: lib/%.c
	@mkdir -p $$(@D)
	$$(CC) $$(STD_FLAGS) $$(WARN_FLAGS) $$(WERROR) $(2) $$(DEP_FLAGS) $$(PKG_CFLAGS) -Ilib -c $$< -o $$@

$(1)/cmd/%.o: cmd/%.c
	@mkdir -p $$(@D)
	$$(CC) $$(STD_FLAGS) $$(WARN_FLAGS) $$(WERROR) $(2) $$(DEP_FLAGS) $$(PKG_CFLAGS) -Ilib -c $$< -o $$@

$(1)/tests/%.o: tests/unit/%.c
	@mkdir -p $$(@D)
	$$(CC) $$(STD_FLAGS) $$(WARN_FLAGS) -Wno-missing-prototypes $$(WERROR) $(2) $$(DEP_FLAGS) $$(PKG_CFLAGS) -Ilib -c $$< -o $$@

$(call libs,$(1))

$(1)/meisa-bulk: $(1)/cmd/meisa-bulk.o $(1)/libmeisa-client.a $(1)/libmeisa-core.a
	$$(CC) $(2) $$^ $$(CLIENT_LIBS) -o $$@

$(1)/meisa-sandbox: $(1)/cmd/meisa-sandbox.o $(1)/libmeisa-sandbox.a $(1)/libmeisa-core.a
	$$(CC) $(2) $$^ $$(SANDBOX_LIBS) -o $$@

# Tests link every package: their harness uses more than their module
# (SQLite as test_json's oracle, libmicrohttpd as test_http's server).
$(addprefix $(1)/tests/,$(CORE_TESTS)): $(1)/tests/%: $(1)/tests/%.o $(1)/libmeisa-core.a
	$$(CC) $(2) $$^ -lcriterion $$(PKG_LIBS) -o $$@

$(addprefix $(1)/tests/,$(CLIENT_TESTS)): $(1)/tests/%: $(1)/tests/%.o $(1)/libmeisa-client.a $(1)/libmeisa-core.a
	$$(CC) $(2) $$^ -lcriterion $$(PKG_LIBS) -o $$@

$(addprefix $(1)/tests/,$(SANDBOX_TESTS)): $(1)/tests/%: $(1)/tests/%.o $(1)/libmeisa-sandbox.a $(1)/libmeisa-core.a
	$$(CC) $(2) $$^ -lcriterion $$(PKG_LIBS) -o $$@

-include $(wildcard $(1)/lib/*.d $(1)/cmd/*.d $(1)/tests/*.d)
endef

$(eval $(call tree,$(O),$(OPT_FLAGS)))
$(eval $(call tree,$(O)/asan,$(SAN_FLAGS)))

UNIT_BINS := $(patsubst tests/unit/%.c,$(O)/asan/tests/%,$(UNIT_SRC))
# What make check builds (mk/*.mk add to it).
CHECK_BINS := $(O)/asan/meisa-bulk $(O)/asan/meisa-sandbox $(UNIT_BINS)

.PHONY: all programs deps deps-ok bench-deps pkgs-ok check unit e2e demo \
	bench bench-stage bench-push bench-sandbox clean
.DEFAULT_GOAL := all

# The package check (deps-ok) belongs to the top-level targets, never to an
# object: they run it first, then build in a sub-make, so that even make -j
# compiles nothing before the packages are there.
all: deps-ok
	@$(MAKE) --no-print-directory programs

# The two programs, without the package check.
programs: $(O)/meisa-bulk $(O)/meisa-sandbox
	@:

# deps-ok installs only when a package is missing, so it is cheap to run.
deps-ok:
	@$(MAKE) --no-print-directory PKGS_WANTED="$(DEB_PKGS)" pkgs-ok

bench-deps:
	@$(MAKE) --no-print-directory PKGS_WANTED="$(BENCH_PKGS)" pkgs-ok

pkgs-ok:
	@missing=""; for p in $(PKGS_WANTED); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' \
			|| missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
		$(MAKE) --no-print-directory DEB_PKGS="$$missing" deps; fi

deps:
	@sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	$$sudo apt-get update -q && \
	DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q $(DEB_PKGS)

check: WERROR = -Werror
check: deps-ok
	@$(MAKE) --no-print-directory PKGS_WANTED="$(CHECK_PKGS)" pkgs-ok || \
		echo "note: cannot install $(CHECK_PKGS); the report's browser tests skip"
	$(MAKE) --no-print-directory WERROR=-Werror $(CHECK_BINS)
	$(MAKE) --no-print-directory unit e2e

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; \
		ASAN_OPTIONS=detect_leaks=1 $$t --jobs 2 || exit 1; done

e2e:
	MB_BUILD=$(abspath $(O))/asan ASAN_OPTIONS=detect_leaks=1 \
		$(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e

demo: all
	@MB_BUILD=$(O) sh bench/demo.sh

# mk/sync.mk adds bench-sync.
bench: bench-stage bench-push bench-sandbox

bench-stage: all bench-deps
	@MB_BUILD=$(O) sh bench/bench-stage.sh

bench-push: all bench-deps
	@MB_BUILD=$(O) sh bench/bench-push.sh

bench-sandbox: all bench-deps
	@MB_BUILD=$(O) sh bench/bench-sandbox.sh

clean:
	rm -rf $(O)

# Further targets (install, fuzz, soak, check-valgrind, ...) live in mk/.
-include $(wildcard mk/*.mk)
