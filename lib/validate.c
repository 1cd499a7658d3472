/*
 * validate: the UTF-8 check run on every cell and the email check run on
 * every address.
 *
 * validate_utf8() is utf8.h's check with NUL refused, on the hot path of
 * staging (every cell of every row).  validate_email() runs once per row
 * and favours clear reasons over speed: it checks in the order a person
 * would look at a bad address (wrapping, quoting, stray characters, the @,
 * then each half) so the first problem found is the one reported.
 *
 * Then the address is normalised for identity (normalize_address): an
 * all-ASCII address, nearly every row, is only lower-cased in place; the
 * rest goes through libunistring (NFC of the local part) and libidn2
 * (UTS-46 processing of the domain, then back to its Unicode form).
 */
#include "validate.h"

#include <errno.h>
#include <idn2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include "utf8.h"
#include "xalloc.h"

#define EMAIL_MAX 254 /* RFC 5321 path limit minus the angle brackets */
#define DOMAIN_MAX 253 /* RFC 1035, in A-label form, without the root dot */
#define LABEL_MAX 63

int validate_utf8(const char *p, size_t n)
{
	return utf8_valid(p, n, UTF8_NO_NUL);
}

static int is_trim(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void trim(const unsigned char **s, size_t *n)
{
	while (*n && is_trim((*s)[0])) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_trim((*s)[*n - 1]))
		(*n)--;
}

/*
 * A display name before "<addr>" is taken as free text, as mail clients
 * write it ("Doe, Jane" and Doe, Jane alike), with two limits: a quoted
 * part must be closed, and an unquoted '<' or '>' means the cell holds more
 * than one address ("a <a@x.com>, b <b@y.com>").
 */
static const char *check_display_name(const unsigned char *s, size_t n)
{
	int quoted = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (quoted && s[i] == '\\' && i + 1 < n)
			i++;
		else if (s[i] == '"')
			quoted = !quoted;
		else if (!quoted && (s[i] == '<' || s[i] == '>'))
			return "several addresses";
	}
	return quoted ? "unmatched quote in display name" : NULL;
}

/*
 * When the cell ends with '>', narrow s/n to what the last '<' and that
 * '>' enclose.  The address itself cannot hold '<', so the last one is its
 * opening bracket whatever the display name contains.
 */
static const char *unwrap_angle(const unsigned char **s, size_t *n)
{
	const unsigned char *lt;
	const char *reason;

	if (!*n || (*s)[*n - 1] != '>')
		return NULL;
	lt = memrchr(*s, '<', *n - 1);
	if (!lt)
		return "unmatched angle bracket";
	reason = check_display_name(*s, (size_t)(lt - *s));
	if (reason)
		return reason;
	*n -= (size_t)(lt - *s) + 2;
	*s = lt + 1;
	trim(s, n);
	return NULL;
}

/*
 * Non-ASCII characters that are valid UTF-8 but never part of a real
 * address: they come from copy and paste (no-break spaces, zero-width
 * spaces, a BOM glued to the first cell) or from a file decoded with the
 * wrong charset (U+FFFD).  Mail to such an address cannot arrive, so it is
 * refused with a reason that names the culprit.
 */
static const char *check_unicode(uint32_t cp)
{
	if (cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
	    (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
	    cp == 0x202f || cp == 0x205f || cp == 0x3000)
		return "space in address";
	if (cp <= 0x9f)
		return "control character in address";
	if (cp == 0xad || (cp >= 0x200b && cp <= 0x200f) ||
	    (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x206f) ||
	    cp == 0xfeff)
		return "invisible character in address";
	if (cp == 0xfffd)
		return "replacement character in address";
	return NULL;
}

static uint32_t utf8_decode(const unsigned char *s, size_t len)
{
	uint32_t cp = s[0] & (0x7f >> len);
	size_t i;

	for (i = 1; i < len; i++)
		cp = (cp << 6) | (s[i] & 0x3f);
	return cp;
}

/*
 * One pass over the whole address for what is wrong wherever it appears:
 * white space, controls, comments, odd Unicode, and the number of '@'.
 * On success *at is the position of the one '@'.
 */
static const char *scan_address(const unsigned char *s, size_t n,
				size_t *at)
{
	const char *reason;
	size_t i, len, ats = 0;

	for (i = 0; i < n; i += len) {
		len = 1;
		if (s[i] == ' ' || s[i] == '\t')
			return "space in address";
		if (s[i] < 0x20 || s[i] == 0x7f)
			return "control character in address";
		if (s[i] == '(' || s[i] == ')')
			return "comment not accepted";
		if (s[i] == '<' || s[i] == '>')
			return "unmatched angle bracket";
		if (s[i] == '@') {
			*at = i;
			ats++;
		}
		if (s[i] < 0x80)
			continue;
		len = utf8_char_len((const char *)s + i, n - i);
		if (!len)
			return "invalid utf-8 in address";
		reason = check_unicode(utf8_decode(s + i, len));
		if (reason)
			return reason;
	}
	if (!ats)
		return "no @";
	return ats > 1 ? "several @" : NULL;
}

static int is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c >= 0x80)
		return 1;
	return c && strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL;
}

static const char *check_local(const unsigned char *s, size_t n)
{
	size_t i;

	if (s[0] == '.' || s[n - 1] == '.')
		return "leading or trailing dot";
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i - 1] == '.')
				return "consecutive dots";
		} else if (!is_atext(s[i])) {
			return "invalid character in local part";
		}
	}
	return NULL;
}

static int is_label_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c >= 0x80;
}

/* An IDNA A-label: "xn--" in any case (libidn2 checks what follows). */
static int is_a_label(const unsigned char *s, size_t n)
{
	return n >= 4 && (s[0] | 0x20) == 'x' && (s[1] | 0x20) == 'n' &&
	       s[2] == '-' && s[3] == '-';
}

static const char *check_label(const unsigned char *s, size_t n)
{
	if (n > LABEL_MAX)
		return "domain label too long";
	if (s[0] == '-' || s[n - 1] == '-')
		return "domain label starts or ends with '-'";
	/* RFC 5891 4.2.3.1: "??--" is kept for IDNA prefixes such as xn--. */
	if (n >= 4 && s[2] == '-' && s[3] == '-' && !is_a_label(s, n))
		return "domain label has '--' in third and fourth position";
	return NULL;
}

/* The top-level domain must not look like the last byte of an IPv4. */
static int all_digits(const unsigned char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/*
 * Special-use names (RFC 6761, RFC 7686 for onion, and arpa): no mail is
 * delivered to them on the Internet, so a row with one is a test or junk.
 */
static int is_reserved_tld(const unsigned char *s, size_t n)
{
	static const char *const tlds[] = {
		"arpa", "invalid", "local", "localhost", "onion", "test",
	};
	size_t i;

	for (i = 0; i < sizeof(tlds) / sizeof(tlds[0]); i++)
		if (strlen(tlds[i]) == n &&
		    !strncasecmp((const char *)s, tlds[i], n))
			return 1;
	return 0;
}

/*
 * Every delegated top-level domain, A-labels included, ends with a letter
 * (python-email-validator's rule): "tld-2" is no TLD, "co-uk" may be one.
 * Non-ASCII ends are checked again in A-label form.
 */
static const char *check_tld(const unsigned char *s, size_t n)
{
	if (all_digits(s, n))
		return "numeric top-level domain";
	if (s[n - 1] >= '0' && s[n - 1] <= '9')
		return "top-level domain ends with a digit";
	if (is_reserved_tld(s, n))
		return "reserved top-level domain";
	return NULL;
}

static const char *check_domain(const unsigned char *s, size_t n)
{
	const char *reason;
	size_t i, label = 0;

	if (s[0] == '.')
		return "leading or trailing dot";
	if (s[n - 1] == '.')
		return "domain ends with a dot";
	for (i = 0; i < n; i++) {
		if (s[i] != '.') {
			if (!is_label_char(s[i]))
				return "invalid character in domain";
			continue;
		}
		if (i == label)
			return "consecutive dots";
		reason = check_label(s + label, i - label);
		if (reason)
			return reason;
		label = i + 1;
	}
	/* The last label, the top-level domain, has no '.' after it. */
	reason = check_label(s + label, n - label);
	if (reason)
		return reason;
	if (!label)
		return "domain has no dot";
	return check_tld(s + label, n - label);
}

static const char *check_address(const unsigned char *s, size_t n)
{
	const char *reason;
	size_t at = 0;

	if (!n)
		return "empty address";
	if (s[0] == '"')
		return "quoted local part not accepted";
	/* Before the scan, which would blame the literal's spaces or colons. */
	if (memmem(s, n, "@[", 2))
		return "address literal not accepted";
	reason = scan_address(s, n, &at);
	if (reason)
		return reason;
	if (at == 0)
		return "empty local part";
	if (at == n - 1)
		return "empty domain";
	reason = check_local(s, at);
	if (reason)
		return reason;
	if (n > EMAIL_MAX)
		return "address too long";
	return check_domain(s + at + 1, n - at - 1);
}

/* ---- normalisation for identity ---------------------------------------- */

/* No NUL and no byte past 0x7f (an address is at most 254 bytes). */
static int is_ascii(const unsigned char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!s[i] || s[i] >= 0x80)
			return 0;
	return 1;
}

static void lower_ascii(char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] >= 'A' && p[i] <= 'Z')
			p[i] += 'a' - 'A';
}

/* A label of domain d[0..n) is an IDNA A-label ("xn--", any case). */
static int has_a_label(const unsigned char *d, size_t n)
{
	size_t i;

	for (i = 0; i + 4 <= n; i++)
		if ((i == 0 || d[i - 1] == '.') &&
		    (d[i] | 0x20) == 'x' && (d[i + 1] | 0x20) == 'n' &&
		    d[i + 2] == '-' && d[i + 3] == '-')
			return 1;
	return 0;
}

/* libidn2's verdict on a domain, as a reason in this module's words. */
static const char *idna_reason(int rc)
{
	switch (rc) {
	case IDN2_MALLOC:
		abort();         /* out of memory: see xalloc.h */
	case IDN2_PUNYCODE_BIG_OUTPUT:   /* the A-label would pass 63 */
		return "domain label too long";
	case IDN2_PUNYCODE_BAD_INPUT:
	case IDN2_PUNYCODE_OVERFLOW:
		return "invalid punycode (xn--) label in domain";
	case IDN2_TOO_BIG_DOMAIN:
		return "address too long";
	case IDN2_TOO_BIG_LABEL:
		return "domain label too long";
	case IDN2_HYPHEN_STARTEND:
		return "domain label starts or ends with '-'";
	case IDN2_2HYPHEN:
		return "domain label has '--' in third and fourth position";
	case IDN2_DISALLOWED:
	case IDN2_UNASSIGNED:
	case IDN2_CONTEXTJ:
	case IDN2_CONTEXTO:
	case IDN2_CONTEXTO_NO_RULE:
	case IDN2_BIDI:
	case IDN2_LEADING_COMBINING:
		return "character not allowed in a domain name (IDNA)";
	default:
		return "invalid international domain name (IDNA)";
	}
}

/*
 * What a local part in NFC cannot carry to a mailbox: a combining mark
 * first (it has nothing to combine with), private-use code points and
 * noncharacters (no meaning between two parties), format characters
 * (invisible), as python-email-validator refuses them.
 */
static const char *check_local_unicode(const uint8_t *s, size_t n)
{
	size_t i;
	int len;
	ucs4_t cp;

	for (i = 0; i < n; i += (size_t)len) {
		len = u8_mbtouc(&cp, s + i, n - i);
		if (i == 0 && uc_is_general_category(cp, UC_CATEGORY_M))
			return "combining mark at start of local part";
		if (uc_is_general_category(cp, UC_CATEGORY_Co))
			return "private-use character in address";
		if (uc_is_property_not_a_character(cp))
			return "noncharacter in address";
		if (uc_is_general_category(cp, UC_CATEGORY_Cf))
			return "invisible character in address";
	}
	return NULL;
}

/*
 * The local part s[0..n) in NFC, ASCII letters lower-cased, onto out.
 * NFC can make ASCII (U+037E GREEK QUESTION MARK is ';'), so the syntax
 * is checked again on its result.
 */
static const char *normalize_local(const unsigned char *s, size_t n,
				   struct buf *out)
{
	size_t at = out->len, len = 0;
	uint8_t *nfc = NULL;
	const char *reason = NULL;

	if (!is_ascii(s, n)) {
		nfc = u8_normalize(UNINORM_NFC, s, n, NULL, &len);
		if (!nfc && errno == ENOMEM)
			abort();  /* out of memory: see xalloc.h */
		if (!nfc)
			return "invalid utf-8 in address";
		reason = check_local_unicode(nfc, len);
		if (!reason)
			reason = check_local(nfc, len);
		s = nfc;
		n = len;
	}
	if (!reason && buf_add(out, s, n) != MB_OK)
		reason = "address too long";
	free(nfc);
	if (!reason)
		lower_ascii(out->data + at, n);
	return reason;
}

/*
 * Not IDN2_USE_STD3_ASCII_RULES: libidn2 2.3 drops what STD3 forbids
 * (U+037E, ';' after NFC, vanishes from "a\u037eb.com"), where the
 * check of the A-label form below refuses it.
 */
#define IDNA_FLAGS (IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT)

/*
 * UTS-46 maps before it checks, so the A-label form is checked again as
 * an ASCII domain: a full-width dot or hyphen (U+FF0E, U+FF0D) becomes a
 * real one and may make an empty label, a leading '-' or "yy--", and NFC
 * makes ';' of U+037E.  An
 * A-label must decode to a valid U-label that encodes back to it
 * ("xn--0" does not).  *ascii_len is the A-label form's length.
 */
static const char *check_idna(const char *ascii, const char *unicode,
			      size_t *ascii_len)
{
	char *again = NULL;
	const char *reason = NULL;
	int rc;

	*ascii_len = strlen(ascii);
	if (!*ascii_len)
		return "empty domain";
	rc = idn2_lookup_u8((const uint8_t *)unicode, (uint8_t **)&again,
			    IDNA_FLAGS);
	if (rc != IDN2_OK)
		reason = idna_reason(rc);
	else if (strcmp(again, ascii))
		reason = "invalid punycode (xn--) label in domain";
	else if (*ascii_len > DOMAIN_MAX)
		reason = "address too long";
	else
		reason = check_domain((const unsigned char *)ascii,
				      *ascii_len);
	idn2_free(again);
	return reason;
}

/*
 * The domain s[0..n) onto out in its one form: through IDNA (UTS-46
 * mapping, non-transitional: case folding and NFC included), which gives
 * the A-label form and refuses what is no domain name, then back to its
 * U-labels (Unicode, NFC, lower case), the form the user knows.
 */
static const char *normalize_domain(const unsigned char *s, size_t n,
				    struct buf *out, size_t *ascii_len)
{
	char *name = xstrndup((const char *)s, n);
	char *ascii = NULL, *unicode = NULL;
	const char *reason = NULL;
	int rc;

	rc = idn2_lookup_u8((const uint8_t *)name, (uint8_t **)&ascii,
			    IDNA_FLAGS);
	if (rc == IDN2_OK)
		rc = idn2_to_unicode_8z8z(ascii, &unicode, 0);
	if (rc != IDN2_OK)
		reason = idna_reason(rc);
	else
		reason = check_idna(ascii, unicode, ascii_len);
	if (!reason && buf_addstr(out, unicode) != MB_OK)
		reason = "address too long";
	free(name);
	idn2_free(ascii);
	idn2_free(unicode);
	return reason;
}

/*
 * The slow path of validate_email: s[0..n) is not all ASCII, or xn--.
 * The length limit holds for the form sent over SMTP: the local part as
 * it is (SMTPUTF8) and the domain as A-labels.
 */
static const char *normalize_unicode(const unsigned char *s, size_t n,
				     size_t at, struct buf *out)
{
	struct buf tmp;
	const char *reason;
	size_t ascii_len = 0, local_len;

	buf_init(&tmp, out->max);
	reason = normalize_local(s, at, &tmp);
	local_len = tmp.len;
	if (!reason && buf_addch(&tmp, '@') != MB_OK)
		reason = "address too long";
	if (!reason)
		reason = normalize_domain(s + at + 1, n - at - 1, &tmp,
					  &ascii_len);
	if (!reason && (tmp.len > EMAIL_MAX ||
			local_len + 1 + ascii_len > EMAIL_MAX))
		reason = "address too long";
	if (!reason)
		buf_set(out, tmp.data, tmp.len);
	buf_release(&tmp);
	return reason;
}

/*
 * The one normalisation of an address for identity (what is staged, sent,
 * exported and matched against Meisa's unsubscribed list).  Checks that
 * only hold for some forms (UTS-46 validity of the local part, more
 * suites) belong here, so every caller gets them.
 */
static const char *normalize_address(const char *p, size_t n,
				     struct buf *out)
{
	const unsigned char *s = (const unsigned char *)p;
	const unsigned char *at = memchr(s, '@', n);

	if (!at)
		return "no @";
	if (!is_ascii(s, n) || has_a_label(at + 1, n - (size_t)(at - s) - 1))
		return normalize_unicode(s, n, (size_t)(at - s), out);
	/* buf_set() empties out before it can fail: check the cap first. */
	if (n > out->max)
		return "address too long";
	buf_set(out, s, n);
	lower_ascii(out->data, n);
	return NULL;
}

const char *validate_email(const char *p, size_t n, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)p;
	const char *reason;

	trim(&s, &n);
	reason = unwrap_angle(&s, &n);
	if (reason)
		return reason;
	reason = check_address(s, n);
	if (reason)
		return reason;
	return normalize_address((const char *)s, n, out);
}
