/*
 * sandbox_json: JSON writing for the sandbox's answers (see the header).
 */
#include "sandbox_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "json.h"
#include "sandbox_validate.h"

/*
 * Append a JSON string literal of p[0..n).  Bytes that are not UTF-8 (from
 * a URL, a header, a query string) become U+FFFD: an answer is always
 * valid JSON text.  Answers are built in buffers with the default cap
 * (64 MiB): a full unsubscribed list of a million addresses still fits and
 * nothing else comes close, so appends are not checked one by one.
 */
void sandbox_json_add(struct buf *out, const char *p, size_t n)
{
	struct buf clean = BUF_INIT;

	if (sandbox_utf8_ok(p, n)) {
		json_add_string(out, p, n);
		return;
	}
	sandbox_utf8_lossy(&clean, p, n);
	json_add_string(out, buf_str(&clean), clean.len);
	buf_release(&clean);
}

void sandbox_json_str(struct buf *out, const char *s)
{
	sandbox_json_add(out, s, strlen(s));
}

void sandbox_api_detail(struct buf *out, const char *detail)
{
	buf_reset(out);
	buf_addstr(out, "{\"detail\":");
	sandbox_json_str(out, detail);
	buf_addch(out, '}');
}

void sandbox_answer_detail(struct sandbox_call *call, int status,
			   const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	call->status = status;
	sandbox_api_detail(&call->response, msg);
}

void sandbox_field_error(struct field_errors *fe, const char *field,
			 const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (fe->count++)
		buf_addch(&fe->json, ',');
	sandbox_json_str(&fe->json, field);
	buf_addstr(&fe->json, ":[");
	sandbox_json_str(&fe->json, msg);
	buf_addch(&fe->json, ']');
}

/* Answer 400 with the collected errors; 1 if there were any. */
int sandbox_field_errors_answer(struct field_errors *fe,
				struct sandbox_call *call)
{
	int any = fe->count > 0;

	if (any) {
		call->status = 400;
		buf_reset(&call->response);
		buf_addch(&call->response, '{');
		buf_add(&call->response, fe->json.data, fe->json.len);
		buf_addch(&call->response, '}');
	}
	buf_release(&fe->json);
	fe->count = 0;
	return any;
}

/* ISO 8601 UTC with milliseconds, as Meisa's timestamps. */
void sandbox_iso_time(double t, char out[32])
{
	time_t secs = (time_t)t;
	unsigned ms = (unsigned)((t - (double)secs) * 1000.0) % 1000;

	clock_iso((int64_t)secs * 1000 + ms, out);
}

