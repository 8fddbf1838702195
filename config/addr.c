/*
 * addr.c — host:port and CIDR parsing, matching, and the bind check.
 * Host names are resolved here, once per load, never on a hot path.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/addr.h"
#include "config/errors.h"
#include "config/held.h"

int cfg_addr_parse(const char *text, bool numeric_only, struct cfg_addr *out, char *err,
		   size_t errlen)
{
	memset(out, 0, sizeof(*out));
	size_t len = strlen(text);
	if (len == 0 || len >= CFG_ADDR_TEXT) {
		snprintf(err, errlen, "address must be \"host:port\"");
		return -1;
	}
	snprintf(out->text, sizeof(out->text), "%s", text);
	const char *colon;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':') {
			snprintf(err, errlen, "IPv6 address must be \"[addr]:port\"");
			return -1;
		}
		memcpy(out->host, text + 1, (size_t)(close - text - 1));
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon || colon == text || memchr(text, ':', (size_t)(colon - text))) {
			snprintf(err, errlen, "address must be \"host:port\"");
			return -1;
		}
		memcpy(out->host, text, (size_t)(colon - text));
	}
	char *end;
	errno = 0;
	long port = strtol(colon + 1, &end, 10);
	if (colon[1] == 0 || *end || errno || port < 1 || port > 65535) {
		snprintf(err, errlen, "port must be 1..65535");
		return -1;
	}
	out->port = (uint16_t)port;

	struct addrinfo hints = {0}, *res = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (numeric_only ? AI_NUMERICHOST : 0);
	char portstr[8];
	snprintf(portstr, sizeof(portstr), "%ld", port);
	int rc = getaddrinfo(out->host, portstr, &hints, &res);
	if (rc != 0 || !res) {
		snprintf(err, errlen,
			 numeric_only ? "not a numeric IP address: %s" : "cannot resolve host: %s",
			 gai_strerror(rc));
		return -1;
	}
	memcpy(&out->sa, res->ai_addr, res->ai_addrlen);
	out->salen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

bool cfg_addr_equal(const struct cfg_addr *a, const struct cfg_addr *b)
{
	return a->salen == b->salen && memcmp(&a->sa, &b->sa, a->salen) == 0;
}

int cfg_cidr_parse(const char *text, struct cfg_cidr *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	if (strlen(text) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", text);
	memset(out, 0, sizeof(*out));
	char *slash = strchr(buf, '/');
	long prefix = -1;
	if (slash) {
		char *end;
		*slash = 0;
		errno = 0;
		prefix = strtol(slash + 1, &end, 10);
		if (slash[1] == 0 || *end || errno || prefix < 0)
			return -1;
	}
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = AF_INET;
		if (prefix > 32)
			return -1;
		out->prefix = prefix < 0 ? 32 : (unsigned)prefix;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = AF_INET6;
		if (prefix > 128)
			return -1;
		out->prefix = prefix < 0 ? 128 : (unsigned)prefix;
	} else {
		return -1;
	}
	/* clear host bits so that matching is a plain prefix compare */
	size_t bytes = out->family == AF_INET ? 4 : 16;
	for (size_t i = 0; i < bytes; i++) {
		unsigned keep = out->prefix > i * 8 ? out->prefix - (unsigned)i * 8 : 0;
		if (keep < 8)
			out->addr[i] &= (uint8_t)(0xff00u >> keep);
	}
	return 0;
}

static bool prefix_match(const uint8_t *net, const uint8_t *ip, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;
	if (memcmp(net, ip, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff00u >> rest);
	return (net[full] & mask) == (ip[full] & mask);
}

bool cfg_cidr_match(const struct cfg_cidr *c, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		if (c->family == AF_INET)
			return prefix_match(c->addr, (const uint8_t *)&in->sin_addr, c->prefix);
		return false;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		const uint8_t *ip = (const uint8_t *)&in6->sin6_addr;
		if (c->family == AF_INET6)
			return prefix_match(c->addr, ip, c->prefix);
		/* an IPv4-mapped IPv6 peer matches IPv4 rules */
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(ip, mapped, 12) == 0)
			return prefix_match(c->addr, ip + 12, c->prefix);
	}
	return false;
}

bool cfg_tenant_allows(const struct cfg_tenant *t, const struct sockaddr *sa)
{
	for (size_t i = 0; i < t->nallow; i++)
		if (cfg_cidr_match(&t->allow[i], sa))
			return true;
	return false;
}

int cfg_check_bindable(const struct cfg *c, struct cfg_errors *errs, cfg_listen_ours_fn ours,
		       void *arg)
{
	int failures = 0;
	struct cfg_listeners *held = cfg_listeners_read();
	for (size_t i = 0; i < c->ntenants + 1; i++) {
		const struct cfg_addr *a;
		char what[160];
		if (i < c->ntenants) {
			a = &c->tenants[i].listen;
			snprintf(what, sizeof(what), "$.tenants.%s.listen", c->tenants[i].name);
		} else {
			if (!c->admin_enabled)
				continue;
			a = &c->admin_listen;
			snprintf(what, sizeof(what), "$.admin.listen");
		}
		/* A listener there already: a running tandem's is fine (the port is
		 * ours and stays ours across a reload), anyone else's is an error.
		 * Only an address nobody listens on is tried with a bind (never a
		 * listen), for the errors only the kernel knows: not a local address,
		 * a privileged port. */
		char comm[32];
		int pid = cfg_listeners_holder(held, a, comm, sizeof(comm));
		if (pid > 0 && strcmp(comm, "tandem") == 0)
			continue;
		if (pid == 0 && ours && ours(a, arg))
			continue;
		if (pid >= 0) {
			if (pid > 0)
				cfg_error(errs, "%s: cannot bind %s: in use by pid %d (%s)", what,
					  a->text, pid, comm);
			else
				cfg_error(
					errs,
					"%s: cannot bind %s: in use by a process this check cannot "
					"see (run it as root, or with admin.listen set so that it "
					"can ask the running tandem)",
					what, a->text);
			failures++;
			continue;
		}
		int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int one = 1;
		if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		    bind(fd, (const struct sockaddr *)&a->sa, a->salen) < 0) {
			cfg_error(errs, "%s: cannot bind %s: %s", what, a->text, strerror(errno));
			failures++;
		}
		if (fd >= 0)
			close(fd);
	}
	cfg_listeners_free(held);
	return failures;
}
