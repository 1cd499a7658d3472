/*
 * metrics: the status of a staging file as a Prometheus textfile, for
 * node_exporter's textfile collector (--metrics-file).
 *
 * The values are read from the status object (status.h, `status --json`),
 * so the file can never say something status does not:
 *
 *   struct buf text = BUF_INIT;
 *   rc = status_json(db, &json, &e);
 *   rc = metrics_format(json.data, NULL, &text, &e);   (or &live mid-push)
 *   rc = metrics_write("/var/lib/node_exporter/meisa.prom", &text, &e);
 *
 * The format is the text exposition format 0.0.4: a HELP and a TYPE line
 * per metric, then its samples, each with a db label (the staging file's
 * path, escaped as the format says: backslash, double quote, newline).  A
 * value status does not have (no run yet, a run still going) is left out,
 * its HELP and TYPE kept.
 *
 * Errors: MB_EPROTO when status_json is not a status object, MB_EIO when
 * the file cannot be written (the message names it), MB_EINTERNAL when
 * SQLite cannot be opened to read the JSON.  Arguments are borrowed.
 */
#ifndef MB_METRICS_H
#define MB_METRICS_H

#include <stdint.h>

#include "buf.h"
#include "err.h"

/*
 * A push still running: its own counts, which status learns only at the
 * end (last_run.summary.push).
 */
struct metrics_live {
	uint64_t retries, throttled;
};

/*
 * The exposition text for the status object status_json into out
 * (replacing it).  live: NULL at the end of a run (every value from
 * status_json), else the running push's counts, and then the last run's
 * exit status and end are left out (meisa_bulk_running is 1).
 */
MB_MUST_USE enum mb_rc metrics_format(const char *status_json,
				      const struct metrics_live *live,
				      struct buf *out, struct err *e);

/*
 * text into path atomically: a temporary file in path's directory (named
 * with a leading dot and without the .prom suffix, so the collector never
 * reads it half written), mode 0644, flushed to disk, then renamed over
 * path.  On failure path is untouched and the temporary file removed.
 */
MB_MUST_USE enum mb_rc metrics_write(const char *path, const struct buf *text,
				     struct err *e);

#endif
