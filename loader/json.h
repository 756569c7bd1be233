/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One print path for text and JSON (after iproute2's json_print): each call
 * names the JSON key and the text format; the mode picks which is printed.
 */
#ifndef QNAT_JSON_H
#define QNAT_JSON_H

#include <stdbool.h>
#include <stdio.h>

struct json {
	FILE *f;
	bool on;
	int depth;
	bool need_comma[32];
};

void json_begin(struct json *j, bool on);
/* Ends one document; the next value starts another (a stream, as ct events). */
void json_end(struct json *j);
void json_obj_open(struct json *j, const char *key);
void json_obj_close(struct json *j);
void json_arr_open(struct json *j, const char *key);
void json_arr_close(struct json *j);
/*
 * Text mode prints fmt with the value; JSON mode prints "key": value.
 * A NULL fmt prints in JSON only; json_fp prints in text only.
 */
void json_str(struct json *j, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void json_ull(struct json *j, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define json_uint(j, key, fmt, v) json_ull(j, key, fmt, (unsigned long long)(v))
void json_only_ull(struct json *j, const char *key, unsigned long long v); /* JSON only */
void json_only_str(struct json *j, const char *key, const char *v);        /* JSON only */
void json_bool(struct json *j, const char *key, bool v, const char *text_true, const char *text_false);
/* A string that may be absent: null in JSON; in text " %-*s" of it, or "-". */
void json_str_or_null(struct json *j, const char *key, int width, const char *v);
void json_text(struct json *j, const char *text); /* text mode only */
void json_fp(struct json *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool json_is_on(const struct json *j);
/*
 * An error inside a document: on stderr as print_error, and in JSON also as
 * "error": "..." in the current object, so the document stays valid.
 */
void json_error(struct json *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Errors always go to stderr, never into the document on stdout. */
void print_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
