/*
 * archive: list a zip archive's members with libzip and sort out the CSVs.
 *
 * Why libzip and not our own reader: a zip's table of contents (the central
 * directory) is at its end, members are stored or deflated (sometimes
 * zip64, sometimes with data descriptors), and damage shows as a CRC
 * mismatch only once a member is read to its end.  libzip reads members as
 * streams with those checks and reports encryption; a hand-written reader
 * would be the parser this project's rules say not to write.
 *
 * The archive stays open (a->za) so that stage can fingerprint members
 * before deciding to read them, and stream them through the same handle
 * (source_member.za): opening the archive again for every member parsed
 * the whole central directory each time, quadratic in the members (10,000
 * members took 391 s).  stage uses the handle from one thread at a time:
 * fingerprints before a member's reader thread starts, none while it runs.
 */
#include "archive.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "sha256.h"
#include "xalloc.h"

/* How many names the "no CSV file in it" message lists. */
#define LIST_NAMES 8

int archive_is_zip(const void *head, size_t n)
{
	const unsigned char *p = head;

	/* PK 07 08: the marker a spanned archive starts with. */
	return n >= 4 && p[0] == 'P' && p[1] == 'K' &&
	       ((p[2] == 3 && p[3] == 4) || (p[2] == 5 && p[3] == 6) ||
		(p[2] == 7 && p[3] == 8));
}

enum mb_rc archive_is_zip_fd(int fd, const char *path, int *is_zip,
			     struct err *e)
{
	unsigned char head[4];
	size_t have = 0;
	struct stat st;
	ssize_t got;

	/*
	 * A pipe cannot be a zip for libzip (the table of contents is at the
	 * end: it seeks), and bytes read here would be lost to the reader.
	 * pread() leaves a regular file's offset where it was.
	 */
	*is_zip = 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		return MB_OK;
	while (have < sizeof(head)) {
		got = pread(fd, head + have, sizeof(head) - have,
			    (off_t)have);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return err_set(e, MB_EIO, "cannot read '%s': %s",
				       path, strerror(errno));
		if (!got)
			break;
		have += (size_t)got;
	}
	*is_zip = archive_is_zip(head, have);
	return MB_OK;
}

enum mb_rc archive_is_zip_file(const char *path, int *is_zip, struct err *e)
{
	enum mb_rc rc;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return err_set(e, MB_ENOINPUT, "cannot open '%s': %s", path,
			       strerror(errno));
	rc = archive_is_zip_fd(fd, path, is_zip, e);
	close(fd);
	return rc;
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && strncasecmp(s + n - k, suffix, k) == 0;
}

/* Windows tools sometimes store '\' (the format says '/'). */
static const char *base_name(const char *name)
{
	const char *base = name, *p;

	for (p = name; *p; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	return base;
}

/* macOS's Archive Utility adds these; they are never the user's data. */
static int is_macos_junk(const char *name, const char *base)
{
	return strncmp(name, "__MACOSX/", 9) == 0 ||
	       strstr(name, "/__MACOSX/") != NULL ||
	       strncmp(base, "._", 2) == 0 ||
	       strcasecmp(base, ".DS_Store") == 0;
}

enum archive_kind archive_classify(const char *name)
{
	const char *base = base_name(name);
	size_t n = strlen(base);

	if (!n)
		return ARCHIVE_DIR;
	if (is_macos_junk(name, base))
		return ARCHIVE_OTHER;
	if (ends_with(base, n, ".zip"))
		return ARCHIVE_ZIP;
	if (ends_with(base, n, ".gz"))
		n -= 3;
	if (ends_with(base, n, ".csv") || ends_with(base, n, ".tsv") ||
	    ends_with(base, n, ".txt"))
		return ARCHIVE_CSV;
	return ARCHIVE_OTHER;
}

/* A copy safe to print: no control characters reach a terminal. */
static char *shown_name(const char *name)
{
	char *s = xstrdup(name), *p;

	for (p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return s;
}

static enum mb_rc open_failed(const struct archive *a, int code,
			      struct err *e)
{
	zip_error_t ze;
	char why[256];
	enum mb_rc rc = MB_EDATA;

	zip_error_init_with_code(&ze, code);
	snprintf(why, sizeof(why), "%s", zip_error_strerror(&ze));
	zip_error_fini(&ze);
	switch (code) {
	case ZIP_ER_OPEN:
		return err_set(e, MB_ENOINPUT, "cannot open '%s': %s",
			       a->path, why);
	case ZIP_ER_READ:
	case ZIP_ER_SEEK:
	case ZIP_ER_MEMORY:
		return err_set(e, MB_EIO, "cannot read '%s': %s", a->path,
			       why);
	default:
		break;
	}
	/*
	 * The first bytes said zip, so the table of contents at the end is
	 * what is missing: nearly always a download or copy cut short.
	 */
	return err_set(e, rc, "'%s' is a truncated or corrupt zip archive"
		       " (%s): its table of contents at the end is missing or"
		       " damaged; download or export it again", a->path, why);
}

static enum mb_rc read_members(struct archive *a, struct err *e)
{
	zip_int64_t n = zip_get_num_entries(a->za, 0);
	zip_stat_t st;
	size_t i;

	if (n < 0)
		return err_set(e, MB_EDATA, "cannot list '%s': %s", a->path,
			       zip_strerror(a->za));
	if (n > ARCHIVE_MAX_MEMBERS)
		return err_set(e, MB_EDATA, "'%s' has %lld members, more than"
			       " the %d that stage reads from one archive:"
			       " unzip it and stage its CSV files (at most %d"
			       " a run, or concatenated)", a->path,
			       (long long)n, ARCHIVE_MAX_MEMBERS,
			       ARCHIVE_MAX_MEMBERS);
	a->members = xcalloc((size_t)n + 1, sizeof(*a->members));
	for (i = 0; i < (size_t)n; i++) {
		struct archive_member *m = &a->members[i];

		zip_stat_init(&st);
		if (zip_stat_index(a->za, i, 0, &st) != 0 ||
		    !(st.valid & ZIP_STAT_NAME))
			return err_set(e, MB_EDATA, "'%s' is a corrupt zip"
				       " archive: cannot read the entry of"
				       " member %zu: %s", a->path, i + 1,
				       zip_strerror(a->za));
		m->name = xstrdup(st.name);
		m->shown = shown_name(st.name);
		m->index = i;
		m->size = st.valid & ZIP_STAT_SIZE ? st.size : 0;
		m->comp_size = st.valid & ZIP_STAT_COMP_SIZE ?
			st.comp_size : 0;
		m->encrypted = (st.valid & ZIP_STAT_ENCRYPTION_METHOD) &&
			st.encryption_method != ZIP_EM_NONE;
		m->kind = archive_classify(st.name);
		if (m->kind == ARCHIVE_CSV)
			a->ncsv++;
		a->nmembers++;
	}
	return MB_OK;
}

static int has_member(const struct archive *a, const char *prefix)
{
	size_t i, k = strlen(prefix);

	for (i = 0; i < a->nmembers; i++)
		if (strncmp(a->members[i].name, prefix, k) == 0)
			return 1;
	return 0;
}

/* No CSV member: say what the archive looks like instead. */
static enum mb_rc no_csv(const struct archive *a, struct err *e)
{
	struct buf list = BUF_INIT;
	enum mb_rc rc;

	if (!a->nmembers)
		return err_set(e, MB_EDATA, "'%s' is an empty zip archive: no"
			       " CSV file in it", a->path);
	if (has_member(a, "[Content_Types].xml") && has_member(a, "xl/"))
		return err_set(e, MB_EDATA, "'%s' is a zip archive with no CSV"
			       " file in it: it is an Excel workbook (.xlsx);"
			       " save it as CSV (UTF-8) and stage that",
			       a->path);
	if (has_member(a, "mimetype") && has_member(a, "content.xml"))
		return err_set(e, MB_EDATA, "'%s' is a zip archive with no CSV"
			       " file in it: it is an OpenDocument file"
			       " (.ods); save it as CSV (UTF-8) and stage that",
			       a->path);
	if (archive_list(a, ARCHIVE_KIND(ARCHIVE_ZIP), 0, &list))
		rc = err_set(e, MB_EDATA, "'%s' is a zip archive with no CSV"
			     " file in it, but zip archives inside it: unzip"
			     " them and stage the CSV files inside", a->path);
	else {
		archive_list(a, ~0u, LIST_NAMES, &list);
		rc = err_set(e, MB_EDATA, "'%s' is a zip archive with no CSV"
			     " file in it (members: %s)", a->path,
			     buf_str(&list));
	}
	buf_release(&list);
	return rc;
}

static enum mb_rc check_members(const struct archive *a, struct err *e)
{
	uint64_t packed = 0;
	size_t i;

	if (!a->ncsv)
		return no_csv(a, e);
	for (i = 0; i < a->nmembers; i++) {
		const struct archive_member *m = &a->members[i];

		if (m->kind == ARCHIVE_CSV && m->encrypted)
			return err_set(e, MB_EDATA, "'%s' is encrypted (member"
				       " '%s' needs a password): export it"
				       " again without a password, or unzip it"
				       " with the password and stage the CSV"
				       " files", a->path, m->shown);
		packed += m->comp_size;
	}
	/*
	 * Members of an honest zip occupy separate bytes.  Entries that
	 * share them are how a small file claims terabytes (a non-recursive
	 * zip bomb), which the per-member guard in source would only stop
	 * member by member.
	 */
	if (packed > a->file_size)
		return err_set(e, MB_EDATA, "'%s' is a malformed zip archive:"
			       " its members claim %llu compressed bytes in a"
			       " %llu-byte file (they overlap); refusing it as"
			       " a likely zip bomb", a->path,
			       (unsigned long long)packed,
			       (unsigned long long)a->file_size);
	return MB_OK;
}

/* libzip's handle on a copy of fd (libzip closes the copy). */
static zip_t *open_zip_fd(int fd, int *code)
{
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	zip_t *za;

	if (copy < 0) {
		*code = ZIP_ER_OPEN;
		return NULL;
	}
	za = zip_fdopen(copy, 0, code);
	if (!za)
		close(copy);
	return za;
}

enum mb_rc archive_open_fd(struct archive *a, const char *path, int fd,
			   struct err *e)
{
	struct stat st;
	enum mb_rc rc = MB_OK;
	int code = 0;

	archive_release(a);
	a->path = xstrdup(path);
	if (fstat(fd, &st) != 0) {
		rc = err_set(e, MB_ENOINPUT, "cannot open '%s': %s", path,
			     strerror(errno));
		goto out;
	}
	a->file_size = (uint64_t)st.st_size;
	a->za = open_zip_fd(fd, &code);
	if (!a->za) {
		rc = open_failed(a, code, e);
		goto out;
	}
	rc = read_members(a, e);
	if (rc == MB_OK)
		rc = check_members(a, e);
out:
	if (rc != MB_OK)
		archive_release(a);
	return rc;
}

enum mb_rc archive_open(struct archive *a, const char *path, struct err *e)
{
	enum mb_rc rc;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		archive_release(a);
		return err_set(e, MB_ENOINPUT, "cannot open '%s': %s", path,
			       strerror(errno));
	}
	rc = archive_open_fd(a, path, fd, e);
	close(fd);
	return rc;
}

size_t archive_list(const struct archive *a, unsigned kinds,
		    size_t max_names, struct buf *out)
{
	size_t i, count = 0;

	for (i = 0; i < a->nmembers; i++) {
		if (!(kinds & ARCHIVE_KIND(a->members[i].kind)))
			continue;
		if (count < max_names) {
			/* A name too long for the buffer is cut, not fatal. */
			if (out->len)
				buf_addstr(out, ", ");
			buf_addstr(out, a->members[i].shown);
		}
		count++;
	}
	if (count > max_names)
		buf_printf(out, " and %zu more", count - max_names);
	return count;
}

enum mb_rc archive_display_name(const struct archive *a, size_t i,
				struct buf *out)
{
	buf_reset(out);
	return buf_printf(out, "%s:%s", a->path, a->members[i].shown);
}

/*
 * What identifies a member whose stored bytes libzip will not give (or not
 * all of them): its entry's name, sizes and declared CRC, and the error.
 */
static void hash_entry(struct zip *za, uint64_t index, const char *why,
		       struct sha256 *sha)
{
	char line[64];
	zip_stat_t st;

	zip_stat_init(&st);
	zip_stat_index(za, index, 0, &st);
	snprintf(line, sizeof(line), "%llx:%llu:%llu:",
		 (unsigned long long)st.crc, (unsigned long long)st.size,
		 (unsigned long long)st.comp_size);
	sha256_update(sha, line, strlen(line));
	if (st.name)
		sha256_update(sha, st.name, strlen(st.name));
	sha256_update(sha, why, strlen(why));
}

void archive_fingerprint(struct zip *za, uint64_t index, uint64_t *size,
			 char hex[65])
{
	zip_file_t *zf = zip_fopen_index(za, index, ZIP_FL_COMPRESSED);
	unsigned char digest[32];
	struct sha256 sha;
	uint64_t total = 0;
	zip_int64_t got = 0;
	char block[1 << 16];

	sha256_init(&sha);
	while (zf && (got = zip_fread(zf, block, sizeof(block))) > 0) {
		sha256_update(&sha, block, (size_t)got);
		total += (uint64_t)got;
	}
	/*
	 * libzip checks a stored member's CRC even when asked for its raw
	 * bytes, and a damaged entry may not open: the same damaged archive
	 * must still give the same fingerprint (run history, re-staging).
	 */
	if (!zf)
		hash_entry(za, index, zip_strerror(za), &sha);
	else if (got < 0)
		hash_entry(za, index, zip_file_strerror(zf), &sha);
	if (zf)
		zip_fclose(zf);
	sha256_final(&sha, digest);
	sha256_hex(digest, hex);
	*size = total;
}

void archive_release(struct archive *a)
{
	size_t i;

	if (a->za)
		zip_discard(a->za);
	for (i = 0; i < a->nmembers; i++) {
		free(a->members[i].name);
		free(a->members[i].shown);
	}
	free(a->members);
	free(a->path);
	memset(a, 0, sizeof(*a));
}
