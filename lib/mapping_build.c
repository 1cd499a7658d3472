/*
 * mapping_build: the header row -> column roles (mapping_build), and the
 * --map overrides that win over a preset (mapping_parse_override).  The
 * provider knowledge lives in presets.c; mapping.c applies the roles built
 * here to each data row.
 *
 * Decisions worth knowing (mapping.h says the rest):
 *   - Preset tables are searched first, then the synonyms every preset
 *     shares (email, names); a role held by one column (email, external_id,
 *     names) goes to the first column that claims it, later ones become
 *     custom fields.  --map overrides win over both.
 */
#include "mapping.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "mapping_int.h"
#include "presets.h"
#include "typing.h"
#include "validate.h"
#include "xalloc.h"

static int is_single_role(enum field_role role)
{
	return role == FIELD_EMAIL || role == FIELD_EXTERNAL_ID ||
		role == FIELD_FIRST_NAME || role == FIELD_LAST_NAME ||
		role == FIELD_DISPLAY_NAME;
}

static const char *role_name(enum field_role role)
{
	switch (role) {
	case FIELD_IGNORE:       return "ignore";
	case FIELD_EMAIL:        return "email";
	case FIELD_EXTERNAL_ID:  return "external_id";
	case FIELD_FIRST_NAME:   return "first_name";
	case FIELD_LAST_NAME:    return "last_name";
	case FIELD_DISPLAY_NAME: return "display_name";
	case FIELD_TAGS:         return "tags";
	case FIELD_STATUS:       return "status";
	case FIELD_CUSTOM:       return "custom";
	case FIELD_ATTRIBUTES:   return "attributes";
	}
	return "?";
}

/* ---- overrides -------------------------------------------------------- */

static const struct {
	const char *name;
	enum field_role role;
} field_names[] = {
	{ "email", FIELD_EMAIL },
	{ "external_id", FIELD_EXTERNAL_ID },
	{ "first_name", FIELD_FIRST_NAME },
	{ "last_name", FIELD_LAST_NAME },
	{ "display_name", FIELD_DISPLAY_NAME },
	{ "tags", FIELD_TAGS },
	{ "status", FIELD_STATUS },
	{ "ignore", FIELD_IGNORE },
};

#define FIELDS_VALID "email, external_id, first_name, last_name, " \
	"display_name, tags, status, ignore, custom:NAME"

static int custom_name_ok(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || n > 128)
		return 0;
	for (i = 0; i < n; i++) {
		char c = p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

enum mb_rc mapping_parse_override(const char *arg, struct mapping_override *ov,
				  struct err *e)
{
	const char *eq = strrchr(arg, '=');
	const char *col, *field;
	size_t ncol, nfield, i;

	if (!eq)
		return err_set(e, MB_EUSAGE,
			       "--map '%s': expected COLUMN=FIELD", arg);
	col = mapping_trim(arg, (size_t)(eq - arg), &ncol);
	field = mapping_trim(eq + 1, strlen(eq + 1), &nfield);
	if (ncol == 0)
		return err_set(e, MB_EUSAGE,
			       "--map '%s': the column name is empty", arg);
	if (nfield >= 7 && strncasecmp(field, "custom:", 7) == 0) {
		if (nfield == 7)
			return err_set(e, MB_EUSAGE, "--map '%s': name the "
				       "custom field, as in custom:NAME", arg);
		if (!custom_name_ok(field + 7, nfield - 7))
			return err_set(e, MB_EUSAGE, "--map '%s': a "
				       "custom field name is 1 to 128 letters, "
				       "digits or '_'", arg);
		ov->column = xstrndup(col, ncol);
		ov->role = FIELD_CUSTOM;
		ov->custom_key = xstrndup(field + 7, nfield - 7);
		return MB_OK;
	}
	for (i = 0; i < sizeof(field_names) / sizeof(field_names[0]); i++) {
		if (strlen(field_names[i].name) == nfield &&
		    strncasecmp(field, field_names[i].name, nfield) == 0) {
			ov->column = xstrndup(col, ncol);
			ov->role = field_names[i].role;
			ov->custom_key = NULL;
			return MB_OK;
		}
	}
	if (nfield == 6 && strncasecmp(field, "custom", 6) == 0)
		return err_set(e, MB_EUSAGE, "--map '%s': name the custom "
			       "field, as in custom:NAME", arg);
	return err_set(e, MB_EUSAGE, "--map '%s': unknown field '%.*s' "
		       "(valid: " FIELDS_VALID ")", arg, (int)nfield, field);
}

void mapping_override_release(struct mapping_override *ov)
{
	free(ov->column);
	free(ov->custom_key);
	ov->column = NULL;
	ov->custom_key = NULL;
	ov->role = FIELD_IGNORE;
}

/* ---- build ------------------------------------------------------------ */

/* Latin-1 letters (U+00C0..U+00FF, UTF-8 C3 80..C3 BF) in ASCII. */
static const char *const latin1_ascii[64] = {
	"a", "a", "a", "a", "a", "a", "ae", "c",
	"e", "e", "e", "e", "i", "i", "i", "i",
	"d", "n", "o", "o", "o", "o", "o", NULL,
	"o", "u", "u", "u", "u", "y", "th", "ss",
	"a", "a", "a", "a", "a", "a", "ae", "c",
	"e", "e", "e", "e", "i", "i", "i", "i",
	"d", "n", "o", "o", "o", "o", "o", NULL,
	"o", "u", "u", "u", "u", "y", "th", "y",
};

enum mb_rc mapping_snake_key(const char *header, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)header;
	const char *ascii;
	char one[2] = { 0, 0 };
	int gap = 0;
	enum mb_rc rc;

	buf_reset(out);
	for (; *s; s++) {
		ascii = NULL;
		if ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')) {
			one[0] = (char)*s;
			ascii = one;
		} else if (*s >= 'A' && *s <= 'Z') {
			one[0] = (char)(*s - 'A' + 'a');
			ascii = one;
		} else if (*s == 0xC3 && s[1] >= 0x80 && s[1] <= 0xBF) {
			/* Keys stay readable: "Prénom" -> prenom. */
			ascii = latin1_ascii[*++s - 0x80];
		}
		if (!ascii) {
			gap = 1;
			continue;
		}
		if (gap && out->len && (rc = buf_addch(out, '_')) != MB_OK)
			return rc;
		gap = 0;
		if ((rc = buf_addstr(out, ascii)) != MB_OK)
			return rc;
	}
	return buf_add(out, "", 0);
}

const char *const *mapping_presets(void)
{
	return preset_names();
}

void mapping_release(struct mapping *m)
{
	size_t i;

	for (i = 0; i < m->ncolumns; i++) {
		free(m->columns[i].header);
		free(m->columns[i].key);
		free(m->columns[i].json_key);
	}
	free(m->columns);
	for (i = 0; i < m->ntags; i++)
		free(m->tags[i]);
	free(m->tags);
	free(m->order);
	memset(m, 0, sizeof(*m));
}

/* Where each column's role came from, while building. */
enum origin { FROM_NONE, FROM_OVERRIDE, FROM_PRESET };

struct build {
	const struct preset *preset;
	const char *path;
	enum origin *origin;
	char (*loose)[PRESET_LOOSE_MAX];
	const char **key_hint;   /* preset's custom key, or NULL */
	int taken[FIELD_ATTRIBUTES + 1];
};

static const char *display_path(const char *path)
{
	return path ? path : "input";
}

/* "'A', 'B', 'C'" for messages, cut short on wide header rows. */
static void header_list(const struct mapping *m, struct buf *out)
{
	size_t i, shown = 0;

	for (i = 0; i < m->ncolumns; i++) {
		if (!m->columns[i].header[0])
			continue;
		if (out->len > 480) {
			buf_addstr(out, ", ...");
			return;
		}
		buf_printf(out, "%s'%.*s'", shown++ ? ", " : "", 60,
			   m->columns[i].header);
	}
	if (!shown)
		buf_addstr(out, "none");
}

static void set_column(struct mapping_column *c, const struct preset_column *pc)
{
	c->role = pc->role;
	c->rule = pc->rule;
	c->reason = pc->reason;
	c->words = pc->words;
	c->tags_format = pc->tags;
	c->is_mailchimp_tags = pc->tags == TAGS_MAILCHIMP;
}

static enum mb_rc apply_override(struct mapping *m, struct build *b,
				 const struct mapping_override *ov,
				 struct err *e)
{
	struct buf list = BUF_INIT;
	const struct preset_column *pc;
	struct mapping_column *c;
	size_t i;

	for (i = 0; i < m->ncolumns; i++)
		if (strcasecmp(m->columns[i].header, ov->column) == 0)
			break;
	if (i == m->ncolumns) {
		header_list(m, &list);
		err_set(e, MB_EUSAGE, "--map '%s=...': '%s' has no column "
			"'%s' (headers: %s)", ov->column,
			display_path(b->path), ov->column, buf_str(&list));
		buf_release(&list);
		return MB_EUSAGE;
	}
	c = &m->columns[i];
	if (b->origin[i] == FROM_OVERRIDE)
		return err_set(e, MB_EUSAGE, "--map: column '%s' is mapped "
			       "twice", c->header);
	if (is_single_role(ov->role) && b->taken[ov->role])
		return err_set(e, MB_EUSAGE, "--map: two columns are mapped "
			       "to %s, '%s' is one", role_name(ov->role),
			       c->header);
	/* Keep the preset's reading of a column given its own role. */
	pc = preset_column(b->preset, b->loose[i], c->header);
	if (!pc)
		pc = preset_fallback(b->preset, b->loose[i]);
	if (pc && pc->role == ov->role) {
		set_column(c, pc);
	} else {
		c->role = ov->role;
		c->rule = STATUS_VALUE;
		c->tags_format = TAGS_LIST;
	}
	if (ov->role == FIELD_CUSTOM)
		c->key = xstrdup(ov->custom_key);
	b->origin[i] = FROM_OVERRIDE;
	b->taken[ov->role] = 1;
	return MB_OK;
}

/*
 * A custom column from a preset entry: its key, and for consent evidence
 * dates as the provider gives them (UTC only when it says so).
 */
static void custom_column(struct mapping_column *c, struct build *b,
			  size_t i, const struct preset_column *pc)
{
	c->role = FIELD_CUSTOM;
	b->key_hint[i] = pc->key;
	if (pc->role != FIELD_CUSTOM || !(pc->flags & PRESET_COL_CONSENT))
		return;
	c->consent = 1;
	if (!(b->preset->flags & PRESET_UTC_TIMES))
		c->typing_flags |= TYPING_ZONE_AS_GIVEN;
}

/* Preset table first, then the shared synonyms, for each column. */
static void assign_roles(struct mapping *m, struct build *b)
{
	const struct preset_column *pc;
	size_t i;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < m->ncolumns; i++) {
			if (b->origin[i] != FROM_NONE ||
			    !m->columns[i].header[0])
				continue;
			pc = pass == 0 ? preset_column(b->preset, b->loose[i],
						       m->columns[i].header)
				: preset_fallback(b->preset, b->loose[i]);
			if (!pc)
				continue;
			b->origin[i] = FROM_PRESET;
			/* A second column for a one-column role: custom. */
			if (pc->role == FIELD_CUSTOM ||
			    (is_single_role(pc->role) && b->taken[pc->role])) {
				custom_column(&m->columns[i], b, i, pc);
				continue;
			}
			set_column(&m->columns[i], pc);
			b->taken[pc->role] = 1;
		}
	}
	for (i = 0; i < m->ncolumns; i++)
		if (b->origin[i] == FROM_NONE)
			m->columns[i].role = FIELD_CUSTOM;
}

/*
 * A small string map (open addressing, FNV-1a) for custom_keys: the keys
 * given so far, and for each base key the next suffix to try.  Scanning the
 * columns instead made 10,000 columns with one name take hours (cubic).
 */
struct strmap_entry {
	char *key;               /* owned */
	size_t value;
};

struct strmap {
	struct strmap_entry *slots;
	size_t mask;
};

static void strmap_init(struct strmap *sm, size_t expected)
{
	size_t cap = 16;

	while (cap < 2 * expected + 2)
		cap <<= 1;
	sm->slots = xcalloc(cap, sizeof(*sm->slots));
	sm->mask = cap - 1;
}

static void strmap_release(struct strmap *sm)
{
	size_t i;

	for (i = 0; sm->slots && i <= sm->mask; i++)
		free(sm->slots[i].key);
	free(sm->slots);
	sm->slots = NULL;
}

/* The entry for key, or the empty slot where it would go. */
static struct strmap_entry *strmap_slot(const struct strmap *sm,
					const char *key)
{
	uint64_t h = UINT64_C(14695981039346656037);
	const unsigned char *p;
	size_t i;

	for (p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * UINT64_C(1099511628211);
	for (i = (size_t)h & sm->mask; sm->slots[i].key;
	     i = (i + 1) & sm->mask)
		if (strcmp(sm->slots[i].key, key) == 0)
			break;
	return &sm->slots[i];
}

/* Add key (copied) if absent; the entry either way. */
static struct strmap_entry *strmap_put(struct strmap *sm, const char *key)
{
	struct strmap_entry *slot = strmap_slot(sm, key);

	if (!slot->key)
		slot->key = xstrdup(key);
	return slot;
}

static enum mb_rc custom_keys(struct mapping *m, struct build *b,
			      struct err *e)
{
	struct buf key = BUF_INIT, unique = BUF_INIT;
	struct strmap used, next;
	struct mapping_column *c;
	enum mb_rc rc = MB_OK;
	size_t i, n;

	/* Each map holds at most one entry per column. */
	strmap_init(&used, m->ncolumns);
	strmap_init(&next, m->ncolumns);
	/* --map custom:NAME keys were set first: they keep their name. */
	for (i = 0; i < m->ncolumns; i++) {
		if (m->columns[i].key)
			strmap_put(&used, m->columns[i].key);
		/* The preset's name goes there, not a column's value. */
		if (m->columns[i].consent)
			strmap_put(&used, MAPPING_CONSENT_SOURCE);
	}
	for (i = 0; i < m->ncolumns && rc == MB_OK; i++) {
		struct strmap_entry *base;

		c = &m->columns[i];
		/* An attributes column's key names a cell that is no object. */
		if ((c->role != FIELD_CUSTOM && c->role != FIELD_ATTRIBUTES) ||
		    c->key)
			continue;
		buf_reset(&key);
		if (b->key_hint[i])
			rc = buf_addstr(&key, b->key_hint[i]);
		else
			rc = mapping_snake_key(c->header, &key);
		if (rc == MB_OK && key.len == 0)
			rc = buf_printf(&key, "column_%zu", i + 1);
		if (rc != MB_OK)
			break;
		/* Suffixes go on from where this base left off. */
		base = strmap_put(&next, key.data);
		for (n = base->value ? base->value : 1; rc == MB_OK; n++) {
			buf_reset(&unique);
			rc = n == 1 ? buf_set(&unique, key.data, key.len)
				: buf_printf(&unique, "%s_%zu", key.data, n);
			if (rc == MB_OK && !strmap_slot(&used,
							unique.data)->key)
				break;
		}
		if (rc == MB_OK) {
			base->value = n + 1;
			strmap_put(&used, unique.data);
			c->key = buf_detach(&unique, NULL);
		}
	}
	strmap_release(&used);
	strmap_release(&next);
	buf_release(&key);
	buf_release(&unique);
	if (rc != MB_OK)
		return err_set(e, rc, "'%s': header too large",
			       display_path(b->path));
	return MB_OK;
}

static int by_key(const void *a, const void *b)
{
	const struct mapping_column *const *x = a, *const *y = b;

	return strcmp((*x)->key, (*y)->key);
}

/* m->order and each custom column's "key": text. */
static enum mb_rc custom_order(struct mapping *m)
{
	struct mapping_column **sorted;
	struct buf json = BUF_INIT;
	enum mb_rc rc = MB_OK;
	size_t i, n = 0;

	sorted = xcalloc(m->ncolumns + 1, sizeof(*sorted));
	for (i = 0; i < m->ncolumns; i++)
		if (m->columns[i].role == FIELD_CUSTOM)
			sorted[n++] = &m->columns[i];
	qsort(sorted, n, sizeof(*sorted), by_key);
	m->order = xcalloc(n + 1, sizeof(*m->order));
	m->norder = n;
	for (i = 0; i < n && rc == MB_OK; i++) {
		m->order[i] = (size_t)(sorted[i] - m->columns);
		buf_reset(&json);
		if ((rc = json_add_string(&json, sorted[i]->key,
					  strlen(sorted[i]->key))) == MB_OK &&
		    (rc = buf_addch(&json, ':')) == MB_OK)
			sorted[i]->json_key = buf_detach(&json, NULL);
	}
	buf_release(&json);
	free(sorted);
	return rc;
}

/* The header most likely to hold addresses, for the --map hint. */
static const char *email_suggestion(const struct mapping *m,
				    const struct build *b)
{
	static const char *const hints[] = { "email", "mail", "" };
	size_t h, i;

	for (h = 0; h < 3; h++)
		for (i = 0; i < m->ncolumns; i++)
			if (m->columns[i].header[0] &&
			    strstr(b->loose[i], hints[h]))
				return m->columns[i].header;
	return NULL;
}

static enum mb_rc no_email_column(const struct mapping *m,
				  const struct build *b, struct err *e)
{
	struct buf list = BUF_INIT;
	const char *hint = email_suggestion(m, b);
	char quote = hint && strchr(hint, '\'') ? '"' : '\'';

	header_list(m, &list);
	if (hint)
		err_set(e, MB_EDATA, "'%s' has no email column (headers: %s); "
			"tell meisa-bulk which column holds the address with "
			"--map %c%.*s=email%c", display_path(b->path),
			buf_str(&list), quote, MAPPING_MSG_HEADER_MAX, hint,
			quote);
	else
		err_set(e, MB_EDATA, "'%s' has no email column: its header "
			"row is empty", display_path(b->path));
	buf_release(&list);
	return MB_EDATA;
}

/* Copy the header cells, trimmed (and without a stray BOM). */
static enum mb_rc copy_headers(struct mapping *m, struct build *b,
			       const struct csv_row *header, struct err *e)
{
	const char *p;
	size_t i, n;

	if (header->error)
		return err_set(e, MB_EDATA, "'%s': cannot read the header "
			       "row: %s", display_path(b->path), header->error);
	if (header->nfields == 0)
		return err_set(e, MB_EDATA, "'%s': the header row is empty",
			       display_path(b->path));
	m->ncolumns = header->nfields;
	m->columns = xcalloc(m->ncolumns, sizeof(*m->columns));
	b->origin = xcalloc(m->ncolumns, sizeof(*b->origin));
	b->loose = xcalloc(m->ncolumns, sizeof(*b->loose));
	b->key_hint = xcalloc(m->ncolumns, sizeof(*b->key_hint));
	for (i = 0; i < m->ncolumns; i++) {
		p = header->fields[i].data;
		n = header->fields[i].len;
		if (i == 0 && n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
			p += 3;
			n -= 3;
		}
		p = mapping_trim(p, n, &n);
		m->columns[i].header = xstrndup(p, n);
		preset_loose(m->columns[i].header, b->loose[i],
			     PRESET_LOOSE_MAX);
	}
	return MB_OK;
}

static enum mb_rc copy_tags(struct mapping *m, const struct mapping_opts *o,
			    struct err *e)
{
	const char *p;
	size_t i, n;

	m->tags = xcalloc(o->ntags + 1, sizeof(*m->tags));
	for (i = 0; i < o->ntags; i++) {
		n = strlen(o->tags[i]);
		if (!validate_utf8(o->tags[i], n))
			return err_set(e, MB_EUSAGE, "--tag '%s' is not valid "
				       "UTF-8", o->tags[i]);
		p = mapping_trim(o->tags[i], n, &n);
		if (n == 0)
			return err_set(e, MB_EUSAGE, "--tag: the tag name is "
				       "empty");
		m->tags[m->ntags++] = xstrndup(p, n);
	}
	return MB_OK;
}

static enum mb_rc choose_preset(struct build *b, const struct mapping *m,
				const char *name, struct err *e)
{
	const char *const *names;
	struct buf list = BUF_INIT;
	const char **headers;
	size_t i;

	if (!name || strcmp(name, "auto") == 0) {
		headers = xcalloc(m->ncolumns + 1, sizeof(*headers));
		for (i = 0; i < m->ncolumns; i++)
			headers[i] = m->columns[i].header;
		b->preset = preset_detect(b->path, headers, m->ncolumns);
		free(headers);
		return MB_OK;
	}
	if ((b->preset = preset_find(name)))
		return MB_OK;
	for (names = preset_names(); *names; names++)
		buf_printf(&list, "%s%s", list.len ? ", " : "", *names);
	err_set(e, MB_EUSAGE, "unknown preset '%s' (valid: %s)", name,
		buf_str(&list));
	buf_release(&list);
	return MB_EUSAGE;
}

static void build_release(struct build *b)
{
	free(b->origin);
	free(b->loose);
	free(b->key_hint);
}

enum mb_rc mapping_build(struct mapping *m, const struct mapping_opts *opts,
			 const char *path, const struct csv_row *header,
			 struct err *e)
{
	struct mapping built = MAPPING_INIT;
	struct build b;
	enum mb_rc rc;
	const char *status;
	size_t i;
	int unconfirmed;

	memset(&b, 0, sizeof(b));
	b.path = path;
	if ((rc = copy_headers(&built, &b, header, e)) != MB_OK ||
	    (rc = choose_preset(&b, &built, opts->preset, e)) != MB_OK ||
	    (rc = copy_tags(&built, opts, e)) != MB_OK)
		goto out;
	for (i = 0; i < opts->noverrides; i++)
		if ((rc = apply_override(&built, &b, &opts->overrides[i],
					 e)) != MB_OK)
			goto out;
	assign_roles(&built, &b);
	if (!b.taken[FIELD_EMAIL]) {
		rc = no_email_column(&built, &b, e);
		goto out;
	}
	for (i = 0; i < built.ncolumns; i++)
		if (built.columns[i].role == FIELD_EMAIL)
			built.email_column = i;
	if ((rc = custom_keys(&built, &b, e)) != MB_OK)
		goto out;
	if ((rc = custom_order(&built)) != MB_OK) {
		err_set(e, rc, "'%s': header too large", display_path(path));
		goto out;
	}
	built.preset = b.preset->name;
	/*
	 * Only a JSON attributes column needs the sorting merge: consent
	 * evidence adds one known key, whose place among the sorted custom
	 * columns is fixed (after a column of the same key, as the merge's
	 * stable sort would put it), so those rows keep the plain path.
	 */
	for (i = 0; i < built.ncolumns; i++) {
		if (built.columns[i].role == FIELD_ATTRIBUTES)
			built.custom_merged = 1;
		if (built.columns[i].role == FIELD_CUSTOM &&
		    built.columns[i].consent)
			built.consent_evidence = 1;
	}
	while (built.consent_order < built.norder &&
	       strcmp(built.columns[built.order[built.consent_order]].key,
		      MAPPING_CONSENT_SOURCE) <= 0)
		built.consent_order++;
	if (b.preset->flags & PRESET_DMY_DATES)
		built.typing_flags |= TYPING_DMY_DATES;
	if (strcmp(b.preset->name, "mailchimp") == 0 &&
	    preset_mailchimp_file(path, &status, &unconfirmed)) {
		built.file_status = status;
		built.file_unconfirmed = unconfirmed;
	}
	*m = built;
	memset(&built, 0, sizeof(built));
out:
	mapping_release(&built);
	build_release(&b);
	return rc;
}
