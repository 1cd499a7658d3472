/*
 * stage_reader: stage's reader thread.  It does the CPU work that needs no
 * database: inflate, CSV, mapping, validation, the canonical body and its
 * hash; and hands finished rows to the writer in batches (stage_queue.h).
 * Internal to stage.
 *
 * The caller fills a struct reader (opts, path, member or fd, hash, q, and
 * src, map and rec initialised), runs stage_reader_main on a thread, joins
 * it, then reads rc, err, rows_read, delimiter and the fingerprint, and
 * releases src, map and rec.
 */
#ifndef MB_STAGE_READER_H
#define MB_STAGE_READER_H

#include <stdint.h>

#include "err.h"
#include "mapping.h"
#include "source.h"
#include "stage.h"
#include "stage_queue.h"

/* What the reader thread owns. */
struct reader {
	const struct stage_opts *opts;
	const char *path;
	const struct source_member *member;  /* a zip member, or NULL */
	int fd;                  /* else the file, for source (-1 once taken) */
	int hash;                /* compute body hashes (see stage_one) */
	struct queue *q;
	struct source src;
	struct mapping map;
	int have_header;
	struct record rec;
	struct batch *cur;
	uint64_t rows_read;
	unsigned long last_line;
	char delimiter;
	int have_fingerprint;
	uint64_t size;
	char sha256[65];
	enum mb_rc rc;
	struct err err;
};

/*
 * The thread's body (arg: the struct reader).  Always ends by setting
 * q->reader_done, after handing over its last batch.
 */
void *stage_reader_main(void *arg);

#endif
