/*
 * source: open an input file, refuse what cannot be CSV, stream its bytes.
 *
 * Plain files are read with read(2).  Gzip files (1f 8b) are inflated with
 * zlib's inflate() straight into the caller's buffer, member after member
 * (concatenated gzip files are valid gzip).  zlib's gzread() would be
 * shorter, but it reports a file cut inside its 8-byte trailer as a clean
 * end of file whenever the output ends on its buffer boundary, and it drops
 * the bytes it inflated in the call that met the damage; doing the loop
 * here reports every truncation and delivers every byte before it.
 *
 * The first decoded block is read at open time into src->head so that zip
 * archives, spreadsheets, UTF-16 and binary files are refused before the
 * caller sees a byte, and so that a UTF-8 byte order mark can be dropped.
 *
 * A zip member is the same pipeline with zip_fread() in place of read(2):
 * libzip inflates and checks the CRC, we sniff, strip the BOM and inflate
 * a gzip member on top.  Its fingerprint is of its stored bytes (a second
 * libzip stream), so hashing never inflates anything.
 */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>
#include <zlib.h>

#include "archive.h"
#include "sha256.h"
#include "transcode.h"
#include "utf8.h"
#include "xalloc.h"

/* Compressed input is read this much at a time. */
#define IN_SIZE (256 * 1024)

/*
 * How much decoded data is inspected at open (Git looks at 8000 bytes):
 * 64 KiB is about 1,000 rows, enough for a legacy-encoded export to show
 * an accented name before it is read as UTF-8.
 */
#define SNIFF_SIZE 65536

/*
 * Binary by content: more than 1 in BINARY_SHARE bytes of the first block
 * are NUL or control bytes (and more than BINARY_MIN of them).  Text has
 * next to none; a damaged cell has a few, and loses only its row.
 */
#define BINARY_SHARE 20
#define BINARY_MIN 8

/* Transcoding: raw bytes in, UTF-8 out, this much at a time. */
#define RECODE_SIZE 65536

/*
 * Gzip bombs.  Deflate inflates at most about 1032 times; CSV exports do
 * far less, because every row holds an address of its own: typical ones
 * inflate 5 to 30 times, 200 empty columns per row about 75 times.  Only
 * runs of one byte (a bomb of zeros, spaces, newlines: 230 times at gzip
 * -1, 1028 at -6) or the same row repeated come near 500.  So once past
 * BOMB_MIN_BYTES, a stream that has inflated more than BOMB_RATIO times is
 * refused: memory would stay flat anyway (everything streams), but the
 * time would not, and such a file is not an export.
 */
#define BOMB_MIN_BYTES ((uint64_t)64 << 20)
#define BOMB_RATIO 200

/*
 * A zip member is read this much at a time: when libzip meets damage it
 * drops what it inflated in that call, so small calls keep more of the
 * rows before it.
 */
#define MEMBER_READ (16 * 1024)

/* A pipe or FIFO is polled this often for a stop request (source.h). */
#define POLL_SLICE_MS 200

struct reader {
	int fd;
	int is_pipe;             /* not a regular file: may wait for data */
	int eof;                 /* read(2) returned 0 */
	int in_member;           /* inside a gzip member: EOF now is damage */
	int zinit;               /* inflateInit2() done */
	uint64_t decoded;        /* bytes inflated so far */
	int has_pending;         /* pending: an error to report next call */
	struct err pending;
	struct sha256 sha;       /* of every raw byte read (not for members) */
	uint64_t raw_bytes;
	zip_t *za;               /* a member's archive, or NULL */
	int owns_za;             /* opened here (else borrowed) */
	zip_file_t *zf;          /* the member's stream */
	uint64_t index;          /* the member's index */
	uint64_t comp_size;      /* its compressed size */
	uint64_t packed_before;  /* zip-bomb guard: earlier members */
	uint64_t out_before;
	struct recode *recode;   /* transcoding to UTF-8, or NULL */
	z_stream z;              /* next_in/avail_in: buffered input */
	unsigned char in[IN_SIZE];
};

/*
 * Transcoding (source->charset): decoded bytes are taken into raw, iconv
 * writes UTF-8 into out, the caller is served from out.
 */
struct recode {
	struct transcode t;
	int raw_eof;             /* the decoded bytes are all in raw */
	int has_err;             /* err: the failure that ended them */
	struct err err;
	size_t raw_len, raw_off;
	size_t out_len, out_off;
	char raw[RECODE_SIZE];
	char out[RECODE_SIZE];
};

static enum mb_rc damage(struct source *src, const char *msg, struct err *e)
{
	struct reader *r = src->in;

	return err_set(e, MB_EDATA, "'%s' is a truncated or corrupt gzip "
		       "file: %s (after %llu bytes of data)", src->path, msg,
		       (unsigned long long)r->decoded);
}

uint64_t source_inflated(const struct source *src)
{
	const struct reader *r = src->in;

	if (!r)
		return 0;
	return r->raw_bytes > r->decoded ? r->raw_bytes : r->decoded;
}

/* Refuse a likely zip bomb: the archive's members so far, together. */
static enum mb_rc member_guard(struct source *src, struct err *e)
{
	struct reader *r = src->in;
	uint64_t out = r->out_before + source_inflated(src);
	uint64_t packed = r->packed_before + r->comp_size;

	if (out < BOMB_MIN_BYTES || out / BOMB_RATIO <= packed)
		return MB_OK;
	return err_set(e, MB_EDATA, "'%s' inflates %llu times (%llu MiB from "
		       "%llu KiB, with the members before it), more than a "
		       "CSV export can: refusing it as a likely zip bomb (if "
		       "it really is an export, unzip it and stage the CSV "
		       "files)", src->path,
		       (unsigned long long)(out / (packed ? packed : 1)),
		       (unsigned long long)(out >> 20),
		       (unsigned long long)(packed >> 10));
}

/* Inflated bytes of a zip member: libzip checks the CRC at its end. */
static enum mb_rc read_member(struct source *src, void *out, size_t cap,
			      size_t *n, struct err *e)
{
	struct reader *r = src->in;
	enum mb_rc rc = member_guard(src, e);
	zip_int64_t got;

	if (rc != MB_OK)
		return rc;
	if (cap > MEMBER_READ)
		cap = MEMBER_READ;
	got = zip_fread(r->zf, out, cap);
	if (got < 0)
		return err_set(e, MB_EDATA, "'%s' is a corrupt zip member: %s "
			       "(after %llu bytes of data)", src->path,
			       zip_file_strerror(r->zf),
			       (unsigned long long)r->raw_bytes);
	if (!got)
		r->eof = 1;
	r->raw_bytes += (uint64_t)got;
	*n = (size_t)got;
	return MB_OK;
}

static int stop_requested(const struct source *src)
{
	return src->stop && *src->stop;
}

static enum mb_rc stopped(const struct source *src, struct err *e)
{
	return err_set(e, MB_ESTOPPED, "stopped while reading '%s'",
		       src->path);
}

/*
 * A pipe's writer may keep it open and silent for as long as it likes:
 * wait for data in slices, so that a stop request is not stuck in read(2).
 */
static enum mb_rc wait_readable(struct source *src, struct err *e)
{
	struct reader *r = src->in;
	struct pollfd p;
	int ready;

	do {
		if (stop_requested(src))
			return stopped(src, e);
		p.fd = r->fd;
		p.events = POLLIN;
		p.revents = 0;
		ready = poll(&p, 1, POLL_SLICE_MS);
	} while (ready == 0 || (ready < 0 && errno == EINTR));
	return MB_OK;            /* read(2) tells what is there */
}

static enum mb_rc read_fd(struct source *src, void *out, size_t cap,
			  size_t *n, struct err *e)
{
	struct reader *r = src->in;
	enum mb_rc rc;
	ssize_t got;

	if (stop_requested(src))
		return stopped(src, e);
	if (r->zf)
		return read_member(src, out, cap, n, e);
	if (cap > INT_MAX)
		cap = INT_MAX;
	do {
		rc = r->is_pipe ? wait_readable(src, e) : MB_OK;
		if (rc != MB_OK)
			return rc;
		got = read(r->fd, out, cap);
	} while (got < 0 && errno == EINTR);
	if (got < 0)
		return err_set(e, MB_EIO, "cannot read '%s': %s", src->path,
			       strerror(errno));
	if (!got)
		r->eof = 1;
	/* Hashing here, in the reader, keeps it off the writer's path. */
	sha256_update(&r->sha, out, (size_t)got);
	r->raw_bytes += (uint64_t)got;
	*n = (size_t)got;
	return MB_OK;
}

enum mb_rc source_fingerprint(struct source *src, uint64_t *size,
			      char hex[65], struct err *e)
{
	struct reader *r = src->in;
	unsigned char digest[32];
	char block[65536];
	size_t n;
	enum mb_rc rc = MB_OK;

	if (!r)
		return err_set(e, MB_EINTERNAL, "'%s' is not open", src->path);
	if (r->za) {
		archive_fingerprint(r->za, r->index, size, hex);
		return MB_OK;
	}
	while (!r->eof && rc == MB_OK)
		rc = read_fd(src, block, sizeof(block), &n, e);
	if (rc != MB_OK)
		return rc;
	sha256_final(&r->sha, digest);
	sha256_hex(digest, hex);
	*size = r->raw_bytes;
	return MB_OK;
}

/*
 * Make sure at least want input bytes are buffered, unless the file ends
 * first.  Leftover bytes are moved to the front.
 */
static enum mb_rc fill_input(struct source *src, size_t want, struct err *e)
{
	struct reader *r = src->in;
	enum mb_rc rc;
	size_t n;

	if (r->z.avail_in && r->z.next_in != r->in)
		memmove(r->in, r->z.next_in, r->z.avail_in);
	r->z.next_in = r->in;
	while (r->z.avail_in < want && !r->eof) {
		rc = read_fd(src, r->in + r->z.avail_in,
			     IN_SIZE - r->z.avail_in, &n, e);
		if (rc != MB_OK)
			return rc;
		r->z.avail_in += (uInt)n;
	}
	return MB_OK;
}

/*
 * Between members: another one starts with the magic bytes.  Anything else
 * after a complete member (zeros padded by a tape tool, junk) is ignored,
 * as gzip(1) and zlib do.  Returns 1 to go on inflating, 0 at the end.
 */
static int next_member(struct reader *r)
{
	if (r->z.avail_in < 2 || r->z.next_in[0] != 0x1f ||
	    r->z.next_in[1] != 0x8b) {
		r->z.avail_in = 0;
		r->eof = 1;
		return 0;
	}
	inflateReset(&r->z);
	r->in_member = 1;
	return 1;
}

/* One inflate() call; returns why the data is bad, or NULL. */
static const char *inflate_step(struct reader *r)
{
	switch (inflate(&r->z, Z_NO_FLUSH)) {
	case Z_OK:
	case Z_BUF_ERROR:        /* needs more input: the loop brings it */
		return NULL;
	case Z_STREAM_END:
		r->in_member = 0;
		return NULL;
	case Z_MEM_ERROR:
		return "out of memory";
	default:
		return r->z.msg ? r->z.msg : "compressed data error";
	}
}

/* Refuse a likely bomb, saying how far it got (see BOMB_RATIO). */
static enum mb_rc check_bomb(struct source *src, struct err *e)
{
	struct reader *r = src->in;
	uint64_t packed = r->raw_bytes - r->z.avail_in;

	if (r->decoded < BOMB_MIN_BYTES || r->decoded / BOMB_RATIO <= packed)
		return MB_OK;
	return err_set(e, MB_EDATA, "'%s' inflates %llu times (%llu MiB from "
		       "%llu KiB so far), more than a CSV export can: refusing "
		       "it as a likely gzip bomb (if it really is an export, "
		       "gunzip it and stage the plain file)", src->path,
		       (unsigned long long)(r->decoded / (packed ? packed : 1)),
		       (unsigned long long)(r->decoded >> 20),
		       (unsigned long long)(packed >> 10));
}

/* Inflate into out until it is full or the input ends. */
static enum mb_rc read_gzip(struct source *src, unsigned char *out,
			    size_t cap, size_t *n, struct err *e)
{
	struct reader *r = src->in;
	const char *bad = NULL;
	enum mb_rc rc = MB_OK;

	if (cap > UINT_MAX)
		cap = UINT_MAX;
	r->z.next_out = out;
	r->z.avail_out = (uInt)cap;
	while (r->z.avail_out && !bad) {
		if (r->z.avail_in < 2 && !r->eof) {
			rc = fill_input(src, 2, e);
			if (rc != MB_OK)
				break;
		}
		if (!r->in_member && !next_member(r))
			break;
		if (!r->z.avail_in)
			bad = "unexpected end of file";
		else
			bad = inflate_step(r);
	}
	*n = cap - r->z.avail_out;
	r->decoded += *n;
	if (bad)
		rc = damage(src, bad, e);
	else if (rc == MB_OK && r->za)
		rc = member_guard(src, e);
	else if (rc == MB_OK)
		rc = check_bomb(src, e);
	return rc;
}

static enum mb_rc read_plain(struct source *src, char *out, size_t cap,
			     size_t *n, struct err *e)
{
	struct reader *r = src->in;
	size_t take;

	/* Bytes read while detecting the kind come first. */
	if (r->z.avail_in) {
		take = r->z.avail_in < cap ? r->z.avail_in : cap;
		memcpy(out, r->z.next_in, take);
		r->z.next_in += take;
		r->z.avail_in -= (uInt)take;
		*n = take;
		return MB_OK;
	}
	*n = 0;
	return read_fd(src, out, cap, n, e);
}

/*
 * Decoded bytes.  A failure met after some bytes were produced is kept for
 * the next call, so that the caller gets every byte before the damage.
 */
static enum mb_rc read_decoded(struct source *src, char *out, size_t cap,
			       size_t *n, struct err *e)
{
	struct reader *r = src->in;
	enum mb_rc rc;

	if (r->has_pending) {
		if (e)
			*e = r->pending;
		return r->pending.rc;
	}
	*n = 0;
	if (src->is_gzip)
		rc = read_gzip(src, (unsigned char *)out, cap, n, &r->pending);
	else
		rc = read_plain(src, out, cap, n, &r->pending);
	if (rc == MB_OK)
		return MB_OK;
	r->has_pending = 1;
	if (*n)
		return MB_OK;
	if (e)
		*e = r->pending;
	return rc;
}

/* Fill buf as far as the input goes (several reads when short). */
static enum mb_rc read_full(struct source *src, char *buf, size_t cap,
			    size_t *n, struct err *e)
{
	enum mb_rc rc = MB_OK;
	size_t got, total = 0;

	while (total < cap) {
		rc = read_decoded(src, buf + total, cap - total, &got, e);
		if (rc != MB_OK || !got)
			break;
		total += got;
	}
	*n = total;
	return rc;
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

/* The name of a compression format p starts with, or NULL. */
static const char *compressed_kind(const unsigned char *p, size_t n)
{
	if (n >= 3 && !memcmp(p, "BZh", 3))
		return "bzip2";
	if (n >= 6 && !memcmp(p, "\xfd" "7zXZ\0", 6))
		return "xz";
	if (n >= 4 && !memcmp(p, "\x28\xb5\x2f\xfd", 4))
		return "zstd";
	return NULL;
}

/* What a gzip file holds when it is not text: compressed data again. */
static enum mb_rc sniff_in_gzip(struct source *src, struct err *e)
{
	const unsigned char *p = (const unsigned char *)src->head;
	size_t n = src->head_len;
	const char *kind;

	if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return err_set(e, MB_EDATA, "'%s' is gzip-compressed twice (a"
			       " gzip file inside a gzip file): decompress it"
			       " once (gunzip -c FILE > once.csv.gz) and stage"
			       " the result", src->path);
	kind = compressed_kind(p, n);
	if (kind)
		return err_set(e, MB_EDATA, "'%s' is gzip-compressed %s data"
			       " (a compressed file inside a gzip file):"
			       " decompress both (gunzip, then %s -d) and stage"
			       " the CSV", src->path, kind, kind);
	return MB_OK;
}

/* Formats that are not text, by their first bytes (zip and gzip apart). */
static const struct magic {
	const char *bytes;
	size_t len;
	const char *what;
} magics[] = {
	{ "%PDF-", 5, "a PDF document" },
	{ "\x89PNG\r\n\x1a\n", 8, "a PNG image" },
	{ "\xff\xd8\xff", 3, "a JPEG image" },
	{ "GIF87a", 6, "a GIF image" },
	{ "GIF89a", 6, "a GIF image" },
	{ "\x7f" "ELF", 4, "an ELF executable" },
	{ "7z\xbc\xaf\x27\x1c", 6, "a 7-Zip archive" },
	{ "Rar!\x1a\x07", 6, "a RAR archive" },
	{ "SQLite format 3", 16, "an SQLite database" },  /* with its NUL */
};

/* A zip, an .xls, a known binary format or compressed data: refuse it. */
static enum mb_rc sniff_magic(struct source *src, struct err *e)
{
	const unsigned char *p = (const unsigned char *)src->head;
	const struct reader *r = src->in;
	size_t i, n = src->head_len;
	const char *kind;

	if (archive_is_zip(p, n) && src->is_member)
		return err_set(e, MB_EDATA, "'%s' is a zip archive inside a "
			       "zip archive: unzip the outer one and stage "
			       "the files inside", src->path);
	if (archive_is_zip(p, n) && src->is_gzip)
		return err_set(e, MB_EDATA, "'%s' is a gzip-compressed zip "
			       "archive: gunzip it and stage the zip",
			       src->path);
	if (archive_is_zip(p, n) && r->is_pipe)
		return err_set(e, MB_EDATA, "'%s' is a zip archive, which "
			       "cannot be read from standard input or a pipe "
			       "(its table of contents is at its end: it needs "
			       "seeking): save it to a file and stage that",
			       src->path);
	if (n >= 4 && !memcmp(p, "PK\x03\x04", 4))
		return err_set(e, MB_EDATA, "'%s' is a zip archive: unzip it "
			       "and stage the CSV files inside (an .xlsx "
			       "workbook is a zip too: save it as CSV)",
			       src->path);
	if (archive_is_zip(p, n))
		return err_set(e, MB_EDATA, "'%s' is a zip archive: unzip it "
			       "and stage the CSV files inside", src->path);
	if (n >= 8 && !memcmp(p, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8))
		return err_set(e, MB_EDATA, "'%s' is an Excel (.xls) "
			       "workbook: save it as CSV (UTF-8)", src->path);
	kind = src->is_gzip ? NULL : compressed_kind(p, n);
	if (kind)
		return err_set(e, MB_EDATA, "'%s' is %s-compressed: decompress"
			       " it (%s -d) and stage the CSV", src->path, kind,
			       kind);
	for (i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
		if (n >= magics[i].len &&
		    !memcmp(p, magics[i].bytes, magics[i].len))
			return err_set(e, MB_EDATA, "'%s' is binary data, not "
				       "CSV (%s)", src->path, magics[i].what);
	return MB_OK;
}

/* A byte order mark: the encoding it names, and its length. */
static const char *bom_charset(const unsigned char *p, size_t n,
			       size_t *len)
{
	/* UTF-32LE first: its mark starts with UTF-16LE's. */
	static const struct {
		const char *bytes;
		size_t len;
		const char *charset;
	} boms[] = {
		{ "\xff\xfe\0\0", 4, "UTF-32LE" },
		{ "\0\0\xfe\xff", 4, "UTF-32BE" },
		{ "\xef\xbb\xbf", 3, "UTF-8" },
		{ "\xff\xfe", 2, "UTF-16LE" },
		{ "\xfe\xff", 2, "UTF-16BE" },
	};
	size_t i;

	for (i = 0; i < sizeof(boms) / sizeof(boms[0]); i++) {
		if (n >= boms[i].len &&
		    !memcmp(p, boms[i].bytes, boms[i].len)) {
			*len = boms[i].len;
			return boms[i].charset;
		}
	}
	return NULL;
}

static int is_control(unsigned char c)
{
	return (c < 0x20 && c != '\t' && c != '\n' && c != '\r' &&
		c != '\f') || c == 0x7f;
}

/* Text or not, by the share of NUL and control bytes (or UTF-16). */
static enum mb_rc sniff_binary(struct source *src, struct err *e)
{
	const unsigned char *p = (const unsigned char *)src->head;
	size_t i, n = src->head_len, controls = 0;
	const char *utf16 = looks_utf16(p, n);

	if (utf16)
		return err_set(e, MB_EDATA, "'%s' looks like %s without a byte "
			       "order mark: stage it with --encoding %s",
			       src->path, utf16, utf16);
	for (i = 0; i < n; i++)
		controls += is_control(p[i]);
	if (controls > BINARY_MIN && controls * BINARY_SHARE > n)
		return err_set(e, MB_EDATA, "'%s' is binary data, not CSV (%zu"
			       " of its first %zu bytes are NUL or control "
			       "bytes)", src->path, controls, n);
	return MB_OK;
}

/* What the first block says about UTF-8 (see utf8_verdict). */
struct utf8_scan {
	size_t multi;            /* well-formed sequences of 2 to 4 bytes */
	size_t shaped;           /* ill-formed, but UTF-8's shape (overlong) */
	size_t stray;            /* bytes UTF-8 has no place for */
	size_t first;            /* offset of the first stray byte */
	int cp1252;              /* every byte >= 0x80 is Windows-1252 text */
};

/* Continuation bytes a lead byte announces (0: not a lead byte). */
static size_t lead_length(unsigned char c)
{
	if (c >= 0xc0 && c <= 0xdf)
		return 1;
	if (c >= 0xe0 && c <= 0xef)
		return 2;
	if (c >= 0xf0 && c <= 0xf7)
		return 3;
	return 0;
}

/* The ill-formed bytes at p[0..n): how many to step; 0: cut by the end. */
static size_t scan_bad(const unsigned char *p, size_t n, size_t at,
		       struct utf8_scan *s)
{
	size_t i, k = lead_length(p[0]);

	for (i = 1; i <= k && i < n && (p[i] & 0xc0) == 0x80; i++)
		;
	if (k && i == n)
		return 0;                /* the block ends inside it */
	if (k && i == k + 1) {
		s->shaped++;
		return i;
	}
	if (!s->stray++)
		s->first = at;
	return 1;
}

static void scan_utf8(const unsigned char *p, size_t n, struct utf8_scan *s)
{
	size_t i = 0, len;

	memset(s, 0, sizeof(*s));
	s->cp1252 = 1;
	for (i = 0; i < n; i++)
		if (p[i] == 0x81 || p[i] == 0x8d || p[i] == 0x8f ||
		    p[i] == 0x90 || p[i] == 0x9d)
			s->cp1252 = 0;   /* undefined in Windows-1252 */
	i = 0;
	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		len = utf8_char_len((const char *)p + i, n - i);
		if (len) {
			s->multi++;
			i += len;
			continue;
		}
		len = scan_bad(p + i, n - i, i, s);
		if (!len)
			break;
		i += len;
	}
}

/* The Windows-1252 character byte c stands for, in UTF-8, into out. */
static void cp1252_char(unsigned char c, char out[8])
{
	struct transcode t = TRANSCODE_INIT;
	const char *in = (const char *)&c;
	size_t in_len = 1, left = 7;
	char *o = out;

	if (transcode_open(&t, "WINDOWS-1252", NULL) == MB_OK)
		transcode_run(&t, &in, &in_len, &o, &left, 1);
	*o = '\0';
	transcode_close(&t);
}

/*
 * Not UTF-8, no byte order mark, no --encoding: refuse, saying where and
 * what to try.  Stray bytes with no well-formed multi-byte sequence and no
 * UTF-8-shaped one around them are a legacy encoding (Windows-1252 puts
 * one byte per accented letter); with well-formed UTF-8 beside them, or
 * overlong forms, they are damage in a UTF-8 file: only their rows are
 * rejected (invalid_utf8).
 */
static enum mb_rc sniff_utf8(struct source *src, struct err *e)
{
	const unsigned char *p = (const unsigned char *)src->head;
	struct utf8_scan s;
	unsigned long line = 1;
	size_t i;
	char shown[8];

	scan_utf8(p, src->head_len, &s);
	if (!s.stray || s.multi || s.shaped)
		return MB_OK;
	for (i = 0; i < s.first; i++)
		line += p[i] == '\n';
	if (!s.cp1252)
		return err_set(e, MB_EDATA, "'%s' is not UTF-8: line %lu has "
			       "byte 0x%02X at offset %zu, where UTF-8 cannot "
			       "have it; stage it with --encoding NAME, NAME "
			       "its encoding (iconv -l lists them)", src->path,
			       line, p[s.first], s.first);
	cp1252_char(p[s.first], shown);
	return err_set(e, MB_EDATA, "'%s' is not UTF-8: line %lu has byte "
		       "0x%02X at offset %zu, where UTF-8 cannot have it; its "
		       "bytes read as Windows-1252 (0x%02X is '%s'): stage it "
		       "with --encoding windows-1252", src->path, line,
		       p[s.first], s.first, p[s.first], shown);
}

/* Read the rest through iconv from charset. */
static enum mb_rc start_recode(struct source *src, const char *charset,
			       struct err *e)
{
	struct reader *r = src->in;
	enum mb_rc rc;

	r->recode = xcalloc(1, sizeof(*r->recode));
	rc = transcode_open(&r->recode->t, charset, e);
	if (rc == MB_OK)
		snprintf(src->charset, sizeof(src->charset), "%s", charset);
	return rc;
}

static enum mb_rc sniff(struct source *src, struct err *e)
{
	const unsigned char *p = (const unsigned char *)src->head;
	const char *given = src->encoding, *bom;
	size_t bom_len = 0;
	enum mb_rc rc = src->is_gzip ? sniff_in_gzip(src, e) : MB_OK;

	if (rc == MB_OK)
		rc = sniff_magic(src, e);
	if (rc != MB_OK)
		return rc;
	/* A byte order mark is the file's own word: it wins. */
	bom = bom_charset(p, src->head_len, &bom_len);
	src->head_off = bom_len;
	if (bom && !transcode_is_utf8(bom))
		return start_recode(src, bom, e);
	if (!bom && given && !transcode_is_utf8(given))
		return start_recode(src, given, e);
	rc = sniff_binary(src, e);
	if (rc == MB_OK && !bom && !given)
		rc = sniff_utf8(src, e);
	return rc;
}

/* r->fd is open: refuse a directory, note a pipe. */
static enum mb_rc check_fd(struct source *src, struct err *e)
{
	struct reader *r = src->in;
	struct stat st;

	if (fstat(r->fd, &st) != 0)
		return err_set(e, MB_ENOINPUT, "cannot open '%s': %s",
			       src->path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return err_set(e, MB_ENOINPUT, "cannot open '%s': %s",
			       src->path, strerror(EISDIR));
	r->is_pipe = !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode);
	return MB_OK;
}

/* Look at the first raw bytes: gzip or not. */
static enum mb_rc detect_kind(struct source *src, struct err *e)
{
	struct reader *r = src->in;
	enum mb_rc rc = fill_input(src, 2, e);

	if (rc != MB_OK)
		return rc;
	if (r->z.avail_in < 2 || r->in[0] != 0x1f || r->in[1] != 0x8b)
		return MB_OK;
	/* 15 + 16: a 32 KiB window, gzip wrapper only. */
	if (inflateInit2(&r->z, 15 + 16) != Z_OK)
		return err_set(e, MB_EIO, "cannot read '%s': out of memory "
			       "in zlib", src->path);
	r->zinit = 1;
	src->is_gzip = 1;
	return MB_OK;
}

/* Detect gzip, read the first block, refuse what is not CSV. */
static enum mb_rc start(struct source *src, struct err *e)
{
	enum mb_rc rc = detect_kind(src, e);
	size_t n = 0;

	if (rc != MB_OK)
		return rc;
	src->at_start = 1;
	src->head = xmalloc(SNIFF_SIZE);
	rc = read_full(src, src->head, SNIFF_SIZE, &n, e);
	src->head_len = n;
	/* Damage after some bytes: deliver them, report it after them. */
	if (rc != MB_OK && n)
		rc = MB_OK;
	if (rc == MB_OK)
		rc = sniff(src, e);
	src->at_start = 0;
	return rc;
}

static struct reader *reader_new(struct source *src, const char *path)
{
	struct reader *r;

	source_close(src);
	src->path = xstrdup(path);
	r = xcalloc(1, sizeof(*r));
	r->fd = -1;
	sha256_init(&r->sha);
	src->in = r;
	return r;
}

enum mb_rc source_open_fd(struct source *src, const char *path, int fd,
			  struct err *e)
{
	struct reader *r = reader_new(src, path);
	enum mb_rc rc;

	r->fd = fd;
	rc = check_fd(src, e);
	if (rc == MB_OK)
		rc = start(src, e);
	if (rc != MB_OK)
		source_close(src);
	return rc;
}

enum mb_rc source_open(struct source *src, const char *path, struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		source_close(src);
		return err_set(e, MB_ENOINPUT, "cannot open '%s': %s", path,
			       strerror(errno));
	}
	return source_open_fd(src, path, fd, e);
}

static enum mb_rc member_encrypted(const struct source *src, struct err *e)
{
	return err_set(e, MB_EDATA, "'%s' is encrypted: export it again "
		       "without a password, or unzip it with the password "
		       "and stage the CSV files", src->path);
}

/* m's archive: the caller's handle, or one of our own. */
static enum mb_rc open_archive(struct source *src,
			       const struct source_member *m, struct err *e)
{
	struct reader *r = src->in;
	zip_error_t ze;
	int code = 0;

	if (m->za) {
		r->za = m->za;
		return MB_OK;
	}
	r->za = zip_open(m->zip_path, ZIP_RDONLY, &code);
	if (r->za) {
		r->owns_za = 1;
		return MB_OK;
	}
	zip_error_init_with_code(&ze, code);
	err_set(e, MB_EDATA, "cannot open '%s': %s", src->path,
		zip_error_strerror(&ze));
	zip_error_fini(&ze);
	return MB_EDATA;
}

/* Open m's archive and the member's stream (see archive.c for why). */
static enum mb_rc open_member(struct source *src,
			      const struct source_member *m, struct err *e)
{
	struct reader *r = src->in;
	enum mb_rc rc = open_archive(src, m, e);
	zip_stat_t st;
	int code = 0;

	if (rc != MB_OK)
		return rc;
	zip_stat_init(&st);
	if (zip_stat_index(r->za, m->index, 0, &st) != 0 ||
	    !(st.valid & ZIP_STAT_NAME) || strcmp(st.name, m->name) != 0)
		return err_set(e, MB_EDATA, "'%s' is gone: '%s' changed while"
			       " it was being read", src->path, m->zip_path);
	if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) &&
	    st.encryption_method != ZIP_EM_NONE)
		return member_encrypted(src, e);
	r->index = m->index;
	r->comp_size = st.valid & ZIP_STAT_COMP_SIZE ? st.comp_size : 0;
	r->packed_before = m->packed_before;
	r->out_before = m->out_before;
	r->zf = zip_fopen_index(r->za, m->index, 0);
	if (r->zf)
		return MB_OK;
	code = zip_error_code_zip(zip_get_error(r->za));
	if (code == ZIP_ER_NOPASSWD || code == ZIP_ER_WRONGPASSWD)
		return member_encrypted(src, e);
	return err_set(e, MB_EDATA, "cannot read '%s': %s", src->path,
		       zip_strerror(r->za));
}

enum mb_rc source_open_member(struct source *src, const char *display,
			      const struct source_member *m, struct err *e)
{
	enum mb_rc rc;

	reader_new(src, display);
	src->is_member = 1;
	rc = open_member(src, m, e);
	if (rc == MB_OK)
		rc = start(src, e);
	if (rc != MB_OK)
		source_close(src);
	return rc;
}

/* Decoded bytes, the first block (read at open) first. */
static enum mb_rc read_raw(struct source *src, char *out, size_t cap,
			   size_t *n, struct err *e)
{
	enum mb_rc rc;
	size_t got = 0;

	if (src->head_off < src->head_len) {
		got = src->head_len - src->head_off;
		if (got > cap)
			got = cap;
		memcpy(out, src->head + src->head_off, got);
		src->head_off += got;
	} else if (cap) {
		rc = read_decoded(src, out, cap, &got, e);
		if (rc != MB_OK)
			return rc;
	}
	*n = got;
	return MB_OK;
}

/*
 * Top up the raw bytes waiting for iconv.  A failure ends them: it is
 * kept and returned once what came before it is converted and delivered.
 */
static void recode_top_up(struct source *src, struct recode *rc)
{
	size_t got = 0;

	if (rc->raw_off) {
		memmove(rc->raw, rc->raw + rc->raw_off,
			rc->raw_len - rc->raw_off);
		rc->raw_len -= rc->raw_off;
		rc->raw_off = 0;
	}
	if (read_raw(src, rc->raw + rc->raw_len, RECODE_SIZE - rc->raw_len,
		     &got, &rc->err) != MB_OK) {
		rc->has_err = 1;
		rc->raw_eof = 1;
	} else if (!got) {
		rc->raw_eof = 1;
	}
	rc->raw_len += got;
}

/* Convert the next block into rc->out; rc->out_len 0: the end. */
static enum mb_rc recode_fill(struct source *src, struct recode *rc,
			      struct err *e)
{
	const char *in;
	size_t in_len, left;
	char *o;

	rc->out_off = rc->out_len = 0;
	while (!rc->out_len) {
		if (!rc->raw_eof && rc->raw_len - rc->raw_off < RECODE_SIZE / 2)
			recode_top_up(src, rc);
		in = rc->raw + rc->raw_off;
		in_len = rc->raw_len - rc->raw_off;
		o = rc->out;
		left = RECODE_SIZE;
		transcode_run(&rc->t, &in, &in_len, &o, &left, rc->raw_eof);
		rc->raw_off = (size_t)(in - rc->raw);
		rc->out_len = RECODE_SIZE - left;
		if (!rc->out_len && rc->raw_eof && !in_len)
			break;
	}
	if (!rc->out_len && rc->has_err) {
		if (e)
			*e = rc->err;
		return rc->err.rc;
	}
	return MB_OK;
}

/* UTF-8 from the transcoder, in pieces of any size the caller asks. */
static enum mb_rc read_recoded(struct source *src, char *out, size_t cap,
			       size_t *n, struct err *e)
{
	struct recode *rc = ((struct reader *)src->in)->recode;
	enum mb_rc ret = MB_OK;
	size_t take;

	if (rc->out_off == rc->out_len && cap)
		ret = recode_fill(src, rc, e);
	if (ret != MB_OK)
		return ret;
	take = rc->out_len - rc->out_off;
	if (take > cap)
		take = cap;
	memcpy(out, rc->out + rc->out_off, take);
	rc->out_off += take;
	*n = take;
	return MB_OK;
}

enum mb_rc source_read(struct source *src, char *out, size_t cap, size_t *n,
		       struct err *e)
{
	struct reader *r = src->in;
	enum mb_rc rc;
	size_t got = 0;

	if (!r)
		return err_set(e, MB_EINTERNAL, "source_read on a closed "
			       "source");
	if (r->recode)
		rc = read_recoded(src, out, cap, &got, e);
	else
		rc = read_raw(src, out, cap, &got, e);
	if (rc != MB_OK)
		return rc;
	src->bytes_out += got;
	*n = got;
	return MB_OK;
}

const char *source_kind(struct source *src)
{
	const char *base = src->is_gzip ? "gzip" : "plain";
	size_t i, len;

	if (src->is_member)
		base = src->is_gzip ? "zip+gzip" : "zip";
	if (!src->charset[0])
		return base;
	snprintf(src->kind, sizeof(src->kind), "%s+%s", base, src->charset);
	len = strlen(src->kind);
	for (i = 0; i < len; i++)
		if (src->kind[i] >= 'A' && src->kind[i] <= 'Z')
			src->kind[i] = (char)(src->kind[i] + 32);
	return src->kind;
}

void source_close(struct source *src)
{
	struct reader *r = src->in;

	if (r) {
		if (r->recode)
			transcode_close(&r->recode->t);
		free(r->recode);
		if (r->zinit)
			inflateEnd(&r->z);
		if (r->zf)
			zip_fclose(r->zf);
		if (r->za && r->owns_za)
			zip_discard(r->za);
		if (r->fd >= 0)
			close(r->fd);
		free(r);
	}
	free(src->path);
	free(src->head);
	src->path = NULL;
	src->in = NULL;
	src->is_gzip = 0;
	src->at_start = 0;
	src->bytes_out = 0;
	src->head = NULL;
	src->head_len = 0;
	src->head_off = 0;
	src->is_member = 0;
	src->charset[0] = '\0';
	src->kind[0] = '\0';
}
