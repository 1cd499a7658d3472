/*
 * archive: which members are CSV, how a zip that cannot be staged is
 * refused (each message names the file and says what to do), listings,
 * fingerprints, and that release leaves the struct empty.  The zips are
 * written with libzip itself, AES-encrypted ones included.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "archive.h"
#include "tmpdir.h"

TestSuite(archive, .init = tmpdir_make, .fini = tmpdir_remove);

struct entry {
	const char *name;        /* ending in '/': a directory */
	const char *data;        /* NULL: "email\na@example.com\n" */
	int encrypt;             /* AES-256, password "secret" */
};

#define CSV "email\na@example.com\n"

static const char *write_zip(const char *name, const struct entry *v,
			     size_t n)
{
	const char *path = tmpdir_path(name);
	zip_t *z;
	int code = 0;
	size_t i;

	unlink(path);
	z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &code);
	cr_assert_not_null(z, "zip_open: %d", code);
	for (i = 0; i < n; i++) {
		const char *data = v[i].data ? v[i].data : CSV;
		size_t len = strlen(v[i].name);
		zip_source_t *src;
		zip_int64_t idx;

		if (len && v[i].name[len - 1] == '/') {
			cr_assert_geq(zip_dir_add(z, v[i].name, 0), 0);
			continue;
		}
		src = zip_source_buffer(z, data, strlen(data), 0);
		cr_assert_not_null(src);
		idx = zip_file_add(z, v[i].name, src, ZIP_FL_ENC_UTF_8);
		cr_assert_geq(idx, 0, "%s", zip_strerror(z));
		if (v[i].encrypt)
			cr_assert_eq(zip_file_set_encryption(z, (zip_uint64_t)
				idx, ZIP_EM_AES_256, "secret"), 0, "%s",
				zip_strerror(z));
	}
	cr_assert_eq(zip_close(z), 0);
	return path;
}

static void assert_empty(const struct archive *a)
{
	cr_assert_null(a->path);
	cr_assert_null(a->za);
	cr_assert_null(a->members);
	cr_assert_eq(a->nmembers, 0);
	cr_assert_eq(a->ncsv, 0);
	cr_assert_eq(a->file_size, 0);
}

Test(archive, classify_by_name)
{
	static const struct {
		const char *name;
		enum archive_kind kind;
	} cases[] = {
		{ "subscribed_members_export_a1b2c3d4e5.csv", ARCHIVE_CSV },
		{ "members_export_x/cleaned_members_export_x.csv",
		  ARCHIVE_CSV },
		{ "EXPORT.CSV", ARCHIVE_CSV },
		{ "contacts.tsv", ARCHIVE_CSV },
		{ "contacts.txt", ARCHIVE_CSV },
		{ "contacts.csv.gz", ARCHIVE_CSV },
		{ "a\\b\\contacts.csv", ARCHIVE_CSV },
		{ "members_export_x/", ARCHIVE_DIR },
		{ "a\\", ARCHIVE_DIR },
		{ "__MACOSX/", ARCHIVE_DIR },
		{ "__MACOSX/x/._subscribed_members_export_x.csv",
		  ARCHIVE_OTHER },
		{ "x/__MACOSX/a.csv", ARCHIVE_OTHER },
		{ "._a.csv", ARCHIVE_OTHER },
		{ "x/.DS_Store", ARCHIVE_OTHER },
		{ "README.pdf", ARCHIVE_OTHER },
		{ "book.xlsx", ARCHIVE_OTHER },
		{ "contacts.gz", ARCHIVE_OTHER },
		{ "csv", ARCHIVE_OTHER },
		{ ".csv.bak", ARCHIVE_OTHER },
		{ "inner.zip", ARCHIVE_ZIP },
		{ "dir/Inner.ZIP", ARCHIVE_ZIP },
		{ "", ARCHIVE_DIR },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_expect_eq(archive_classify(cases[i].name), cases[i].kind,
			     "'%s': %d", cases[i].name,
			     archive_classify(cases[i].name));
}

Test(archive, magic_bytes)
{
	static const struct {
		const char *head;
		size_t n;
		int is_zip;
	} cases[] = {
		{ "PK\x03\x04\x14\0", 6, 1 },
		{ "PK\x05\x06", 4, 1 },
		{ "PK\x07\x08", 4, 1 },
		{ "PK\x03", 3, 0 },
		{ "PK\x01\x02", 4, 0 },
		{ "\x1f\x8b\x08\0", 4, 0 },
		{ "email,name", 10, 0 },
		{ "", 0, 0 },
	};
	size_t i;
	int is_zip = -1;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_expect_eq(archive_is_zip(cases[i].head, cases[i].n),
			     cases[i].is_zip, "case %zu", i);
	cr_assert_eq(archive_is_zip_file(tmpdir_write("z.csv", "PK\x03\x04",
						     4), &is_zip, NULL), MB_OK);
	cr_assert_eq(is_zip, 1);
	cr_assert_eq(archive_is_zip_file(tmpdir_write("s.csv", "PK", 2),
					 &is_zip, NULL), MB_OK);
	cr_assert_eq(is_zip, 0);
	cr_assert_eq(archive_is_zip_file(tmpdir_path("none"), &is_zip, NULL),
		     MB_ENOINPUT);
	/* Not a regular file: never read here (a pipe is read once). */
	is_zip = -1;
	cr_assert_eq(archive_is_zip_file("/dev/zero", &is_zip, NULL), MB_OK);
	cr_assert_eq(is_zip, 0);
}

Test(archive, lists_members_and_finds_the_csvs)
{
	static const struct entry v[] = {
		{ "members_export_x/", NULL, 0 },
		{ "members_export_x/subscribed_members_export_x.csv", NULL, 0 },
		{ "__MACOSX/members_export_x/._subscribed_members_export_x"
		  ".csv", "\0\5\026\7", 0 },
		{ "members_export_x/.DS_Store", "Bud1", 0 },
		{ "README.pdf", "%PDF-1.4", 0 },
		{ "inner.zip", "PK\x05\x06", 0 },
		{ "cleaned_members_export_x.csv", NULL, 0 },
	};
	struct archive a = ARCHIVE_INIT;
	struct err e = ERR_INIT;
	struct buf list = BUF_INIT;
	const char *path = write_zip("audience.zip", v, 7);
	char want[256];

	cr_assert_eq(archive_open(&a, path, &e), MB_OK, "%s", e.msg);
	cr_assert_str_eq(a.path, path);
	cr_assert_eq(a.nmembers, 7);
	cr_assert_eq(a.ncsv, 2);
	cr_assert_eq(a.members[1].kind, ARCHIVE_CSV);
	cr_assert_str_eq(a.members[1].name, v[1].name);
	cr_assert_eq(a.members[1].index, 1);
	cr_assert_eq(a.members[1].size, strlen(CSV));
	cr_assert_eq(a.members[5].kind, ARCHIVE_ZIP);
	cr_assert_eq(a.members[6].kind, ARCHIVE_CSV);
	cr_assert_eq(archive_list(&a, ARCHIVE_KIND(ARCHIVE_OTHER) |
				  ARCHIVE_KIND(ARCHIVE_DIR), 10, &list), 4);
	cr_assert_str_eq(buf_str(&list), "members_export_x/, __MACOSX/"
			 "members_export_x/._subscribed_members_export_x.csv,"
			 " members_export_x/.DS_Store, README.pdf");
	buf_reset(&list);
	cr_assert_eq(archive_list(&a, ARCHIVE_KIND(ARCHIVE_OTHER), 1, &list),
		     3);
	cr_assert_str_eq(buf_str(&list), "__MACOSX/members_export_x/"
			 "._subscribed_members_export_x.csv and 2 more");
	cr_assert_eq(archive_display_name(&a, 6, &list), MB_OK);
	snprintf(want, sizeof(want), "%s:cleaned_members_export_x.csv",
		 path);
	cr_assert_str_eq(buf_str(&list), want);
	archive_release(&a);
	assert_empty(&a);
	archive_release(&a);
	buf_release(&list);
}

Test(archive, control_characters_never_reach_a_message)
{
	static const struct entry v[] = {
		{ "a\t\x7f\n.csv", NULL, 0 },
	};
	struct archive a = ARCHIVE_INIT;
	struct err e = ERR_INIT;

	cr_assert_eq(archive_open(&a, write_zip("ctl.zip", v, 1), &e), MB_OK,
		     "%s", e.msg);
	cr_assert_str_eq(a.members[0].name, "a\t\x7f\n.csv");
	cr_assert_str_eq(a.members[0].shown, "a???.csv");
	archive_release(&a);
}

struct refusal {
	const char *file;
	struct entry v[4];
	size_t n;
	enum mb_rc rc;
	const char *message;     /* after "'<path>' " */
};

static const struct refusal refusals[] = {
	{ "book.csv", { { "[Content_Types].xml", "<Types/>", 0 },
			{ "_rels/.rels", "<x/>", 0 },
			{ "xl/workbook.xml", "<workbook/>", 0 } }, 3, MB_EDATA,
	  "is a zip archive with no CSV file in it: it is an Excel workbook"
	  " (.xlsx); save it as CSV (UTF-8) and stage that" },
	{ "sheet.ods", { { "mimetype", "application/vnd.oasis", 0 },
			 { "content.xml", "<x/>", 0 } }, 2, MB_EDATA,
	  "is a zip archive with no CSV file in it: it is an OpenDocument"
	  " file (.ods)" },
	{ "docs.zip", { { "a.pdf", "%PDF", 0 }, { "img/", NULL, 0 },
			{ "b.json", "{}", 0 } }, 3, MB_EDATA,
	  "is a zip archive with no CSV file in it (members: a.pdf, img/,"
	  " b.json)" },
	{ "nested.zip", { { "inner.zip", "PK\x05\x06", 0 } }, 1, MB_EDATA,
	  "is a zip archive with no CSV file in it, but zip archives inside"
	  " it: unzip them and stage the CSV files inside" },
	{ "secret.zip", { { "notes.pdf", "%PDF", 1 },
			  { "subscribed_members_export_x.csv", NULL, 1 } },
	  2, MB_EDATA, "is encrypted (member 'subscribed_members_export_x"
	  ".csv' needs a password): export it again without a password, or"
	  " unzip it with the password and stage the CSV files" },
};

Test(archive, refusals_name_the_file_and_say_what_to_do)
{
	size_t i;

	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		const struct refusal *r = &refusals[i];
		struct archive a = ARCHIVE_INIT;
		struct err e = ERR_INIT;
		const char *path = write_zip(r->file, r->v, r->n);
		char want[512];

		snprintf(want, sizeof(want), "'%s' %s", path, r->message);
		cr_expect_eq(archive_open(&a, path, &e), r->rc, "%s: %s",
			     r->file, e.msg);
		cr_expect(strstr(e.msg, want), "%s: got \"%s\"", r->file,
			  e.msg);
		assert_empty(&a);
	}
}

Test(archive, damaged_or_not_a_zip)
{
	static const struct entry v[] = {
		{ "subscribed_members_export_x.csv", NULL, 0 },
		{ "cleaned_members_export_x.csv", NULL, 0 },
	};
	static const char empty[22] = "PK\x05\x06";
	static const char junk[] = "PK\x03\x04junk, not a zip";
	struct archive a = ARCHIVE_INIT;
	struct err e = ERR_INIT;
	const char *path = write_zip("cut.zip", v, 2);
	char want[256];

	cr_assert_eq(truncate(path, 100), 0);
	cr_assert_eq(archive_open(&a, path, &e), MB_EDATA);
	snprintf(want, sizeof(want), "'%s' is a truncated or corrupt zip"
		 " archive (Not a zip archive): its table of contents at the"
		 " end is missing or damaged; download or export it again",
		 path);
	cr_assert_str_eq(e.msg, want);
	assert_empty(&a);

	path = tmpdir_write("junk.zip", junk, sizeof(junk) - 1);
	cr_assert_eq(archive_open(&a, path, &e), MB_EDATA);
	cr_assert(strstr(e.msg, "is a truncated or corrupt zip archive"),
		  "%s", e.msg);

	path = tmpdir_write("empty.zip", empty, sizeof(empty));
	cr_assert_eq(archive_open(&a, path, &e), MB_EDATA);
	snprintf(want, sizeof(want), "'%s' is an empty zip archive: no CSV"
		 " file in it", path);
	cr_assert_str_eq(e.msg, want);

	cr_assert_eq(archive_open(&a, tmpdir_path("gone.zip"), &e),
		     MB_ENOINPUT);
	cr_assert(strstr(e.msg, "cannot open '"), "%s", e.msg);
	assert_empty(&a);
}

Test(archive, fingerprint_is_of_the_stored_bytes)
{
	static const struct entry one[] = {
		{ "a.csv", "email\na@example.com\n", 0 },
		{ "b.csv", "email\nb@example.com\n", 0 },
	};
	static const struct entry two[] = {
		{ "other/name.csv", "email\na@example.com\n", 0 },
	};
	struct archive a = ARCHIVE_INIT, b = ARCHIVE_INIT;
	char h1[65], h2[65], h3[65];
	uint64_t s1, s2, s3;

	cr_assert_eq(archive_open(&a, write_zip("one.zip", one, 2), NULL),
		     MB_OK);
	cr_assert_eq(archive_open(&b, write_zip("two.zip", two, 1), NULL),
		     MB_OK);
	archive_fingerprint(a.za, 0, &s1, h1);
	archive_fingerprint(a.za, 1, &s2, h2);
	archive_fingerprint(b.za, 0, &s3, h3);
	cr_assert_eq(strlen(h1), 64);
	cr_assert_eq(s1, a.members[0].comp_size);
	/* Same bytes under another name: the same input. */
	cr_assert_str_eq(h1, h3);
	cr_assert_eq(s1, s3);
	cr_assert_str_neq(h1, h2);
	archive_release(&a);
	archive_release(&b);
}

/* The zip check reads with pread: the descriptor is then read from 0. */
Test(archive, is_zip_fd_leaves_the_offset)
{
	const char *path = tmpdir_write("o.zip", "PK\x03\x04rest", 8);
	char head[4];
	int is_zip = -1;
	int fd = open(path, O_RDONLY);

	cr_assert_geq(fd, 0);
	cr_assert_eq(archive_is_zip_fd(fd, path, &is_zip, NULL), MB_OK);
	cr_assert_eq(is_zip, 1);
	cr_assert_eq(read(fd, head, 4), 4);
	cr_assert_eq(memcmp(head, "PK\x03\x04", 4), 0);
	close(fd);
}

/* Past ARCHIVE_MAX_MEMBERS: refused, with the archive and its count. */
Test(archive, too_many_members_are_refused)
{
	const char *path = tmpdir_path("many.zip");
	struct archive a = ARCHIVE_INIT;
	struct err e = ERR_INIT;
	char name[32], want[64];
	zip_t *z;
	int code = 0, i;

	z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &code);
	cr_assert_not_null(z);
	for (i = 0; i <= ARCHIVE_MAX_MEMBERS; i++) {
		snprintf(name, sizeof(name), "m%05d.csv", i);
		cr_assert_geq(zip_file_add(z, name, zip_source_buffer(z, CSV,
			strlen(CSV), 0), 0), 0);
	}
	cr_assert_eq(zip_close(z), 0);
	cr_assert_eq(archive_open(&a, path, &e), MB_EDATA);
	snprintf(want, sizeof(want), "has %d members, more than the %d",
		 ARCHIVE_MAX_MEMBERS + 1, ARCHIVE_MAX_MEMBERS);
	cr_assert(strstr(e.msg, path) && strstr(e.msg, want), "%s", e.msg);
	cr_assert_null(a.members);
	archive_release(&a);
}
