// SPDX-License-Identifier: GPL-2.0
/*
 * The unit test runner: every TEST() in tests/unit/, in source order, inside
 * a private network namespace that holds the devices the tests need.
 *
 *   test_progs [-v] [-l] [-t NAME[/SUBTEST]]...
 *
 * Prints "ok NAME" or "FAIL NAME" per test (failure details before it), and
 * last "N passed, N failed"; exits 1 when anything failed.
 */
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "test_progs.h"
#include "fixture.h"

/* Bounds of the "qnat_tests" section, provided by the linker. */
extern const struct test_def __start_qnat_tests[];
extern const struct test_def __stop_qnat_tests[];

#define MAX_FILTERS 32

int test__verbose;

static struct {
	const struct test_def *test;
	const char *subtest; /* NULL outside a subtest */
	bool failed;	     /* the test, including any subtest */
	bool sub_failed;
	const char *sub_filter; /* subtest part of the filter that selected this test */
} cur;

static const char *filters[MAX_FILTERS];
static int nfilters;

void test__fail(const char *file, int line, const char *fmt, ...)
{
	const char *base = strrchr(file, '/');
	va_list ap;

	cur.failed = true;
	if (cur.subtest)
		cur.sub_failed = true;
	printf("    %s:%d: ", base ? base + 1 : file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

void test__info(const char *fmt, ...)
{
	va_list ap;

	if (!test__verbose)
		return;
	printf("    ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* 16 bytes a row; the row holding byte `mark` gets a caret under it. */
void test__hexdump(const char *title, const void *buf, size_t len, size_t mark)
{
	const unsigned char *b = buf;

	printf("      %s (%zu bytes):\n", title, len);
	for (size_t row = 0; row < len; row += 16) {
		printf("      %04zx:", row);
		for (size_t i = row; i < row + 16 && i < len; i++)
			printf(" %02x", b[i]);
		putchar('\n');
		if (mark >= row && mark < row + 16)
			printf("      %*s^^\n", (int)(5 + 3 * (mark - row) + 1), "");
	}
}

static void end_subtest(void)
{
	if (!cur.subtest)
		return;
	if (cur.sub_failed)
		printf("  FAIL %s/%s\n", cur.test->name, cur.subtest);
	else if (test__verbose)
		printf("  ok %s/%s\n", cur.test->name, cur.subtest);
	cur.subtest = NULL;
	cur.sub_failed = false;
}

bool test__start_subtest(const char *name)
{
	end_subtest();
	if (cur.sub_filter && !strstr(name, cur.sub_filter))
		return false;
	cur.subtest = name;
	return true;
}

/* Selects the test; sets cur.sub_filter from a "test/sub" filter. */
static bool selected(const char *name)
{
	cur.sub_filter = NULL;
	if (!nfilters)
		return true;
	for (int i = 0; i < nfilters; i++) {
		const char *slash = strchr(filters[i], '/');
		size_t n = slash ? (size_t)(slash - filters[i]) : strlen(filters[i]);

		if (strlen(name) == n && !strncmp(name, filters[i], n)) {
			cur.sub_filter = slash ? slash + 1 : NULL;
			return true;
		}
	}
	return false;
}

static int by_position(const void *a, const void *b)
{
	const struct test_def *x = a, *y = b;
	int r = strcmp(x->file, y->file);

	return r ? r : x->line - y->line;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || (level == LIBBPF_INFO && !test__verbose))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void usage(void)
{
	fprintf(stderr, "usage: test_progs [-v] [-l] [-t NAME[/SUBTEST]]...\n"
			"  -v  verbose: passing subtests and details\n"
			"  -l  list the tests and exit\n"
			"  -t  run only the named test (repeatable); /SUBTEST narrows to subtests\n"
			"      whose name contains SUBTEST\n");
}

int main(int argc, char **argv)
{
	size_t ntests = __stop_qnat_tests - __start_qnat_tests;
	struct test_def *tests;
	struct timespec t0, t1;
	int passed = 0, failed = 0, opt;
	bool list = false;

	while ((opt = getopt(argc, argv, "vlt:h")) != -1) {
		switch (opt) {
		case 'v':
			test__verbose = 1;
			break;
		case 'l':
			list = true;
			break;
		case 't':
			if (nfilters == MAX_FILTERS) {
				fprintf(stderr, "test_progs: at most %d -t filters\n", MAX_FILTERS);
				return 2;
			}
			filters[nfilters++] = optarg;
			break;
		default:
			usage();
			return opt == 'h' ? 0 : 2;
		}
	}

	tests = calloc(ntests, sizeof(*tests));
	if (!tests)
		return 1;
	memcpy(tests, __start_qnat_tests, ntests * sizeof(*tests));
	qsort(tests, ntests, sizeof(*tests), by_position);
	if (list) {
		for (size_t i = 0; i < ntests; i++)
			printf("%s\n", tests[i].name);
		free(tests);
		return 0;
	}

	if (geteuid() != 0) {
		fprintf(stderr, "test_progs: must run as root (BPF_PROG_TEST_RUN and a private network namespace)\n");
		free(tests);
		return 1;
	}
	/* Everything below happens in a namespace of our own: the host's
	 * interfaces, routes and sysctls are never touched. */
	if (unshare(CLONE_NEWNET)) {
		perror("test_progs: unshare(CLONE_NEWNET)");
		free(tests);
		return 1;
	}
	if (testnet_setup()) {
		fprintf(stderr, "test_progs: could not set up the test network namespace\n");
		free(tests);
		return 1;
	}
	libbpf_set_print(libbpf_print);
	setvbuf(stdout, NULL, _IOLBF, 0);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < ntests; i++) {
		if (!selected(tests[i].name))
			continue;
		cur.test = &tests[i];
		cur.failed = false;
		tests[i].run();
		end_subtest();
		printf("%s %s\n", cur.failed ? "FAIL" : "ok", tests[i].name);
		if (cur.failed)
			failed++;
		else
			passed++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);

	printf("runtime %.3f s\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	printf("%d passed, %d failed\n", passed, failed);
	free(tests);
	return failed ? 1 : 0;
}
