/*
 * check_queue: daemon/queue.c against a model.  Random pushes, removals,
 * pauses, limits and running counts over many queues; after each step the
 * queue queue_next_runnable() names must be the one a plain scan of the
 * model picks, and popping must give jobs in (priority, FIFO) order.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "queue.h"

#define NQ 12
#define NJOBS 4000
#define STEPS 200000

struct model {
	struct queue *q;
	struct job *jobs[NJOBS]; /* queued, in no order */
	size_t n;
	bool paused;
	unsigned limit;
	unsigned running;
};

static struct model M[NQ];
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* The model's first job of a queue: lowest priority, then oldest. */
static struct job *
model_head(const struct model *m)
{
	struct job *best = NULL;
	size_t i;

	for (i = 0; i < m->n; i++) {
		if (best == NULL || m->jobs[i]->priority < best->priority ||
		    (m->jobs[i]->priority == best->priority &&
		        m->jobs[i]->u.q.seq < best->u.q.seq))
			best = m->jobs[i];
	}
	return best;
}

static struct model *
model_next(void)
{
	struct model *best = NULL;
	struct job *h, *bh = NULL;
	size_t i;

	for (i = 0; i < NQ; i++) {
		if (M[i].n == 0 || M[i].paused ||
		    (M[i].limit != 0 && M[i].running >= M[i].limit))
			continue;
		h = model_head(&M[i]);
		if (best == NULL || h->priority < bh->priority ||
		    (h->priority == bh->priority && h->u.q.seq < bh->u.q.seq)) {
			best = &M[i];
			bh = h;
		}
	}
	return best;
}

static void
model_drop(struct model *m, struct job *job)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		if (m->jobs[i] == job) {
			m->jobs[i] = m->jobs[--m->n];
			return;
		}
	}
	ck_abort_msg("job not in the model");
}

START_TEST(test_against_model)
{
	struct model *m, *want;
	struct queue *got;
	struct job *job;
	char name[16];
	size_t i, step;

	for (i = 0; i < NQ; i++) {
		snprintf(name, sizeof name, "q%zu", i);
		M[i].q = queue_get(name);
		ck_assert_ptr_eq(queue_get(name), M[i].q);
	}
	for (step = 0; step < STEPS; step++) {
		m = &M[next_rand() % NQ];
		switch (next_rand() % 8) {
		case 0:
		case 1:
		case 2: /* push */
			if (m->n == NJOBS)
				break;
			job = calloc(1, sizeof(*job));
			job->priority = next_rand() % 4 == 0
			                    ? (uint16_t)(next_rand() % 1001)
			                    : 100;
			queue_push(m->q, job);
			m->jobs[m->n++] = job;
			break;
		case 3: /* pop from the runnable queue, as the scheduler does */
			want = model_next();
			got = queue_next_runnable();
			ck_assert_ptr_eq(got, want != NULL ? want->q : NULL);
			if (want == NULL)
				break;
			job = model_head(want);
			ck_assert_ptr_eq(queue_pop(got), job);
			model_drop(want, job);
			want->running++;
			queue_note_running(got, 1);
			free(job);
			break;
		case 4: /* cancel one */
			if (m->n == 0)
				break;
			job = m->jobs[next_rand() % m->n];
			queue_remove(m->q, job);
			model_drop(m, job);
			free(job);
			break;
		case 5: /* a running job ends */
			if (m->running == 0)
				break;
			m->running--;
			queue_note_running(m->q, -1);
			break;
		case 6:
			m->paused = !m->paused;
			queue_set_paused(m->q, m->paused);
			break;
		default:
			m->limit = (unsigned)(next_rand() % 4);
			queue_set_concurrency(m->q, m->limit);
			break;
		}
		want = model_next();
		ck_assert_ptr_eq(
		    queue_next_runnable(), want != NULL ? want->q : NULL);
		ck_assert_uint_eq(queue_depth(m->q), m->n);
	}
	for (i = 0; i < NQ; i++) {
		while ((job = queue_pop(M[i].q)) != NULL)
			free(job);
	}
	queues_free();
}
END_TEST

START_TEST(test_names)
{
	char name[32];
	struct queue *q[500];
	size_t i;

	/* Enough to grow the name table several times. */
	for (i = 0; i < 500; i++) {
		snprintf(name, sizeof name, "queue-%zu", i);
		q[i] = queue_get(name);
		ck_assert_str_eq(queue_name(q[i]), name);
	}
	for (i = 0; i < 500; i++) {
		snprintf(name, sizeof name, "queue-%zu", i);
		ck_assert_ptr_eq(queue_get(name), q[i]);
	}
	ck_assert(queue_name_valid("a.b_c-9"));
	ck_assert(!queue_name_valid(""));
	ck_assert(!queue_name_valid("a b"));
	ck_assert(!queue_name_valid("x/y"));
	queues_free();
}
END_TEST

static Suite *
queue_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("queue");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_against_model);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return test_run_suite(queue_suite());
}
