/*
 * metrics: the exposition text from a status object (values, labels,
 * what is left out), and the atomic write.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include "metrics.h"
#include "tmpdir.h"

TestSuite(metrics, .init = tmpdir_make, .fini = tmpdir_remove);

static const char status_done[] =
	"{\"pending\":2,\"upserted\":5,\"failed\":1,\"skipped\":3,"
	"\"enrolled\":4,\"missing\":7,\"requests\":12,"
	"\"staging_file\":\"a\\\"b\\\\c\\nd.db\",\"last_run\":{\"id\":3,"
	"\"started_at\":\"2026-12-02T16:44:45.123Z\","
	"\"ended_at\":\"2026-12-02T16:45:00.007Z\",\"exit_status\":1,"
	"\"summary\":{\"stage\":null,\"push\":{\"retries\":6,"
	"\"throttled\":2}}}}";

static const char db_label[] = "db=\"a\\\"b\\\\c\\nd.db\"";

static void expect_line(const char *text, const char *line)
{
	cr_assert_not_null(strstr(text, line), "missing '%s' in:\n%s", line,
			   text);
}

Test(metrics, every_value_is_the_status_objects)
{
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;
	char line[256];

	cr_assert_eq(metrics_format(status_done, NULL, &out, &e), MB_OK);
	expect_line(out.data, "# TYPE meisa_bulk_contacts gauge\n");
	expect_line(out.data, "# HELP meisa_bulk_requests_total ");
	expect_line(out.data, "# TYPE meisa_bulk_requests_total counter\n");
	snprintf(line, sizeof(line), "\nmeisa_bulk_contacts{state=\"failed\","
		 "%s} 1\n", db_label);
	expect_line(out.data, line);
	snprintf(line, sizeof(line), "\nmeisa_bulk_missing{%s} 7\n", db_label);
	expect_line(out.data, line);
	snprintf(line, sizeof(line), "\nmeisa_bulk_retries_total{%s} 6\n",
		 db_label);
	expect_line(out.data, line);
	snprintf(line, sizeof(line), "\nmeisa_bulk_last_run_start_timestamp_"
		 "seconds{%s} 1796229885.123\n", db_label);
	expect_line(out.data, line);
	snprintf(line, sizeof(line), "\nmeisa_bulk_last_run_end_timestamp_"
		 "seconds{%s} 1796229900.007\n", db_label);
	expect_line(out.data, line);
	snprintf(line, sizeof(line), "\nmeisa_bulk_running{%s} 0\n",
		 db_label);
	expect_line(out.data, line);
	cr_assert_eq(out.data[out.len - 1], '\n');
	buf_release(&out);
}

Test(metrics, mid_push_the_running_run_has_no_exit_status)
{
	struct metrics_live live = { 9, 4 };
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;
	char line[256];

	cr_assert_eq(metrics_format(status_done, &live, &out, &e), MB_OK);
	cr_assert_null(strstr(out.data, "meisa_bulk_last_run_exit_status{"));
	cr_assert_null(strstr(out.data, "end_timestamp_seconds{"));
	expect_line(out.data, "# TYPE meisa_bulk_last_run_exit_status gauge");
	snprintf(line, sizeof(line), "\nmeisa_bulk_retries_total{%s} 9\n",
		 db_label);
	expect_line(out.data, line);
	snprintf(line, sizeof(line), "\nmeisa_bulk_throttled_total{%s} 4\n",
		 db_label);
	expect_line(out.data, line);
	snprintf(line, sizeof(line), "\nmeisa_bulk_running{%s} 1\n",
		 db_label);
	expect_line(out.data, line);
	buf_release(&out);
}

Test(metrics, no_run_yet_leaves_the_runs_values_out)
{
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;

	cr_assert_eq(metrics_format("{\"pending\":0,\"staging_file\":\"x\","
				    "\"last_run\":null}", NULL, &out, &e),
		     MB_OK);
	cr_assert_null(strstr(out.data, "meisa_bulk_retries_total{"));
	cr_assert_null(strstr(out.data, "start_timestamp_seconds{"));
	expect_line(out.data, "meisa_bulk_contacts{state=\"pending\","
		    "db=\"x\"} 0\n");
	buf_release(&out);
}

Test(metrics, not_a_status_object_is_an_error)
{
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;

	cr_assert_eq(metrics_format("[1]", NULL, &out, &e), MB_EPROTO);
	cr_assert_eq(metrics_format("{", NULL, &out, &e), MB_EPROTO);
	cr_assert_eq(out.len, 0);
	buf_release(&out);
}

Test(metrics, write_replaces_the_file_and_leaves_no_temporary)
{
	struct buf text = BUF_INIT;
	struct err e = ERR_INIT;
	const char *path = tmpdir_path("m.prom");
	char got[32] = "";
	struct dirent *d;
	struct stat st;
	FILE *f;
	DIR *dir;
	int entries = 0;

	cr_assert_eq(buf_addstr(&text, "a 1\n"), MB_OK);
	cr_assert_eq(metrics_write(path, &text, &e), MB_OK);
	buf_reset(&text);
	cr_assert_eq(buf_addstr(&text, "b 2\n"), MB_OK);
	cr_assert_eq(metrics_write(path, &text, &e), MB_OK);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(got, sizeof(got), f));
	fclose(f);
	cr_assert_str_eq(got, "b 2\n");
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0644);
	dir = opendir(tmpdir);
	while ((d = readdir(dir)))
		entries += d->d_name[0] != '.';
	closedir(dir);
	cr_assert_eq(entries, 1);
	cr_assert_eq(metrics_write(tmpdir_path("none/m.prom"), &text, &e),
		     MB_EIO);
	cr_assert_not_null(strstr(e.msg, "none/m.prom"));
	buf_release(&text);
}
