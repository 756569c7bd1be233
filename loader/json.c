// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <string.h>

#include "json.h"

void json_begin(struct json *j, bool on)
{
	memset(j, 0, sizeof(*j));
	j->f = stdout;
	j->on = on;
}

void json_end(struct json *j)
{
	if (j->on)
		fputc('\n', j->f);
	fflush(j->f);
	j->depth = 0;
	j->need_comma[0] = false;
}

static void put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void put_key(struct json *j, const char *key)
{
	if (j->need_comma[j->depth])
		fputc(',', j->f);
	j->need_comma[j->depth] = true;
	if (key) {
		put_string(j->f, key);
		fputc(':', j->f);
	}
}

static void open_(struct json *j, const char *key, char c)
{
	if (!j->on)
		return;
	put_key(j, key);
	fputc(c, j->f);
	if (j->depth < 31)
		j->need_comma[++j->depth] = false;
}

static void close_(struct json *j, char c)
{
	if (!j->on)
		return;
	fputc(c, j->f);
	if (j->depth > 0)
		j->depth--;
}

void json_obj_open(struct json *j, const char *key) { open_(j, key, '{'); }
void json_obj_close(struct json *j) { close_(j, '}'); }
void json_arr_open(struct json *j, const char *key) { open_(j, key, '['); }
void json_arr_close(struct json *j) { close_(j, ']'); }

void json_str(struct json *j, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (j->on) {
		put_key(j, key);
		put_string(j->f, va_arg(ap, const char *));
	} else if (fmt) {
		vfprintf(j->f, fmt, ap);
	}
	va_end(ap);
}

void json_ull(struct json *j, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (j->on) {
		put_key(j, key);
		fprintf(j->f, "%llu", va_arg(ap, unsigned long long));
	} else if (fmt) {
		vfprintf(j->f, fmt, ap);
	}
	va_end(ap);
}

void json_only_ull(struct json *j, const char *key, unsigned long long v)
{
	if (j->on) {
		put_key(j, key);
		fprintf(j->f, "%llu", v);
	}
}

void json_only_str(struct json *j, const char *key, const char *v)
{
	if (j->on) {
		put_key(j, key);
		put_string(j->f, v);
	}
}

void json_str_or_null(struct json *j, const char *key, int width, const char *v)
{
	if (!j->on) {
		fprintf(j->f, " %-*s", width, v ? v : "-");
		return;
	}
	put_key(j, key);
	if (v)
		put_string(j->f, v);
	else
		fputs("null", j->f);
}

void json_bool(struct json *j, const char *key, bool v, const char *text_true, const char *text_false)
{
	if (j->on) {
		put_key(j, key);
		fputs(v ? "true" : "false", j->f);
	} else {
		fputs(v ? text_true : text_false, j->f);
	}
}

void json_text(struct json *j, const char *text)
{
	if (!j->on)
		fputs(text, j->f);
}

void json_fp(struct json *j, const char *fmt, ...)
{
	va_list ap;

	if (j->on)
		return;
	va_start(ap, fmt);
	vfprintf(j->f, fmt, ap);
	va_end(ap);
}

bool json_is_on(const struct json *j)
{
	return j->on;
}

void json_error(struct json *j, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "qnat-bpf: %s\n", buf);
	if (j->on) {
		put_key(j, "error");
		put_string(j->f, buf);
	}
}

void print_error(const char *fmt, ...)
{
	va_list ap;

	fputs("qnat-bpf: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
