/*
 * main.c — the `tandem` command line: run with a config, or check one.
 *   tandem -c FILE          run (SIGHUP reloads, SIGTERM drains and stops)
 *   tandem --check -c FILE  validate, print every error, exit 0 or 1
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "proxy/process/process.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: tandem -c FILE           run with the config in FILE\n"
		     "       tandem --check -c FILE   validate FILE and exit 0 (valid) or 1\n"
		     "       tandem --version\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check", no_argument, NULL, 't'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config = NULL;
	bool check = false;
	int ch;
	while ((ch = getopt_long(argc, argv, "c:thV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 't':
			check = true;
			break;
		case 'V':
			printf("tandem %s\n", TANDEM_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!config || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (check)
		return daemon_check_config(config);

	struct daemon d;
	if (daemon_start(&d, config) < 0) {
		log_error("start-up failed");
		daemon_free(&d);
		return 1;
	}
	int rc = daemon_run(&d);
	daemon_free(&d);
	return rc;
}
