/*
 * fuzz: the request-path fuzz target's entry points, shared by the libFuzzer
 * build (fuzz/fuzz_request) and the corpus replay test (fuzz/replay).
 */
#ifndef JOBD_FUZZ_H
#define JOBD_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Longest request line the fuzzed daemon accepts (its --max-line). */
#define FUZZ_MAX_LINE 2048

/* libFuzzer's hooks: set the daemon up once, then run one input. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Tear the daemon down (the replay driver calls it before exiting). */
void fuzz_teardown(void);
/* Requests handled and process spawns refused since the start. */
uint64_t fuzz_requests(void);
uint64_t fuzz_spawns_refused(void);

#endif
