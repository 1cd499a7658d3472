/*
 * source: open an input file, refuse what cannot be CSV, stream its bytes.
 *
 * zlib's gz* layer does the reading for both kinds: it inflates gzip
 * (concatenated members included) and passes anything else through.  The
 * first decoded block is read at open time into src->head so that zip
 * archives, spreadsheets, UTF-16 and binary files are refused before the
 * caller sees a byte, and so that a UTF-8 byte order mark can be dropped.
 */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "xalloc.h"

/*
 * zlib's default 8 KiB buffer costs a read(2) per 8 KiB; a bigger one keeps
 * system calls out of the profile.  Allocated once per open file.
 */
#define GZ_BUFFER (256 * 1024)

/* How much decoded data is inspected at open (Git looks at 8000 bytes). */
#define SNIFF_SIZE 8192

static enum mb_rc gz_failure(struct source *src, struct err *e)
{
	int errnum = Z_OK;
	const char *msg = gzerror(src->gz, &errnum);
	const char *colon;

	/* zlib prefixes its text with the name it knows, "<fd:3>". */
	if (msg && !strncmp(msg, "<fd:", 4) && (colon = strstr(msg, ": ")))
		msg = colon + 2;
	if (errnum == Z_ERRNO)
		return err_set(e, MB_EIO, "cannot read '%s': %s", src->path,
			       strerror(errno));
	return err_set(e, MB_EDATA,
		       "'%s' is a truncated or corrupt gzip file: %s "
		       "(after %llu bytes of data)", src->path,
		       msg && *msg ? msg : "unknown zlib error",
		       (unsigned long long)src->bytes_out);
}

/*
 * Fill buf from the gzip stream.  Unlike plain read(2), gzread() reports a
 * truncated stream as a short read with no error, so the error state is
 * checked whenever less than asked for came back.
 */
static enum mb_rc gz_fill(struct source *src, char *buf, size_t cap,
			  size_t *n, struct err *e)
{
	int errnum = Z_OK;
	int got;

	if (cap > INT_MAX)
		cap = INT_MAX;
	got = gzread(src->gz, buf, (unsigned)cap);
	if (got < 0)
		return gz_failure(src, e);
	if ((size_t)got < cap) {
		gzerror(src->gz, &errnum);
		if (errnum != Z_OK && got == 0)
			return gz_failure(src, e);
	}
	*n = (size_t)got;
	return MB_OK;
}

/*
 * A UTF-16 file without a byte order mark has a NUL in every other byte
 * of its ASCII text; say so rather than just "binary".  Returns the
 * encoding's name, or NULL.
 */
static const char *looks_utf16(const unsigned char *p, size_t n)
{
	size_t i, nul_even = 0, nul_odd = 0;

	for (i = 0; i < n; i++) {
		if (p[i])
			continue;
		if (i % 2)
			nul_odd++;
		else
			nul_even++;
	}
	if (n < 4 || (nul_even + nul_odd) * 3 < n)
		return NULL;
	if (!nul_even)
		return "UTF-16LE";
	if (!nul_odd)
		return "UTF-16BE";
	return NULL;
}

static enum mb_rc sniff(struct source *src, struct err *e)
{
	const unsigned char *p = (const unsigned char *)src->head;
	size_t n = src->head_len;

	if (n >= 4 && !memcmp(p, "PK\x03\x04", 4))
		return err_set(e, MB_EDATA, "'%s' is a zip archive: unzip it "
			       "and stage the CSV files inside (an .xlsx "
			       "workbook is a zip too: save it as CSV)",
			       src->path);
	if (n >= 4 && (!memcmp(p, "PK\x05\x06", 4) ||
		       !memcmp(p, "PK\x07\x08", 4)))
		return err_set(e, MB_EDATA, "'%s' is a zip archive: unzip it "
			       "and stage the CSV files inside", src->path);
	if (n >= 8 && !memcmp(p, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8))
		return err_set(e, MB_EDATA, "'%s' is an Excel (.xls) "
			       "workbook: save it as CSV (UTF-8)", src->path);
	if (n >= 2 && ((p[0] == 0xff && p[1] == 0xfe) ||
		       (p[0] == 0xfe && p[1] == 0xff)))
		return err_set(e, MB_EDATA, "'%s' is UTF-16: convert it first "
			       "with iconv -f UTF-16 -t UTF-8", src->path);
	if (memchr(p, '\0', n)) {
		const char *utf16 = looks_utf16(p, n);

		if (utf16)
			return err_set(e, MB_EDATA, "'%s' looks like %s "
				       "without a byte order mark: convert it "
				       "first with iconv -f %s -t UTF-8",
				       src->path, utf16, utf16);
		return err_set(e, MB_EDATA, "'%s' is binary data, not CSV "
			       "(NUL bytes in its first %zu bytes)",
			       src->path, n);
	}
	if (n >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
		src->head_off = 3;
	return MB_OK;
}

static enum mb_rc open_fd(struct source *src, int *fd_out, struct err *e)
{
	struct stat st;
	int fd = open(src->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return err_set(e, MB_ENOINPUT, "cannot open '%s': %s",
			       src->path, strerror(errno));
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return err_set(e, MB_ENOINPUT, "cannot open '%s': %s",
			       src->path, strerror(EISDIR));
	}
	*fd_out = fd;
	return MB_OK;
}

enum mb_rc source_open(struct source *src, const char *path, struct err *e)
{
	enum mb_rc rc;
	int fd = -1;
	size_t n = 0;

	source_close(src);
	src->path = xstrdup(path);
	rc = open_fd(src, &fd, e);
	if (rc != MB_OK)
		goto out;
	src->gz = gzdopen(fd, "rb");
	if (!src->gz) {
		close(fd);
		rc = err_set(e, MB_EIO, "cannot open '%s': out of memory in "
			     "zlib", src->path);
		goto out;
	}
	gzbuffer(src->gz, GZ_BUFFER);
	/* gzdirect() looks at the first bytes: 0 means a gzip stream. */
	src->is_gzip = !gzdirect(src->gz);
	src->head = xmalloc(SNIFF_SIZE);
	rc = gz_fill(src, src->head, SNIFF_SIZE, &n, e);
	if (rc != MB_OK)
		goto out;
	src->head_len = n;
	src->at_start = 1;
	rc = sniff(src, e);
	src->at_start = 0;
out:
	if (rc != MB_OK)
		source_close(src);
	return rc;
}

enum mb_rc source_read(struct source *src, char *out, size_t cap, size_t *n,
		       struct err *e)
{
	enum mb_rc rc;
	size_t got = 0;

	if (!src->gz)
		return err_set(e, MB_EINTERNAL, "source_read on a closed "
			       "source");
	if (src->head_off < src->head_len) {
		got = src->head_len - src->head_off;
		if (got > cap)
			got = cap;
		memcpy(out, src->head + src->head_off, got);
		src->head_off += got;
		if (src->head_off == src->head_len) {
			free(src->head);
			src->head = NULL;
			src->head_off = src->head_len = 0;
		}
	} else if (cap) {
		rc = gz_fill(src, out, cap, &got, e);
		if (rc != MB_OK)
			return rc;
	}
	src->bytes_out += got;
	*n = got;
	return MB_OK;
}

void source_close(struct source *src)
{
	if (src->gz)
		gzclose_r(src->gz);
	free(src->path);
	free(src->head);
	src->path = NULL;
	src->gz = NULL;
	src->is_gzip = 0;
	src->at_start = 0;
	src->bytes_out = 0;
	src->head = NULL;
	src->head_len = 0;
	src->head_off = 0;
}
