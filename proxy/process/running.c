/*
 * running.c — ask the running tandem where it listens (see process.h):
 * one blocking HTTP/1.0 GET /status on loopback or wherever admin.listen
 * points, with send/receive deadlines; only `tandem --check` uses it, on
 * the main thread before anything else runs.
 */
#include "proxy/process/process.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define ASK_TIMEOUT_S 2
#define MAX_ANSWER    (64u << 20)

/* The body of GET /status, or NULL. Caller frees. */
static char *fetch_status(const struct cfg *c)
{
	const struct cfg_addr *a = &c->admin_listen;
	int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	struct timeval tv = {ASK_TIMEOUT_S, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)&a->sa, a->salen) < 0) {
		close(fd);
		return NULL;
	}
	char req[1024];
	int n = snprintf(req, sizeof(req),
			 "GET /status HTTP/1.0\r\nHost: %s\r\nAccept: application/json\r\n%s%s%s"
			 "Connection: close\r\n\r\n",
			 a->text, c->admin_token ? "Authorization: Bearer " : "",
			 c->admin_token ? c->admin_token : "", c->admin_token ? "\r\n" : "");
	bool sent = n > 0 && (size_t)n < sizeof(req) && send(fd, req, (size_t)n, MSG_NOSIGNAL) == n;
	explicit_bzero(req, sizeof(req));
	size_t len = 0, cap = 0;
	char *buf = NULL;
	while (sent) {
		if (cap - len < 65536) {
			if (cap >= MAX_ANSWER)
				break;
			char *nb = realloc(buf, cap + 65536 + 1);
			if (!nb)
				break;
			buf = nb;
			cap += 65536;
		}
		ssize_t r = recv(fd, buf + len, cap - len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (!buf)
		return NULL;
	buf[len] = 0;
	char *body = strstr(buf, "\r\n\r\n");
	if (!body || strncmp(buf, "HTTP/1.", 7) != 0 || strncmp(buf + 8, " 200", 4) != 0) {
		free(buf);
		return NULL;
	}
	memmove(buf, body + 4, len - (size_t)(body + 4 - buf) + 1);
	return buf;
}

static void add_addr(struct running_probe *p, const char *text)
{
	struct cfg_addr a;
	char err[128];
	if (!text || cfg_addr_parse(text, false, &a, err, sizeof(err)) < 0)
		return;
	struct cfg_addr *na = realloc(p->addrs, (p->naddrs + 1) * sizeof(*na));
	if (!na)
		return;
	p->addrs = na;
	p->addrs[p->naddrs++] = a;
}

static void ask(struct running_probe *p)
{
	p->asked = true;
	if (!p->cfg->admin_enabled)
		return;
	char *body = fetch_status(p->cfg);
	json_t *st = body ? json_loads(body, 0, NULL) : NULL;
	free(body);
	/* Only a tandem answers /status with a version and its tenants. */
	json_t *tenants = json_object_get(st, "tenants");
	if (!json_is_string(json_object_get(st, "version")) || !json_is_object(tenants)) {
		json_decref(st);
		return;
	}
	add_addr(p, p->cfg->admin_listen.text); /* it answered there */
	const char *name;
	json_t *t;
	json_object_foreach(tenants, name, t)
	{
		add_addr(p, json_string_value(json_object_get(t, "listen")));
	}
	json_decref(st);
}

bool running_holds(const struct cfg_addr *a, void *arg)
{
	struct running_probe *p = arg;
	if (!p->asked)
		ask(p);
	for (size_t i = 0; i < p->naddrs; i++)
		if (cfg_addr_equal(&p->addrs[i], a))
			return true;
	return false;
}

void running_probe_free(struct running_probe *p)
{
	free(p->addrs);
	p->addrs = NULL;
	p->naddrs = 0;
}

struct cfg *running_check_load(const char *config_path, struct cfg_errors *errs)
{
	struct cfg *c = cfg_load(config_path, errs);
	if (c) {
		struct running_probe running = {.cfg = c};
		cfg_check_bindable(c, errs, running_holds, &running);
		running_probe_free(&running);
	}
	return c;
}
