/*
 * shared.h: where the conformance suites beside the repository live.
 *
 *   const char *dir = shared_dir_or_skip("isemail");
 *
 * The suites sit in ../shared/conformance (make check runs from the
 * repository root); MB_SHARED names another shared/ directory.  A bare
 * clone has neither, and its tests must still pass: a test that needs the
 * suites then skips with one line.  When MB_SHARED is set, the suites are
 * required: a missing one fails the test rather than skipping it, so a CI
 * that means to run them cannot pass without them.
 */
#ifndef MEISA_TESTS_SHARED_H
#define MEISA_TESTS_SHARED_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline const char *shared_dir(void)
{
	const char *dir = getenv("MB_SHARED");

	return dir && *dir ? dir : "../shared";
}

/* shared_dir() when conformance/<suite> is there; else skip (or fail). */
static inline const char *shared_dir_or_skip(const char *suite)
{
	const char *env = getenv("MB_SHARED");
	char path[4096];

	snprintf(path, sizeof(path), "%s/conformance/%s", shared_dir(),
		 suite);
	if (access(path, R_OK) == 0)
		return shared_dir();
	cr_assert(!(env && *env), "conformance suite not found at '%s' "
		  "(MB_SHARED is set, so it is required)", path);
	/* Criterion shows skips only with --verbose: say it plainly. */
	fprintf(stderr, "skipped: %s is absent (no shared/ beside the "
		"repository)\n", path);
	cr_skip_test("%s is absent", path);
	return NULL;
}

#endif
