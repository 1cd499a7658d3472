/*
 * stage_inputs: what stage reads: the files given, opened once each, and
 * the CSV members of the zips among them.  Internal to stage.
 *
 * stage_input_open opens every path before anything is staged ("-" is
 * standard input, an input named "stdin");
 * stage_inputs_list turns the descriptors into inputs (a zip is refused or
 * listed member by member, by its first bytes, never by name);
 * stage_inputs_release frees them.
 */
#ifndef MB_STAGE_INPUTS_H
#define MB_STAGE_INPUTS_H

#include <stddef.h>
#include <stdint.h>

#include "archive.h"
#include "err.h"
#include "stage.h"

/*
 * A zip given as input, with what its members read so far inflated to
 * (source's zip-bomb guard counts the members of one archive together).
 */
struct zipped {
	struct archive arc;
	uint64_t packed;         /* compressed bytes of the members read */
	uint64_t inflated;       /* what they inflated to */
};

/* One input: a file as given, or a CSV member of a zip given. */
struct input {
	const char *path;        /* the file given */
	int fd;                  /* open on it until the reader takes it; -1 */
	char *name;              /* path, "stdin", "ZIP:MEMBER": messages */
	struct zipped *zip;      /* the member's archive, or NULL */
	size_t member;           /* its index in zip->arc.members */
	int pipe_alone;          /* the only input, not a regular file */
};

struct inputs {
	struct input *v;
	size_t n;
	struct zipped **zips;
	size_t nzips;
	size_t refused;          /* zips and members refused while listing */
};

#define STAGE_INPUTS_INIT { NULL, 0, NULL, 0, 0 }

/* Pass msg (borrowed) to opts->warn, if any; refused as in stage_opts. */
void stage_warn(const struct stage_opts *opts, int refused,
		const char *msg);

/* 1 when path is "-": standard input, named "stdin" in messages. */
int stage_input_is_stdin(const char *path);

/*
 * Open path for reading into *fd_out (MB_ENOINPUT, a directory too); "-"
 * gives a copy of standard input's descriptor.
 */
enum mb_rc stage_input_open(const char *path, int *fd_out, struct err *e);

/*
 * The size and SHA-256 (hex) of the whole regular file fd, read with
 * pread (fd's offset is left alone).  MB_EIO on a read error.
 */
enum mb_rc stage_input_fingerprint(const char *path, int fd,
				   uint64_t *size, char sha256[65],
				   struct err *e);

/*
 * Every path as inputs, from fds[i] (open on paths[i]; taken: each is
 * handed to an input or closed by the caller when still >= 0).  A zip that
 * cannot be staged at all is refused (warned, counted in counts and
 * in->refused); only a local failure is an error.
 */
enum mb_rc stage_inputs_list(const struct stage_opts *opts,
			     const char *const *paths, int *fds,
			     size_t npaths, struct inputs *in,
			     struct stage_counts *counts, struct err *e);

/* Free what in holds and close its descriptors; in is left empty. */
void stage_inputs_release(struct inputs *in);

#endif
