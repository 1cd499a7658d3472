# meisa-bulk: build, test, demo and benchmark.
#
#   make            release build in build/ (installs missing packages first)
#   make check      sanitised build in build/asan/, every unit and e2e test
#   make demo       local sandbox + a real import of a fixture
#   make bench      every benchmark (bench-stage, bench-push, bench-sandbox)
#   make deps       install the Debian packages the build needs

CC      ?= cc
PYTHON  := /usr/bin/python3
PKGS    := sqlite3 libcurl zlib libmicrohttpd libzip libidn2
DEB_PKGS := libcsv-dev zlib1g-dev libzip-dev libsqlite3-dev libcurl4-openssl-dev \
	libmicrohttpd-dev libcriterion-dev python3-pytest pkg-config sqlite3 \
	mandoc libidn2-dev libunistring-dev
# What the benchmarks measure with (installed by make bench-*).
BENCH_PKGS := wrk time bc curl gzip

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

LIB_SRC  := $(wildcard lib/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)

# Tree-parametrised rules: $(1) = output dir, $(2) = extra flags.
define tree
$(1)/lib/%.o: lib/%.c $(wildcard lib/*.h) | deps-ok
	@mkdir -p $$(@D)
	$$(CC) $$(STD_FLAGS) $$(WARN_FLAGS) $$(WERROR) $(2) $$(PKG_CFLAGS) -Ilib -c $$< -o $$@

$(1)/libmeisa.a: $(patsubst lib/%.c,$(1)/lib/%.o,$(LIB_SRC))
	rm -f $$@ && ar rcs $$@ $$^

$(1)/meisa-bulk: cmd/meisa-bulk.c $(1)/libmeisa.a
	$$(CC) $$(STD_FLAGS) $$(WARN_FLAGS) $$(WERROR) $(2) $$(PKG_CFLAGS) -Ilib $$< $(1)/libmeisa.a $$(PKG_LIBS) -o $$@

$(1)/meisa-sandbox: cmd/meisa-sandbox.c $(1)/libmeisa.a
	$$(CC) $$(STD_FLAGS) $$(WARN_FLAGS) $$(WERROR) $(2) $$(PKG_CFLAGS) -Ilib $$< $(1)/libmeisa.a $$(PKG_LIBS) -o $$@

$(1)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(1)/libmeisa.a
	@mkdir -p $$(@D)
	$$(CC) $$(STD_FLAGS) $$(WARN_FLAGS) -Wno-missing-prototypes $$(WERROR) $(2) $$(PKG_CFLAGS) -Ilib $$< $(1)/libmeisa.a -lcriterion $$(PKG_LIBS) -o $$@
endef

$(eval $(call tree,$(O),$(OPT_FLAGS)))
$(eval $(call tree,$(O)/asan,$(SAN_FLAGS)))

UNIT_BINS := $(patsubst tests/unit/%.c,$(O)/asan/tests/%,$(UNIT_SRC))

.PHONY: all deps deps-ok bench-deps pkgs-ok check unit e2e demo bench \
	bench-stage bench-push bench-sandbox clean
.DEFAULT_GOAL := all

all: $(O)/meisa-bulk $(O)/meisa-sandbox

# deps-ok installs only when a package is missing, so it is cheap to depend on.
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
	$(MAKE) --no-print-directory WERROR=-Werror $(O)/asan/meisa-bulk $(O)/asan/meisa-sandbox $(UNIT_BINS)
	$(MAKE) --no-print-directory unit e2e

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; \
		ASAN_OPTIONS=detect_leaks=1 $$t --jobs 2 || exit 1; done

e2e:
	MB_BUILD=$(abspath $(O))/asan ASAN_OPTIONS=detect_leaks=1 \
		$(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e

demo: all
	@MB_BUILD=$(O) sh bench/demo.sh

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
