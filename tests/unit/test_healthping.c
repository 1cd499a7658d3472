/*
 * healthping: which URLs are accepted, and a ping that fails says so
 * without the URL (it holds the check's secret).  The pings themselves
 * are tested end to end (tests/e2e/test_monitoring.py).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "healthping.h"

Test(healthping, only_http_and_https_urls)
{
	struct err e = ERR_INIT;

	cr_assert(healthping_url_ok("https://hc-ping.com/x"));
	cr_assert(healthping_url_ok("HTTP://127.0.0.1/x"));
	cr_assert(!healthping_url_ok("ftp://h/s3cret"));
	cr_assert(!healthping_url_ok("hc-ping.com/s3cret"));
	cr_assert_eq(healthping_send("file:///s3cret", 0, &e), MB_EUSAGE);
	cr_assert_null(strstr(e.msg, "s3cret"));
}

Test(healthping, an_unreachable_url_is_named_the_ping_url)
{
	struct err e = ERR_INIT;

	/* Port 9 (discard) on loopback: refused at once. */
	cr_assert_eq(healthping_send("http://127.0.0.1:9/s3cret", 69, &e),
		     MB_EUNAVAILABLE);
	cr_assert_not_null(strstr(e.msg, "the ping URL"), "%s", e.msg);
	cr_assert_null(strstr(e.msg, "s3cret"), "%s", e.msg);
	cr_assert_null(strstr(e.msg, "127.0.0.1"), "%s", e.msg);
}
