/*
 * tls.c — the TLS and RSA-key parts of the config: the "tls" objects (top
 * level, per tenant, per cluster) and "rsa_private_key"/"rsa_public_key",
 * validated with their JSON paths and built into OpenSSL objects that the
 * snapshot owns.
 *
 * Building the SSL_CTX here, at load time, makes a bad certificate or a
 * key that does not match a config error (reported by --check, refused by
 * a reload), and a reload swaps certificates for new sessions while every
 * running session keeps the context its SSL object holds a reference to.
 * Must not: do any network I/O; it reads files only.
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/errors.h"
#include "config/tls.h"
#include "protocol/auth_rsa.h"

/* TLS 1.2 suites for the client leg: forward secrecy (ECDHE) and AEAD only.
 * TLS 1.3 suites are OpenSSL's defaults, all of which qualify. */
#define TLS12_SERVER_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL"

/* ------------------------------------------------------------ helpers */

/* The reason of the newest OpenSSL error, and clear the queue. */
static const char *ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	snprintf(buf, len, "%s", r ? r : "unknown OpenSSL error");
	ERR_clear_error();
	return buf;
}

static void full_path(const char *base_dir, const char *file, char *out, size_t len)
{
	if (file[0] != '/' && base_dir)
		snprintf(out, len, "%s/%s", base_dir, file);
	else
		snprintf(out, len, "%s", file);
}

/* A readable file's full path in out, or an error naming path.key. */
static bool file_key(struct cfg_errors *e, json_t *obj, const char *key, const char *path,
		     const char *base_dir, bool required, char *out, size_t len)
{
	json_t *v = json_object_get(obj, key);
	if (!v) {
		if (required)
			cfg_error(e, "%s.%s: required file path is missing", path, key);
		return false;
	}
	if (!json_is_string(v) || json_string_length(v) == 0) {
		cfg_error(e, "%s.%s: must be a file path", path, key);
		return false;
	}
	full_path(base_dir, json_string_value(v), out, len);
	FILE *f = fopen(out, "r");
	if (!f) {
		cfg_error(e, "%s.%s: cannot read %s: %s", path, key, out, strerror(errno));
		return false;
	}
	fclose(f);
	return true;
}

/* Private keys are secrets: say so when others can read them. */
static void warn_if_exposed(struct cfg_errors *e, const char *file, const char *path,
			    const char *key)
{
	struct stat st;
	if (stat(file, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
		cfg_warning(e, "%s.%s: %s is readable by group or others (mode %03o)", path, key,
			    file, (unsigned)(st.st_mode & 0777));
}

static bool check_keys(struct cfg_errors *e, json_t *obj, const char *path,
		       const char *const known[])
{
	const char *key;
	json_t *val;
	bool ok = true;
	json_object_foreach(obj, key, val)
	{
		bool found = false;
		for (size_t i = 0; known[i]; i++)
			if (strcmp(key, known[i]) == 0)
				found = true;
		if (!found) {
			cfg_error(e, "%s.%s: unknown key", path, key);
			ok = false;
		}
	}
	return ok;
}

static bool get_bool(struct cfg_errors *e, json_t *obj, const char *key, const char *path,
		     bool dflt)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return dflt;
	if (!json_is_boolean(v)) {
		cfg_error(e, "%s.%s: must be true or false", path, key);
		return dflt;
	}
	return json_is_true(v);
}

/* Settings every context of ours shares. */
static void common_settings(SSL_CTX *ctx)
{
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* IGNORE_UNEXPECTED_EOF: a peer that closes without close_notify is an
	 * ordinary EOF, as on a plain socket (MySQL clients often do it). */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* conn.c writes from evbuffer chains that may move between retries, and
	 * wants partial writes; idle sessions should not pin 2 x 17 KiB. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	/* Read whole socket chunks rather than a header then a body. */
	SSL_CTX_set_read_ahead(ctx, 1);
}

/* Certificate chain and key, with a match check. */
static bool load_pair(struct cfg_errors *e, SSL_CTX *ctx, const char *cert, const char *key,
		      const char *path)
{
	char why[160];
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		cfg_error(e, "%s.cert: cannot load a certificate chain from %s: %s", path, cert,
			  ssl_reason(why, sizeof(why)));
		return false;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
			cfg_error(e, "%s.key: %s does not match the certificate in %s", path, key,
				  cert);
			ERR_clear_error();
		} else {
			cfg_error(e, "%s.key: cannot load a private key from %s: %s", path, key,
				  ssl_reason(why, sizeof(why)));
		}
		return false;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		cfg_error(e, "%s.key: %s does not match the certificate in %s", path, key, cert);
		ERR_clear_error();
		return false;
	}
	return true;
}

/* ------------------------------------------------------ client leg */

static struct cfg_tls_server *load_server(struct cfg_errors *e, json_t *obj, const char *path,
					  const char *base_dir)
{
	static const char *const known[] = {"cert", "key", "ca", "require", NULL};
	if (!json_is_object(obj)) {
		cfg_error(e, "%s: must be an object {\"cert\", \"key\", \"ca\", \"require\"}",
			  path);
		return NULL;
	}
	size_t before = e->n;
	check_keys(e, obj, path, known);
	char cert[4096], key[4096], ca[4096];
	bool have_cert = file_key(e, obj, "cert", path, base_dir, true, cert, sizeof(cert));
	bool have_key = file_key(e, obj, "key", path, base_dir, true, key, sizeof(key));
	bool have_ca = file_key(e, obj, "ca", path, base_dir, false, ca, sizeof(ca));
	bool require = get_bool(e, obj, "require", path, false);
	if (e->n > before || !have_cert || !have_key)
		return NULL;
	warn_if_exposed(e, key, path, "key");

	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	struct cfg_tls_server *t = calloc(1, sizeof(*t));
	if (!ctx || !t) {
		cfg_error(e, "%s: out of memory", path);
		goto fail;
	}
	common_settings(ctx);
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
	SSL_CTX_set_cipher_list(ctx, TLS12_SERVER_CIPHERS);
	/* MySQL clients do not resume sessions; no cache, no tickets to send. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	if (!load_pair(e, ctx, cert, key, path))
		goto fail;
	if (have_ca) {
		char why[160];
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
		if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1 || !names) {
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			cfg_error(e, "%s.ca: cannot load CA certificates from %s: %s", path, ca,
				  ssl_reason(why, sizeof(why)));
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		t->verify_client = true;
	}
	t->ctx = ctx;
	t->require = require;
	return t;
fail:
	SSL_CTX_free(ctx);
	free(t);
	ERR_clear_error();
	return NULL;
}

static void free_server(struct cfg_tls_server *t)
{
	if (t) {
		SSL_CTX_free(t->ctx);
		free(t);
	}
}

/* ----------------------------------------------------- backend leg */

static struct cfg_tls_client *load_client(struct cfg_errors *e, json_t *obj, const char *path,
					  const char *base_dir)
{
	static const char *const known[] = {"ca", "cert", "key", "verify_identity", NULL};
	if (!json_is_object(obj)) {
		cfg_error(e,
			  "%s: must be an object {\"ca\", \"cert\", \"key\", \"verify_identity\"}",
			  path);
		return NULL;
	}
	size_t before = e->n;
	check_keys(e, obj, path, known);
	char cert[4096], key[4096], ca[4096];
	bool have_ca = file_key(e, obj, "ca", path, base_dir, false, ca, sizeof(ca));
	bool have_cert = file_key(e, obj, "cert", path, base_dir, false, cert, sizeof(cert));
	bool have_key = file_key(e, obj, "key", path, base_dir, false, key, sizeof(key));
	bool verify_identity = get_bool(e, obj, "verify_identity", path, false);
	if (e->n > before)
		return NULL;
	if (have_cert != have_key) {
		cfg_error(e, "%s: a client certificate needs both \"cert\" and \"key\"", path);
		return NULL;
	}

	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct cfg_tls_client *t = calloc(1, sizeof(*t));
	char why[160];
	if (!ctx || !t) {
		cfg_error(e, "%s: out of memory", path);
		goto fail;
	}
	common_settings(ctx);
	/* The server's certificate is always verified; without "ca" against
	 * the system's trust store. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (have_ca ? SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1
		    : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		cfg_error(e, "%s.ca: cannot load CA certificates from %s: %s", path,
			  have_ca ? ca : "the system trust store", ssl_reason(why, sizeof(why)));
		goto fail;
	}
	if (have_cert) {
		warn_if_exposed(e, key, path, "key");
		if (!load_pair(e, ctx, cert, key, path))
			goto fail;
	}
	t->ctx = ctx;
	t->verify_identity = verify_identity;
	t->ca_path = have_ca ? strdup(ca) : NULL;
	t->cert_path = have_cert ? strdup(cert) : NULL;
	t->key_path = have_key ? strdup(key) : NULL;
	if ((have_ca && !t->ca_path) || (have_cert && (!t->cert_path || !t->key_path))) {
		cfg_error(e, "%s: out of memory", path);
		free(t->ca_path);
		free(t->cert_path);
		free(t->key_path);
		goto fail;
	}
	return t;
fail:
	SSL_CTX_free(ctx);
	free(t);
	ERR_clear_error();
	return NULL;
}

/* --------------------------------------------------------- RSA keys */

static EVP_PKEY *read_key(const char *file, bool private)
{
	FILE *f = fopen(file, "r");
	if (!f)
		return NULL;
	EVP_PKEY *k = private ? PEM_read_PrivateKey(f, NULL, NULL, NULL)
			      : PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	return k;
}

static void load_rsa(struct cfg_errors *e, json_t *root, struct cfg *c, const char *base_dir)
{
	char priv[4096], pub[4096], why[160];
	bool have_priv =
		file_key(e, root, "rsa_private_key", "$", base_dir, false, priv, sizeof(priv));
	bool have_pub = file_key(e, root, "rsa_public_key", "$", base_dir, false, pub, sizeof(pub));
	if (!have_priv) {
		if (have_pub)
			cfg_error(e, "$.rsa_public_key: needs rsa_private_key as well");
		return;
	}
	warn_if_exposed(e, priv, "$", "rsa_private_key");
	EVP_PKEY *key = read_key(priv, true);
	if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA || EVP_PKEY_get_bits(key) < 2048) {
		cfg_error(
			e,
			"$.rsa_private_key: %s is not an RSA private key of 2048 bits or more%s%s",
			priv, key ? "" : ": ", key ? "" : ssl_reason(why, sizeof(why)));
		EVP_PKEY_free(key);
		return;
	}
	if (have_pub) {
		EVP_PKEY *pk = read_key(pub, false);
		bool match = pk && EVP_PKEY_eq(pk, key) == 1;
		EVP_PKEY_free(pk);
		if (!match) {
			cfg_error(e, "$.rsa_public_key: %s is not the public half of %s", pub,
				  priv);
			EVP_PKEY_free(key);
			ERR_clear_error();
			return;
		}
	}
	c->rsa_public_pem = proto_rsa_public_pem(key, &c->rsa_public_pem_len);
	if (!c->rsa_public_pem) {
		cfg_error(e, "$.rsa_private_key: cannot encode its public key");
		EVP_PKEY_free(key);
		return;
	}
	c->rsa_key = key;
	ERR_clear_error();
}

/* -------------------------------------------------------- interface */

void cfg_tls_load_root(struct cfg_errors *e, json_t *root, struct cfg *c, const char *base_dir)
{
	json_t *tls = json_object_get(root, "tls");
	if (tls)
		c->tls = load_server(e, tls, "$.tls", base_dir);
	load_rsa(e, root, c, base_dir);
}

void cfg_tls_load_tenant(struct cfg_errors *e, json_t *obj, const char *path, const struct cfg *c,
			 struct cfg_tenant *t, const char *base_dir)
{
	json_t *tls = json_object_get(obj, "tls");
	char p[512];
	snprintf(p, sizeof(p), "%s.tls", path);
	if (!tls) {
		t->tls = c->tls;
	} else if (json_is_false(tls)) {
		t->tls = NULL; /* opts out of the top-level default */
	} else {
		t->own_tls = load_server(e, tls, p, base_dir);
		t->tls = t->own_tls;
	}
}

void cfg_tls_load_cluster(struct cfg_errors *e, json_t *obj, const char *path,
			  struct cfg_cluster *cl, const char *base_dir)
{
	json_t *tls = json_object_get(obj, "tls");
	char p[512];
	snprintf(p, sizeof(p), "%s.tls", path);
	if (tls)
		cl->tls = load_client(e, tls, p, base_dir);
}

void cfg_tls_free(struct cfg *c)
{
	for (size_t i = 0; i < c->nclusters; i++) {
		struct cfg_tls_client *t = c->clusters[i].tls;
		if (t) {
			SSL_CTX_free(t->ctx);
			free(t->ca_path);
			free(t->cert_path);
			free(t->key_path);
			free(t);
		}
		c->clusters[i].tls = NULL;
	}
	for (size_t i = 0; i < c->ntenants; i++) {
		free_server(c->tenants[i].own_tls);
		c->tenants[i].own_tls = NULL;
		c->tenants[i].tls = NULL;
	}
	free_server(c->tls);
	c->tls = NULL;
	EVP_PKEY_free(c->rsa_key);
	c->rsa_key = NULL;
	free(c->rsa_public_pem);
	c->rsa_public_pem = NULL;
}
