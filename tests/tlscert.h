/*
 * tlscert: throwaway certificates for tests and benchmarks.
 *
 * Made at run time with OpenSSL's C API (no openssl tool, no files in the
 * tree that expire): EC P-256 keys, SHA-256 signatures, valid from an hour
 * ago for a day.  A CA signs leaves; a leaf is for a server (serverAuth)
 * or a client (clientAuth) and carries the subjectAltName it is given.
 */
#ifndef JOBD_TESTS_TLSCERT_H
#define JOBD_TESTS_TLSCERT_H

#include <stdbool.h>

struct tlscert;

/* A self-signed CA named cn; NULL on failure. */
struct tlscert *tlscert_ca(const char *cn);
/*
 * A leaf certificate signed by ca: for a client if client, else for a
 * server; san like "IP:127.0.0.1,DNS:localhost" (NULL: none).
 */
struct tlscert *tlscert_leaf(
    const struct tlscert *ca, const char *cn, const char *san, bool client);
/*
 * Write the certificate and the key (mode 0600) as PEM, each unless its
 * path is NULL; the key encrypted with passphrase (AES-256-CBC) unless
 * that is NULL.  0 or -1.
 */
int tlscert_write(const struct tlscert *t, const char *cert_path,
    const char *key_path, const char *passphrase);
void tlscert_free(struct tlscert *t);

#endif
