/*
 * archive: the members of a zip archive, and which of them are CSV.
 *
 * Mailchimp's audience export is a zip of one CSV per status.  stage reads
 * such a zip without unpacking it: archive_open() reads the central
 * directory (libzip), classifies every member by its name and refuses what
 * cannot be staged as a whole, with a message that says what to do; the
 * caller then streams each CSV member through source_open_member() as an
 * input of its own, named "ZIP:MEMBER" (archive_display_name()).
 *
 *   struct archive a = ARCHIVE_INIT;
 *   rc = archive_is_zip_file(path, &is_zip, &e);
 *   rc = archive_open(&a, path, &e);
 *   for (i = 0; i < a.nmembers; i++)
 *           if (a.members[i].kind == ARCHIVE_CSV) ...
 *   archive_release(&a);              (safe on ARCHIVE_INIT and after failure)
 *
 * Which members are CSV is decided by name (archive_classify): .csv, .tsv
 * and .txt, also gzipped (.csv.gz); never macOS's __MACOSX/ resource forks
 * (named like the CSVs they shadow), ._ files or .DS_Store.  The content of
 * a CSV member is then sniffed by source like a plain file's.  Members named
 * .zip are ARCHIVE_ZIP (a nested zip: the caller refuses it); directories
 * and everything else are ignored, and listed by archive_list().
 *
 * Errors from archive_open, all naming the file: MB_ENOINPUT when it cannot
 * be opened; MB_EIO for a read error; MB_EDATA when the central directory
 * is missing or damaged (a truncated download), when a CSV member is
 * encrypted, when members overlap (a zip bomb's trick), when no member
 * is CSV (an .xlsx or .ods workbook gets "save it as CSV"), and when it
 * has more than ARCHIVE_MAX_MEMBERS members (the message gives the count).
 */
#ifndef MB_ARCHIVE_H
#define MB_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

struct zip;                      /* libzip's archive (zip_t) */

/*
 * Members one archive may have.  Every member is an input of its own (a
 * transaction, a row in inputs); an export of one CSV per status or per
 * list has a handful.  10,000 members of a few rows stage in a few seconds;
 * an archive with more is a file dump, not an export.
 */
#define ARCHIVE_MAX_MEMBERS 10000

enum archive_kind {
	ARCHIVE_OTHER = 0,       /* not CSV: ignored */
	ARCHIVE_DIR,             /* a directory entry: ignored */
	ARCHIVE_CSV,             /* to stage */
	ARCHIVE_ZIP,             /* a zip inside the zip: refused */
};

struct archive_member {
	char *name;              /* as stored (UTF-8), for libzip */
	char *shown;             /* control characters as '?', for messages */
	uint64_t index;          /* libzip's index */
	uint64_t size;           /* as declared: not to be trusted */
	uint64_t comp_size;      /* compressed bytes */
	int encrypted;
	enum archive_kind kind;
};

struct archive {
	char *path;              /* copy, for messages */
	struct zip *za;          /* open while the archive is */
	struct archive_member *members;  /* in central directory order */
	size_t nmembers;
	size_t ncsv;             /* members of kind ARCHIVE_CSV */
	uint64_t file_size;
};

#define ARCHIVE_INIT { NULL, NULL, NULL, 0, 0, 0 }

/* A zip's first bytes: a local file header, or an empty archive's end. */
int archive_is_zip(const void *head, size_t n);

/*
 * *is_zip = 1 when the file at path starts like a zip (archive_is_zip);
 * always 0 for what is not a regular file (a pipe is read once, by
 * source).  MB_ENOINPUT when it cannot be opened, MB_EIO on a read error.
 */
enum mb_rc archive_is_zip_file(const char *path, int *is_zip,
			       struct err *e);

/*
 * The same on fd, open for reading path (named in messages): read with
 * pread(2), so fd's offset does not move; never reads a pipe.
 */
enum mb_rc archive_is_zip_fd(int fd, const char *path, int *is_zip,
			     struct err *e);

/* What a member of this name is (see above); name as stored. */
enum archive_kind archive_classify(const char *name);

/* Read path's central directory into a (see above for the errors). */
enum mb_rc archive_open(struct archive *a, const char *path, struct err *e);

/*
 * The same on fd, open for reading path (named in messages); fd stays the
 * caller's (libzip reads a copy of it).
 */
enum mb_rc archive_open_fd(struct archive *a, const char *path, int fd,
			   struct err *e);

/* A set of kinds for archive_list: ARCHIVE_KIND(A) | ARCHIVE_KIND(B). */
#define ARCHIVE_KIND(kind) (1u << (kind))

/*
 * Append to out the shown names of the members whose kind is in the set
 * kinds, in archive order, ", " between them, at most max_names of them
 * and then " and N more".  Returns how many members are of those kinds.
 */
size_t archive_list(const struct archive *a, unsigned kinds,
		    size_t max_names, struct buf *out);

/*
 * "ZIP:MEMBER" with the member's shown name, into out (replacing what it
 * held): an input's name in messages and in the staging file.
 */
enum mb_rc archive_display_name(const struct archive *a, size_t i,
				struct buf *out);

/*
 * Size and SHA-256 (64 hex digits) of member index's stored bytes
 * (compressed, as a gzip file's fingerprint is): bounded by the archive's
 * size however the member inflates.  Cannot fail: when libzip will not
 * give them all (a damaged member), the hash covers the bytes it gave and
 * the entry (name, sizes, CRC, libzip's error), so the same damaged
 * archive still has the same fingerprint.
 */
void archive_fingerprint(struct zip *za, uint64_t index, uint64_t *size,
			 char sha256_hex[65]);

/* Close the archive and free what it holds; a is ARCHIVE_INIT after. */
void archive_release(struct archive *a);

#endif
