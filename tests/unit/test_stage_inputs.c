/*
 * Unit tests for stage_inputs: the files stage reads, opened once, and the
 * inputs they become.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "stage_inputs.h"
#include "tmpdir.h"

TestSuite(stage_inputs, .init = tmpdir_make, .fini = tmpdir_remove);

Test(stage_inputs, a_directory_is_no_input)
{
	struct err e = ERR_INIT;
	int fd = -1;

	cr_assert_eq(stage_input_open(tmpdir, &fd, &e), MB_ENOINPUT);
	cr_assert_eq(fd, -1);
	cr_assert(strstr(e.msg, "Is a directory") != NULL, "%s", e.msg);
}

Test(stage_inputs, a_plain_file_is_one_input_and_release_empties)
{
	static const char csv[] = "email\na@example.com\n";
	const char *path = tmpdir_write("a.csv", csv, sizeof(csv) - 1);
	const char *paths[1] = { path };
	struct stage_opts opts;
	struct stage_counts counts;
	struct inputs in = STAGE_INPUTS_INIT;
	struct err e = ERR_INIT;
	char sha[65];
	uint64_t size = 0;
	int fds[1] = { -1 };

	memset(&opts, 0, sizeof(opts));
	memset(&counts, 0, sizeof(counts));
	cr_assert_eq(stage_input_open(path, &fds[0], &e), MB_OK, "%s", e.msg);
	cr_assert_eq(stage_input_fingerprint(path, fds[0], &size, sha, &e),
		     MB_OK);
	cr_assert_eq(size, sizeof(csv) - 1);
	cr_assert_eq(strlen(sha), 64);
	cr_assert_eq(stage_inputs_list(&opts, paths, fds, 1, &in, &counts,
				       &e), MB_OK, "%s", e.msg);
	cr_assert_eq(fds[0], -1);        /* taken by the input */
	cr_assert_eq(in.n, 1);
	cr_assert_str_eq(in.v[0].name, path);
	cr_assert_null(in.v[0].zip);
	cr_assert_geq(in.v[0].fd, 0);
	stage_inputs_release(&in);
	cr_assert_eq(in.n, 0);
	cr_assert_null(in.v);
	cr_assert_null(in.zips);
}
