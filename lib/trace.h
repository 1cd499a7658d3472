/*
 * trace: the request trace of --trace FILE, one JSON object per line.
 *
 * meisa writes a line for every time a request went out, libcurl's own
 * re-sends included (http.h: req->sends), so the trace has as many lines as
 * the server saw requests.  A request libcurl sent N times gives N lines
 * with "send" 1..N of "sends" N: the first N-1 got no answer (the
 * connection closed; libcurl sent it again) and carry that as their error,
 * the last carries the answer and the latency.  A request that never went
 * out (no connection) still gives one line, "send" 0, with the error, so a
 * refused connection shows too.
 *
 *   {"time":"2026-12-02T02:15:07.123Z","method":"POST",
 *    "path":"/contacts/upsert/","status":201,"error":null,
 *    "latency_ms":38,"attempt":1,"send":1,"sends":1,"contact":123,
 *    "bytes_sent":118,"bytes_received":96}
 *
 * time is when the request went on the wire (UTC, ms; when it never did,
 * when it was handed to the transport); a re-send shows the first; path
 * never has its query (it may hold search text); status is null on a
 * transport error, and error is then {"curl":7,"text":"..."}; attempt
 * counts the times this process submitted the request (retries after 5xx,
 * transport errors and 429s); "contact" or "chunk" is the staging id the
 * request is about, absent for other calls; the byte counts are of the
 * bodies.  The key is never written: it travels in a header, and with
 * bodies (trace_open's bodies) every occurrence of it in a body is
 * replaced by "[redacted]" before "request_body" and "response_body" are
 * written; ill-formed UTF-8 in a body becomes U+FFFD.
 *
 * The file is opened O_APPEND (created 0600) and each line goes out in one
 * write(2): a line is whole when it appears, and `tail -f` works.
 */
#ifndef MB_TRACE_H
#define MB_TRACE_H

#include <stddef.h>

#include "err.h"
#include "http.h"

struct trace;

/*
 * Open path for appending (created 0600) into *out; bodies: also write the
 * bodies; secret (borrowed for the trace's life, may be NULL) is redacted
 * from them.  MB_EIO with strerror on failure, *out then NULL.
 */
MB_MUST_USE enum mb_rc trace_open(struct trace **out, const char *path,
				  int bodies, const char *secret,
				  struct err *e);

/* Close and free; NULL-safe. */
void trace_close(struct trace *t);

/*
 * The lines for req, answered (see above).  MB_EIO with strerror when the
 * write fails; the trace is then left as it is.
 */
MB_MUST_USE enum mb_rc trace_request(struct trace *t,
				     const struct http_request *req,
				     struct err *e);

/*
 * The lines trace_request writes, appended to out (for tests); secret and
 * bodies as for trace_open.
 */
enum mb_rc trace_format(struct buf *out, const struct http_request *req,
			int bodies, const char *secret);

/*
 * A short line for -v into out: "POST /contacts/upsert/ 201 38ms contact
 * 123 attempt 1" (", sent 2 times" when libcurl re-sent it; the error
 * text in place of the status on a transport error).
 */
void trace_summary(const struct http_request *req, char *out, size_t size);

#endif
