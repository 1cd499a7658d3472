/*
 * source: open one input file and stream its bytes, plain or gzip.
 *
 * The kind is detected from magic bytes, never from the name: gzip
 * (1f 8b) is inflated on the fly (concatenated members too; bytes after the
 * last complete member that are not gzip are ignored, as gzip(1) does),
 * anything else is read as it is.  Inputs that cannot be CSV are refused at
 * open with a message that says what to do: a zip archive or .xlsx (PK 03
 * 04: "unzip it"; from a pipe or stdin: "save it to a file"), an .xls
 * workbook ("save it as CSV"), bzip2, xz or zstd data, a gzip file whose
 * content is compressed again (gzip inside gzip: "compressed twice") with
 * how to undo it, and binary data, judged by content: a known magic number
 * (PDF, PNG, JPEG, GIF, ELF, 7-Zip, RAR, SQLite), UTF-16 without a byte
 * order mark (NULs in every other byte: "stage it with --encoding
 * UTF-16LE"), or more than 1 byte in 20 of the first 64 KiB NUL or control
 * bytes.  Otherwise NUL bytes are passed on as data (the rows holding them
 * are rejected downstream, invalid_utf8).
 *
 * Encodings.  A byte order mark decides: UTF-8's is removed; UTF-16 LE/BE
 * and UTF-32 LE/BE are transcoded to UTF-8 on the fly with iconv(3).
 * Without a mark, src->encoding (set by the caller, see below) names the
 * charset to transcode from; without either, the first 64 KiB must read as
 * UTF-8: stray bytes there with no well-formed multi-byte sequence beside
 * them refuse the file (MB_EDATA) with the line and offset of the first one
 * and the --encoding to try (windows-1252 only when every byte reads as
 * that).  Ill-formed bytes in a file that is otherwise UTF-8 are left to
 * the row checks.  Line feeds stay line feeds, so line numbers are the
 * original file's.  Memory use is fixed whatever the file size (about 450
 * KiB per open source).
 *
 *   struct source src = SOURCE_INIT;
 *   rc = source_open(&src, path, &e);
 *   while ((rc = source_read(&src, block, sizeof block, &n, &e)) == MB_OK && n)
 *           ...
 *   source_close(&src);               (safe on SOURCE_INIT and after failure)
 *
 * Gzip bombs: once past 64 MiB of output, a gzip stream that has inflated
 * more than 200 times is refused (real exports inflate 5 to 75 times; runs
 * of one byte inflate up to 1032 times): the bytes before are delivered,
 * then MB_EDATA, as for damage.
 *
 * Zip archives are read member by member (source_open_member); given to
 * source_open, a zip is refused like the other non-CSV kinds.
 *
 * Errors: MB_ENOINPUT when the file cannot be opened or is a directory
 * (strerror text); MB_EUSAGE when iconv does not know src->encoding;
 * MB_EDATA for zip, .xls, binary, not UTF-8, a likely gzip
 * bomb, and a truncated or corrupt gzip stream (zlib's text, and how many
 * decoded bytes came before the damage); MB_EIO for a read error.  Every
 * byte decoded before the damage is delivered before the error is returned
 * (when the damage is in the first 64 KiB, open still succeeds if anything
 * decoded and the error comes from a later source_read), so the caller
 * keeps the rows it read.
 * Every message names the file.  An empty file is not an error (0 bytes).
 */
#ifndef MB_SOURCE_H
#define MB_SOURCE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct zip;                      /* libzip's archive (zip_t) */

struct source {
	char *path;              /* copy of the path, for messages */
	void *in;                /* private reading state; NULL when closed */
	int is_gzip;
	int at_start;            /* BOM check still to do */
	uint64_t bytes_out;      /* decoded bytes delivered so far */
	char *head;              /* first decoded block, read at open */
	size_t head_len;
	size_t head_off;         /* next byte of head to deliver */
	int is_member;           /* a zip member (source_open_member) */
	/*
	 * Set by the caller (kept by open and close): when *stop becomes
	 * non-zero, the next read fails with MB_ESTOPPED.  A pipe or FIFO
	 * waiting for its writer is polled in slices of 200 ms so that a stop
	 * is seen while nothing comes.  NULL: never stop.
	 */
	const volatile sig_atomic_t *stop;
	/*
	 * Set by the caller (kept by open and close): the charset of a file
	 * without a byte order mark, any name iconv knows ("windows-1252",
	 * "shift_jis"); "UTF-8" reads it as UTF-8 without the check above
	 * (bad rows rejected one by one).  NULL: UTF-8, checked.
	 */
	const char *encoding;
	char charset[32];        /* transcoded from this; "": UTF-8 */
	char kind[48];           /* source_kind's text */
};

#define SOURCE_INIT { NULL, NULL, 0, 0, 0, NULL, 0, 0, 0, NULL, NULL, "", \
		      "" }

enum mb_rc source_open(struct source *src, const char *path, struct err *e);

/*
 * As source_open, on fd, a descriptor the caller opened for reading path
 * (path names it in messages).  The source takes fd: it is closed by
 * source_close, or before return when the open fails.  This is how an input
 * is opened once: a FIFO or a pipe cannot be opened a second time.
 */
enum mb_rc source_open_fd(struct source *src, const char *path, int fd,
			  struct err *e);

/*
 * One member of a zip archive (see archive.h), all fields borrowed.  The
 * zip-bomb guard counts an archive's members together: the caller passes
 * what the members read before this one produced (source_inflated) and
 * their compressed sizes, so that many members just under the threshold
 * cannot add up to a bomb.
 */
struct source_member {
	struct zip *za;          /* the open archive, or NULL: open zip_path */
	const char *zip_path;    /* the archive on disk */
	uint64_t index;          /* libzip's index of the member */
	const char *name;        /* its stored name, checked against index */
	uint64_t packed_before;  /* compressed bytes of earlier members */
	uint64_t out_before;     /* what they inflated to */
};

#define SOURCE_MEMBER_INIT { NULL, NULL, 0, NULL, 0, 0 }

/*
 * Open member m of a zip archive and stream it like a file (display names
 * it in messages, e.g. "export.zip:subscribed.csv"): the same refusals,
 * BOM removal and gzip inflation as source_open, plus a nested zip ("a zip
 * archive inside a zip archive") and an encrypted member.  Damage met while
 * reading (a CRC mismatch at the member's end, bad deflate data) is
 * MB_EDATA after the bytes before it, as for gzip.  Zip bombs: once the
 * archive's members have produced 64 MiB, more than 200 times their
 * compressed size is refused (MB_EDATA).  Memory stays flat: libzip
 * inflates as it is read.  With m->za, the member is read through that
 * handle (borrowed: the caller keeps it open until source_close and uses
 * it from no other thread meanwhile): an archive is opened once, however
 * many members it has (re-opening parses the whole central directory).
 */
enum mb_rc source_open_member(struct source *src, const char *display,
			      const struct source_member *m, struct err *e);

/* What a member has inflated to so far (for the next one's out_before). */
uint64_t source_inflated(const struct source *src);

/*
 * Read up to cap decoded bytes into out; *n = 0 means end of input.
 * *n is written only on MB_OK.
 */
enum mb_rc source_read(struct source *src, char *out, size_t cap, size_t *n,
		       struct err *e);

/*
 * How the bytes came, for inputs.kind: "plain", "gzip", "zip" or
 * "zip+gzip", then "+" and the charset transcoded from, lower-cased, when
 * not UTF-8 ("plain+utf-16le").  Borrowed: valid until the next call or
 * source_close.
 */
const char *source_kind(struct source *src);

/*
 * Size and SHA-256 (64 hex digits) of the file's raw bytes (the compressed
 * bytes of a gzip file; a zip member's stored, compressed bytes, see
 * archive_fingerprint), for run history and idempotent re-staging.  Reads
 * the rest of the file when the caller stopped early (damage, an error).
 */
enum mb_rc source_fingerprint(struct source *src, uint64_t *size,
			      char sha256_hex[65], struct err *e);

void source_close(struct source *src);

#endif
