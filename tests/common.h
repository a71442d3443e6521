/*
 * common: what every Check test program shares.
 */
#ifndef JOBD_TESTS_COMMON_H
#define JOBD_TESTS_COMMON_H

#include <check.h>
#include <stdint.h>

/* Run one suite with Check's usual output; the exit status for main(). */
int test_run_suite(Suite *s);
/* Monotonic clock in nanoseconds. */
uint64_t test_now_ns(void);

#endif
