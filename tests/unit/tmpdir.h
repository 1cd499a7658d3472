/*
 * tmpdir.h: a private directory for each test of a unit suite that writes
 * files, removed with everything in it when the test ends.
 *
 *   TestSuite(name, .init = tmpdir_make, .fini = tmpdir_remove);
 *   const char *p = tmpdir_write("a.csv", text, strlen(text));
 *
 * Paths come from a ring of TMPDIR_PATHS buffers: a test may hold that
 * many at once.
 */
#ifndef MEISA_TESTS_TMPDIR_H
#define MEISA_TESTS_TMPDIR_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#define TMPDIR_PATHS 8

static char tmpdir[64];

static inline void tmpdir_make(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/meisa-unit.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp");
}

static inline void tmpdir_remove(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* NAME inside the test's directory. */
static inline const char *tmpdir_path(const char *name)
{
	static char paths[TMPDIR_PATHS][192];
	static unsigned next;
	char *p = paths[next++ % TMPDIR_PATHS];

	snprintf(p, sizeof(paths[0]), "%s/%s", tmpdir, name);
	return p;
}

/* A file NAME in the test's directory holding the n bytes at data. */
static inline const char *tmpdir_write(const char *name, const void *data,
				       size_t n)
{
	const char *path = tmpdir_path(name);
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f, "cannot create %s", path);
	cr_assert_eq(fwrite(data, 1, n, f), n, "cannot write %s", path);
	cr_assert_eq(fclose(f), 0, "cannot write %s", path);
	return path;
}

#endif
