/*
 * backend_users.c — see login.h. The bridge between a login and
 * the account lists of health/accounts.c; it holds no state of its own but
 * the per-thread copy of the last account it returned.
 * Must not: log a hash, or keep a list reference beyond one call.
 */
#include "proxy/login/login.h"

#include <string.h>

#include "common/log.h"
#include "health/accounts.h"
#include "protocol/auth.h"
#include "proxy/session/session.h"
#include "proxy/process/worker_types.h"

static _Thread_local struct cfg_user tl_user;
static _Thread_local char tl_name[81];
static char empty_password[1];

const struct cfg_user *sess_find_user(struct session *s)
{
	const struct cfg_tenant *t = s->wt->cfg;
	const struct cfg_user *u = cfg_user_find(t, s->user, strlen(s->user));
	if (u || !cfg_tenant_backend_user_ok(t, s->user) || !t->cluster)
		return u;
	struct hc_accounts *acc = s->env->accounts;
	struct hc_account_list *l = hc_accounts_get(acc, t->cluster->name);
	const struct hc_account *a = NULL;
	enum hc_match m = hc_account_match(l, s->user, (const struct sockaddr *)&s->peer, &a);
	if (m == HC_MATCH_UNKNOWN_USER) {
		/* A GRANT may have just created it: look again soon. */
		hc_accounts_request_refresh(acc, t->cluster->name);
		log_debug("session %llu: user '%s' is not among cluster %s's accounts (yet)",
			  (unsigned long long)s->id, s->user, t->cluster->name);
	} else if (m == HC_MATCH_FOUND && !a->usable) {
		log_info("session %llu: account '%s'@'%s' cannot log in through tandem: %s",
			 (unsigned long long)s->id, a->user, a->host, a->why_unusable);
	}
	if (m != HC_MATCH_FOUND || !a->usable) {
		hc_account_list_unref(l);
		return NULL;
	}
	proto_wipe(&tl_user, sizeof(tl_user));
	/* an anonymous account: the name is the client's (the server matches
	 * tandem's login to the same account) */
	snprintf(tl_name, sizeof(tl_name), "%s", a->user[0] ? a->user : s->user);
	tl_user.name = tl_name;
	tl_user.password = a->empty_password ? empty_password : NULL;
	memcpy(tl_user.stage2, a->stage2, sizeof(tl_user.stage2));
	tl_user.old_password = a->old_password;
	memcpy(tl_user.old_hash, a->old_hash, sizeof(tl_user.old_hash));
	hc_account_list_unref(l);
	return &tl_user;
}

bool sess_peer_is_localhost(struct session *s)
{
	const struct cfg_tenant *t = s->wt->cfg;
	if (!t->cluster || !hc_addr_is_localhost((const struct sockaddr *)&s->peer))
		return false;
	struct hc_account_list *l = hc_accounts_get(s->env->accounts, t->cluster->name);
	bool yes = l && l->loopback_localhost;
	hc_account_list_unref(l);
	return yes;
}
