/*
 * healthping: one GET per ping on libcurl's easy interface (healthping.h).
 */
#include "healthping.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "version.h"

int healthping_url_ok(const char *url)
{
	return strncasecmp(url, "http://", 7) == 0 ||
	       strncasecmp(url, "https://", 8) == 0;
}

/* url with "/start", "" or "/N" before its query string, into out. */
static enum mb_rc ping_target(const char *url, int what, struct buf *out)
{
	size_t base = strcspn(url, "?#");
	enum mb_rc rc;

	/* "https://hc-ping.com/UUID/" and ".../UUID" are the same check. */
	while (base > 0 && url[base - 1] == '/')
		base--;
	rc = buf_add(out, url, base);
	if (rc == MB_OK && what == HEALTHPING_START)
		rc = buf_addstr(out, "/start");
	else if (rc == MB_OK && what != 0)
		rc = buf_printf(out, "/%d", what);
	if (rc == MB_OK)
		rc = buf_addstr(out, url + base + strspn(url + base, "/"));
	return rc;
}

/* The answer's body is not wanted. */
static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

static enum mb_rc get(CURL *c, const char *target, struct err *e)
{
	long status = 0;
	CURLcode cc;

	curl_easy_setopt(c, CURLOPT_URL, target);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, HEALTHPING_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, HEALTHPING_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "meisa-bulk/" MB_VERSION);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	cc = curl_easy_perform(c);
	/* libcurl's error buffer may name the host: its generic text only. */
	if (cc != CURLE_OK)
		return err_set(e, MB_EUNAVAILABLE, "cannot reach the ping URL:"
			       " %s", curl_easy_strerror(cc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299)
		return err_set(e, MB_EUNAVAILABLE, "the ping URL answered"
			       " HTTP %ld", status);
	return MB_OK;
}

enum mb_rc healthping_send(const char *url, int what, struct err *e)
{
	struct buf target = BUF_INIT;
	CURL *c = NULL;
	enum mb_rc rc;

	if (!healthping_url_ok(url))
		return err_set(e, MB_EUSAGE, "the ping URL is not an http or"
			       " https URL");
	rc = ping_target(url, what, &target);
	if (rc != MB_OK) {
		err_set(e, rc, "the ping URL is too long");
		goto out;
	}
	/* Reference-counted by libcurl: safe beside http.c's own. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		rc = err_set(e, MB_EINTERNAL, "cannot initialise libcurl");
		goto out;
	}
	c = curl_easy_init();
	rc = c ? get(c, target.data, e) : err_set(e, MB_EINTERNAL,
						 "cannot initialise libcurl");
	curl_easy_cleanup(c);
	curl_global_cleanup();
out:
	buf_release(&target);
	return rc;
}
