# make man-lint: the man pages must render without a single warning.
# mandoc -T lint is the stricter checker (mdoc semantics); without mandoc,
# groff -ww (every warning) still catches undefined macros and bad requests,
# but exits 0 on warnings, so its output decides.  Also run by
# tests/e2e/test_docs.py.

MAN_PAGES := $(wildcard man/*.1)

.PHONY: man-lint

man-lint:
	@set -e; for page in $(MAN_PAGES); do \
		if command -v mandoc >/dev/null 2>&1; then \
			mandoc -T lint -W warning "$$page"; \
		fi; \
		out=$$(groff -mandoc -ww -z "$$page" 2>&1); \
		if [ -n "$$out" ]; then echo "$$out" >&2; exit 1; fi; \
		echo "man-lint: $$page: clean"; \
	done
