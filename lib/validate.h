/*
 * validate: checks on single cells: email addresses and UTF-8.
 *
 * The email check accepts what real providers accept and rejects what they
 * reject (see the table tests in tests/unit/test_validate.c and the isemail
 * conformance run).  It is not an RFC 5322 parser: quoted local parts,
 * comments, folding white space inside the address and address literals
 * are refused, as the sign-up forms and importers of mail providers refuse
 * them: an address like "john doe"@x.com or john@[1.2.3.4] in an export is
 * a typo or junk, and mailing it would only bounce.
 *
 * What is accepted, after trimming and unwrapping (see validate_email):
 *   local part  RFC 5322 atext (A-Z a-z 0-9 and !#$%&'*+/=?^_`{|}~-),
 *               dots between atoms (no leading, trailing or consecutive
 *               dot), and non-ASCII UTF-8 (so ömil@example.com passes, as
 *               in Substack exports), checked again after NFC (U+037E is
 *               ';' then); refused: spaces, format characters (ZWJ and
 *               ZWNJ too), private use, noncharacters, a combining mark
 *               first.  No limit of its own: over RFC 5321's 64 octets is
 *               accepted, as python-email-validator and most MTAs do;
 *   domain      UTS-46 mapped (libidn2, non-transitional), then checked
 *               in its A-label form: at least two dot-separated labels of
 *               A-Z a-z 0-9 '-', each 1..63 octets, not starting or ending
 *               with '-', no "--" in positions 3-4 except xn--; an A-label
 *               must decode to a valid IDNA2008 U-label that encodes back
 *               to it (not xn--0); at most 253 octets; the last label
 *               (TLD) ends with a letter and is not a special-use name
 *               (arpa, invalid, local, localhost, onion, test).  So a
 *               full-width dot or hyphen counts as the ASCII one;
 *   whole       at most 254 octets, the domain counted as A-labels.
 *
 * Measured against python-email-validator's syntax cases (default
 * options, display-name forms aside): 134 of 136 agree; the two others
 * are white space around the address, which meisa-bulk trims from a
 * cell (tests/unit/test_address_suites.c lists every disagreement with
 * it, validator.js and Apache Commons Validator as a decision).
 *
 * Normalised for identity, so that one mailbox is one contact however it
 * is spelt: the local part to Unicode NFC with its ASCII letters in lower
 * case (other letters are kept as written: providers differ); the domain
 * through IDNA (libidn2, UTS-46 non-transitional processing: full case
 * folding, NFC, A-labels decoded) and stored as its U-labels.  So
 * user@exämple.com in NFC or NFD, USER@EXÄMPLE.COM and
 * user@xn--exmple-cua.com are all user@exämple.com (NFC).  The Unicode
 * form is what is staged, sent to Meisa and exported: the address Meisa
 * shows is the one the user knows.  All-ASCII addresses without an xn--
 * label (nearly every row) are only lower-cased.
 */
#ifndef MB_VALIDATE_H
#define MB_VALIDATE_H

#include <stddef.h>

#include "buf.h"

/*
 * 1 when p[0..n) is well-formed UTF-8 without NUL bytes, else 0.  Refuses
 * overlong forms, surrogates (U+D800..U+DFFF), code points past U+10FFFF
 * and truncated sequences.  Runs at memory speed on ASCII text.
 */
int validate_utf8(const char *p, size_t n);

/*
 * Normalise and check one email cell: trim white space (space, tab, CR, LF),
 * take the address out of "Jane Doe <jane@x.com>", "\"Doe, Jane\"
 * <jane@x.com>" or "<jane@x.com>", normalise it (above: one function, also
 * behind the staging file's mb_email() SQL function, which matches Meisa's
 * unsubscribed list).  On success the address is written to out
 * (replacing its contents) and NULL is returned; otherwise a static,
 * lowercase reason is returned and out is unchanged.  The reasons:
 *
 *   the cell as a whole:  "empty address", "several addresses",
 *                         "unmatched angle bracket",
 *                         "unmatched quote in display name",
 *                         "address too long"
 *   stray characters:     "space in address", "control character in
 *                         address", "invisible character in address",
 *                         "replacement character in address",
 *                         "invalid utf-8 in address"
 *   refused syntax:       "quoted local part not accepted",
 *                         "comment not accepted",
 *                         "address literal not accepted"
 *   the @:                "no @", "several @", "empty local part",
 *                         "empty domain"
 *   the local part:       "leading or trailing dot", "consecutive dots",
 *                         "invalid character in local part",
 *                         "combining mark at start of local part",
 *                         "private-use character in address",
 *                         "noncharacter in address"
 *   the domain:           "leading or trailing dot", "consecutive dots",
 *                         "domain ends with a dot", "domain has no dot",
 *                         "invalid character in domain",
 *                         "domain label too long",
 *                         "domain label starts or ends with '-'",
 *                         "domain label has '--' in third and fourth
 *                         position", "numeric top-level domain",
 *                         "top-level domain ends with a digit",
 *                         "reserved top-level domain"
 *   IDNA (non-ASCII or    "invalid punycode (xn--) label in domain",
 *   xn-- domains):        "character not allowed in a domain name (IDNA)",
 *                         "invalid international domain name (IDNA)",
 *                         and every domain reason above, on the mapped
 *                         form
 *
 * p need not be NUL-terminated and may hold NUL bytes (they are refused).
 */
const char *validate_email(const char *p, size_t n, struct buf *out);

#endif
