/*
 * typing: one custom-field cell to one JSON value.
 *
 * Meisa's custom_fields hold strings, numbers, booleans and ISO 8601 strings.
 * A cell becomes:
 *
 *   - a JSON number when it is a canonical integer ("0", "-12"; no leading
 *     zero or plus sign; fits int64) or a canonical decimal ("-12.5",
 *     "0.25"; not ".5", "1.", "1e5" or "01.5"; at most 15 significant
 *     digits, so that a double holds it exactly), written as it is;
 *   - true or false for "true"/"false" in any case;
 *   - an ISO 8601 string for the providers' date formats:
 *       "YYYY-MM-DD HH:MM[:SS[.fff]]" (Mailchimp, MailerLite; UTC assumed)
 *           -> "YYYY-MM-DDTHH:MM:SS[.fff]Z"
 *       the same followed by " UTC", " GMT", "Z" or an offset ("+02",
 *       "+0200", "+02:00", with or without a space: database dumps)
 *           -> "...Z" or "...+02:00"
 *       with TYPING_ZONE_AS_GIVEN, a time without a zone stays without
 *           one: "YYYY-MM-DDTHH:MM:SS[.fff]" (consent evidence, where the
 *           provider does not say its times are UTC)
 *       with TYPING_DMY_DATES only (Brevo; "01-02-2024" is ambiguous
 *       elsewhere): "DD-MM-YYYY" -> "YYYY-MM-DD" and
 *       "DD-MM-YYYY HH:MM[:SS]" -> "YYYY-MM-DDTHH:MM:SSZ"
 *     A date whose calendar or clock is impossible (month 13, 31 April,
 *     29 February 2023, 24:00) is left as the string it was.  A value that
 *     is ISO 8601 already is a string that needs no change;
 *   - a JSON string otherwise ("02134", "+33 6 12 34 56 78", "1e5").
 *
 * This runs for every cell of every row: it is a single pass over the
 * bytes with no allocation beyond the output buffer.
 */
#ifndef MB_TYPING_H
#define MB_TYPING_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

#define TYPING_DMY_DATES 1u      /* read DD-MM-YYYY dates (Brevo) */
#define TYPING_ZONE_AS_GIVEN 2u  /* a time without a zone stays without
				    one ("...T10:54:27"): no UTC assumed */

/* Longest ISO 8601 text typing_date() writes, plus the NUL. */
#define TYPING_ISO_MAX 48

/*
 * Append p[0..n) as a JSON value to out.  The cell must be trimmed,
 * non-empty and valid UTF-8 (the mapping checks all three).  MB_ETOOBIG when
 * out's cap is reached (out unchanged).
 */
enum mb_rc typing_add_value(struct buf *out, const char *p, size_t n,
			    unsigned flags);

/* 1 when p[0..n) is a canonical integer that fits int64. */
int typing_is_integer(const char *p, size_t n);

/* 1 when p[0..n) is a canonical decimal with a fraction part. */
int typing_is_decimal(const char *p, size_t n);

/* 1 when p[0..n) is "true"/"false" in any case; *value gets which. */
int typing_is_bool(const char *p, size_t n, int *value);

/*
 * Convert a provider date to ISO 8601 into iso (TYPING_ISO_MAX bytes,
 * NUL-terminated).  Returns the length written, or 0 when p[0..n) is not
 * one of the formats above (iso is then unspecified).
 */
size_t typing_date(const char *p, size_t n, unsigned flags, char *iso);

#endif
