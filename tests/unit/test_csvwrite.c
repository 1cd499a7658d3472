/*
 * csvwrite: cell quoting and formula neutralising (SPEC.md, "Exported CSV
 * files"), plain and gzip files, stdout, mode 0600, temporary file handling.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "csvwrite.h"
#include "tmpdir.h"

struct cell_case {
	const char *in;
	const char *out;
};

static const struct cell_case cells[] = {
	{ "plain", "plain" },
	{ "", "" },
	{ NULL, "" },
	{ "jane@example.com", "jane@example.com" },
	{ "a,b", "\"a,b\"" },
	{ "say \"hi\"", "\"say \"\"hi\"\"\"" },
	{ "\"", "\"\"\"\"" },
	{ "line\nbreak", "\"line\nbreak\"" },
	{ "cr\rx", "\"cr\rx\"" },
	{ "crlf\r\n", "\"crlf\r\n\"" },
	{ "=1+2", "'=1+2" },
	{ "+33 6 12 34 56 78", "'+33 6 12 34 56 78" },
	{ "-5", "'-5" },
	{ "@SUM(A1:A9)", "'@SUM(A1:A9)" },
	{ "\tx", "'\tx" },
	{ "\rx", "\"'\rx\"" },
	{ "=1,2", "\"'=1,2\"" },
	{ "=HYPERLINK(\"http://x\",\"y\")",
	  "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"" },
	{ "a=b", "a=b" },
	{ "a-b", "a-b" },
	{ " =x", " =x" },
	{ "'already", "'already" },
	{ "Zoë; Ünïcode", "Zoë; Ünïcode" },
	{ "semi;colon|pipe\ttab", "semi;colon|pipe\ttab" },
	/* Full-width forms: spreadsheets read them as =, +, - and @. */
	{ "\xef\xbc\x9d" "1+2", "'\xef\xbc\x9d" "1+2" },      /* U+FF1D */
	{ "\xef\xbc\x8b" "33", "'\xef\xbc\x8b" "33" },        /* U+FF0B */
	{ "\xef\xbc\x8d" "5", "'\xef\xbc\x8d" "5" },          /* U+FF0D */
	{ "\xef\xbc\xa0" "SUM(A1)", "'\xef\xbc\xa0" "SUM(A1)" },/* U+FF20 */
	{ "\xef\xbc\x9d" "1,2", "\"'\xef\xbc\x9d" "1,2\"" },
	{ "a\xef\xbc\x9d" "b", "a\xef\xbc\x9d" "b" },
	{ "\xef\xbc\x91", "\xef\xbc\x91" },                  /* U+FF11 */
};

Test(csvwrite, cells_table)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < sizeof(cells) / sizeof(cells[0]); i++) {
		buf_reset(&b);
		cr_assert_eq(csvwrite_cell(&b, cells[i].in), MB_OK);
		cr_assert_str_eq(buf_str(&b), cells[i].out, "cell %zu '%s'",
				 i, cells[i].in ? cells[i].in : "(null)");
	}
	buf_release(&b);
}

Test(csvwrite, cell_over_the_cap_is_an_error)
{
	struct buf b = BUF_INIT;

	buf_init(&b, 8);
	cr_assert_eq(csvwrite_cell(&b, "abcdefghij"), MB_ETOOBIG);
	buf_release(&b);
}

static char *slurp(const char *path, size_t *len)
{
	static char data[4096];
	gzFile gz = gzopen(path, "rb");
	int n;

	cr_assert_not_null(gz, "gzopen '%s'", path);
	n = gzread(gz, data, sizeof(data) - 1);
	cr_assert_geq(n, 0);
	gzclose(gz);
	data[n] = '\0';
	*len = (size_t)n;
	return data;
}

static void assert_released(const struct csvwrite *w)
{
	cr_assert_null(w->path);
	cr_assert_null(w->tmp_path);
	cr_assert_null(w->file);
	cr_assert_null(w->line.data);
	cr_assert_eq(w->fd, -1);
}

static const char *const header[] = { "source", "line", "email", "reason" };
static const char *const row1[] = { "a.csv", "2", "=cmd|' /C calc'!A0",
				     "invalid email" };
static const char *const row2[] = { "a.csv", "7", NULL, "no \"@\", sorry" };
static const char expected[] =
	"source,line,email,reason\r\n"
	"a.csv,2,'=cmd|' /C calc'!A0,invalid email\r\n"
	"a.csv,7,,\"no \"\"@\"\", sorry\"\r\n";

/* old: what path holds before, or NULL when it does not exist. */
static void write_sample(const char *path, const char *old)
{
	struct csvwrite w = CSVWRITE_INIT;
	struct err e = ERR_INIT;
	struct stat st;
	size_t len;

	cr_assert_eq(csvwrite_open(&w, path, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(csvwrite_row(&w, header, 4, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(csvwrite_row(&w, row1, 4, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(csvwrite_row(&w, row2, 4, &e), MB_OK, "%s", e.msg);
	/* The final name is untouched until close. */
	if (old) {
		cr_assert_str_eq(slurp(path, &len), old);
	} else {
		cr_assert_eq(stat(path, &st), -1);
		cr_assert_eq(errno, ENOENT);
	}
	cr_assert_eq(stat(w.tmp_path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(csvwrite_close(&w, &e), MB_OK, "%s", e.msg);
	assert_released(&w);
}

Test(csvwrite, plain_file, .init = tmpdir_make, .fini = tmpdir_remove)
{
	const char *path = tmpdir_path("rejects.csv");
	unsigned char magic[2];
	size_t len;
	FILE *f;

	write_sample(path, NULL);
	cr_assert_str_eq(slurp(path, &len), expected);
	f = fopen(path, "rb");
	cr_assert_eq(fread(magic, 1, 2, f), 2);
	fclose(f);
	cr_assert(magic[0] != 0x1f);
}

Test(csvwrite, gzip_when_the_name_ends_in_gz, .init = tmpdir_make,
     .fini = tmpdir_remove)
{
	const char *path = tmpdir_path("rejects.csv.gz");
	unsigned char magic[2];
	size_t len;
	FILE *f;

	write_sample(path, NULL);
	f = fopen(path, "rb");
	cr_assert_eq(fread(magic, 1, 2, f), 2);
	fclose(f);
	cr_assert_eq(magic[0], 0x1f);
	cr_assert_eq(magic[1], 0x8b);
	cr_assert_str_eq(slurp(path, &len), expected);
	cr_assert_eq(len, sizeof(expected) - 1);
}

Test(csvwrite, mode_0600_whatever_the_umask, .init = tmpdir_make,
     .fini = tmpdir_remove)
{
	const char *names[] = { "a.csv", "b.csv.gz" };
	struct stat st;
	mode_t old = umask(0);
	size_t i;

	for (i = 0; i < 2; i++) {
		write_sample(tmpdir_path(names[i]), NULL);
		cr_assert_eq(stat(tmpdir_path(names[i]), &st), 0);
		cr_assert_eq(st.st_mode & 0777, 0600, "%s: %o", names[i],
			     (unsigned)(st.st_mode & 0777));
	}
	umask(old);
}

Test(csvwrite, replaces_an_existing_file, .init = tmpdir_make,
     .fini = tmpdir_remove)
{
	const char *path = tmpdir_path("out.csv");
	const char *old = "old contents that are longer than the new ones, "
			  "by far .......................................\n";
	FILE *f = fopen(path, "w");
	size_t len;

	fputs(old, f);
	fclose(f);
	write_sample(path, old);
	cr_assert_str_eq(slurp(path, &len), expected);
}

static size_t files_in_dir(void)
{
	char cmd[128];
	FILE *p;
	size_t n = 0;
	int c;

	snprintf(cmd, sizeof(cmd), "ls -A '%s'", tmpdir);
	p = popen(cmd, "r");
	while ((c = fgetc(p)) != EOF)
		n += c == '\n';
	pclose(p);
	return n;
}

Test(csvwrite, abort_removes_the_temporary_file, .init = tmpdir_make,
     .fini = tmpdir_remove)
{
	struct csvwrite w = CSVWRITE_INIT;
	struct err e = ERR_INIT;
	struct stat st;
	char tmp[256];

	cr_assert_eq(csvwrite_open(&w, tmpdir_path("x.csv.gz"), &e), MB_OK);
	cr_assert_eq(csvwrite_row(&w, header, 4, &e), MB_OK);
	snprintf(tmp, sizeof(tmp), "%s", w.tmp_path);
	cr_assert_eq(stat(tmp, &st), 0);
	cr_assert_eq(files_in_dir(), 1);
	csvwrite_abort(&w);
	assert_released(&w);
	cr_assert_eq(stat(tmp, &st), -1);
	cr_assert_eq(files_in_dir(), 0);
	csvwrite_abort(&w);
	csvwrite_abort(NULL);
}

/* Regression: the temporary name was the target's plus a suffix. */
Test(csvwrite, a_name_of_254_bytes_fits, .init = tmpdir_make,
     .fini = tmpdir_remove)
{
	struct csvwrite w = CSVWRITE_INIT;
	struct err e = ERR_INIT;
	char name[255], path[384];
	struct stat st;

	memset(name, 'n', 250);
	strcpy(name + 250, ".csv");
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	cr_assert_eq(csvwrite_open(&w, path, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(csvwrite_row(&w, header, 4, &e), MB_OK);
	cr_assert_eq(csvwrite_close(&w, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(files_in_dir(), 1);
}

Test(csvwrite, an_empty_name_is_a_usage_error)
{
	struct csvwrite w = CSVWRITE_INIT;
	struct err e = ERR_INIT;

	cr_assert_eq(csvwrite_open(&w, "", &e), MB_EUSAGE);
	assert_released(&w);
}

/* Regression: /dev/full was replaced by a regular file, exit 0. */
Test(csvwrite, a_character_device_is_written_in_place)
{
	struct csvwrite w = CSVWRITE_INIT;
	struct err e = ERR_INIT;
	struct stat st;

	cr_assert_eq(csvwrite_open(&w, "/dev/full", &e), MB_OK, "%s", e.msg);
	cr_assert_null(w.tmp_path);
	cr_assert_eq(csvwrite_row(&w, header, 4, &e), MB_OK);
	cr_assert_eq(csvwrite_close(&w, &e), MB_EIO);
	cr_assert(strstr(e.msg, "No space left on device"), "%s", e.msg);
	cr_assert_eq(stat("/dev/full", &st), 0);
	cr_assert(S_ISCHR(st.st_mode));
	assert_released(&w);
}

Test(csvwrite, cannot_create_names_the_file)
{
	struct csvwrite w = CSVWRITE_INIT;
	struct err e = ERR_INIT;

	cr_assert_eq(csvwrite_open(&w, "/nonexistent-dir/out.csv", &e),
		     MB_EIO);
	cr_assert(strstr(e.msg, "cannot create '/nonexistent-dir/out.csv'"),
		  "%s", e.msg);
	cr_assert(strstr(e.msg, "No such file or directory"), "%s", e.msg);
	assert_released(&w);
}

Test(csvwrite, row_over_the_cap_is_refused, .init = tmpdir_make,
     .fini = tmpdir_remove)
{
	struct csvwrite w = CSVWRITE_INIT;
	struct err e = ERR_INIT;
	size_t big = (size_t)17 << 20;
	char *cell = malloc(big + 1);
	const char *row[1] = { cell };

	memset(cell, 'x', big);
	cell[big] = '\0';
	cr_assert_eq(csvwrite_open(&w, tmpdir_path("big.csv"), &e), MB_OK);
	cr_assert_eq(csvwrite_row(&w, row, 1, &e), MB_ETOOBIG);
	cr_assert(strstr(e.msg, "big.csv"), "%s", e.msg);
	csvwrite_abort(&w);
	free(cell);
	cr_assert_eq(files_in_dir(), 0);
}

Test(csvwrite, dash_is_stdout, .init = cr_redirect_stdout)
{
	struct csvwrite w = CSVWRITE_INIT;
	struct err e = ERR_INIT;
	const char *const row[] = { "a", "=b", "c,d" };

	cr_assert_eq(csvwrite_open(&w, "-", &e), MB_OK);
	cr_assert_null(w.tmp_path);
	cr_assert_eq(csvwrite_row(&w, row, 3, &e), MB_OK);
	cr_assert_eq(csvwrite_close(&w, &e), MB_OK);
	assert_released(&w);
	fflush(stdout);
	cr_assert_stdout_eq_str("a,'=b,\"c,d\"\r\n");
}

Test(csvwrite, row_after_close_is_an_error)
{
	struct csvwrite w = CSVWRITE_INIT;
	struct err e = ERR_INIT;

	cr_assert_eq(csvwrite_row(&w, header, 4, &e), MB_EINTERNAL);
}
