/*
 * test_config.c — config/: loading, validation messages (each with its JSON
 * path and, for files, line and column), the path locator, LIKE patterns.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config/locate.h"

#define CLUSTER                                                                    \
	"\"clusters\": {\"db1\": {\"primary\": \"127.0.0.1:3306\", \"replicas\": " \
	"[\"127.0.0.1:3307\"], \"monitor\": {\"user\": \"mon\", \"password\": \"m\"}}}"

static const char *good_tenants =
	"\"tenants\": {\"a\": {\"listen\": \"127.0.0.1:4001\", \"allow\": [\"127.0.0.0/8\"], "
	"\"cluster\": \"db1\", \"users\": {\"app\": {\"password\": \"pw\"}}}}";

static struct cfg *load(const char *json, struct cfg_errors *e)
{
	memset(e, 0, sizeof(*e));
	return cfg_load_string(json, e);
}

/* Load text that must fail; return whether some error contains every needle. */
static bool fails_with(const char *json, const char *needle1, const char *needle2)
{
	struct cfg_errors e;
	struct cfg *c = load(json, &e);
	bool found = false;
	for (size_t i = 0; i < e.n; i++)
		if (strstr(e.msgs[i], needle1) && (!needle2 || strstr(e.msgs[i], needle2)))
			found = true;
	if (!found || c) {
		fprintf(stderr, "config did not fail with [%s][%s]; errors:\n", needle1,
			needle2 ? needle2 : "");
		for (size_t i = 0; i < e.n; i++)
			fprintf(stderr, "  %s\n", e.msgs[i]);
	}
	cfg_unref(c);
	cfg_errors_free(&e);
	return found && !c;
}

static char *doc(const char *tenant_body)
{
	static char buf[4096];
	snprintf(buf, sizeof(buf), "{" CLUSTER ", \"tenants\": {\"a\": {%s}}}", tenant_body);
	return buf;
}

START_TEST(test_minimal_defaults)
{
	char json[2048];
	snprintf(json, sizeof(json), "{" CLUSTER ", %s}", good_tenants);
	struct cfg_errors e;
	struct cfg *c = load(json, &e);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(e.n, 0);
	ck_assert_uint_eq(c->ntenants, 1);
	ck_assert_str_eq(c->tenants[0].cluster->name, "db1");
	ck_assert_int_eq(c->limits.drain_timeout_ms, 60000);
	ck_assert_int_eq(c->limits.shutdown_timeout_ms, 30000);
	ck_assert_int_eq(c->clusters[0].accounts.refresh_ms, 60000);
	ck_assert(!c->clusters[0].accounts_used);
	ck_assert_ptr_null(c->run_user);
	ck_assert_str_eq(c->admin_listen.text, "127.0.0.1:9090");
	/* failover judgment (docs/failover.md): a config that is no file has
	 * no state file */
	ck_assert_int_eq(c->clusters[0].monitor.stall_tolerance_ms, 3000);
	ck_assert_int_eq(c->clusters[0].monitor.write_timeout_ms, 2000);
	ck_assert_int_eq(c->clusters[0].monitor.replica_heartbeat_ms, 500);
	/* the monitor writes nothing by default (docs/health.md) */
	ck_assert(!c->clusters[0].monitor.heartbeat);
	ck_assert_uint_eq(e.nwarn, 0);
	ck_assert_int_eq(c->clusters[0].failover.max_data_loss_ms, -1);
	ck_assert(!c->clusters[0].failover.on_write_stall);
	ck_assert(c->clusters[0].failover.auto_rejoin);
	ck_assert_ptr_null(c->state_file);
	cfg_unref(c);
	cfg_errors_free(&e);
}
END_TEST

START_TEST(test_errors_name_paths)
{
	char json[4096];
	snprintf(json, sizeof(json), "{" CLUSTER ", %s, \"wrokers\": 2}", good_tenants);
	ck_assert(fails_with(json, "$.wrokers: unknown key", NULL));
	snprintf(json, sizeof(json), "{" CLUSTER ", %s, \"workers\": \"2\"}", good_tenants);
	ck_assert(fails_with(json, "$.workers: must be an integer", NULL));
	snprintf(json, sizeof(json), "{" CLUSTER ", %s, \"limits\": {\"auth_timeout_ms\": 5}}",
		 good_tenants);
	ck_assert(fails_with(json, "$.limits.auth_timeout_ms: 5 is out of range", NULL));
	ck_assert(fails_with(doc("\"listen\": \"127.0.0.1:99999\", \"allow\": [\"127.0.0.0/8\"], "
				 "\"cluster\": \"db1\", \"users\": {}"),
			     "$.tenants.a.listen", "port must be 1..65535"));
	ck_assert(fails_with(doc("\"listen\": \"localhost:4001\", \"allow\": [\"127.0.0.0/8\"], "
				 "\"cluster\": \"db1\", \"users\": {}"),
			     "$.tenants.a.listen", "not a numeric IP"));
	ck_assert(fails_with(doc("\"listen\": \"127.0.0.1:4001\", \"allow\": [\"10.0.0.0/33\"], "
				 "\"cluster\": \"db1\", \"users\": {}"),
			     "$.tenants.a.allow[0]: not a CIDR", NULL));
	ck_assert(fails_with(doc("\"listen\": \"127.0.0.1:4001\", \"allow\": [\"127.0.0.0/8\"], "
				 "\"cluster\": \"nope\", \"users\": {}"),
			     "$.tenants.a.cluster: no cluster named \"nope\"", NULL));
	ck_assert(fails_with(doc("\"listen\": \"127.0.0.1:4001\", \"allow\": [\"127.0.0.0/8\"], "
				 "\"cluster\": \"db1\", \"users\": {\"u\": {\"password_hash\": "
				 "\"*ABC\"}}"),
			     "$.tenants.a.users.u.password_hash: must be \"*\" and 40 hex", NULL));
	ck_assert(fails_with(doc("\"listen\": \"127.0.0.1:4001\", \"allow\": [\"127.0.0.0/8\"], "
				 "\"cluster\": \"db1\", \"users\": {\"u\": {\"pasword\": \"x\"}}"),
			     "$.tenants.a.users.u.pasword: unknown key", NULL));
	ck_assert(fails_with(doc("\"listen\": \"127.0.0.1:4001\", \"allow\": [\"127.0.0.0/8\"], "
				 "\"cluster\": \"db1\""),
			     "$.tenants.a.users: required", NULL));
	ck_assert(fails_with(doc("\"listen\": \"127.0.0.1:4001\", \"allow\": [\"127.0.0.0/8\"], "
				 "\"cluster\": \"db1\", \"users_from_backend\": \"yes\""),
			     "$.tenants.a.users_from_backend: must be true, false", NULL));
	snprintf(json, sizeof(json),
		 "{" CLUSTER ", \"tenants\": {\"a\": {\"listen\": \"127.0.0.1:4001\", \"allow\": "
		 "[\"127.0.0.0/8\"], \"cluster\": \"db1\", \"users\": {}}, \"b\": {\"listen\": "
		 "\"127.0.0.1:4001\", \"allow\": [\"127.0.0.0/8\"], \"cluster\": \"db1\", "
		 "\"users\": {}}}}");
	ck_assert(fails_with(json, "$.tenants.b.listen: 127.0.0.1:4001 is also used by tenant a",
			     NULL));
	snprintf(json, sizeof(json),
		 "{" CLUSTER ", \"tenants\": {\"a b\\\"\": {\"listen\": \"127.0.0.1:4001\", "
		 "\"allow\": [\"127.0.0.0/8\"], \"cluster\": \"db1\", \"users\": {}}}}");
	ck_assert(fails_with(json, "$.tenants.a b\": names are 1..63", NULL));
	snprintf(json, sizeof(json), "{" CLUSTER ", %s, \"user\": \"no-such-user-here\"}",
		 good_tenants);
	ck_assert(fails_with(json, "$.user: no system account", NULL));
	snprintf(json, sizeof(json), "{" CLUSTER ", %s, \"admin\": {\"listen\": \"0.0.0.0:9090\"}}",
		 good_tenants);
	ck_assert(fails_with(json, "$.admin.token: required", NULL));
}
END_TEST

START_TEST(test_every_error_reported)
{
	/* Three independent mistakes: all three come back, not just the first. */
	char json[4096];
	snprintf(json, sizeof(json),
		 "{" CLUSTER ", \"tenants\": {\"a\": {\"listen\": \"127.0.0.1:0x\", \"allow\": "
		 "[\"nope\"], \"cluster\": \"db1\", \"users\": {}, \"colour\": 1}}}");
	struct cfg_errors e;
	struct cfg *c = load(json, &e);
	ck_assert_ptr_null(c);
	ck_assert_uint_ge(e.n, 3);
	cfg_errors_free(&e);
}
END_TEST

START_TEST(test_backend_users)
{
	struct cfg_errors e;
	struct cfg *c =
		load(doc("\"listen\": \"127.0.0.1:4001\", \"allow\": [\"127.0.0.0/8\"], "
			 "\"cluster\": \"db1\", \"users_from_backend\": [\"app%\", \"web_\"]"),
		     &e);
	ck_assert_ptr_nonnull(c);
	const struct cfg_tenant *t = &c->tenants[0];
	ck_assert(t->users_from_backend);
	ck_assert(c->clusters[0].accounts_used);
	ck_assert_uint_eq(t->nusers, 0);
	ck_assert(cfg_tenant_backend_user_ok(t, "app"));
	ck_assert(cfg_tenant_backend_user_ok(t, "app_reader"));
	ck_assert(cfg_tenant_backend_user_ok(t, "web1"));
	ck_assert(!cfg_tenant_backend_user_ok(t, "web12"));
	ck_assert(!cfg_tenant_backend_user_ok(t, "root"));
	ck_assert(!cfg_tenant_backend_user_ok(t, "App"));
	cfg_unref(c);
	cfg_errors_free(&e);
}
END_TEST

START_TEST(test_like_match)
{
	ck_assert(cfg_like_match("%", "", false));
	ck_assert(cfg_like_match("%", "anything", false));
	ck_assert(cfg_like_match("192.168.1.%", "192.168.1.20", false));
	ck_assert(!cfg_like_match("192.168.1.%", "192.168.10.2", true));
	ck_assert(cfg_like_match("10.0._.1", "10.0.3.1", false));
	ck_assert(!cfg_like_match("10.0._.1", "10.0.33.1", false));
	ck_assert(cfg_like_match("a%b%c", "aXXbYYc", false));
	ck_assert(!cfg_like_match("a%b%c", "aXXbYY", false));
	ck_assert(cfg_like_match("Host%", "hostname", true));
	ck_assert(!cfg_like_match("Host%", "hostname", false));
	ck_assert(cfg_like_match("a\\_b", "a_b", false));
	ck_assert(!cfg_like_match("a\\_b", "axb", false));
	ck_assert(!cfg_like_match("", "x", false));
	ck_assert(cfg_like_match("%%%x", "abcx", false));
}
END_TEST

START_TEST(test_locate)
{
	const char *text = "{\n"
			   "  \"tenants\": {\n"
			   "    \"a\": {\"listen\": \"x\"},\n"
			   "    \"b\": {\n"
			   "      \"allow\": [\"1\", \"2\"],\n"
			   "      \"listen\": \"y\"\n"
			   "    }\n"
			   "  }\n"
			   "}\n";
	int line, col;
	ck_assert_int_eq(cfg_locate(text, "$.tenants.b.listen", &line, &col), 0);
	ck_assert_int_eq(line, 6);
	ck_assert_int_eq(col, 7);
	ck_assert_int_eq(cfg_locate(text, "$.tenants.b.allow[1]", &line, &col), 0);
	ck_assert_int_eq(line, 5);
	ck_assert_int_eq(col, 22);
	/* b has no "users": the deepest part that exists is b itself */
	ck_assert_int_eq(cfg_locate(text, "$.tenants.b.users", &line, &col), 0);
	ck_assert_int_eq(line, 4);
	/* a's listen, not b's */
	ck_assert_int_eq(cfg_locate(text, "$.tenants.a.listen", &line, &col), 0);
	ck_assert_int_eq(line, 3);
	ck_assert_int_eq(cfg_locate(text, "no path", &line, &col), -1);
}
END_TEST

static char tmpdir[64];

static void write_file(const char *name, const char *text, mode_t mode)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	chmod(p, mode);
}

START_TEST(test_file_errors_have_lines)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tandem-cfgtest.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	write_file("bad.json",
		   "{\n"
		   "  " CLUSTER ",\n"
		   "  \"tenants\": {\n"
		   "    \"a\": {\n"
		   "      \"listen\": \"127.0.0.1:4001\", \"allow\": [\"127.0.0.0/8\"],\n"
		   "      \"cluster\": \"db1\",\n"
		   "      \"users\": {\"app\": {\"password_hash\": \"*12\"}}\n"
		   "    }\n"
		   "  }\n"
		   "}\n",
		   0600);
	char path[256];
	snprintf(path, sizeof(path), "%s/bad.json", tmpdir);
	struct cfg_errors e = {0};
	struct cfg *c = cfg_load(path, &e);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(e.n, 1);
	char want[300];
	snprintf(want, sizeof(want), "%s:7:25: $.tenants.a.users.app.password_hash: ", path);
	ck_assert_msg(strncmp(e.msgs[0], want, strlen(want)) == 0, "got %s", e.msgs[0]);
	cfg_errors_free(&e);

	/* Syntax errors carry jansson's own line and column. */
	write_file("syntax.json", "{\n  \"a\": 1,\n  \"b\" 2\n}\n", 0600);
	snprintf(path, sizeof(path), "%s/syntax.json", tmpdir);
	c = cfg_load(path, &e);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(e.n, 1);
	snprintf(want, sizeof(want), "%s:3:", path);
	ck_assert_msg(strncmp(e.msgs[0], want, strlen(want)) == 0, "got %s", e.msgs[0]);
	cfg_errors_free(&e);
}
END_TEST

START_TEST(test_secret_files)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tandem-cfgtest.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	write_file("app.pw", "s3cret\n", 0600);
	write_file("mon.pw", "monpw\n", 0644);
	write_file("ok.json",
		   "{\"clusters\": {\"db1\": {\"primary\": \"127.0.0.1:3306\", \"monitor\": "
		   "{\"user\": \"mon\", \"password_file\": \"mon.pw\"}}},\n"
		   " \"tenants\": {\"a\": {\"listen\": \"127.0.0.1:4001\", \"allow\": "
		   "[\"127.0.0.0/8\"], \"cluster\": \"db1\",\n"
		   "  \"users\": {\"app\": {\"password_file\": \"app.pw\"}}}}}\n",
		   0644);
	char path[256];
	snprintf(path, sizeof(path), "%s/ok.json", tmpdir);
	struct cfg_errors e = {0};
	struct cfg *c = cfg_load(path, &e);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->tenants[0].users[0].password, "s3cret");
	ck_assert_str_eq(c->clusters[0].monitor.password, "monpw");
	char state[300];
	snprintf(state, sizeof(state), "%s.state", path);
	ck_assert_str_eq(c->state_file, state); /* beside the config by default */
	/* the group/world-readable secret file is warned about, naming its key */
	ck_assert_uint_eq(e.nwarn, 1);
	ck_assert_ptr_nonnull(strstr(e.warnings[0], "$.clusters.db1.monitor.password_file"));
	ck_assert_ptr_null(strstr(e.warnings[0], "monpw"));
	cfg_unref(c);
	cfg_errors_free(&e);

	/* an inline secret in a world-readable config is warned about */
	write_file("inline.json",
		   "{" CLUSTER ", \"tenants\": {\"a\": {\"listen\": \"127.0.0.1:4001\", "
		   "\"allow\": [\"127.0.0.0/8\"], \"cluster\": \"db1\", \"users\": {}}}}\n",
		   0644);
	snprintf(path, sizeof(path), "%s/inline.json", tmpdir);
	c = cfg_load(path, &e);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(e.nwarn, 1);
	ck_assert_ptr_nonnull(strstr(e.warnings[0], "$.clusters.db1.monitor.password"));
	cfg_unref(c);
	cfg_errors_free(&e);

	/* missing secret file: an error naming the key */
	write_file("missing.json",
		   "{\"clusters\": {\"db1\": {\"primary\": \"127.0.0.1:3306\", \"monitor\": "
		   "{\"user\": \"mon\", \"password_file\": \"nope.pw\"}}}, \"tenants\": {}}\n",
		   0600);
	snprintf(path, sizeof(path), "%s/missing.json", tmpdir);
	c = cfg_load(path, &e);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(e.n, 1);
	ck_assert_ptr_nonnull(
		strstr(e.msgs[0], "$.clusters.db1.monitor.password_file: cannot read"));
	cfg_errors_free(&e);

	/* the coordination section reads its secret file by the same rule */
	write_file("etcd.pw", "etcdpw\n", 0644);
	write_file("coord.json",
		   "{" CLUSTER ", \"tenants\": {}, \"coordination\": {\"endpoints\": "
		   "[\"127.0.0.1:2379\"], \"user\": \"u\", \"password_file\": \"etcd.pw\"}}\n",
		   0600);
	snprintf(path, sizeof(path), "%s/coord.json", tmpdir);
	c = cfg_load(path, &e);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->coord.password, "etcdpw");
	ck_assert_uint_eq(e.nwarn, 1);
	ck_assert_ptr_nonnull(strstr(e.warnings[0], "$.coordination.password_file"));
	ck_assert_ptr_null(strstr(e.warnings[0], "etcdpw"));
	cfg_unref(c);
	cfg_errors_free(&e);
}
END_TEST

/* A socket of this process listening on addr (port 0: any); the port. */
static int listen_on(const char *ip, int family, int *fd)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		inet_pton(AF_INET, ip, &in->sin_addr);
		len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, ip, &in6->sin6_addr);
		len = sizeof(*in6);
	}
	*fd = socket(family, SOCK_STREAM, 0);
	ck_assert_int_ge(*fd, 0);
	ck_assert_int_eq(bind(*fd, (struct sockaddr *)&ss, len), 0);
	ck_assert_int_eq(listen(*fd, 1), 0);
	ck_assert_int_eq(getsockname(*fd, (struct sockaddr *)&ss, &len), 0);
	return family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
				 : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int holder(const char *text, char *comm, size_t commlen)
{
	struct cfg_addr a;
	char err[128];
	ck_assert_int_eq(cfg_addr_parse(text, true, &a, err, sizeof(err)), 0);
	struct cfg_listeners *l = cfg_listeners_read();
	int pid = cfg_listeners_holder(l, &a, comm, commlen);
	cfg_listeners_free(l);
	return pid;
}

/* --check's "who listens there": this process, found by address, by a
 * wildcard listener, and nobody on a port no one holds. */
START_TEST(test_listen_holder)
{
	int fd, any;
	int port = listen_on("127.0.0.1", AF_INET, &fd);
	char text[64], comm[32];
	snprintf(text, sizeof(text), "127.0.0.1:%d", port);
	ck_assert_int_eq(holder(text, comm, sizeof(comm)), getpid());
	ck_assert_str_eq(comm, "test_config");
	snprintf(text, sizeof(text), "0.0.0.0:%d", port); /* a wildcard bind collides */
	ck_assert_int_eq(holder(text, comm, sizeof(comm)), getpid());
	snprintf(text, sizeof(text), "127.0.0.2:%d", port); /* another address does not */
	ck_assert_int_eq(holder(text, comm, sizeof(comm)), -1);
	close(fd);
	snprintf(text, sizeof(text), "127.0.0.1:%d", port);
	ck_assert_int_eq(holder(text, comm, sizeof(comm)), -1);

	port = listen_on("0.0.0.0", AF_INET, &any); /* a wildcard listener holds every address */
	snprintf(text, sizeof(text), "127.0.0.3:%d", port);
	ck_assert_int_eq(holder(text, comm, sizeof(comm)), getpid());
	close(any);
}
END_TEST

/* heartbeat_schema without monitor.heartbeat is ignored, and says so;
 * with it, it is taken without a warning. */
START_TEST(test_heartbeat_schema_without_heartbeat)
{
	static const char *const monitors[] = {
		"{\"user\": \"mon\", \"password\": \"m\", \"heartbeat_schema\": \"hb\"}",
		"{\"user\": \"mon\", \"password\": \"m\", \"heartbeat\": true, "
		"\"heartbeat_schema\": \"hb\"}",
	};
	for (int i = 0; i < 2; i++) {
		char json[2048];
		snprintf(json, sizeof(json),
			 "{\"clusters\": {\"db1\": {\"primary\": \"127.0.0.1:3306\", "
			 "\"monitor\": %s}}, %s}",
			 monitors[i], good_tenants);
		struct cfg_errors e;
		struct cfg *c = load(json, &e);
		ck_assert_ptr_nonnull(c);
		ck_assert_str_eq(c->clusters[0].monitor.heartbeat_schema, "hb");
		ck_assert(c->clusters[0].monitor.heartbeat == (i == 1));
		ck_assert_uint_eq(e.nwarn, i == 0 ? 1 : 0);
		if (i == 0)
			ck_assert_ptr_nonnull(strstr(
				e.warnings[0], "$.clusters.db1.monitor.heartbeat_schema: ignored"));
		cfg_unref(c);
		cfg_errors_free(&e);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("load");
	tcase_add_test(tc, test_minimal_defaults);
	tcase_add_test(tc, test_heartbeat_schema_without_heartbeat);
	tcase_add_test(tc, test_errors_name_paths);
	tcase_add_test(tc, test_every_error_reported);
	tcase_add_test(tc, test_backend_users);
	tcase_add_test(tc, test_like_match);
	tcase_add_test(tc, test_locate);
	tcase_add_test(tc, test_file_errors_have_lines);
	tcase_add_test(tc, test_secret_files);
	tcase_add_test(tc, test_listen_holder);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
