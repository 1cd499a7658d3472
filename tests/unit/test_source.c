/*
 * source: kind detection by magic bytes, refusals with actionable messages,
 * BOM removal, gzip damage reporting, and byte-exact streaming; the same
 * for zip members (written here with libzip), with CRC damage, encryption
 * and the zip-bomb guard over an archive's members.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zip.h>
#include <zlib.h>

#include "archive.h"
#include "buf.h"
#include "source.h"
#include "tmpdir.h"

/* Append one gzip member holding data to path (mode "ab" makes members). */
static const char *write_gz(const char *name, const void *data, size_t n,
			    const char *mode)
{
	const char *path = tmpdir_path(name);
	gzFile gz = gzopen(path, mode);

	cr_assert_not_null(gz);
	if (n)
		cr_assert_eq(gzwrite(gz, data, (unsigned)n), (int)n);
	cr_assert_eq(gzclose(gz), Z_OK);
	return path;
}

static void truncate_to(const char *path, long size)
{
	cr_assert_eq(truncate(path, size), 0);
}

/* Deterministic, poorly compressible CSV-ish text. */
static char *make_text(size_t n)
{
	char *p = malloc(n);
	unsigned long x = 12345;
	size_t i;

	for (i = 0; i < n; i++) {
		x = x * 6364136223846793005UL + 1442695040888963407UL;
		/* Letters only: 'a' + 31 was 0x80, which is not UTF-8. */
		p[i] = (i % 61 == 60) ? '\n' : (char)('a' + (x >> 59) % 26);
	}
	return p;
}

/*
 * Read the whole source in pieces of cap bytes into out (size max).
 * Returns the rc of the last read; *total gets the bytes delivered.
 */
static enum mb_rc read_all(struct source *src, char *out, size_t max,
			   size_t cap, size_t *total, struct err *e)
{
	enum mb_rc rc;
	size_t n;

	*total = 0;
	for (;;) {
		n = 12345;
		rc = source_read(src, out + *total, cap, &n, e);
		if (rc != MB_OK)
			return rc;
		cr_assert_leq(n, cap);
		if (!n)
			return MB_OK;
		*total += n;
		cr_assert_leq(*total + cap, max, "more data than expected");
	}
}

static void assert_closed(const struct source *src)
{
	cr_assert_null(src->path);
	cr_assert_null(src->in);
	cr_assert_null(src->head);
	cr_assert_eq(src->head_len, 0);
	cr_assert_eq(src->head_off, 0);
	cr_assert_eq(src->bytes_out, 0);
	cr_assert_eq(src->is_gzip, 0);
	cr_assert_eq(src->is_member, 0);
}

/* Open path, read everything, compare with want; check the kind. */
static void expect_content(const char *path, const char *want, size_t n,
			   int is_gzip, size_t cap)
{
	struct source src = SOURCE_INIT;
	struct err e = ERR_INIT;
	size_t max = n + cap + 16, total;
	char *out = malloc(max);

	cr_assert_eq(source_open(&src, path, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(src.is_gzip, is_gzip, "%s", path);
	cr_assert_eq(read_all(&src, out, max, cap, &total, &e), MB_OK, "%s",
		     e.msg);
	cr_assert_eq(total, n, "%s: %zu bytes, want %zu", path, total, n);
	cr_assert_eq(memcmp(out, want, n), 0, "%s: content differs", path);
	cr_assert_eq(src.bytes_out, n);
	source_close(&src);
	assert_closed(&src);
	free(out);
}

TestSuite(source, .init = tmpdir_make, .fini = tmpdir_remove);

Test(source, plain_and_gzip_whatever_the_name)
{
	static const char text[] = "Email Address,First Name\na@x.com,A\n";
	size_t n = sizeof(text) - 1;

	expect_content(tmpdir_write("a.csv", text, n), text, n, 0, 4096);
	expect_content(write_gz("b.csv.gz", text, n, "wb"), text, n, 1, 4096);
	/* Detected by magic bytes, not by the name. */
	expect_content(write_gz("c.csv", text, n, "wb"), text, n, 1, 4096);
	expect_content(tmpdir_write("d.csv.gz", text, n), text, n, 0, 4096);
}

Test(source, big_input_in_odd_pieces)
{
	static const size_t caps[] = { 1, 7, 8191, 8192, 8193, 100000,
				       1 << 20 };
	size_t n = 3 * 1024 * 1024 + 17, i;
	char *text = make_text(n);
	const char *plain = tmpdir_write("big.csv", text, n);
	const char *gz = write_gz("big.csv.gz", text, n, "wb");

	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		if (caps[i] < 100 && i)
			continue;
		expect_content(plain, text, n, 0, caps[i]);
		expect_content(gz, text, n, 1, caps[i]);
	}
	free(text);
}

Test(source, one_byte_pieces)
{
	size_t n = 20000;
	char *text = make_text(n);

	expect_content(tmpdir_write("p.csv", text, n), text, n, 0, 1);
	expect_content(write_gz("p.csv.gz", text, n, "wb"), text, n, 1, 1);
	free(text);
}

Test(source, concatenated_gzip_members)
{
	const char *path = write_gz("m.csv.gz", "a,b\n1,2\n", 8, "wb");

	write_gz("m.csv.gz", "3,4\n", 4, "ab");
	write_gz("m.csv.gz", "", 0, "ab");
	write_gz("m.csv.gz", "5,6\n", 4, "ab");
	expect_content(path, "a,b\n1,2\n3,4\n5,6\n", 16, 1, 4096);
}

Test(source, utf8_bom_is_removed)
{
	static const char text[] = "\xef\xbb\xbf" "email\nx@y.z\n";
	size_t n = sizeof(text) - 1;

	expect_content(tmpdir_write("bom.csv", text, n), text + 3, n - 3, 0,
		       4096);
	expect_content(write_gz("bom.csv.gz", text, n, "wb"), text + 3, n - 3,
		       1, 4096);
	expect_content(tmpdir_write("bom-only.csv", text, 3), "", 0, 0, 4096);
	expect_content(tmpdir_write("bom-1.csv", text, n), text + 3, n - 3, 0,
		       1);
	/* Only a leading one. */
	expect_content(tmpdir_write("bom-mid.csv", "a\xef\xbb\xbf", 4),
		       "a\xef\xbb\xbf", 4, 0, 4096);
}

Test(source, empty_files_are_fine)
{
	expect_content(tmpdir_write("empty.csv", "", 0), "", 0, 0, 4096);
	expect_content(write_gz("empty.csv.gz", "", 0, "wb"), "", 0, 1, 4096);
}

struct refusal {
	const char *name;
	const char *data;
	size_t len;
	int gzip;                /* wrap data in gzip first */
	const char *message;     /* after "'<path>' " */
};

static const struct refusal refusals[] = {
	{ "export.zip", "PK\x03\x04\x14\0\0\0", 8, 0,
	  "is a zip archive: unzip it and stage the CSV files inside" },
	{ "audience.csv", "PK\x03\x04\x14\0\0\0", 8, 0,
	  "is a zip archive: unzip it and stage the CSV files inside" },
	{ "empty.zip", "PK\x05\x06\0\0\0\0", 8, 0, "is a zip archive" },
	{ "zip.gz", "PK\x03\x04\x14\0\0\0", 8, 1,
	  "is a gzip-compressed zip archive: gunzip it and stage the zip" },
	{ "book.xls", "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\0\0", 10, 0,
	  "is an Excel (.xls) workbook: save it as CSV" },
	{ "le-nobom.csv", "e\0m\0a\0i\0l\0\n\0", 12, 0,
	  "looks like UTF-16LE without a byte order mark: stage it with "
	  "--encoding UTF-16LE" },
	{ "be-nobom.csv", "\0e\0m\0a\0i\0l\0\n", 12, 0,
	  "looks like UTF-16BE without a byte order mark" },
	/* Binary by content: magic numbers, then the share of controls. */
	{ "bin.csv", "\x7f" "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0", 20,
	  0, "is binary data, not CSV (an ELF executable)" },
	{ "report.csv", "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", 15, 0,
	  "is binary data, not CSV (a PDF document)" },
	{ "photo.csv", "\xff\xd8\xff\xe0\0\x10JFIF", 10, 0,
	  "is binary data, not CSV (a JPEG image)" },
	{ "png.csv.gz", "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, 1,
	  "is binary data, not CSV (a PNG image)" },
	{ "db.csv", "SQLite format 3\0\x10\0", 18, 0,
	  "is binary data, not CSV (an SQLite database)" },
	{ "seven.csv", "7z\xbc\xaf\x27\x1c\0\x04", 8, 0,
	  "is binary data, not CSV (a 7-Zip archive)" },
	{ "dump.csv.bz2", "BZh91AY&SY", 10, 0, "is bzip2-compressed: "
	  "decompress it (bzip2 -d) and stage the CSV" },
	{ "ctl.csv", "a\0\1\2\3\4\5\6\7\x0e\x0f\x10\x11\x12\x13\x14"
	  "bcdefghijklmnopqrst", 35, 0, "is binary data, not CSV (15 of its "
	  "first 35 bytes are NUL or control bytes)" },
	/* Not UTF-8, no byte order mark: where, and what to try. */
	{ "win.csv", "email,name\r\na@x.org,Ana\r\nb@x.org,Jos\xe9\r\n",
	  39, 0, "is not UTF-8: line 3 has byte 0xE9 at offset 36, where "
	  "UTF-8 cannot have it; its bytes read as Windows-1252 (0xE9 is "
	  "'\xc3\xa9'): stage it with --encoding windows-1252" },
	{ "win.csv.gz", "email\n\x93q\x94@x.org\n", 16, 1, "is not UTF-8: "
	  "line 2 has byte 0x93 at offset 6," },
	/* 0x81 is not a Windows-1252 character: no false promise. */
	{ "other.csv", "email,name\na@x.org,\x81\x40\x82\xa0\n", 24, 0,
	  "is not UTF-8: line 2 has byte 0x81 at offset 19, where UTF-8 "
	  "cannot have it; stage it with --encoding NAME, NAME its "
	  "encoding (iconv -l lists them)" },
	/* It read "binary data (NUL bytes)", which sends one to iconv. */
	{ "twice.csv.gz", "\x1f\x8b\x08\0\0\0\0\0\0\x03", 10, 1,
	  "is gzip-compressed twice (a gzip file inside a gzip file):"
	  " decompress it once" },
	{ "xz.csv.gz", "\xfd" "7zXZ\0\0\x04", 8, 1,
	  "is gzip-compressed xz data (a compressed file inside a gzip"
	  " file): decompress both" },
};

Test(source, refusals_name_the_file_and_say_what_to_do)
{
	size_t i;

	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		const struct refusal *r = &refusals[i];
		struct source src = SOURCE_INIT;
		struct err e = ERR_INIT;
		const char *path = r->gzip
			? write_gz(r->name, r->data, r->len, "wb")
			: tmpdir_write(r->name, r->data, r->len);
		char want[512];

		snprintf(want, sizeof(want), "'%s' %s", path, r->message);
		cr_assert_eq(source_open(&src, path, &e), MB_EDATA, "%s",
			     r->name);
		cr_assert_eq(e.rc, MB_EDATA);
		cr_assert(strstr(e.msg, want), "%s: got \"%s\"", r->name,
			  e.msg);
		assert_closed(&src);
		source_close(&src);
	}
}

Test(source, nul_after_the_first_block_is_data)
{
	size_t n = 9000;
	char *text = make_text(n);

	text[8500] = '\0';
	expect_content(tmpdir_write("late-nul.csv", text, n), text, n, 0, 4096);
	free(text);
}

Test(source, cannot_open)
{
	struct source src = SOURCE_INIT;
	struct err e = ERR_INIT;
	char want[256];

	cr_assert_eq(source_open(&src, tmpdir_path("missing.csv"), &e),
		     MB_ENOINPUT);
	snprintf(want, sizeof(want), "cannot open '%s': No such file or "
		 "directory", tmpdir_path("missing.csv"));
	cr_assert_str_eq(e.msg, want);
	assert_closed(&src);

	cr_assert_eq(source_open(&src, tmpdir, &e), MB_ENOINPUT);
	snprintf(want, sizeof(want), "cannot open '%s': Is a directory", tmpdir);
	cr_assert_str_eq(e.msg, want);
	assert_closed(&src);
}

/* Rows before the damage come out; then an error naming the file. */
static void expect_damage(const char *path, const char *text, size_t n,
			  const char *zlib_text, size_t min_good)
{
	struct source src = SOURCE_INIT;
	struct err e = ERR_INIT;
	size_t max = n + 70000, total;
	char *out = malloc(max);
	char want[256];

	cr_assert_eq(source_open(&src, path, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(src.is_gzip, 1);
	cr_assert_eq(read_all(&src, out, max, 65536, &total, &e), MB_EDATA,
		     "%s: %zu bytes: %s", path, total, e.msg);
	snprintf(want, sizeof(want), "'%s' is a truncated or corrupt gzip "
		 "file: %s (after %zu bytes of data)", path, zlib_text, total);
	cr_assert_str_eq(e.msg, want);
	cr_assert_geq(total, min_good);
	cr_assert_leq(total, n);
	cr_assert_eq(memcmp(out, text, total), 0);
	source_close(&src);
	free(out);
}

Test(source, truncated_gzip_delivers_what_came_before)
{
	size_t n = 2 * 1024 * 1024;
	char *text = make_text(n);
	const char *path = write_gz("t.csv.gz", text, n, "wb");
	FILE *f = fopen(path, "rb");
	long size;

	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fclose(f);
	truncate_to(path, size / 2);
	expect_damage(path, text, n, "unexpected end of file", n / 3);
	/* Only the 8-byte trailer missing: every byte, then the error. */
	path = write_gz("t2.csv.gz", text, n, "wb");
	truncate_to(path, size - 8);
	expect_damage(path, text, n, "unexpected end of file", n);
	free(text);
}

Test(source, gzip_with_a_bad_checksum)
{
	size_t n = 100000;
	char *text = make_text(n);
	const char *path = write_gz("crc.csv.gz", text, n, "wb");
	FILE *f = fopen(path, "r+b");
	int c;

	/* The CRC-32 is the trailer's first 4 bytes. */
	cr_assert_eq(fseek(f, -8, SEEK_END), 0);
	c = fgetc(f);
	cr_assert_eq(fseek(f, -8, SEEK_END), 0);
	fputc(c ^ 0xff, f);
	fclose(f);
	expect_damage(path, text, n, "incorrect data check", n);
	free(text);
}

/* Regression: gzread() took a missing trailer for a clean end of file. */
Test(source, gzip_cut_in_its_trailer_at_a_buffer_boundary)
{
	static const long cuts[] = { 1, 4, 7, 8 };
	size_t n = 1024 * 1024, i;
	char *text = make_text(n);
	const char *path;
	FILE *f;
	long size;

	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		path = write_gz("trailer.csv.gz", text, n, "wb");
		f = fopen(path, "rb");
		fseek(f, 0, SEEK_END);
		size = ftell(f);
		fclose(f);
		truncate_to(path, size - cuts[i]);
		expect_damage(path, text, n, "unexpected end of file", n);
	}
	free(text);
}

/* Damage inside the first block: open succeeds, the bytes come first. */
Test(source, small_truncated_gzip_still_gives_its_bytes)
{
	size_t n = 3000;
	char *text = make_text(n);
	const char *path = write_gz("small.csv.gz", text, n, "wb");

	truncate_to(path, 1500);
	expect_damage(path, text, n, "unexpected end of file", 1000);
	free(text);
}

Test(source, trailing_garbage_after_a_member_is_ignored)
{
	const char *path = write_gz("junk.csv.gz", "a,b\n", 4, "wb");
	FILE *f = fopen(path, "ab");

	fwrite("\0\0\0\0junk", 1, 8, f);
	fclose(f);
	expect_content(path, "a,b\n", 4, 1, 4096);
}

Test(source, gzip_cut_inside_its_header)
{
	struct source src = SOURCE_INIT;
	struct err e = ERR_INIT;
	const char *path = write_gz("h.csv.gz", "a,b\n", 4, "wb");
	char want[256];

	truncate_to(path, 5);
	cr_assert_eq(source_open(&src, path, &e), MB_EDATA);
	snprintf(want, sizeof(want), "'%s' is a truncated or corrupt gzip "
		 "file: unexpected end of file (after 0 bytes of data)", path);
	cr_assert_str_eq(e.msg, want);
	assert_closed(&src);
}

Test(source, close_is_idempotent_and_read_after_close_fails)
{
	struct source src = SOURCE_INIT;
	struct err e = ERR_INIT;
	char b[4];
	size_t n = 99;

	source_close(&src);
	assert_closed(&src);
	cr_assert_eq(source_open(&src, tmpdir_write("x.csv", "a\n", 2), &e),
		     MB_OK);
	source_close(&src);
	source_close(&src);
	assert_closed(&src);
	cr_assert_eq(source_read(&src, b, sizeof(b), &n, &e), MB_EINTERNAL);
	cr_assert_eq(n, 99, "*n is written only on success");
}

Test(source, reopen_releases_the_previous_file)
{
	struct source src = SOURCE_INIT;
	struct err e = ERR_INIT;

	cr_assert_eq(source_open(&src, tmpdir_write("1.csv", "a\n", 2), &e),
		     MB_OK);
	cr_assert_eq(source_open(&src, write_gz("2.gz", "b\n", 2, "wb"), &e),
		     MB_OK);
	cr_assert_eq(src.is_gzip, 1);
	source_close(&src);
}

/* Read to the end or the first error, counting (not keeping) the bytes. */
static enum mb_rc drain(struct source *src, uint64_t *total, struct err *e)
{
	static char block[1 << 16];
	enum mb_rc rc;
	size_t n;

	*total = 0;
	while ((rc = source_read(src, block, sizeof(block), &n, e)) == MB_OK &&
	       n)
		*total += n;
	return rc;
}

/* One gzip member of lines produced by line(i, buf), appended to path. */
static const char *write_gz_lines(const char *name, size_t nlines,
				  size_t (*line)(size_t i, char *buf),
				  const char *mode)
{
	const char *path = tmpdir_path(name);
	gzFile gz = gzopen(path, mode);
	char buf[1100];
	size_t i, n;

	cr_assert_not_null(gz);
	for (i = 0; i < nlines; i++) {
		n = line(i, buf);
		cr_assert_eq(gzwrite(gz, buf, (unsigned)n), (int)n);
	}
	cr_assert_eq(gzclose(gz), Z_OK);
	return path;
}

static size_t blank_line(size_t i, char *buf)
{
	(void)i;
	memset(buf, ' ', 1023);
	buf[1023] = '\n';
	return 1024;
}

/* A sparse export: an address of its own, then 200 empty columns. */
static size_t sparse_row(size_t i, char *buf)
{
	int n = snprintf(buf, 64, "user%07zu@example.com", i);

	memset(buf + n, ',', 200);
	buf[n + 200] = '\n';
	return (size_t)n + 201;
}

/* Regression: a gzip bomb streamed for as long as it lasted. */
Test(source, gzip_bomb_is_refused_after_what_came_before)
{
	static const char head[] = "email,name\nfirst@example.com,First\n";
	struct source src = SOURCE_INIT;
	struct err e = ERR_INIT;
	const char *path;
	uint64_t total;

	write_gz("bomb.csv.gz", head, sizeof(head) - 1, "wb");
	/* 256 MiB of blank lines: about 1000 times smaller packed. */
	path = write_gz_lines("bomb.csv.gz", 256 << 10, blank_line, "ab");
	cr_assert_eq(source_open(&src, path, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(drain(&src, &total, &e), MB_EDATA);
	cr_assert_geq(total, (uint64_t)64 << 20);
	cr_assert_lt(total, (uint64_t)80 << 20, "%llu bytes read first",
		     (unsigned long long)total);
	cr_assert_not_null(strstr(e.msg, "likely gzip bomb"), "%s", e.msg);
	cr_assert_not_null(strstr(e.msg, path), "%s", e.msg);
	cr_assert_not_null(strstr(e.msg, "gunzip it"), "%s", e.msg);
	source_close(&src);
}

/* The bomb check must not catch a real, very compressible export. */
Test(source, sparse_export_inflating_75_times_is_not_a_bomb)
{
	struct source src = SOURCE_INIT;
	struct err e = ERR_INIT;
	const char *path;
	uint64_t total;
	size_t rows = 330000, i;
	char buf[1100];
	uint64_t want = 0;

	for (i = 0; i < rows; i++)
		want += sparse_row(i, buf);
	path = write_gz_lines("sparse.csv.gz", rows, sparse_row, "wb");
	cr_assert_eq(source_open(&src, path, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(drain(&src, &total, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(total, want);
	cr_assert_gt(total, (uint64_t)64 << 20, "too small to be checked");
	source_close(&src);
}

/* ---- zip members --------------------------------------------------------- */

struct member {
	const char *name;
	const void *data;
	size_t len;
	int store;               /* no compression */
	int encrypt;             /* AES-256, password "secret" */
};

static const char *write_zip(const char *name, const struct member *v,
			     size_t n)
{
	const char *path = tmpdir_path(name);
	zip_t *z;
	int code = 0;
	size_t i;

	z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &code);
	cr_assert_not_null(z, "zip_open: %d", code);
	for (i = 0; i < n; i++) {
		zip_source_t *src = zip_source_buffer(z, v[i].data, v[i].len,
						      0);
		zip_int64_t idx = zip_file_add(z, v[i].name, src, 0);

		cr_assert_geq(idx, 0, "%s", zip_strerror(z));
		if (v[i].store)
			cr_assert_eq(zip_set_file_compression(z,
				(zip_uint64_t)idx, ZIP_CM_STORE, 0), 0);
		if (v[i].encrypt)
			cr_assert_eq(zip_file_set_encryption(z,
				(zip_uint64_t)idx, ZIP_EM_AES_256, "secret"),
				0, "%s", zip_strerror(z));
	}
	cr_assert_eq(zip_close(z), 0, "%s", zip_strerror(z));
	return path;
}

/* Open member i of the zip at path (named as stage names it). */
static enum mb_rc open_member(struct source *src, const char *path,
			      uint64_t i, const char *name,
			      uint64_t out_before, struct err *e)
{
	struct source_member m = SOURCE_MEMBER_INIT;
	char display[256];

	snprintf(display, sizeof(display), "%s:%s", path, name);
	m.zip_path = path;
	m.index = i;
	m.name = name;
	m.out_before = out_before;
	return source_open_member(src, display, &m, e);
}

/* A gzip stream of p[0..n), in memory (caller frees). */
static unsigned char *gzip_bytes(const char *p, size_t n, size_t *out_len)
{
	z_stream z;
	size_t cap = n + 64;
	unsigned char *out = malloc(cap);

	memset(&z, 0, sizeof(z));
	cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8,
				  Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (unsigned char *)(uintptr_t)p;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
	*out_len = cap - z.avail_out;
	deflateEnd(&z);
	return out;
}

Test(source, zip_member_streams_like_a_file)
{
	static const char text[] = "\xef\xbb\xbf" "email,name\n"
		"a@example.com,A\n";
	static const char other[] = "email\nb@example.com\n";
	const struct member v[] = {
		{ "dir/b.csv", other, sizeof(other) - 1, 0, 0 },
		{ "dir/a.csv", text, sizeof(text) - 1, 0, 0 },
	};
	const char *path = write_zip("m.zip", v, 2);
	struct source src = SOURCE_INIT;
	struct archive a = ARCHIVE_INIT;
	struct err e = ERR_INIT;
	char out[256], want_path[160], hex[65], arc_hex[65];
	uint64_t size, arc_size;
	size_t total;

	cr_assert_eq(open_member(&src, path, 1, "dir/a.csv", 0, &e), MB_OK,
		     "%s", e.msg);
	snprintf(want_path, sizeof(want_path), "%s:dir/a.csv", path);
	cr_assert_str_eq(src.path, want_path);
	cr_assert_eq(src.is_member, 1);
	cr_assert_eq(src.is_gzip, 0);
	cr_assert_eq(read_all(&src, out, sizeof(out), 7, &total, &e), MB_OK,
		     "%s", e.msg);
	cr_assert_eq(total, sizeof(text) - 4);
	cr_assert_eq(memcmp(out, text + 3, total), 0);
	cr_assert_eq(source_inflated(&src), sizeof(text) - 1);
	/* The fingerprint is of the stored bytes, as archive gives it. */
	cr_assert_eq(source_fingerprint(&src, &size, hex, &e), MB_OK);
	cr_assert_eq(archive_open(&a, path, &e), MB_OK, "%s", e.msg);
	archive_fingerprint(a.za, 1, &arc_size, arc_hex);
	cr_assert_str_eq(hex, arc_hex);
	cr_assert_eq(size, a.members[1].comp_size);
	archive_release(&a);
	source_close(&src);
	assert_closed(&src);
}

Test(source, zip_member_that_is_gzip_is_inflated)
{
	static const char text[] = "email\nz@example.com\n";
	size_t gz_len, total;
	unsigned char *gz = gzip_bytes(text, sizeof(text) - 1, &gz_len);
	const struct member v[] = { { "a.csv.gz", gz, gz_len, 0, 0 } };
	const char *path = write_zip("gz.zip", v, 1);
	struct source src = SOURCE_INIT;
	struct err e = ERR_INIT;
	char out[256];

	cr_assert_eq(open_member(&src, path, 0, "a.csv.gz", 0, &e), MB_OK,
		     "%s", e.msg);
	cr_assert_eq(src.is_gzip, 1);
	cr_assert_eq(read_all(&src, out, sizeof(out), 64, &total, &e), MB_OK,
		     "%s", e.msg);
	cr_assert_eq(total, sizeof(text) - 1);
	cr_assert_eq(memcmp(out, text, total), 0);
	source_close(&src);
	free(gz);
}

Test(source, zip_member_refusals_name_the_member)
{
	static const struct {
		const char *name;
		const char *data;
		size_t len;
		const char *message;
	} cases[] = {
		{ "inner.csv", "PK\x03\x04\x14\0\0\0", 8, "is a zip archive"
		  " inside a zip archive: unzip the outer one and stage the"
		  " files inside" },
		{ "u16.csv", "e\0m\0a\0i\0l\0\n\0", 12, "looks like UTF-16LE"
		  " without a byte order mark" },
		{ "bin.csv", "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, "is binary"
		  " data, not CSV" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct member v[] = {
			{ cases[i].name, cases[i].data, cases[i].len, 0, 0 },
		};
		const char *path = write_zip("refused.zip", v, 1);
		struct source src = SOURCE_INIT;
		struct err e = ERR_INIT;
		char want[512];

		snprintf(want, sizeof(want), "'%s:%s' %s", path,
			 cases[i].name, cases[i].message);
		cr_expect_eq(open_member(&src, path, 0, cases[i].name, 0, &e),
			     MB_EDATA, "%s", cases[i].name);
		cr_expect(strstr(e.msg, want), "got \"%s\"", e.msg);
		assert_closed(&src);
	}
}

Test(source, zip_member_encrypted_or_changed)
{
	static const char text[] = "email\nz@example.com\n";
	const struct member v[] = {
		{ "a.csv", text, sizeof(text) - 1, 0, 1 },
		{ "b.csv", text, sizeof(text) - 1, 0, 0 },
	};
	const char *path = write_zip("enc.zip", v, 2);
	struct source src = SOURCE_INIT;
	struct err e = ERR_INIT;
	char want[256];

	cr_assert_eq(open_member(&src, path, 0, "a.csv", 0, &e), MB_EDATA);
	snprintf(want, sizeof(want), "'%s:a.csv' is encrypted: export it"
		 " again without a password, or unzip it with the password"
		 " and stage the CSV files", path);
	cr_assert_str_eq(e.msg, want);
	assert_closed(&src);
	/* Index 1 is not "a.csv": the archive changed since it was listed. */
	cr_assert_eq(open_member(&src, path, 1, "a.csv", 0, &e), MB_EDATA);
	cr_assert(strstr(e.msg, "changed while it was being read"), "%s",
		  e.msg);
	cr_assert_eq(open_member(&src, path, 7, "a.csv", 0, &e), MB_EDATA);
	assert_closed(&src);
}

/* A stored member with one byte changed: every byte, then the CRC error. */
Test(source, zip_member_crc_error_after_the_bytes_before_it)
{
	size_t n = 50000, total;
	char *text = make_text(n);
	const struct member v[] = { { "big.csv", text, n, 1, 0 } };
	const char *path = write_zip("crc.zip", v, 1);
	struct source src = SOURCE_INIT;
	struct err e = ERR_INIT;
	char *out = malloc(n + 8192);
	char want[256];
	FILE *f = fopen(path, "r+b");

	/* Local header (30 bytes + the name), then the stored bytes. */
	cr_assert_not_null(f);
	cr_assert_eq(fseek(f, 30 + 7 + 40000, SEEK_SET), 0);
	cr_assert_eq(fputc('#', f), '#');
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(open_member(&src, path, 0, "big.csv", 0, &e), MB_OK,
		     "%s", e.msg);
	cr_assert_eq(read_all(&src, out, n + 8192, 4096, &total, &e),
		     MB_EDATA);
	cr_assert_eq(total, n);
	snprintf(want, sizeof(want), "'%s:big.csv' is a corrupt zip member:"
		 " CRC error (after %zu bytes of data)", path, n);
	cr_assert_str_eq(e.msg, want);
	/* The error stays, and the fingerprint is still there. */
	cr_assert_eq(read_all(&src, out, n + 8192, 4096, &total, &e),
		     MB_EDATA);
	{
		char hex[65];
		uint64_t size;

		cr_assert_eq(source_fingerprint(&src, &size, hex, &e), MB_OK);
		cr_assert_eq(strlen(hex), 64);
	}
	source_close(&src);
	free(out);
	free(text);
}

Test(source, zip_bomb_is_refused_after_what_came_before)
{
	size_t n = (size_t)80 << 20;
	char *lines = malloc(n);
	struct member v[] = {
		{ "head.csv", "email\nfirst@example.com\n", 24, 0, 0 },
		{ "bomb.csv", lines, n, 0, 0 },
	};
	const char *path;
	struct source src = SOURCE_INIT;
	struct err e = ERR_INIT;
	uint64_t total;

	memset(lines, '\n', n);
	path = write_zip("bomb.zip", v, 2);
	cr_assert_eq(open_member(&src, path, 1, "bomb.csv", 0, &e), MB_OK,
		     "%s", e.msg);
	cr_assert_eq(drain(&src, &total, &e), MB_EDATA);
	cr_assert_geq(total, (uint64_t)64 << 20);
	cr_assert_lt(total, (uint64_t)65 << 20, "%llu bytes read first",
		     (unsigned long long)total);
	cr_assert(strstr(e.msg, "more than a CSV export can: refusing it as"
			 " a likely zip bomb (if it really is an export,"
			 " unzip it and stage the CSV files)"), "%s", e.msg);
	cr_assert(strstr(e.msg, path), "%s", e.msg);
	source_close(&src);
	/*
	 * The guard counts the archive's members together: after 64 MiB
	 * from earlier members, a small one at 1000:1 is refused at once.
	 */
	cr_assert_eq(open_member(&src, path, 0, "head.csv", (uint64_t)64 << 20,
				 &e), MB_EDATA);
	cr_assert(strstr(e.msg, "with the members before it"), "%s", e.msg);
	/* A member with nothing big before it is fine. */
	cr_assert_eq(open_member(&src, path, 0, "head.csv", 0, &e), MB_OK,
		     "%s", e.msg);
	source_close(&src);
	free(lines);
}

/* A pipe is read from the descriptor given, never opened by name. */
Test(source, pipe_read_from_the_descriptor_given)
{
	static const char text[] = "email\na@example.com\n";
	struct source src = SOURCE_INIT;
	struct err e = ERR_INIT;
	char out[256];
	size_t total;
	int fds[2];

	cr_assert_eq(pipe(fds), 0);
	cr_assert_eq(write(fds[1], text, sizeof(text) - 1),
		     (ssize_t)sizeof(text) - 1);
	close(fds[1]);
	cr_assert_eq(source_open_fd(&src, "in.fifo", fds[0], &e), MB_OK,
		     "%s", e.msg);
	cr_assert_eq(read_all(&src, out, sizeof(out), 5, &total, &e), MB_OK);
	cr_assert_eq(total, sizeof(text) - 1);
	cr_assert_eq(memcmp(out, text, total), 0);
	source_close(&src);
	assert_closed(&src);
}

static volatile sig_atomic_t stop_flag;

static void *stop_soon(void *arg)
{
	struct timespec t = { 0, 300 * 1000 * 1000 };

	(void)arg;
	nanosleep(&t, NULL);
	stop_flag = 1;
	return NULL;
}

/* A silent writer kept a stop request waiting in read(2) forever. */
Test(source, stop_is_seen_while_a_pipe_waits)
{
	struct source src = SOURCE_INIT;
	struct err e = ERR_INIT;
	pthread_t thread;
	char out[64];
	size_t total = 0;
	int fds[2];

	cr_assert_eq(pipe(fds), 0);
	cr_assert_eq(write(fds[1], "email\n", 6), 6);
	stop_flag = 0;
	src.stop = &stop_flag;
	cr_assert_eq(pthread_create(&thread, NULL, stop_soon, NULL), 0);
	/* What came before the stop is delivered first, as for damage. */
	cr_assert_eq(source_open_fd(&src, "silent.fifo", fds[0], &e), MB_OK,
		     "%s", e.msg);
	cr_assert_eq(read_all(&src, out, sizeof(out), 16, &total, &e),
		     MB_ESTOPPED);
	pthread_join(thread, NULL);
	cr_assert_eq(total, 6);
	cr_assert(strstr(e.msg, "'silent.fifo'"), "%s", e.msg);
	source_close(&src);
	assert_closed(&src);
	close(fds[1]);
}

/* ---- encodings ---------------------------------------------------------- */

/*
 * One character of a cycle, in UTF-8 and in the encoding under test: ASCII,
 * a Latin letter, a CJK one, a character outside the BMP (a UTF-16
 * surrogate pair) and a line feed, so every boundary falls somewhere.
 */
static const char *const cycle_utf8[] = {
	"a", "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x98\x80", "\n",
};
static const char *const cycle_utf16le[] = {
	"a\0", "\xe9\0", "\xe5\x65", "\x3d\xd8\x00\xde", "\n\0",
};
static const size_t cycle_units[] = { 1, 1, 1, 2, 1 };

/* n characters of the cycle after prefix: UTF-16 (LE or BE) and UTF-8. */
static void make_utf16(const char *prefix, size_t n, int big_endian,
		       struct buf *u16, struct buf *u8)
{
	size_t i, j, k;

	for (i = 0; prefix[i]; i++) {
		char unit[2] = { prefix[i], 0 };

		if (big_endian) {
			unit[0] = 0;
			unit[1] = prefix[i];
		}
		buf_add(u16, unit, 2);
		buf_addch(u8, prefix[i]);
	}
	for (i = 0; i < n; i++) {
		k = i % 5;
		buf_addstr(u8, cycle_utf8[k]);
		for (j = 0; j < cycle_units[k] * 2; j += 2) {
			const char *p = cycle_utf16le[k] + j;
			char unit[2] = { p[big_endian], p[!big_endian] };

			buf_add(u16, unit, 2);
		}
	}
}

/* Read path (src->encoding as given) in pieces of cap; compare with want. */
static void expect_utf8(const char *path, const char *encoding,
			const struct buf *want, size_t cap, const char *kind)
{
	struct source src = SOURCE_INIT;
	struct err e = ERR_INIT;
	size_t max = want->len + cap + 16, total;
	char *out = malloc(max);

	src.encoding = encoding;
	cr_assert_eq(source_open(&src, path, &e), MB_OK, "%s", e.msg);
	cr_assert_eq(read_all(&src, out, max, cap, &total, &e), MB_OK, "%s",
		     e.msg);
	cr_assert_eq(total, want->len, "%s, cap %zu: %zu bytes, want %zu",
		     path, cap, total, want->len);
	cr_assert_eq(memcmp(out, want->data, total), 0, "%s, cap %zu",
		     path, cap);
	cr_assert_eq(src.bytes_out, want->len);
	cr_assert_str_eq(source_kind(&src), kind);
	source_close(&src);
	assert_closed(&src);
	cr_assert_str_eq(src.charset, "");
	free(out);
}

Test(source, utf16_with_a_bom_is_transcoded_across_buffer_boundaries)
{
	static const size_t caps[] = { 1, 3, 7, 4096, 65536, 200000 };
	struct buf le = BUF_INIT, be = BUF_INIT, want = BUF_INIT;
	struct buf ignored = BUF_INIT;
	const char *ple, *pbe, *pgz;
	size_t i;

	buf_add(&le, "\xff\xfe", 2);
	buf_add(&be, "\xfe\xff", 2);
	make_utf16("email\n", 90000, 0, &le, &want);
	make_utf16("email\n", 90000, 1, &be, &ignored);
	ple = tmpdir_write("le.txt", le.data, le.len);
	pbe = tmpdir_write("be.txt", be.data, be.len);
	pgz = write_gz("le.txt.gz", le.data, le.len, "wb");
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		expect_utf8(ple, NULL, &want, caps[i], "plain+utf-16le");
		expect_utf8(pbe, NULL, &want, caps[i], "plain+utf-16be");
	}
	/* The byte order mark wins over --encoding. */
	expect_utf8(pgz, "windows-1252", &want, 4096, "gzip+utf-16le");
	buf_release(&le);
	buf_release(&be);
	buf_release(&want);
	buf_release(&ignored);
}

/*
 * The first block read at open is 64 KiB: after a BOM and two characters
 * (6 bytes), the surrogate pairs that follow straddle its end, so one pair
 * is split between two reads of the file.
 */
Test(source, utf16_surrogate_pair_split_between_two_reads)
{
	struct buf u16 = BUF_INIT, want = BUF_INIT, pairs = BUF_INIT;
	size_t i;

	buf_add(&u16, "\xff\xfe" "a\0b\0", 6);
	buf_addstr(&want, "ab");
	for (i = 0; i < 20000; i++) {
		buf_add(&pairs, "\x3d\xd8\x00\xde", 4);
		buf_addstr(&want, "\xf0\x9f\x98\x80");
	}
	buf_add(&u16, pairs.data, pairs.len);
	cr_assert_eq((65536 - 6) % 4, 2, "the split falls inside a pair");
	expect_utf8(tmpdir_write("pairs.txt", u16.data, u16.len), NULL, &want,
		    5, "plain+utf-16le");
	buf_release(&u16);
	buf_release(&want);
	buf_release(&pairs);
}

Test(source, utf32_both_byte_orders)
{
	static const char le[] = "\xff\xfe\0\0" "e\0\0\0\xe9\0\0\0\x00\xf6\x01\0";
	static const char be[] = "\0\0\xfe\xff" "\0\0\0e\0\0\0\xe9\0\x01\xf6\x00";
	struct buf want = BUF_INIT;

	buf_addstr(&want, "e\xc3\xa9\xf0\x9f\x98\x80");
	expect_utf8(tmpdir_write("le32.txt", le, 16), NULL, &want, 1,
		    "plain+utf-32le");
	expect_utf8(tmpdir_write("be32.txt", be, 16), NULL, &want, 3,
		    "plain+utf-32be");
	buf_release(&want);
}

/* An undefined sequence is one 0xFF (never UTF-8): its row is rejected. */
Test(source, what_the_encoding_does_not_define_becomes_0xff)
{
	/* A lone high surrogate, then "x"; an odd byte at the end. */
	static const char u16[] = "\xff\xfe" "a\0\x3d\xd8x\0\n\0z";
	struct buf want = BUF_INIT;

	buf_add(&want, "a\xffx\n\xff", 5);
	expect_utf8(tmpdir_write("lone.txt", u16, sizeof(u16) - 1), NULL,
		    &want, 2, "plain+utf-16le");
	buf_release(&want);
}

Test(source, encoding_given_transcodes_a_file_without_a_bom)
{
	static const char win[] = "email,name\r\na@x.org,Jos\xe9 \x93" "B\x94\r\n";
	static const char sjis[] = "email,name\na@x.org,\x93\xfa\x96\x7b\n";
	struct buf want = BUF_INIT;

	buf_addstr(&want, "email,name\r\na@x.org,Jos\xc3\xa9 "
		   "\xe2\x80\x9c" "B\xe2\x80\x9d\r\n");
	expect_utf8(tmpdir_write("win.csv", win, sizeof(win) - 1),
		    "windows-1252", &want, 7, "plain+windows-1252");
	buf_reset(&want);
	buf_addstr(&want, "email,name\na@x.org,\xe6\x97\xa5\xe6\x9c\xac\n");
	expect_utf8(tmpdir_write("sjis.csv", sjis, sizeof(sjis) - 1),
		    "shift_jis", &want, 4096, "plain+shift_jis");
	buf_release(&want);
}

/*
 * Damage in a UTF-8 file (a stray byte beside well-formed UTF-8, overlong
 * forms) is left to the row checks; "UTF-8" given skips the check.
 */
Test(source, utf8_with_damage_is_not_refused)
{
	static const char damaged[] = "email,name\na@x.org,Zo\xc3\xab\n"
		"b@x.org,bad\x80\n";
	static const char overlong[] = "email,name\na@x.org,a\xc0\xafz\n";
	static const char latin[] = "email,name\na@x.org,Jos\xe9\n";

	expect_content(tmpdir_write("damaged.csv", damaged,
				    sizeof(damaged) - 1),
		       damaged, sizeof(damaged) - 1, 0, 4096);
	expect_content(tmpdir_write("overlong.csv", overlong,
				    sizeof(overlong) - 1),
		       overlong, sizeof(overlong) - 1, 0, 4096);
	{
		struct buf want = BUF_INIT;

		buf_add(&want, latin, sizeof(latin) - 1);
		expect_utf8(tmpdir_write("latin.csv", latin, sizeof(latin) - 1),
			    "UTF-8", &want, 4096, "plain");
		buf_release(&want);
	}
}

Test(source, unknown_encoding_is_a_usage_error)
{
	struct source src = SOURCE_INIT;
	struct err e = ERR_INIT;

	src.encoding = "no-such-charset";
	cr_assert_eq(source_open(&src, tmpdir_write("x.csv", "email\n", 6), &e),
		     MB_EUSAGE);
	cr_assert(strstr(e.msg, "unknown encoding 'no-such-charset'"), "%s",
		  e.msg);
	assert_closed(&src);
}

/* Text with a few NULs or controls is text: only its rows are bad. */
Test(source, a_few_nul_bytes_are_data_not_binary)
{
	static const char cases[][40] = {
		"email\nx@y.z\0\n",
		"email,name\na@example.com,x\0y\n",
		"email\n\x1b[0m\x07@y.z\n",
	};
	static const size_t lens[] = { 13, 29, 15 };
	size_t i;
	char name[32];

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		snprintf(name, sizeof(name), "text%zu.csv", i);
		expect_content(tmpdir_write(name, cases[i], lens[i]), cases[i],
			       lens[i], 0, 4096);
	}
}
