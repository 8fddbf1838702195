/*
 * fuzz_accounts — the account rows tandem reads from a cluster's primary
 * for users_from_backend (user, host pattern, plugin, hash, locked) are
 * bytes from a server: build a list from arbitrary rows and look users up
 * in it from arbitrary addresses (health/account_list.c, and the LIKE and
 * netmask matchers of config/ it uses).
 *
 * Input: one byte of row count, one of address family, 16 of address,
 * then newline-separated fields, five per row, then the user to look up.
 * Invariants: the list keeps exactly the rows whose fields fit (an empty
 * name is an anonymous account); a found account is in the list, has the
 * user asked for or is anonymous, and is a "localhost" one only when the
 * list says the server resolves loopback clients to localhost.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "fuzz.h"
#include "health/accounts.h"

#define MAX_ROWS 8
#define FIELDS   5

/* The next field: up to the next '\n' (or the end), copied NUL-terminated. */
static char *take_field(const uint8_t **data, size_t *size)
{
	const uint8_t *nl = memchr(*data, '\n', *size);
	size_t n = nl ? (size_t)(nl - *data) : *size;
	char *f = malloc(n + 1);
	if (!f)
		abort();
	memcpy(f, *data, n);
	f[n] = '\0';
	*data += nl ? n + 1 : n;
	*size -= nl ? n + 1 : n;
	return f;
}

static void address(uint8_t family, const uint8_t raw[16], struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family & 1) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, raw, 16);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, raw, 4);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t nrows = fuzz_take_le(&data, &size, 1) % (MAX_ROWS + 1);
	uint8_t family = (uint8_t)fuzz_take_le(&data, &size, 1);
	uint8_t raw[16] = {0};
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)fuzz_take_le(&data, &size, 1);

	char *fields[MAX_ROWS * FIELDS] = {0};
	const char *rows[MAX_ROWS][FIELDS];
	for (size_t r = 0; r < nrows; r++) {
		for (size_t f = 0; f < FIELDS; f++) {
			fields[r * FIELDS + f] = take_field(&data, &size);
			rows[r][f] = fields[r * FIELDS + f];
		}
		if (rows[r][4][0] == '\0')
			rows[r][4] = NULL; /* not locked */
	}
	char *user = take_field(&data, &size);

	struct hc_account_list *l =
		hc_account_list_build((const char *const(*)[FIELDS])rows, nrows);
	FUZZ_CHECK(l != NULL);
	size_t kept = 0;
	for (size_t r = 0; r < nrows; r++)
		kept += strlen(rows[r][0]) < sizeof(l->items[0].user) &&
			strlen(rows[r][1]) < sizeof(l->items[0].host);
	FUZZ_CHECK(l->n == kept);

	struct sockaddr_storage ss;
	address(family, raw, &ss);
	for (size_t r = 0; r <= nrows; r++) {
		const char *who = r < nrows ? rows[r][0] : user;
		const struct hc_account *a = NULL;
		enum hc_match m = hc_account_match(l, who, (const struct sockaddr *)&ss, &a);
		if (m == HC_MATCH_FOUND) {
			FUZZ_CHECK(a != NULL);
			FUZZ_CHECK(a >= l->items && a < l->items + l->n);
			/* the user's own account, or an anonymous one ('' takes any name) */
			FUZZ_CHECK(a->user[0] == '\0' || strcmp(a->user, who) == 0);
			FUZZ_CHECK(a->kind != HC_HOST_LOCAL || l->loopback_localhost);
		} else {
			FUZZ_CHECK(m == HC_MATCH_NO_HOST || m == HC_MATCH_UNKNOWN_USER);
		}
	}

	hc_account_list_unref(l);
	for (size_t i = 0; i < nrows * FIELDS; i++)
		free(fields[i]);
	free(user);
	return 0;
}
