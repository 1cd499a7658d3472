/*
 * source: open one input file and stream its bytes, plain or gzip.
 *
 * The kind is detected from magic bytes, never from the name: gzip
 * (1f 8b) is inflated on the fly (concatenated members too; bytes after the
 * last complete member that are not gzip are ignored, as gzip(1) does),
 * anything else is read as it is.  Inputs that cannot be CSV are refused at
 * open with a message that says what to do: a zip archive or .xlsx (PK 03
 * 04: "unzip it"), an .xls workbook ("save it as CSV"), UTF-16 (a FF FE or
 * FE FF byte order mark, or NULs in every other byte: "convert it first with
 * iconv -f UTF-16 -t UTF-8"), binary data (NUL bytes in the first 8 KiB).
 * A NUL byte later in the file is passed on as data.  A leading UTF-8 byte
 * order mark is removed.  Memory use is fixed whatever the file size (about
 * 300 KiB per open source).
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
 * Errors: MB_ENOINPUT when the file cannot be opened or is a directory
 * (strerror text); MB_EDATA for zip, .xls, UTF-16, binary, a likely gzip
 * bomb, and a truncated or corrupt gzip stream (zlib's text, and how many
 * decoded bytes came before the damage); MB_EIO for a read error.  Every
 * byte decoded before the damage is delivered before the error is returned
 * (when the damage is in the first 8 KiB, open still succeeds if anything
 * decoded and the error comes from a later source_read), so the caller
 * keeps the rows it read.
 * Every message names the file.  An empty file is not an error (0 bytes).
 */
#ifndef MB_SOURCE_H
#define MB_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct source {
	char *path;              /* copy of the path, for messages */
	void *in;                /* private reading state; NULL when closed */
	int is_gzip;
	int at_start;            /* BOM check still to do */
	uint64_t bytes_out;      /* decoded bytes delivered so far */
	char *head;              /* first decoded block, read at open */
	size_t head_len;
	size_t head_off;         /* next byte of head to deliver */
};

#define SOURCE_INIT { NULL, NULL, 0, 0, 0, NULL, 0, 0 }

enum mb_rc source_open(struct source *src, const char *path, struct err *e);

/*
 * Read up to cap decoded bytes into out; *n = 0 means end of input.
 * *n is written only on MB_OK.
 */
enum mb_rc source_read(struct source *src, char *out, size_t cap, size_t *n,
		       struct err *e);

/*
 * Size and SHA-256 (64 hex digits) of the file's raw bytes (the compressed
 * bytes of a gzip file), for run history and idempotent re-staging.  Reads
 * the rest of the file when the caller stopped early (damage, an error).
 */
enum mb_rc source_fingerprint(struct source *src, uint64_t *size,
			      char sha256_hex[65], struct err *e);

void source_close(struct source *src);

#endif
