/*
 * stage_queue: batches of finished rows between the reader thread and the
 * writer; see stage_queue.h.  At most STAGE_QUEUE + 1 batches exist at once,
 * so memory stays flat whatever the input's size.
 */
#include "stage_queue.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xalloc.h"

void stage_queue_init(struct queue *q, const volatile sig_atomic_t *stop)
{
	pthread_condattr_t attr;

	memset(q, 0, sizeof(*q));
	q->stop = stop;
	pthread_mutex_init(&q->lock, NULL);
	/* Waits are slices of STOP_SLICE_MS: immune to wall clock steps. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&q->changed, &attr);
	pthread_condattr_destroy(&attr);
}

int stage_queue_stopped(const struct queue *q)
{
	return q->stop && *q->stop;
}

/* Wait for a change, or STOP_SLICE_MS (to look at q->stop). */
static void queue_wait_slice(struct queue *q)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += STOP_SLICE_MS * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&q->changed, &q->lock, &until);
}

static void batch_free_all(struct batch *b)
{
	while (b) {
		struct batch *next = b->next;

		buf_release(&b->arena);
		free(b);
		b = next;
	}
}

void stage_queue_release(struct queue *q)
{
	batch_free_all(q->full_head);
	batch_free_all(q->free_list);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->changed);
}

/* An empty batch for the reader; waits while the writer is behind. */
struct batch *stage_queue_take_free(struct queue *q)
{
	struct batch *b = NULL;

	pthread_mutex_lock(&q->lock);
	while (!q->aborted && !q->free_list && q->nbatches > STAGE_QUEUE)
		pthread_cond_wait(&q->changed, &q->lock);
	if (!q->aborted && q->free_list) {
		b = q->free_list;
		q->free_list = b->next;
	} else if (!q->aborted) {
		b = xcalloc(1, sizeof(*b));
		buf_init(&b->arena, BUF_MAX_DEFAULT);
		q->nbatches++;
	}
	pthread_mutex_unlock(&q->lock);
	if (b) {
		b->n = 0;
		b->next = NULL;
		buf_set(&b->arena, "", 1);   /* offset 0 means "none" */
	}
	return b;
}

void stage_queue_put_full(struct queue *q, struct batch *b)
{
	pthread_mutex_lock(&q->lock);
	if (q->full_tail)
		q->full_tail->next = b;
	else
		q->full_head = b;
	q->full_tail = b;
	pthread_cond_broadcast(&q->changed);
	pthread_mutex_unlock(&q->lock);
}

/*
 * The next full batch, or NULL when the reader is done and none is left,
 * or when a stop is requested.
 */
struct batch *stage_queue_take_full(struct queue *q)
{
	struct batch *b;

	pthread_mutex_lock(&q->lock);
	while (!q->full_head && !q->reader_done && !stage_queue_stopped(q))
		queue_wait_slice(q);
	b = q->full_head;
	if (b) {
		q->full_head = b->next;
		if (!q->full_head)
			q->full_tail = NULL;
		b->next = NULL;
	}
	pthread_mutex_unlock(&q->lock);
	return b;
}

void stage_queue_give_back(struct queue *q, struct batch *b)
{
	pthread_mutex_lock(&q->lock);
	b->next = q->free_list;
	q->free_list = b;
	pthread_cond_broadcast(&q->changed);
	pthread_mutex_unlock(&q->lock);
}

void stage_queue_set(struct queue *q, int *flag)
{
	pthread_mutex_lock(&q->lock);
	*flag = 1;
	pthread_cond_broadcast(&q->changed);
	pthread_mutex_unlock(&q->lock);
}
