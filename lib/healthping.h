/*
 * healthping: the start and end pings of a run (--ping-url), in the
 * healthchecks.io convention: GET URL/start when a run starts, URL when it
 * ends with status 0, URL/N when it ends with status N.
 *
 *   rc = healthping_send(url, HEALTHPING_START, &e);     (a warning if not
 *   ... the run ...                                        MB_OK)
 *   rc = healthping_send(url, exit_status, &e);
 *
 * The URL holds a secret (whoever knows it can report for the check): it
 * never appears in a message, only "the ping URL".  A ping is one GET on
 * libcurl's easy interface, redirects not followed, 10 s at most; any
 * answer but 2xx is a failure.
 *
 * Errors: MB_EUNAVAILABLE (transport failure or a non-2xx answer, named by
 * libcurl's generic text or the HTTP status), MB_EUSAGE (not an http or
 * https URL).  url is borrowed.
 */
#ifndef MB_HEALTHPING_H
#define MB_HEALTHPING_H

#include "err.h"

#define HEALTHPING_START (-1)
#define HEALTHPING_TIMEOUT_MS 10000L

/*
 * Ping URL/start (what = HEALTHPING_START), URL (what = 0) or URL/what.
 * A query string in url stays at the end.
 */
MB_MUST_USE enum mb_rc healthping_send(const char *url, int what,
				       struct err *e);

/* 1 when url is an http:// or https:// URL (checked before a run). */
int healthping_url_ok(const char *url);

#endif
