/*
 * transcode: bytes of another encoding to UTF-8 with iconv(3), a block at a
 * time, for source (an Excel "Unicode Text" export, a Windows CSV).
 *
 *   struct transcode t = TRANSCODE_INIT;
 *   rc = transcode_open(&t, "UTF-16LE", &e);
 *   transcode_run(&t, &in, &in_len, &out, &out_left, at_end);   (repeat)
 *   transcode_close(&t);            (safe on TRANSCODE_INIT and twice)
 *
 * A sequence the encoding does not define (a lone UTF-16 surrogate, a byte
 * shift_jis has no character for) becomes one 0xFF byte in the output: 0xFF
 * is never UTF-8, so the row that holds it is rejected as invalid_utf8 with
 * its line, and the rest of the file is read (neither refused nor silently
 * "repaired").  Line feeds stay line feeds, so physical line numbers are
 * those of the original file.
 */
#ifndef MB_TRANSCODE_H
#define MB_TRANSCODE_H

#include <stddef.h>

#include "err.h"

struct transcode {
	void *cd;                /* iconv_t; NULL when closed */
	size_t unit;             /* bytes skipped past an invalid sequence */
};

#define TRANSCODE_INIT { NULL, 0 }

/*
 * Convert from charset name (any name iconv knows: "windows-1252",
 * "UTF-16LE", "shift_jis") to UTF-8.  MB_EUSAGE when iconv does not know
 * it, with a message naming it.
 */
enum mb_rc transcode_open(struct transcode *t, const char *name,
			  struct err *e);

/*
 * Convert from *in (*in_len bytes) into *out (*out_left bytes free),
 * advancing all four.  Stops when the input is used up or the output is
 * full.  An incomplete sequence at the end of the input stays in *in for
 * the next call, unless at_end: then it is invalid (0xFF, see above).
 */
void transcode_run(struct transcode *t, const char **in, size_t *in_len,
		   char **out, size_t *out_left, int at_end);

void transcode_close(struct transcode *t);

/* 1 when name is UTF-8 under one of its spellings (utf8, UTF-8). */
int transcode_is_utf8(const char *name);

#endif
