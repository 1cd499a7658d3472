/*
 * err: result codes, their texts and exit statuses, and the error object.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum mb_rc err_set(struct err *e, enum mb_rc rc, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return rc;
	e->rc = rc;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return rc;
}

void err_prefix(struct err *e, const char *fmt, ...)
{
	char head[ERR_MSG_MAX];
	char old[ERR_MSG_MAX];
	va_list ap;

	if (!e)
		return;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	/* Truncation is fine: the message stays a valid, shorter string. */
	if (snprintf(e->msg, sizeof(e->msg), "%.*s: %.*s", 500, head, 500,
		     old) < 0)
		e->msg[0] = '\0';
}

void err_clear(struct err *e)
{
	if (!e)
		return;
	e->rc = MB_OK;
	e->msg[0] = '\0';
}

const char *mb_strerror(enum mb_rc rc)
{
	switch (rc) {
	case MB_OK:           return "success";
	case MB_EUSAGE:       return "usage error";
	case MB_EDATA:        return "input data unusable";
	case MB_ENOINPUT:     return "cannot open input";
	case MB_EUNAVAILABLE: return "API unavailable";
	case MB_EINTERNAL:    return "internal error";
	case MB_EDB:          return "staging file error";
	case MB_ELOCKED:      return "staging file locked";
	case MB_EIO:          return "i/o error";
	case MB_ESTOPPED:     return "stopped early";
	case MB_EAUTH:        return "not authorised";
	case MB_ETOOBIG:      return "size limit exceeded";
	case MB_EPROTO:       return "unexpected answer";
	case MB_EFAILED:      return "some contacts failed";
	}
	return "unknown error";
}

int mb_exit_code(enum mb_rc rc)
{
	switch (rc) {
	case MB_OK:           return 0;
	case MB_EFAILED:      return 1;
	case MB_EUSAGE:       return 64;
	case MB_EDATA:        return 65;
	case MB_ENOINPUT:     return 66;
	case MB_EUNAVAILABLE: return 69;
	case MB_EPROTO:       return 69;
	case MB_EINTERNAL:    return 70;
	case MB_EDB:          return 73;
	case MB_ELOCKED:      return 73;
	case MB_EIO:          return 74;
	case MB_ETOOBIG:      return 65;
	case MB_ESTOPPED:     return 75;
	case MB_EAUTH:        return 77;
	}
	return 70;
}
