/*
 * trace: JSON lines for every request that went out (see trace.h).
 */
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "json.h"
#include "utf8.h"
#include "xalloc.h"

struct trace {
	int fd;
	int bodies;
	const char *secret;      /* borrowed; NULL or "" when none */
	struct buf line;         /* scratch for one request's lines */
	char *path;
};

enum mb_rc trace_open(struct trace **out, const char *path, int bodies,
		      const char *secret, struct err *e)
{
	struct trace *t;
	int fd;

	*out = NULL;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY,
		  0600);
	if (fd < 0)
		return err_set(e, MB_EIO, "cannot open '%s': %s", path,
			       strerror(errno));
	t = xcalloc(1, sizeof(*t));
	t->fd = fd;
	t->bodies = bodies;
	t->secret = secret;
	t->line = (struct buf)BUF_INIT;
	t->path = xstrdup(path);
	*out = t;
	return MB_OK;
}

void trace_close(struct trace *t)
{
	if (!t)
		return;
	close(t->fd);
	buf_release(&t->line);
	free(t->path);
	free(t);
}

/* The path without its query: search text is the user's, not ours. */
static enum mb_rc add_path(struct buf *out, const char *path)
{
	return json_add_string(out, path, strcspn(path, "?"));
}

/*
 * A body as a JSON string: the secret replaced, ill-formed UTF-8 made
 * U+FFFD (json_add_string wants well-formed text).
 */
static enum mb_rc add_text(struct buf *out, const char *p, size_t len,
			   const char *secret)
{
	size_t slen = secret ? strlen(secret) : 0, i = 0, n;
	struct buf clean = BUF_INIT;
	enum mb_rc rc = MB_OK;

	while (rc == MB_OK && i < len) {
		if (slen && len - i >= slen && !memcmp(p + i, secret, slen)) {
			rc = buf_addstr(&clean, "[redacted]");
			i += slen;
			continue;
		}
		n = utf8_char_len(p + i, len - i);
		rc = n ? buf_add(&clean, p + i, n)
		       : buf_addstr(&clean, "\xEF\xBF\xBD");
		i += n ? n : 1;
	}
	if (rc == MB_OK)
		rc = json_add_string(out, clean.data ? clean.data : "",
				     clean.len);
	buf_release(&clean);
	return rc;
}

/* "status":..,"error":.. for send (1-based) of req; last: the answered one */
static enum mb_rc add_outcome(struct buf *out, const struct http_request *req,
			      int last)
{
	static const char resent[] = "no answer: the connection closed and"
		" libcurl sent the request again";
	enum mb_rc rc;

	if (!last)
		return buf_printf(out, "\"status\":null,\"error\":{\"curl\":null,"
				  "\"text\":\"%s\"},\"latency_ms\":null,",
				  resent);
	if (req->status)
		return buf_printf(out, "\"status\":%ld,\"error\":null,"
				  "\"latency_ms\":%" PRId64 ",", req->status,
				  (int64_t)(req->total_time_s * 1000 + 0.5));
	rc = buf_printf(out, "\"status\":null,\"error\":{\"curl\":%d,"
			"\"text\":", req->curl_code);
	if (rc == MB_OK)
		rc = add_text(out, req->errbuf, strlen(req->errbuf), NULL);
	if (rc == MB_OK)
		rc = buf_printf(out, "},\"latency_ms\":%" PRId64 ",",
				(int64_t)(req->total_time_s * 1000 + 0.5));
	return rc;
}

/* One line: send is 1..sends, or 0 when the request never went out. */
static enum mb_rc add_line(struct buf *out, const struct http_request *req,
			   unsigned send, int bodies, const char *secret)
{
	char when[CLOCK_ISO_MAX];
	int last = send >= req->sends;
	enum mb_rc rc;

	/* On the wire, or handed to the transport when it never got there. */
	clock_iso(req->sent_wall_ms + (req->wire_ms ? req->wire_ms -
				       req->sent_mono_ms : 0), when);
	rc = buf_printf(out, "{\"time\":\"%s\",\"method\":", when);
	if (rc == MB_OK)
		rc = json_add_string(out, req->method, strlen(req->method));
	if (rc == MB_OK)
		rc = buf_addstr(out, ",\"path\":");
	if (rc == MB_OK)
		rc = add_path(out, req->path);
	if (rc == MB_OK)
		rc = buf_addch(out, ',');
	if (rc == MB_OK)
		rc = add_outcome(out, req, last);
	if (rc == MB_OK)
		rc = buf_printf(out, "\"attempt\":%u,\"send\":%u,\"sends\":%u,",
				req->attempt, send, req->sends);
	if (rc == MB_OK && req->about)
		rc = buf_printf(out, "\"%s\":%" PRId64 ",", req->about,
				req->about_id);
	if (rc == MB_OK)
		rc = buf_printf(out, "\"bytes_sent\":%zu,\"bytes_received\":%zu",
				send ? req->body.len : (size_t)0,
				last ? req->response.len : (size_t)0);
	if (rc == MB_OK && bodies) {
		rc = buf_addstr(out, ",\"request_body\":");
		if (rc == MB_OK)
			rc = add_text(out, buf_str(&req->body), req->body.len,
				      secret);
		if (rc == MB_OK)
			rc = buf_addstr(out, ",\"response_body\":");
		if (rc == MB_OK)
			rc = last ? add_text(out, buf_str(&req->response),
					     req->response.len, secret)
				  : buf_addstr(out, "null");
	}
	if (rc == MB_OK)
		rc = buf_addstr(out, "}\n");
	return rc;
}

enum mb_rc trace_format(struct buf *out, const struct http_request *req,
			int bodies, const char *secret)
{
	unsigned send = req->sends ? 1 : 0;
	enum mb_rc rc = MB_OK;

	for (; rc == MB_OK && send <= req->sends; send++) {
		rc = add_line(out, req, send, bodies, secret);
		if (!req->sends)
			break;
	}
	return rc;
}

/* Write all of p[0..n) (one line: one write(2) unless it is cut short). */
static enum mb_rc write_all(struct trace *t, const char *p, size_t n,
			    struct err *e)
{
	ssize_t w;

	while (n) {
		w = write(t->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return err_set(e, MB_EIO, "cannot write '%s': %s",
				       t->path, strerror(errno));
		p += w;
		n -= (size_t)w;
	}
	return MB_OK;
}

enum mb_rc trace_request(struct trace *t, const struct http_request *req,
			 struct err *e)
{
	const char *p, *end;
	enum mb_rc rc;

	buf_reset(&t->line);
	rc = trace_format(&t->line, req, t->bodies, t->secret);
	if (rc != MB_OK)
		return err_set(e, rc, "cannot trace a request to '%s': %s",
			       req->path, mb_strerror(rc));
	/* Bodies are escaped: the only raw newlines end lines. */
	for (p = buf_str(&t->line); rc == MB_OK && *p; p = end + 1) {
		end = strchr(p, '\n');
		rc = write_all(t, p, (size_t)(end - p) + 1, e);
	}
	return rc;
}

void trace_summary(const struct http_request *req, char *out, size_t size)
{
	char outcome[300], about[48] = "", resent[32] = "";

	if (req->status)
		snprintf(outcome, sizeof(outcome), "%ld", req->status);
	else
		snprintf(outcome, sizeof(outcome), "error (%s)",
			 req->errbuf[0] ? req->errbuf : "no answer");
	if (req->about)
		snprintf(about, sizeof(about), " %s %" PRId64, req->about,
			 req->about_id);
	if (req->sends > 1)
		snprintf(resent, sizeof(resent), ", sent %u times", req->sends);
	snprintf(out, size, "%s %.*s %s %" PRId64 "ms%s attempt %u%s",
		 req->method, (int)strcspn(req->path, "?"), req->path, outcome,
		 (int64_t)(req->total_time_s * 1000 + 0.5), about,
		 req->attempt, resent);
}
