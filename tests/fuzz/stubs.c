// SPDX-License-Identifier: GPL-2.0
/* What tests/unit/fixture.c needs of the unit test runner, outside it. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "test_progs.h"

int test__verbose;

void test__fail(const char *file, int line, const char *fmt, ...)
{
	const char *base = strrchr(file, '/');
	va_list ap;

	fprintf(stderr, "%s:%d: ", base ? base + 1 : file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void test__info(const char *fmt, ...)
{
	(void)fmt;
}
