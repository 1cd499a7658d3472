/*
 * stage_queue: the bounded queue between stage's reader thread and its
 * writer (the calling thread, which owns the SQLite connection).
 *
 * The reader takes an empty batch (stage_queue_take_free), fills it with
 * finished rows and hands it over (stage_queue_put_full); the writer takes
 * full batches (stage_queue_take_full) and gives them back once written
 * (stage_queue_give_back).  Either side ends the exchange by setting a flag
 * (stage_queue_set: reader_done, aborted).  Internal to stage.
 */
#ifndef MB_STAGE_QUEUE_H
#define MB_STAGE_QUEUE_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/*
 * The pipeline.  A reader thread does the CPU work that needs no database
 * (inflate, CSV, mapping, validation, the body) and hands over batches of
 * finished rows; the calling thread owns the SQLite connection and only
 * writes.  On two cores the two halves overlap (measured: each is about half
 * of a single-threaded stage).  The queue is bounded, so memory stays flat:
 * at most STAGE_QUEUE batches of STAGE_BATCH rows exist at once.
 */
#define STAGE_BATCH 2048
#define STAGE_QUEUE 4

/* The writer waiting for rows looks at opts->stop this often. */
#define STOP_SLICE_MS 100

/* One finished row: a contact to insert or a reject to record. */
struct staged {
	unsigned long line;
	const char *reject;      /* static reason code, or NULL */
	const char *suppress;    /* static source status, or NULL */
	int unconfirmed;
	int has_tags;
	int64_t hash;            /* db_body_hash of the body, or 0 */
	size_t email, ext, body, detail;  /* arena offsets; 0 = none */
	size_t email_len, ext_len, body_len;  /* saves SQLite a strlen */
};

struct batch {
	struct staged rows[STAGE_BATCH];
	size_t n;
	struct buf arena;        /* NUL-separated strings; offset 0 is "" */
	struct batch *next;
};

struct queue {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct batch *full_head, *full_tail;
	struct batch *free_list;
	size_t nbatches;         /* allocated, at most STAGE_QUEUE + 1 */
	int reader_done;
	int aborted;             /* the writer failed: reader must stop */
	const volatile sig_atomic_t *stop;  /* opts->stop */
};

/* Set up q; stop (borrowed, may be NULL) is looked at while waiting. */
void stage_queue_init(struct queue *q, const volatile sig_atomic_t *stop);
/* Free every batch q holds and its lock. */
void stage_queue_release(struct queue *q);
/* 1 when a stop was requested. */
int stage_queue_stopped(const struct queue *q);
/*
 * An empty batch for the reader (waits while the writer is behind), or NULL
 * once the writer aborted.  The batch is the queue's: give it back with
 * stage_queue_put_full.
 */
struct batch *stage_queue_take_free(struct queue *q);
void stage_queue_put_full(struct queue *q, struct batch *b);
/*
 * The next full batch, or NULL when the reader is done and none is left,
 * or when a stop is requested.  Return it with stage_queue_give_back.
 */
struct batch *stage_queue_take_full(struct queue *q);
void stage_queue_give_back(struct queue *q, struct batch *b);
/* Set *flag (one of q's) to 1 under the lock and wake the other side. */
void stage_queue_set(struct queue *q, int *flag);

#endif
