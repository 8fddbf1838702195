/*
 * auth_rsa.h — the RSA step of caching_sha2_password full authentication
 * on a connection without TLS.
 *
 * The client XORs its password and a terminating NUL with the 20-byte
 * scramble (repeated), encrypts that with the server's RSA public key
 * (PKCS#1 OAEP, SHA-1, as MySQL and Connector/C do) and sends the
 * ciphertext; a client that does not know the key first asks for it (one
 * byte, 0x02) and gets the PEM text in an AuthMoreData packet.
 *
 * Owns: encrypting and decrypting that blob, and the PEM text of a public
 * key. Keys are passed in (EVP_PKEY); generating or loading them is the
 * caller's business. Must not: keep, log or copy a password anywhere but
 * the caller's buffers; every intermediate is wiped.
 */
#ifndef TANDEM_PROTOCOL_AUTH_RSA_H
#define TANDEM_PROTOCOL_AUTH_RSA_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/protocol.h"

struct evp_pkey_st; /* OpenSSL's EVP_PKEY */

/* Longest password tandem accepts through the RSA exchange (Connector/C's
 * limit too). RSA-2048 with OAEP fits 214 bytes; bigger keys fit more. */
#define PROTO_RSA_MAX_PASSWORD 1024
/* Largest ciphertext: an RSA-16384 key's modulus. */
#define PROTO_RSA_MAX_CIPHERTEXT 2048

/*
 * Server side: decrypt ciphertext with the private key and undo the XOR.
 * On PROTO_OK out holds the password (NUL-terminated, not counting the
 * NUL in *pw_len). PROTO_E_MALFORMED when the blob does not decrypt or the
 * plaintext has no NUL at its end (a wrong key, garbage, a wrong scramble);
 * PROTO_E_NOSPACE when the password does not fit out_cap - 1 bytes.
 */
int proto_rsa_decrypt_password(struct evp_pkey_st *key, const uint8_t *ct, size_t ct_len,
			       const uint8_t scramble[20], char *out, size_t out_cap,
			       size_t *pw_len);

/*
 * Client side: the blob to send for pw (pw_len bytes) with the server's
 * public key and scramble. PROTO_OK with *out_len set; PROTO_E_TOO_LARGE
 * when the password is too long for the key; PROTO_E_NOSPACE when out_cap
 * is below the key size; PROTO_E_MALFORMED when encryption fails.
 */
int proto_rsa_encrypt_password(struct evp_pkey_st *pub, const char *pw, size_t pw_len,
			       const uint8_t scramble[20], uint8_t *out, size_t out_cap,
			       size_t *out_len);

/* Parse the PEM public key a server sends ("BEGIN PUBLIC KEY", or PKCS#1
 * "BEGIN RSA PUBLIC KEY"). A new key the caller frees with EVP_PKEY_free,
 * or NULL when the bytes are not an RSA public key. */
struct evp_pkey_st *proto_rsa_public_key_parse(const uint8_t *pem, size_t len);

/* The SubjectPublicKeyInfo PEM text of key's public half, as MySQL sends
 * it. malloc'd (free it), NUL-terminated, length in *len; NULL on error. */
char *proto_rsa_public_pem(struct evp_pkey_st *key, size_t *len);

#endif
