/*
 * tlscert: throwaway certificates (see tlscert.h).
 */
#include "config.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlscert.h"

struct tlscert {
	EVP_PKEY *key;
	X509 *cert;
};

static EVP_PKEY *
make_key(void)
{
	EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
	EVP_PKEY *key = NULL;

	if (kctx == NULL || EVP_PKEY_keygen_init(kctx) <= 0 ||
	    EVP_PKEY_CTX_set_ec_paramgen_curve_nid(
	        kctx, NID_X9_62_prime256v1) <= 0 ||
	    EVP_PKEY_keygen(kctx, &key) <= 0) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	EVP_PKEY_CTX_free(kctx);
	return key;
}

/* Add extension nid = value (OpenSSL's config syntax) to cert. */
static int
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509_EXTENSION *ext;
	X509V3_CTX v3;
	int ok;

	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value)) == NULL)
		return -1;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

/* A random positive 63-bit serial number. */
static int
set_serial(X509 *cert)
{
	BIGNUM *bn = BN_new();
	int ok;

	ok = bn != NULL &&
	     BN_rand(bn, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
	     BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
	BN_free(bn);
	return ok ? 0 : -1;
}

/*
 * A certificate for cn with a new key, signed by issuer (NULL: by itself),
 * with the extensions nids[i] = values[i] (nids end with 0; a NULL value
 * is left out).
 */
static struct tlscert *
make_cert(const struct tlscert *issuer, const char *cn, const int *nids,
    const char *const *values)
{
	struct tlscert *t = calloc(1, sizeof(*t));
	X509_NAME *name;
	X509 *signer;
	EVP_PKEY *signer_key;
	int i;

	if (t == NULL || (t->key = make_key()) == NULL ||
	    (t->cert = X509_new()) == NULL)
		goto fail;
	signer = issuer != NULL ? issuer->cert : t->cert;
	signer_key = issuer != NULL ? issuer->key : t->key;
	name = X509_get_subject_name(t->cert);
	if (X509_set_version(t->cert, 2) != 1 || set_serial(t->cert) != 0 ||
	    X509_gmtime_adj(X509_getm_notBefore(t->cert), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(t->cert), 86400) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	        (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(t->cert, X509_get_subject_name(signer)) != 1 ||
	    X509_set_pubkey(t->cert, t->key) != 1)
		goto fail;
	for (i = 0; nids[i] != 0; i++) {
		if (values[i] != NULL &&
		    add_ext(t->cert, signer, nids[i], values[i]) != 0)
			goto fail;
	}
	if (X509_sign(t->cert, signer_key, EVP_sha256()) <= 0)
		goto fail;
	return t;
fail:
	ERR_print_errors_fp(stderr);
	tlscert_free(t);
	return NULL;
}

struct tlscert *
tlscert_ca(const char *cn)
{
	/* The key identifier first: the authority one refers to it. */
	static const int nids[] = {NID_basic_constraints, NID_key_usage,
	    NID_subject_key_identifier, NID_authority_key_identifier, 0};
	static const char *const values[] = {"critical,CA:TRUE",
	    "critical,keyCertSign,cRLSign", "hash", "keyid:always"};

	return make_cert(NULL, cn, nids, values);
}

struct tlscert *
tlscert_leaf(
    const struct tlscert *ca, const char *cn, const char *san, bool client)
{
	static const int nids[] = {NID_basic_constraints, NID_key_usage,
	    NID_ext_key_usage, NID_subject_key_identifier,
	    NID_authority_key_identifier, NID_subject_alt_name, 0};
	const char *values[] = {"critical,CA:FALSE",
	    "critical,digitalSignature", client ? "clientAuth" : "serverAuth",
	    "hash", "keyid:always", san};

	return make_cert(ca, cn, nids, values);
}

int
tlscert_write(const struct tlscert *t, const char *cert_path,
    const char *key_path, const char *passphrase)
{
	FILE *f;
	int fd, ok;

	if (cert_path != NULL) {
		if ((f = fopen(cert_path, "w")) == NULL)
			return -1;
		ok = PEM_write_X509(f, t->cert) == 1;
		if (fclose(f) != 0 || !ok)
			return -1;
	}
	if (key_path == NULL)
		return 0;
	fd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || fchmod(fd, 0600) != 0 ||
	    (f = fdopen(fd, "w")) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	ok = PEM_write_PrivateKey(f, t->key,
	         passphrase != NULL ? EVP_aes_256_cbc() : NULL, NULL, 0, NULL,
	         (void *)(uintptr_t)passphrase) == 1;
	return fclose(f) == 0 && ok ? 0 : -1;
}

void
tlscert_free(struct tlscert *t)
{
	if (t == NULL)
		return;
	X509_free(t->cert);
	EVP_PKEY_free(t->key);
	free(t);
}
