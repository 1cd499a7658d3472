/*
 * transcode: another encoding to UTF-8 with glibc's iconv(3); see
 * transcode.h.
 */
#include "transcode.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* Not UTF-8 anywhere: marks what the input encoding does not define. */
#define INVALID_MARK '\xff'

/*
 * How far to step past an invalid sequence: one code unit, so that UTF-16
 * and UTF-32 stay aligned (stepping one byte would garble the rest).
 */
static size_t unit_of(const char *name)
{
	char up[64];
	size_t i;

	for (i = 0; name[i] && i + 1 < sizeof(up); i++)
		up[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ?
			       name[i] - 32 : name[i]);
	up[i] = '\0';
	if (strstr(up, "32") || strstr(up, "UCS-4") || strstr(up, "UCS4"))
		return 4;
	if (strstr(up, "16") || strstr(up, "UCS-2") || strstr(up, "UCS2") ||
	    strstr(up, "UNICODE"))
		return 2;
	return 1;
}

int transcode_is_utf8(const char *name)
{
	return !strcasecmp(name, "UTF-8") || !strcasecmp(name, "UTF8");
}

enum mb_rc transcode_open(struct transcode *t, const char *name,
			  struct err *e)
{
	iconv_t cd;

	transcode_close(t);
	cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1)
		return err_set(e, MB_EUSAGE, "unknown encoding '%s' (iconv -l"
			       " lists the names iconv knows)", name);
	t->cd = cd;
	t->unit = unit_of(name);
	return MB_OK;
}

/* Write the mark for the sequence at *in and step one code unit past it. */
static void skip_invalid(struct transcode *t, const char **in,
			 size_t *in_len, char **out, size_t *out_left)
{
	size_t skip = t->unit < *in_len ? t->unit : *in_len;

	**out = INVALID_MARK;
	(*out)++;
	(*out_left)--;
	*in += skip;
	*in_len -= skip;
}

void transcode_run(struct transcode *t, const char **in, size_t *in_len,
		   char **out, size_t *out_left, int at_end)
{
	char *p;
	size_t r;

	while (*in_len && *out_left) {
		/* iconv(3) takes char **, though it never writes the input. */
		p = (char *)(uintptr_t)*in;
		r = iconv((iconv_t)t->cd, &p, in_len, out, out_left);
		*in = p;
		if (r != (size_t)-1 || errno == E2BIG)
			return;
		if (errno == EINVAL && !at_end)
			return;          /* incomplete: the rest comes next */
		skip_invalid(t, in, in_len, out, out_left);
	}
}

void transcode_close(struct transcode *t)
{
	if (t->cd)
		iconv_close((iconv_t)t->cd);
	t->cd = NULL;
	t->unit = 0;
}
