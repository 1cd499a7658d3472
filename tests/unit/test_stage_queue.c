/*
 * Unit tests for stage_queue: the bounded queue between stage's reader
 * thread and its writer, driven from one thread.
 */
#include <criterion/criterion.h>
#include <signal.h>

#include "stage_queue.h"

Test(stage_queue, batches_go_round_and_end_with_the_reader)
{
	struct queue q;
	struct batch *b, *got;

	stage_queue_init(&q, NULL);
	b = stage_queue_take_free(&q);
	cr_assert_not_null(b);
	cr_assert_eq(b->n, 0);
	cr_assert_eq(b->arena.len, 1);       /* offset 0 means "none" */
	b->n = 7;
	stage_queue_put_full(&q, b);
	got = stage_queue_take_full(&q);
	cr_assert_eq(got, b);
	cr_assert_eq(got->n, 7);
	stage_queue_give_back(&q, got);
	cr_assert_eq(stage_queue_take_free(&q), b);   /* reused, emptied */
	cr_assert_eq(b->n, 0);
	stage_queue_give_back(&q, b);
	stage_queue_set(&q, &q.reader_done);
	cr_assert_null(stage_queue_take_full(&q));
	stage_queue_release(&q);
}

Test(stage_queue, full_batches_come_out_in_order)
{
	struct queue q;
	struct batch *b[3];
	size_t i;

	stage_queue_init(&q, NULL);
	for (i = 0; i < 3; i++) {
		b[i] = stage_queue_take_free(&q);
		b[i]->n = i + 1;
		stage_queue_put_full(&q, b[i]);
	}
	for (i = 0; i < 3; i++) {
		struct batch *got = stage_queue_take_full(&q);

		cr_assert_eq(got, b[i]);
		stage_queue_give_back(&q, got);
	}
	stage_queue_release(&q);     /* frees the free list (ASan) */
}

/* The writer failed: the reader gets no batch and stops. */
Test(stage_queue, aborted_gives_no_free_batch)
{
	struct queue q;
	struct batch *b;

	stage_queue_init(&q, NULL);
	b = stage_queue_take_free(&q);
	stage_queue_put_full(&q, b);     /* still queued: freed by release */
	stage_queue_set(&q, &q.aborted);
	cr_assert_null(stage_queue_take_free(&q));
	stage_queue_release(&q);
}

/* A stop request ends the writer's wait within a slice. */
Test(stage_queue, stop_ends_the_wait_for_rows)
{
	static volatile sig_atomic_t stop = 1;
	struct queue q;

	stage_queue_init(&q, &stop);
	cr_assert(stage_queue_stopped(&q));
	cr_assert_null(stage_queue_take_full(&q));
	stage_queue_release(&q);
}
