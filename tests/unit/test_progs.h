/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small test runner in the style of the kernel's selftests/bpf test_progs:
 * TEST(name) defines and registers a test, test__start_subtest() splits it,
 * ASSERT_*() report file:line and both values on failure and evaluate to
 * true when they hold, so a test can stop early with `if (!ASSERT_...)`.
 */
#ifndef QNAT_TEST_PROGS_H
#define QNAT_TEST_PROGS_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct test_def {
	const char *name;
	void (*run)(void);
	const char *file;
	int line;
};

/*
 * Tests register themselves in the "qnat_tests" section; the runner sorts
 * them by file and line, so they run in source order.
 */
#define TEST(name)                                                                                      \
	static void test_##name(void);                                                                  \
	static const struct test_def test_def_##name                                                    \
		__attribute__((used, section("qnat_tests"), aligned(sizeof(void *)))) = {              \
			#name, test_##name, __FILE__, __LINE__,                                         \
		};                                                                                      \
	static void test_##name(void)

/* Starts a subtest of the running test; false when it is filtered out. */
bool test__start_subtest(const char *name);
/* Marks the running (sub)test failed and prints why, prefixed by file:line. */
void test__fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prints only with -v. */
void test__info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void test__hexdump(const char *title, const void *buf, size_t len, size_t mark);
extern int test__verbose;

#define ASSERT_OP_(a, op, b, name)                                                                      \
	({                                                                                              \
		long long ___a = (long long)(a), ___b = (long long)(b);                                 \
		bool ___ok = ___a op ___b;                                                              \
		if (!___ok)                                                                             \
			test__fail(__FILE__, __LINE__, "%s: %s = %lld (0x%llx), want %s %s = %lld (0x%llx)", \
				   (name), #a, ___a, (unsigned long long)___a, #op, #b, ___b,           \
				   (unsigned long long)___b);                                           \
		___ok;                                                                                  \
	})

#define ASSERT_EQ(a, b, name) ASSERT_OP_(a, ==, b, name)
#define ASSERT_NEQ(a, b, name) ASSERT_OP_(a, !=, b, name)
#define ASSERT_GE(a, b, name) ASSERT_OP_(a, >=, b, name)
#define ASSERT_LE(a, b, name) ASSERT_OP_(a, <=, b, name)

#define ASSERT_TRUE(cond, name)                                                                         \
	({                                                                                              \
		bool ___ok = (cond);                                                                    \
		if (!___ok)                                                                             \
			test__fail(__FILE__, __LINE__, "%s: unexpectedly false: %s", (name), #cond);     \
		___ok;                                                                                  \
	})

#define ASSERT_FALSE(cond, name)                                                                        \
	({                                                                                              \
		bool ___ok = !(cond);                                                                   \
		if (!___ok)                                                                             \
			test__fail(__FILE__, __LINE__, "%s: unexpectedly true: %s", (name), #cond);      \
		___ok;                                                                                  \
	})

/* For libbpf-style results: 0 on success, a negative errno otherwise. */
#define ASSERT_OK(res, name)                                                                            \
	({                                                                                              \
		long long ___r = (long long)(res);                                                      \
		bool ___ok = ___r == 0;                                                                 \
		if (!___ok)                                                                             \
			test__fail(__FILE__, __LINE__, "%s: %s failed: %lld (%s)", (name), #res, ___r,   \
				   strerror(___r < 0 ? (int)-___r : errno));                            \
		___ok;                                                                                  \
	})

#define ASSERT_OK_PTR(ptr, name)                                                                        \
	({                                                                                              \
		const void *___p = (ptr);                                                               \
		bool ___ok = ___p != NULL;                                                              \
		if (!___ok)                                                                             \
			test__fail(__FILE__, __LINE__, "%s: %s is NULL (%s)", (name), #ptr, strerror(errno)); \
		___ok;                                                                                  \
	})

#define ASSERT_STREQ(actual, expected, name)                                                            \
	({                                                                                              \
		const char *___a = (actual), *___e = (expected);                                        \
		bool ___ok = ___a && ___e && !strcmp(___a, ___e);                                       \
		if (!___ok)                                                                             \
			test__fail(__FILE__, __LINE__, "%s: %s is \"%s\", want \"%s\"", (name), #actual,     \
				   ___a ? ___a : "(null)", ___e ? ___e : "(null)");                       \
		___ok;                                                                                  \
	})

/* Byte-exact comparison; on failure dumps both buffers around the first difference. */
#define ASSERT_MEMEQ(actual, expected, len, name)                                                       \
	({                                                                                              \
		const unsigned char *___a = (const void *)(actual), *___e = (const void *)(expected);   \
		size_t ___n = (len), ___i = 0;                                                          \
		while (___i < ___n && ___a[___i] == ___e[___i])                                         \
			___i++;                                                                         \
		bool ___ok = ___i == ___n;                                                              \
		if (!___ok) {                                                                           \
			test__fail(__FILE__, __LINE__, "%s: %s differs from %s at byte %zu: 0x%02x != 0x%02x", \
				   (name), #actual, #expected, ___i, ___a[___i], ___e[___i]);           \
			test__hexdump("actual", ___a, ___n, ___i);                                      \
			test__hexdump("expected", ___e, ___n, ___i);                                    \
		}                                                                                       \
		___ok;                                                                                  \
	})

#endif /* QNAT_TEST_PROGS_H */
