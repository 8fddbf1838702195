/*
 * test_tls_config.c — the "tls" objects and RSA key paths of the config
 * (config/tls.c): what a valid object builds, how tenants inherit the
 * top-level default or opt out, and every documented error naming its
 * JSON path (missing files, a key that does not match its certificate,
 * unknown keys, wrong types, half a client certificate, a public RSA key
 * that is not the private key's).
 * Certificates and keys are made here with OpenSSL, in a temporary directory.
 */
#include <check.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"

static char dir[256];

/* Set-up runs outside any test: fail loudly instead of through Check. */
#define REQUIRE(x)                                                                             \
	do {                                                                                   \
		if (!(x)) {                                                                    \
			fprintf(stderr, "%s:%d: set-up failed: %s\n", __FILE__, __LINE__, #x); \
			exit(2);                                                               \
		}                                                                              \
	} while (0)

static void write_key(EVP_PKEY *k, const char *name, bool public_only)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	REQUIRE(f);
	if (public_only)
		REQUIRE(PEM_write_PUBKEY(f, k) == 1);
	else
		REQUIRE(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1);
	fclose(f);
	chmod(path, 0600);
}

/* A self-signed certificate for key, written as name. */
static void write_cert(EVP_PKEY *k, const char *name)
{
	X509 *x = X509_new();
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"test", -1, -1, 0);
	X509_set_issuer_name(x, n);
	REQUIRE(X509_sign(x, k, EVP_sha256()) > 0);
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	REQUIRE(f);
	REQUIRE(PEM_write_X509(f, x) == 1);
	fclose(f);
	X509_free(x);
}

static void make_files(void)
{
	snprintf(dir, sizeof(dir), "/tmp/tandem-tls-config-XXXXXX");
	REQUIRE(mkdtemp(dir));
	EVP_PKEY *a = EVP_EC_gen("P-256"), *b = EVP_EC_gen("P-256");
	EVP_PKEY *rsa = EVP_RSA_gen(2048), *rsa2 = EVP_RSA_gen(2048);
	write_key(a, "a.key", false);
	write_cert(a, "a.pem");
	write_key(b, "b.key", false);
	write_key(rsa, "rsa.key", false);
	write_key(rsa, "rsa.pub", true);
	write_key(rsa2, "rsa2.pub", true);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(rsa2);
}

static void remove_files(void)
{
	static const char *const names[] = {"a.key",   "a.pem",   "b.key",
					    "rsa.key", "rsa.pub", "rsa2.pub"};
	char path[512];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

/* A config with two tenants (t1, t2) and one cluster; the %s slots take
 * extra top-level, t1, t2 and cluster members (each "" or `"k": v,`). */
static struct cfg *load(struct cfg_errors *errs, const char *top, const char *t1, const char *t2,
			const char *cl)
{
	char json[8192];
	snprintf(json, sizeof(json),
		 "{%s \"admin\": {\"enabled\": false},"
		 " \"clusters\": {\"c\": {%s \"primary\": \"127.0.0.1:3306\","
		 "   \"monitor\": {\"user\": \"m\", \"password\": \"p\"}}},"
		 " \"tenants\": {"
		 "  \"t1\": {%s \"listen\": \"127.0.0.1:4001\", \"allow\": [\"127.0.0.0/8\"],"
		 "          \"cluster\": \"c\", \"users\": {\"u\": {\"password\": \"x\"}}},"
		 "  \"t2\": {%s \"listen\": \"127.0.0.1:4002\", \"allow\": [\"127.0.0.0/8\"],"
		 "          \"cluster\": \"c\", \"users\": {\"u\": {\"password\": \"x\"}}}}}",
		 top, cl, t1, t2);
	/* the %s markers below stand for the test directory */
	char expanded[16384];
	size_t o = 0;
	for (const char *p = json; *p && o < sizeof(expanded) - 300; p++) {
		if (p[0] == '@' && p[1] == '/') {
			o += (size_t)snprintf(expanded + o, sizeof(expanded) - o, "%s", dir);
			continue;
		}
		expanded[o++] = *p;
	}
	expanded[o] = 0;
	return cfg_load_string(expanded, errs);
}

static bool has_error(const struct cfg_errors *e, const char *needle)
{
	for (size_t i = 0; i < e->n; i++)
		if (strstr(e->msgs[i], needle))
			return true;
	return false;
}

static void dump(const struct cfg_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		fprintf(stderr, "  error: %s\n", e->msgs[i]);
}

#define TLS_A "{\"cert\": \"@/a.pem\", \"key\": \"@/a.key\"}"

START_TEST(tenant_tls_and_default)
{
	struct cfg_errors e = {0};
	struct cfg *c = load(&e, "", "\"tls\": " TLS_A ",", "", "");
	dump(&e);
	ck_assert_ptr_nonnull(c);
	const struct cfg_tenant *t1 = cfg_tenant_find(c, "t1"), *t2 = cfg_tenant_find(c, "t2");
	ck_assert_ptr_nonnull(t1->tls);
	ck_assert_ptr_nonnull(t1->tls->ctx);
	ck_assert(!t1->tls->require);
	ck_assert(!t1->tls->verify_client);
	ck_assert_ptr_null(t2->tls);
	ck_assert_ptr_null(c->clusters[0].tls);
	ck_assert_ptr_null(c->rsa_key);
	cfg_unref(c);
	cfg_errors_free(&e);

	/* a top-level default reaches every tenant; "tls": false opts out */
	c = load(&e,
		 "\"tls\": {\"cert\": \"@/a.pem\", \"key\": \"@/a.key\", \"require\": true,"
		 " \"ca\": \"@/a.pem\"},",
		 "\"tls\": false,", "", "");
	dump(&e);
	ck_assert_ptr_nonnull(c);
	t1 = cfg_tenant_find(c, "t1");
	t2 = cfg_tenant_find(c, "t2");
	ck_assert_ptr_null(t1->tls);
	ck_assert_ptr_eq(t2->tls, c->tls);
	ck_assert(t2->tls->require);
	ck_assert(t2->tls->verify_client);
	cfg_unref(c);
	cfg_errors_free(&e);

	/* a tenant's own object replaces the default as a whole */
	c = load(&e, "\"tls\": {\"cert\": \"@/a.pem\", \"key\": \"@/a.key\", \"require\": true},",
		 "\"tls\": " TLS_A ",", "", "");
	ck_assert_ptr_nonnull(c);
	t1 = cfg_tenant_find(c, "t1");
	ck_assert_ptr_ne(t1->tls, c->tls);
	ck_assert(!t1->tls->require);
	cfg_unref(c);
	cfg_errors_free(&e);
}
END_TEST

START_TEST(server_errors)
{
	struct cfg_errors e = {0};
	struct cfg *c =
		load(&e, "", "\"tls\": {\"cert\": \"@/nope.pem\", \"key\": \"@/a.key\"},", "", "");
	ck_assert_ptr_null(c);
	ck_assert(has_error(&e, "$.tenants.t1.tls.cert: cannot read"));
	ck_assert(has_error(&e, "No such file"));
	cfg_errors_free(&e);

	c = load(&e, "", "\"tls\": {\"cert\": \"@/a.pem\", \"key\": \"@/b.key\"},", "", "");
	ck_assert_ptr_null(c);
	ck_assert(has_error(&e, "$.tenants.t1.tls.key:"));
	ck_assert(has_error(&e, "does not match the certificate"));
	cfg_errors_free(&e);

	c = load(&e, "", "\"tls\": {\"cert\": \"@/a.key\", \"key\": \"@/a.key\"},", "", "");
	ck_assert_ptr_null(c);
	ck_assert(has_error(&e, "$.tenants.t1.tls.cert: cannot load a certificate chain"));
	cfg_errors_free(&e);

	c = load(&e, "", "\"tls\": {\"cert\": \"@/a.pem\"},", "", "");
	ck_assert_ptr_null(c);
	ck_assert(has_error(&e, "$.tenants.t1.tls.key: required"));
	cfg_errors_free(&e);

	c = load(&e, "",
		 "\"tls\": {\"cert\": \"@/a.pem\", \"key\": \"@/a.key\", \"require\": \"yes\","
		 " \"verify\": true},",
		 "", "");
	ck_assert_ptr_null(c);
	ck_assert(has_error(&e, "$.tenants.t1.tls.require: must be true or false"));
	ck_assert(has_error(&e, "$.tenants.t1.tls.verify: unknown key"));
	cfg_errors_free(&e);

	c = load(&e, "\"tls\": true,", "", "", "");
	ck_assert_ptr_null(c);
	ck_assert(has_error(&e, "$.tls: must be an object"));
	cfg_errors_free(&e);

	c = load(&e, "",
		 "\"tls\": {\"cert\": \"@/a.pem\", \"key\": \"@/a.key\", \"ca\": \"@/a.key\"},", "",
		 "");
	ck_assert_ptr_null(c);
	ck_assert(has_error(&e, "$.tenants.t1.tls.ca: cannot load CA certificates"));
	cfg_errors_free(&e);
}
END_TEST

START_TEST(cluster_tls)
{
	struct cfg_errors e = {0};
	struct cfg *c =
		load(&e, "", "", "", "\"tls\": {\"ca\": \"@/a.pem\", \"verify_identity\": true},");
	dump(&e);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(c->clusters[0].tls);
	ck_assert_ptr_nonnull(c->clusters[0].tls->ctx);
	ck_assert(c->clusters[0].tls->verify_identity);
	ck_assert_ptr_nonnull(strstr(c->clusters[0].tls->ca_path, "/a.pem"));
	ck_assert_ptr_null(c->clusters[0].tls->cert_path);
	cfg_unref(c);
	cfg_errors_free(&e);

	/* no CA: the system trust store; a client certificate */
	c = load(&e, "", "", "", "\"tls\": {\"cert\": \"@/a.pem\", \"key\": \"@/a.key\"},");
	dump(&e);
	ck_assert_ptr_nonnull(c);
	ck_assert(!c->clusters[0].tls->verify_identity);
	ck_assert_ptr_null(c->clusters[0].tls->ca_path);
	ck_assert_ptr_nonnull(strstr(c->clusters[0].tls->key_path, "/a.key"));
	cfg_unref(c);
	cfg_errors_free(&e);

	c = load(&e, "", "", "", "\"tls\": {\"cert\": \"@/a.pem\"},");
	ck_assert_ptr_null(c);
	ck_assert(has_error(&e, "$.clusters.c.tls: a client certificate needs both"));
	cfg_errors_free(&e);

	c = load(&e, "", "", "", "\"tls\": {\"ca\": \"@/missing\", \"require\": true},");
	ck_assert_ptr_null(c);
	ck_assert(has_error(&e, "$.clusters.c.tls.ca: cannot read"));
	ck_assert(has_error(&e, "$.clusters.c.tls.require: unknown key"));
	cfg_errors_free(&e);
}
END_TEST

START_TEST(rsa_keys)
{
	struct cfg_errors e = {0};
	struct cfg *c =
		load(&e, "\"rsa_private_key\": \"@/rsa.key\", \"rsa_public_key\": \"@/rsa.pub\",",
		     "", "", "");
	dump(&e);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(c->rsa_key);
	ck_assert_ptr_nonnull(strstr(c->rsa_public_pem, "BEGIN PUBLIC KEY"));
	ck_assert_uint_eq(strlen(c->rsa_public_pem), c->rsa_public_pem_len);
	cfg_unref(c);
	cfg_errors_free(&e);

	c = load(&e, "\"rsa_private_key\": \"@/rsa.key\", \"rsa_public_key\": \"@/rsa2.pub\",", "",
		 "", "");
	ck_assert_ptr_null(c);
	ck_assert(has_error(&e, "$.rsa_public_key:"));
	ck_assert(has_error(&e, "is not the public half"));
	cfg_errors_free(&e);

	c = load(&e, "\"rsa_public_key\": \"@/rsa.pub\",", "", "", "");
	ck_assert_ptr_null(c);
	ck_assert(has_error(&e, "$.rsa_public_key: needs rsa_private_key"));
	cfg_errors_free(&e);

	c = load(&e, "\"rsa_private_key\": \"@/a.key\",", "", "", "");
	ck_assert_ptr_null(c);
	ck_assert(has_error(&e, "$.rsa_private_key:"));
	ck_assert(has_error(&e, "is not an RSA private key"));
	cfg_errors_free(&e);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tls_config");
	TCase *tc = tcase_create("tls_config");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, tenant_tls_and_default);
	tcase_add_test(tc, server_errors);
	tcase_add_test(tc, cluster_tls);
	tcase_add_test(tc, rsa_keys);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	make_files();
	SRunner *sr = srunner_create(suite());
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	remove_files();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
