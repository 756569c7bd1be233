// SPDX-License-Identifier: GPL-2.0
/*
 * The JSON writer: each document below is compared byte for byte with the
 * valid JSON it must be (escaping, nesting, numbers, empty arrays, errors),
 * and text mode must print only the text formats.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "test_progs.h"
#include "json.h"

static char *out;
static size_t out_len;

static void start(struct json *j, bool on)
{
	json_begin(j, on);
	j->f = open_memstream(&out, &out_len);
}

static const char *finish(struct json *j)
{
	json_end(j);
	fclose(j->f);
	return out;
}

/* A bridge-like document: nested objects, an empty array, numbers, escapes, null. */
static void sample(struct json *j)
{
	json_arr_open(j, NULL);
	json_obj_open(j, NULL);
	json_str(j, "bridge", "%s:", "br\"0\\\n");
	json_uint(j, "max", " %llu", 18446744073709551615ull);
	json_uint(j, "zero", " %llu", 0);
	json_arr_open(j, "ports");
	json_arr_close(j);
	json_obj_open(j, "dhcp");
	json_bool(j, "enabled", true, " on", " off");
	json_str_or_null(j, "hostname", 4, NULL);
	json_only_ull(j, "expiry", 42);
	json_obj_close(j);
	json_fp(j, " text only %d\n", 7);
	json_obj_close(j);
	json_arr_close(j);
}

TEST(json_writer)
{
	struct json j;
	const char *s;

	start(&j, true);
	sample(&j);
	s = finish(&j);
	ASSERT_TRUE(!strcmp(s, "[{\"bridge\":\"br\\\"0\\\\\\u000a\",\"max\":18446744073709551615,\"zero\":0,"
			       "\"ports\":[],\"dhcp\":{\"enabled\":true,\"hostname\":null,\"expiry\":42}}]\n"),
		    s);
	free(out);

	start(&j, false);
	sample(&j);
	s = finish(&j);
	ASSERT_TRUE(!strcmp(s, "br\"0\\\n: 18446744073709551615 0 on -    text only 7\n"), s);
	free(out);

	/* An error inside a document keeps it valid: the object carries it. */
	start(&j, true);
	json_arr_open(&j, NULL);
	json_obj_open(&j, NULL);
	json_str(&j, "bridge", "%s", "b1");
	fflush(stderr);
	int saved = dup(STDERR_FILENO), null = open("/dev/null", 1);

	dup2(null, STDERR_FILENO); /* json_error also writes the line on stderr */
	json_error(&j, "%s is not attached", "b1");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(null);
	json_obj_close(&j);
	json_obj_open(&j, NULL);
	json_str(&j, "bridge", "%s", "b2");
	json_obj_close(&j);
	json_arr_close(&j);
	s = finish(&j);
	ASSERT_TRUE(!strcmp(s, "[{\"bridge\":\"b1\",\"error\":\"b1 is not attached\"},{\"bridge\":\"b2\"}]\n"), s);
	free(out);

	/* A stream (ct events): one document per line, no comma between them. */
	start(&j, true);
	for (int i = 0; i < 2; i++) {
		json_obj_open(&j, NULL);
		json_uint(&j, "n", "%llu", i);
		json_obj_close(&j);
		json_end(&j);
	}
	s = finish(&j);
	ASSERT_TRUE(!strcmp(s, "{\"n\":0}\n{\"n\":1}\n\n"), s);
	free(out);
}
