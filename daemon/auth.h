/*
 * auth: who may talk to jobd.
 *
 * Unix socket clients are known by their credentials (SO_PEERCRED; the
 * listener checks them).  TCP clients must present the token of
 * --token-file in a hello before anything else; jobd --gen-token writes
 * one.
 */
#ifndef JOBD_AUTH_H
#define JOBD_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_TOKEN_MIN 43 /* 256 bits as base64; jobd makes 64 hex digits */

/* Write a new random token to path (created 0600; must not exist). */
int auth_gen_token(const char *path, char *err, size_t errlen);
/* Read a token file that only its owner (this user or root) can read. */
char *auth_read_token_file(const char *path, char *err, size_t errlen);
/* Make the token of path the one TCP clients must present. */
int auth_load(const char *path, char *err, size_t errlen);
bool auth_enabled(void);
/* Does the presented token match (compared in constant time)? */
bool auth_check(const char *presented, size_t len);
void auth_free(void);

#endif
