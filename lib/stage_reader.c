/*
 * stage_reader: the reader thread, and the canonical body it builds for
 * each contact (stage_body, stage.h); see stage_reader.h.
 */
#include "stage_reader.h"

#include <string.h>

#include "csvread.h"
#include "db.h"
#include "json.h"

/* ,"key":"value" for a non-empty value (hot path: no printf). */
static enum mb_rc add_member(struct buf *out, const char *key,
			     size_t key_len, const struct buf *value)
{
	enum mb_rc rc;

	if (!value->len)
		return MB_OK;
	rc = buf_add(out, key, key_len);
	if (rc == MB_OK)
		rc = json_add_string(out, value->data, value->len);
	return rc;
}

#define MEMBER(out, name, value) \
	add_member(out, ",\"" name "\":", sizeof(name) + 3, value)

enum mb_rc stage_body(const struct record *rec, const char *source,
		      struct buf *out)
{
	enum mb_rc rc;

	rc = buf_add(out, "{\"email\":", 9);
	if (rc == MB_OK)
		rc = json_add_string(out, rec->email.data, rec->email.len);
	if (rc == MB_OK)
		rc = MEMBER(out, "external_id", &rec->external_id);
	if (rc == MB_OK)
		rc = MEMBER(out, "first_name", &rec->first_name);
	if (rc == MB_OK)
		rc = MEMBER(out, "last_name", &rec->last_name);
	if (rc == MB_OK)
		rc = MEMBER(out, "display_name", &rec->display_name);
	if (rc == MB_OK)
		rc = buf_add(out, ",\"source\":\"", 11);
	if (rc == MB_OK)
		rc = buf_addstr(out, source);
	if (rc == MB_OK)
		rc = buf_addch(out, '"');
	if (rc == MB_OK && rec->custom.len > 2) {
		rc = buf_add(out, ",\"custom_fields\":", 17);
		if (rc == MB_OK)
			rc = buf_add(out, rec->custom.data, rec->custom.len);
	}
	if (rc == MB_OK && rec->tags.len > 2) {
		rc = buf_add(out, ",\"tag_names\":", 13);
		if (rc == MB_OK)
			rc = buf_add(out, rec->tags.data, rec->tags.len);
	}
	if (rc == MB_OK)
		rc = buf_addch(out, '}');
	return rc;
}

/* ---- the reader thread ------------------------------------------------- */

static enum mb_rc arena_add(struct batch *b, const char *s, size_t n,
			    size_t *off)
{
	size_t at_off = b->arena.len;
	enum mb_rc rc = buf_add(&b->arena, s, n);

	if (rc == MB_OK)
		rc = buf_addch(&b->arena, '\0');
	if (rc == MB_OK)
		*off = at_off;
	return rc;
}

static enum mb_rc add_staged(struct reader *rd, unsigned long line,
			     struct err *e)
{
	const struct record *rec = &rd->rec;
	struct staged *r = &rd->cur->rows[rd->cur->n];
	struct batch *b = rd->cur;
	enum mb_rc rc = MB_OK;
	size_t body_off = b->arena.len;

	memset(r, 0, sizeof(*r));
	r->line = line;
	r->reject = rec->reject;
	r->suppress = rec->suppress;
	r->unconfirmed = rec->unconfirmed;
	r->has_tags = rec->tags.len > 2;
	if (rec->email.len) {
		rc = arena_add(b, rec->email.data, rec->email.len, &r->email);
		r->email_len = rec->email.len;
	}
	if (rc == MB_OK && rec->reject && rec->reject_detail.len)
		rc = arena_add(b, rec->reject_detail.data,
			       rec->reject_detail.len, &r->detail);
	if (rc == MB_OK && !rec->reject && rec->external_id.len) {
		rc = arena_add(b, rec->external_id.data, rec->external_id.len,
			       &r->ext);
		r->ext_len = rec->external_id.len;
	}
	if (rc == MB_OK && !rec->reject) {
		body_off = b->arena.len;
		rc = stage_body(rec, rd->opts->source, &b->arena);
		if (rc == MB_OK && rd->hash)
			r->hash = db_body_hash(b->arena.data + body_off,
					       b->arena.len - body_off);
		r->body_len = b->arena.len - body_off;
		if (rc == MB_OK)
			rc = buf_addch(&b->arena, '\0');
		r->body = body_off;
	}
	if (rc != MB_OK)
		return err_set(e, rc, "'%s' line %lu: contact too large",
			       rd->path, line);
	if (++b->n == STAGE_BATCH) {
		stage_queue_put_full(rd->q, b);
		rd->cur = stage_queue_take_free(rd->q);
		if (!rd->cur)
			return err_set(e, MB_ESTOPPED, "staging stopped");
	}
	return MB_OK;
}

static enum mb_rc on_row(void *ctx, const struct csv_row *row, struct err *e)
{
	struct reader *rd = ctx;
	enum mb_rc rc;

	if (!rd->have_header) {
		if (row->error)
			return err_set(e, MB_EDATA, "'%s' line %lu: cannot read"
				       " the header row: %s", rd->path,
				       row->line, row->error);
		rd->have_header = 1;
		return mapping_build(&rd->map, &rd->opts->map, rd->path, row,
				     e);
	}
	rd->rows_read++;
	rd->last_line = row->line;
	rc = mapping_apply(&rd->map, row, &rd->rec, e);
	if (rc == MB_OK)
		rc = add_staged(rd, row->line, e);
	return rc;
}

void *stage_reader_main(void *arg)
{
	struct reader *rd = arg;
	struct csvread_opts copts = CSVREAD_OPTS_INIT;

	copts.delimiter = rd->opts->delimiter;
	rd->src.stop = rd->opts->stop;
	rd->src.encoding = rd->opts->encoding;
	rd->cur = stage_queue_take_free(rd->q);
	if (!rd->cur) {
		rd->rc = MB_ESTOPPED;
	} else if (rd->member) {
		rd->rc = source_open_member(&rd->src, rd->path, rd->member,
					    &rd->err);
	} else {
		rd->rc = source_open_fd(&rd->src, rd->path, rd->fd, &rd->err);
		rd->fd = -1;
	}
	if (rd->rc == MB_OK)
		rd->rc = csvread_run(&rd->src, &copts, on_row, rd,
				     &rd->delimiter, &rd->err);
	if (rd->rc == MB_OK && !rd->have_header)
		rd->rc = err_set(&rd->err, MB_EDATA, "'%s' is empty: no header"
				 " row", rd->path);
	/* Stopped: the file is rolled back, no need to read it to its end. */
	if (rd->src.in && rd->rc != MB_ESTOPPED) {
		struct err fp_err = ERR_INIT;

		rd->have_fingerprint = source_fingerprint(&rd->src, &rd->size,
			rd->sha256, &fp_err) == MB_OK;
	}
	if (rd->cur && rd->cur->n)
		stage_queue_put_full(rd->q, rd->cur);
	else if (rd->cur)
		stage_queue_give_back(rd->q, rd->cur);
	rd->cur = NULL;
	stage_queue_set(rd->q, &rd->q->reader_done);
	return NULL;
}
