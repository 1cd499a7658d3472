/*
 * stage_inputs: the files stage reads, and the CSV members of zips; see
 * stage_inputs.h.
 */
#include "stage_inputs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "sha256.h"
#include "xalloc.h"

void stage_warn(const struct stage_opts *opts, int refused,
		const char *msg)
{
	if (opts->warn)
		opts->warn(opts->warn_ctx, refused, msg);
}

int stage_input_is_stdin(const char *path)
{
	return !strcmp(path, "-");
}

/*
 * Every input is opened once, here, before anything is staged (exit 66
 * early), and that descriptor is what is read: a FIFO opened twice lost its
 * writer (SIGPIPE at the first close) and then blocked the second open.
 */
enum mb_rc stage_input_open(const char *path, int *fd_out, struct err *e)
{
	struct stat st;
	int fd;

	/* "-" is standard input: a copy, so that closing it is ours. */
	if (stage_input_is_stdin(path))
		fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0);
	else
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && stage_input_is_stdin(path))
		return err_set(e, MB_ENOINPUT, "cannot read standard input: %s",
			       strerror(errno));
	if (fd < 0)
		return err_set(e, MB_ENOINPUT, "cannot open '%s': %s", path,
			       strerror(errno));
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return err_set(e, MB_ENOINPUT, "cannot open '%s': %s", path,
			       strerror(EISDIR));
	}
	*fd_out = fd;
	return MB_OK;
}

/*
 * Hash a whole regular file up front (pread: the reader still starts at
 * its first byte).  Only used when an earlier input has the same size:
 * otherwise the reader hashes the bytes as it parses them.
 */
enum mb_rc stage_input_fingerprint(const char *path, int fd,
				   uint64_t *size, char sha256[65],
				   struct err *e)
{
	static char block[1 << 16];
	struct sha256 sha;
	unsigned char digest[32];
	ssize_t n;

	sha256_init(&sha);
	*size = 0;
	while ((n = pread(fd, block, sizeof(block), (off_t)*size)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_set(e, MB_EIO, "cannot read '%s': %s",
				       path, strerror(errno));
		sha256_update(&sha, block, (size_t)n);
		*size += (uint64_t)n;
	}
	sha256_final(&sha, digest);
	sha256_hex(digest, sha256);
	return MB_OK;
}

/* ---- inputs: files, and the CSV members of zips ----------------------- */

static void add_input(struct inputs *in, const char *path, int fd,
		      char *name, struct zipped *zip, size_t member)
{
	struct input *v;

	in->v = xrealloc(in->v, (in->n + 1) * sizeof(*in->v));
	v = &in->v[in->n++];
	v->path = path;
	v->fd = fd;
	v->name = name;
	v->zip = zip;
	v->member = member;
	v->pipe_alone = 0;
}

static void refuse(const struct stage_opts *opts, struct inputs *in,
		   struct stage_counts *counts, const char *msg)
{
	stage_warn(opts, 1, msg);
	counts->files_failed++;
	in->refused++;
}

/* Say once which members are skipped, so nothing vanishes silently. */
static void warn_ignored(const struct stage_opts *opts,
			 const struct archive *a)
{
	struct buf list = BUF_INIT, msg = BUF_INIT;
	size_t n;

	n = archive_list(a, ARCHIVE_KIND(ARCHIVE_OTHER) |
			 ARCHIVE_KIND(ARCHIVE_DIR), 10, &list);
	if (n) {
		buf_printf(&msg, "'%s': ignored %zu member%s that %s not CSV:"
			   " %s", a->path, n, n == 1 ? "" : "s",
			   n == 1 ? "is" : "are", buf_str(&list));
		stage_warn(opts, 0, buf_str(&msg));
	}
	buf_release(&list);
	buf_release(&msg);
}

/* A zip: each CSV member is an input; the rest is refused or ignored. */
static enum mb_rc add_zip(const struct stage_opts *opts, struct inputs *in,
			  const char *path, int fd,
			  struct stage_counts *counts, struct err *e)
{
	struct zipped *z = xcalloc(1, sizeof(*z));
	struct err zerr = ERR_INIT;
	struct buf name = BUF_INIT;
	enum mb_rc rc;
	size_t i;

	rc = archive_open_fd(&z->arc, path, fd, &zerr);
	if (rc != MB_OK) {
		free(z);
		if (rc != MB_EDATA) {
			*e = zerr;
			return rc;
		}
		refuse(opts, in, counts, zerr.msg);
		return MB_OK;
	}
	in->zips = xrealloc(in->zips, (in->nzips + 1) * sizeof(*in->zips));
	in->zips[in->nzips++] = z;
	warn_ignored(opts, &z->arc);
	for (i = 0; i < z->arc.nmembers; i++) {
		enum archive_kind kind = z->arc.members[i].kind;

		if (kind != ARCHIVE_CSV && kind != ARCHIVE_ZIP)
			continue;
		archive_display_name(&z->arc, i, &name);
		if (kind == ARCHIVE_CSV) {
			add_input(in, path, -1, buf_detach(&name, NULL), z,
				  i);
			continue;
		}
		err_set(&zerr, MB_EDATA, "'%s' is a zip archive inside a zip"
			" archive: unzip the outer one and stage the files"
			" inside", buf_str(&name));
		refuse(opts, in, counts, zerr.msg);
	}
	buf_release(&name);
	return MB_OK;
}

static int is_regular(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * Every path as inputs, from fds[i] (open on paths[i]; taken: each is
 * handed to an input or closed), zips detected by their first bytes (never
 * by name) and opened now: a zip that cannot be staged at all is refused
 * before anything is written, as a file that cannot be opened is.
 */
enum mb_rc stage_inputs_list(const struct stage_opts *opts,
			      const char *const *paths, int *fds,
			      size_t npaths, struct inputs *in,
			      struct stage_counts *counts, struct err *e)
{
	enum mb_rc rc = MB_OK;
	int is_zip = 0;
	size_t i;

	for (i = 0; i < npaths && rc == MB_OK; i++) {
		int is_stdin = stage_input_is_stdin(paths[i]);

		rc = archive_is_zip_fd(fds[i], paths[i], &is_zip, e);
		if (rc == MB_OK && is_zip && is_stdin)
			refuse(opts, in, counts, "'stdin' is a zip archive, "
			       "which cannot be read from standard input: give"
			       " its path instead of '-'");
		else if (rc == MB_OK && is_zip)
			rc = add_zip(opts, in, paths[i], fds[i], counts, e);
		if (rc == MB_OK && !is_zip) {
			add_input(in, paths[i], fds[i],
				  xstrdup(is_stdin ? "stdin" : paths[i]),
				  NULL, 0);
			in->v[in->n - 1].pipe_alone = npaths == 1 &&
				!is_regular(fds[i]);
			fds[i] = -1;
		}
	}
	return rc;
}

void stage_inputs_release(struct inputs *in)
{
	size_t i;

	for (i = 0; i < in->n; i++) {
		free(in->v[i].name);
		if (in->v[i].fd >= 0)
			close(in->v[i].fd);
	}
	for (i = 0; i < in->nzips; i++) {
		archive_release(&in->zips[i]->arc);
		free(in->zips[i]);
	}
	free(in->v);
	free(in->zips);
	memset(in, 0, sizeof(*in));
}
