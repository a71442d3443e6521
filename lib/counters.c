/*
 * counters: per-thread counters, gauges and log-linear histograms (see
 * counters.h).
 *
 * DESIGN
 *
 * A struct counters owns max_threads slots in one array allocated aligned to
 * the cache line; each slot is itself cache-line aligned and padded, so no
 * two slots share a line.  A thread that records is given one slot the first
 * time it calls counters_slot() and keeps it for the life of the instance
 * (slots are never recycled: max_threads bounds the number of distinct
 * threads that ever record, not the number alive at once).
 *
 * Every field of a slot is a C11 atomic, but it has exactly one writer: the
 * owning thread.  That thread updates a field with a relaxed load followed by
 * a relaxed store of the new value.  Because nobody else writes the field, no
 * update can be lost, so we need no lock-prefixed read-modify-write; the line
 * stays in the owner's cache and the hot path costs a plain load and store.
 * Readers (counters_get() and friends, any thread) sum the slots with relaxed
 * loads.  Relaxed is enough: a figure is a sum of independent monotonic (or,
 * for gauges, wrapping) values and nothing else is published through them.
 * Making the fields atomic, rather than plain integers, is what makes the
 * concurrent owner-store/reader-load pairs data-race free in the C11 model
 * (and so clean under ThreadSanitizer); on x86-64 and arm64 a relaxed 64-bit
 * load or store compiles to an ordinary mov/ldr/str.
 *
 * A reader therefore sees each field at some recent value, and different
 * fields (a histogram's count and its buckets, say) possibly at different
 * moments: a snapshot is not an atomic cut, which monitoring does not need.
 * After the writers are joined, the sums are exact.
 *
 * Arithmetic wraps modulo 2^64.  Gauges are stored as two's-complement
 * uint64_t so that a slot that only ever decrements (one thread dequeues
 * what another enqueued) wraps without signed overflow; the sum is converted
 * back to int64_t at the end.
 *
 * SLOT LOOKUP
 *
 * Several instances may live in one process (tests create many, and an
 * address can be reused after counters_free()), so the thread-local cache is
 * keyed by a generation number unique to each instance, taken from a global
 * counter at create time; the pointer alone is not enough.  The cache holds
 * the last COUNTERS_TLS_CACHE (instance, slot) pairs, replaced round-robin.
 * It is only a cache: each slot also records the unique id of the thread
 * that owns it, so on a miss the thread first looks for its own slot among
 * the registered ones and registers a new slot only if it has none.  A thread
 * that moves between more instances than the cache holds thus never uses up
 * a second slot in any of them.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "counters.h"
#include "log.h"
#include "xmalloc.h"

#define COUNTERS_CACHE_LINE 64
/* Upper bound on max_threads: 4096 slots of about 8 KiB each is 32 MiB. */
#define COUNTERS_MAX_THREADS 4096
/* Per-thread (instance, slot) pairs remembered by counters_slot(). */
#define COUNTERS_TLS_CACHE 4

/* One histogram in one slot; written only by the slot's owner. */
struct counters_hist {
	atomic_uint_least64_t buckets[COUNTERS_HIST_BUCKETS];
	atomic_uint_least64_t count;
	atomic_uint_least64_t sum;
	atomic_uint_least64_t max;
};

/*
 * One thread's figures.  The alignment makes the struct's size a multiple of
 * the cache line too, so in an array no two slots share a line.
 */
struct counters_slot {
	_Alignas(
	    COUNTERS_CACHE_LINE) atomic_uint_least64_t counters[COUNTER_MAX];
	/* Two's complement; see the DESIGN comment. */
	atomic_uint_least64_t gauges[GAUGE_MAX];
	struct counters_hist hists[HIST_MAX];
	/*
	 * Unique id of the owning thread, 0 while free.  Stored (relaxed) once
	 * by the owner after it claims the slot; other threads read it only to
	 * compare with their own id, which it can never spuriously equal.
	 */
	atomic_uint_least64_t owner;
};

struct counters {
	struct counters_slot *slots; /* max_threads of them */
	unsigned max_threads;
	/* Unique per instance, never 0: the thread-local cache key. */
	uint64_t generation;
	/*
	 * Slots handed out so far (may run past max_threads just before the
	 * fatalx).  fetch_add makes each index unique; relaxed, because the
	 * slots were zeroed before the instance was shared with any thread.
	 */
	atomic_uint nslots;
};

/*
 * Sources of instance generations and thread ids.  Relaxed fetch_add: only
 * uniqueness matters.  Both start at 1 so that 0 means "none".
 */
static atomic_uint_least64_t counters_next_generation = 1;
static atomic_uint_least64_t counters_next_thread_id = 1;

/* This thread's unique id (0 until first needed), matched to slot owners. */
static _Thread_local uint64_t counters_thread_id;
/* Last instances this thread used; thread-local, so no synchronisation. */
static _Thread_local struct {
	struct counters *owner;
	uint64_t generation;
	struct counters_slot *slot;
} counters_cache[COUNTERS_TLS_CACHE];
static _Thread_local unsigned counters_cache_next;

#define COUNTERS_NAME(name, help) #name,
#define COUNTERS_HELP(name, help) help,

static const char *const counter_names[] = {
    COUNTERS_LIST(COUNTERS_NAME, COUNTERS_SKIP, COUNTERS_SKIP)};
static const char *const gauge_names[] = {
    COUNTERS_LIST(COUNTERS_SKIP, COUNTERS_NAME, COUNTERS_SKIP)};
static const char *const hist_names[] = {
    COUNTERS_LIST(COUNTERS_SKIP, COUNTERS_SKIP, COUNTERS_NAME)};
static const char *const counter_helps[] = {
    COUNTERS_LIST(COUNTERS_HELP, COUNTERS_SKIP, COUNTERS_SKIP)};
static const char *const gauge_helps[] = {
    COUNTERS_LIST(COUNTERS_SKIP, COUNTERS_HELP, COUNTERS_SKIP)};
static const char *const hist_helps[] = {
    COUNTERS_LIST(COUNTERS_SKIP, COUNTERS_SKIP, COUNTERS_HELP)};

_Static_assert(sizeof(struct counters_slot) % COUNTERS_CACHE_LINE == 0,
    "slots must not share a cache line");

struct counters *
counters_create(unsigned max_threads)
{
	struct counters *c;
	size_t size;

	if (max_threads == 0 || max_threads > COUNTERS_MAX_THREADS) {
		errno = EINVAL;
		return NULL;
	}
	size = (size_t)max_threads * sizeof(struct counters_slot);
	c = xcalloc(1, sizeof *c);
	c->slots = xaligned_alloc(COUNTERS_CACHE_LINE, size);
	/* All-zero bytes are valid zero atomics on every platform we run on. */
	memset(c->slots, 0, size);
	c->max_threads = max_threads;
	c->generation = atomic_fetch_add_explicit(
	    &counters_next_generation, 1, memory_order_relaxed);
	atomic_init(&c->nslots, 0);
	return c;
}

void
counters_free(struct counters *c)
{
	if (c == NULL)
		return;
	free(c->slots);
	free(c);
}

/* Registered slots, clamped to the array. */
static unsigned
counters_nslots(struct counters *c)
{
	unsigned n;

	n = atomic_load_explicit(&c->nslots, memory_order_relaxed);
	return n < c->max_threads ? n : c->max_threads;
}

/* Slow path of counters_slot(): find this thread's slot or claim one. */
static struct counters_slot *
counters_register(struct counters *c)
{
	struct counters_slot *s;
	unsigned i, n;

	if (counters_thread_id == 0)
		counters_thread_id = atomic_fetch_add_explicit(
		    &counters_next_thread_id, 1, memory_order_relaxed);

	n = counters_nslots(c);
	for (i = 0; i < n; i++) {
		s = &c->slots[i];
		if (atomic_load_explicit(&s->owner, memory_order_relaxed) ==
		    counters_thread_id)
			return s;
	}

	i = atomic_fetch_add_explicit(&c->nslots, 1, memory_order_relaxed);
	if (i >= c->max_threads)
		fatalx("counters: more than %u threads record", c->max_threads);
	s = &c->slots[i];
	atomic_store_explicit(
	    &s->owner, counters_thread_id, memory_order_relaxed);
	return s;
}

struct counters_slot *
counters_slot(struct counters *c)
{
	struct counters_slot *s;
	unsigned i;

	for (i = 0; i < COUNTERS_TLS_CACHE; i++) {
		if (counters_cache[i].owner == c &&
		    counters_cache[i].generation == c->generation)
			return counters_cache[i].slot;
	}
	s = counters_register(c);
	i = counters_cache_next;
	counters_cache_next = (i + 1) % COUNTERS_TLS_CACHE;
	counters_cache[i].owner = c;
	counters_cache[i].generation = c->generation;
	counters_cache[i].slot = s;
	return s;
}

/* Owner-only update: load and store, no read-modify-write (see DESIGN). */
static inline void
slot_add(atomic_uint_least64_t *field, uint64_t n)
{
	uint64_t v;

	v = atomic_load_explicit(field, memory_order_relaxed);
	atomic_store_explicit(field, v + n, memory_order_relaxed);
}

void
counter_add(struct counters_slot *s, enum counter_id id, uint64_t n)
{
	if ((unsigned)id >= COUNTER_MAX)
		fatalx("counter_add: bad id %d", (int)id);
	slot_add(&s->counters[id], n);
}

void
gauge_add(struct counters_slot *s, enum gauge_id id, int64_t delta)
{
	if ((unsigned)id >= GAUGE_MAX)
		fatalx("gauge_add: bad id %d", (int)id);
	/* Conversion to unsigned is modulo 2^64: two's complement add. */
	slot_add(&s->gauges[id], (uint64_t)delta);
}

void
hist_record(struct counters_slot *s, enum hist_id id, uint64_t value)
{
	struct counters_hist *h;

	if ((unsigned)id >= HIST_MAX)
		fatalx("hist_record: bad id %d", (int)id);
	h = &s->hists[id];
	slot_add(&h->buckets[hist_bucket_of(value)], 1);
	slot_add(&h->count, 1);
	slot_add(&h->sum, value);
	if (value > atomic_load_explicit(&h->max, memory_order_relaxed))
		atomic_store_explicit(&h->max, value, memory_order_relaxed);
}

uint64_t
counters_get(struct counters *c, enum counter_id id)
{
	uint64_t total = 0;
	unsigned i, n;

	if ((unsigned)id >= COUNTER_MAX)
		fatalx("counters_get: bad id %d", (int)id);
	n = counters_nslots(c);
	for (i = 0; i < n; i++)
		total += atomic_load_explicit(
		    &c->slots[i].counters[id], memory_order_relaxed);
	return total;
}

int64_t
gauges_get(struct counters *c, enum gauge_id id)
{
	uint64_t total = 0;
	unsigned i, n;

	if ((unsigned)id >= GAUGE_MAX)
		fatalx("gauges_get: bad id %d", (int)id);
	n = counters_nslots(c);
	for (i = 0; i < n; i++)
		total += atomic_load_explicit(
		    &c->slots[i].gauges[id], memory_order_relaxed);
	/* Back from two's complement without implementation-defined casts. */
	if (total <= INT64_MAX)
		return (int64_t)total;
	return -(int64_t)(UINT64_MAX - total) - 1;
}

/*
 * The value at quantile pct/100 of the bucket counts: the upper bound of the
 * first bucket whose cumulative count reaches ceil(pct * total / 100).
 */
static uint64_t
hist_percentile(const uint64_t *buckets, uint64_t total, unsigned pct)
{
	uint64_t target, cum = 0;
	unsigned b;

	/* ceil(total * pct / 100) without overflowing for huge totals. */
	target = total / 100 * pct + (total % 100 * pct + 99) / 100;
	for (b = 0; b < COUNTERS_HIST_BUCKETS; b++) {
		cum += buckets[b];
		if (cum >= target)
			return hist_bucket_upper(b);
	}
	return UINT64_MAX;
}

/* Sum every slot's buckets, count, sum and max of one histogram. */
static void
hist_sum_slots(struct counters *c, enum hist_id id, uint64_t *buckets,
    struct hist_summary *out)
{
	struct counters_hist *h;
	unsigned i, b, n;
	uint64_t v;

	memset(out, 0, sizeof *out);
	memset(buckets, 0, COUNTERS_HIST_BUCKETS * sizeof *buckets);
	n = counters_nslots(c);
	for (i = 0; i < n; i++) {
		h = &c->slots[i].hists[id];
		for (b = 0; b < COUNTERS_HIST_BUCKETS; b++)
			buckets[b] += atomic_load_explicit(
			    &h->buckets[b], memory_order_relaxed);
		out->count +=
		    atomic_load_explicit(&h->count, memory_order_relaxed);
		out->sum += atomic_load_explicit(&h->sum, memory_order_relaxed);
		v = atomic_load_explicit(&h->max, memory_order_relaxed);
		if (v > out->max)
			out->max = v;
	}
}

void
hists_get_buckets(struct counters *c, enum hist_id id, uint64_t *buckets,
    struct hist_summary *out)
{
	if ((unsigned)id >= HIST_MAX)
		fatalx("hists_get_buckets: bad id %d", (int)id);
	hist_sum_slots(c, id, buckets, out);
}

void
hists_get(struct counters *c, enum hist_id id, struct hist_summary *out)
{
	uint64_t buckets[COUNTERS_HIST_BUCKETS];
	uint64_t total = 0;
	unsigned b;

	if ((unsigned)id >= HIST_MAX)
		fatalx("hists_get: bad id %d", (int)id);
	hist_sum_slots(c, id, buckets, out);
	for (b = 0; b < COUNTERS_HIST_BUCKETS; b++)
		total += buckets[b];
	/*
	 * Rank against the bucket total rather than out->count: while threads
	 * record, the two may have been read at different moments, and only
	 * the buckets agree with themselves.
	 */
	if (total == 0)
		return;
	out->p50 = hist_percentile(buckets, total, 50);
	out->p90 = hist_percentile(buckets, total, 90);
	out->p99 = hist_percentile(buckets, total, 99);
	/* A bucket's upper bound can exceed every value in it; max is exact. */
	if (out->p50 > out->max)
		out->p50 = out->max;
	if (out->p90 > out->max)
		out->p90 = out->max;
	if (out->p99 > out->max)
		out->p99 = out->max;
}

const char *
counter_name(enum counter_id id)
{
	return (unsigned)id < COUNTER_MAX ? counter_names[id] : NULL;
}

const char *
gauge_name(enum gauge_id id)
{
	return (unsigned)id < GAUGE_MAX ? gauge_names[id] : NULL;
}

const char *
hist_name(enum hist_id id)
{
	return (unsigned)id < HIST_MAX ? hist_names[id] : NULL;
}

const char *
counter_help(enum counter_id id)
{
	return (unsigned)id < COUNTER_MAX ? counter_helps[id] : NULL;
}

const char *
gauge_help(enum gauge_id id)
{
	return (unsigned)id < GAUGE_MAX ? gauge_helps[id] : NULL;
}

const char *
hist_help(enum hist_id id)
{
	return (unsigned)id < HIST_MAX ? hist_helps[id] : NULL;
}

/*
 * Values 0..SUB-1 have a bucket each.  Above, for a value whose highest set
 * bit is e, the SUB_BITS bits below it pick one of SUB linear sub-buckets of
 * [2^e, 2^(e+1)); the group for e starts at bucket (e - SUB_BITS + 1) * SUB.
 * UINT64_MAX (e = 63) lands in the last bucket, COUNTERS_HIST_BUCKETS - 1.
 */
unsigned
hist_bucket_of(uint64_t value)
{
	unsigned e;

	if (value < COUNTERS_HIST_SUB)
		return (unsigned)value;
	e = 63 - (unsigned)__builtin_clzll(value);
	return (e - COUNTERS_HIST_SUB_BITS + 1) * COUNTERS_HIST_SUB +
	       (unsigned)((value >> (e - COUNTERS_HIST_SUB_BITS)) &
	                  (COUNTERS_HIST_SUB - 1));
}

/* The largest value in the bucket; UINT64_MAX past the last bucket. */
uint64_t
hist_bucket_upper(unsigned bucket)
{
	uint64_t lower, width;
	unsigned e, sub;

	if (bucket < COUNTERS_HIST_SUB)
		return bucket;
	if (bucket >= COUNTERS_HIST_BUCKETS)
		return UINT64_MAX;
	e = bucket / COUNTERS_HIST_SUB + COUNTERS_HIST_SUB_BITS - 1;
	sub = bucket % COUNTERS_HIST_SUB;
	width = (uint64_t)1 << (e - COUNTERS_HIST_SUB_BITS);
	lower = (uint64_t)(COUNTERS_HIST_SUB + sub) * width;
	/* lower + width - 1, ordered so the last bucket does not overflow. */
	return lower + (width - 1);
}

/* JSON integers are signed 64-bit: larger figures are clamped, not wrapped. */
static int
json_set_u64(json_t *obj, const char *key, uint64_t v)
{
	json_int_t j;

	j = v > INT64_MAX ? (json_int_t)INT64_MAX : (json_int_t)v;
	return json_object_set_new(obj, key, json_integer(j));
}

static json_t *
hist_json(const struct hist_summary *hs)
{
	json_t *obj;

	if ((obj = json_object()) == NULL)
		return NULL;
	if (json_set_u64(obj, "count", hs->count) == -1 ||
	    json_set_u64(obj, "sum", hs->sum) == -1 ||
	    json_set_u64(obj, "p50", hs->p50) == -1 ||
	    json_set_u64(obj, "p90", hs->p90) == -1 ||
	    json_set_u64(obj, "p99", hs->p99) == -1 ||
	    json_set_u64(obj, "max", hs->max) == -1) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

json_t *
counters_snapshot_json(struct counters *c)
{
	json_t *root, *counters, *gauges, *hists;
	struct hist_summary hs;
	unsigned i;

	/*
	 * json_object_set_new() takes the value's reference even when it fails
	 * (NULL root, NULL value, no memory), so nothing leaks on the way out.
	 */
	root = json_object();
	counters = json_object();
	if (json_object_set_new(root, "counters", counters) == -1)
		goto fail;
	gauges = json_object();
	if (json_object_set_new(root, "gauges", gauges) == -1)
		goto fail;
	hists = json_object();
	if (json_object_set_new(root, "histograms", hists) == -1)
		goto fail;

	for (i = 0; i < COUNTER_MAX; i++) {
		if (json_set_u64(counters, counter_names[i],
		        counters_get(c, (enum counter_id)i)) == -1)
			goto fail;
	}
	for (i = 0; i < GAUGE_MAX; i++) {
		if (json_object_set_new(gauges, gauge_names[i],
		        json_integer(gauges_get(c, (enum gauge_id)i))) == -1)
			goto fail;
	}
	for (i = 0; i < HIST_MAX; i++) {
		hists_get(c, (enum hist_id)i, &hs);
		if (json_object_set_new(hists, hist_names[i], hist_json(&hs)) ==
		    -1)
			goto fail;
	}
	return root;

fail:
	json_decref(root);
	errno = ENOMEM;
	return NULL;
}
