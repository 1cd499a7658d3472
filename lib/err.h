/*
 * err: the project's one result code and the error object that carries it.
 *
 * Every fallible library function returns an enum mb_rc (held by callers in a
 * local named rc) and, on failure, fills a struct err with a message that
 * names the subject: file, line, column, field, SQLite's or libcurl's text,
 * the HTTP status and the body the server sent.  The library never prints;
 * cmd/ turns the err into one line on stderr and the rc into an exit status.
 */
#ifndef MB_ERR_H
#define MB_ERR_H

#include <stddef.h>

enum mb_rc {
	MB_OK = 0,
	MB_EUSAGE,       /* bad arguments or options (exit 64) */
	MB_EDATA,        /* input unusable as a whole (exit 65) */
	MB_ENOINPUT,     /* an input file cannot be opened (exit 66) */
	MB_EUNAVAILABLE, /* the API stayed unreachable (exit 69) */
	MB_EINTERNAL,    /* a bug or an impossible state (exit 70) */
	MB_EDB,          /* staging file cannot be created or used (exit 73) */
	MB_ELOCKED,      /* staging file locked by another run (exit 73) */
	MB_EIO,          /* read or write error on a local file (exit 74) */
	MB_ESTOPPED,     /* stopped early, progress kept (exit 75) */
	MB_EAUTH,        /* key missing, invalid or lacking a scope (exit 77) */
	MB_ETOOBIG,      /* a size cap was reached (field, body, buffer) */
	MB_EPROTO,       /* the peer answered something we cannot use */
	MB_EFAILED,      /* finished, some contacts failed permanently (exit 1) */
};

/* On every fallible function whose result must not be ignored. */
#define MB_MUST_USE __attribute__((warn_unused_result))

#define ERR_MSG_MAX 1024

struct err {
	enum mb_rc rc;
	char msg[ERR_MSG_MAX];
};

#define ERR_INIT { MB_OK, "" }

/*
 * Record a failure: sets e->rc and formats the message (truncated to fit).
 * Returns rc so callers can write `return err_set(e, MB_EDATA, ...)`.
 * e may be NULL, then only rc is returned.
 */
enum mb_rc err_set(struct err *e, enum mb_rc rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix the existing message with more context: "ctx: old message". */
void err_prefix(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Reset to MB_OK with an empty message. */
void err_clear(struct err *e);

/* A short lowercase description of rc ("input data unusable"). */
const char *mb_strerror(enum mb_rc rc);

/* The process exit status SPEC.md gives for rc (0 for MB_OK). */
int mb_exit_code(enum mb_rc rc);

#endif
