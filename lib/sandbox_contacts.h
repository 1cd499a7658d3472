/*
 * sandbox_contacts: meisa-sandbox's contact endpoints (upsert, tags, the
 * unsubscribed list) and events, and the contact lookups and creation the
 * sequence and email endpoints share.
 */
#ifndef MB_SANDBOX_CONTACTS_H
#define MB_SANDBOX_CONTACTS_H

#include <stddef.h>

#include "err.h"
#include "sandbox_api.h"
#include "sandbox_body.h"
#include "sandbox_store.h"

#define ID_MAX 64

/* A contact as found: its id, normalised email and status. */
struct contact_ref {
	char id[ID_MAX];
	char email[MAX_EMAIL_CHARS * 4 + 1];
	char status[16];
};

/* The values an upsert (or an implicit creation) writes. */
struct contact_in {
	const char *email;
	const char *external_id;
	const char *first_name, *last_name, *display_name;
	const char *custom_fields;   /* JSON object text */
	const char *source;
};

#define CONTACT_IN_INIT { NULL, NULL, NULL, NULL, NULL, NULL, "api" }

/*
 * Look a contact up by one column, slot being S_FIND_EXT, S_FIND_EMAIL or
 * S_FIND_ID.  On MB_OK *found is 1 (c filled) or 0; MB_EDB on failure.
 */
enum mb_rc sandbox_contact_find(struct sandbox_store *st, int slot,
				const char *key, size_t key_len,
				struct contact_ref *c, int *found,
				struct err *e);

/* Whether email is on the unsubscribed list (*listed 1 or 0 on MB_OK). */
enum mb_rc sandbox_unsub_listed(struct sandbox_store *st, const char *email,
				int *listed, struct err *e);

/* Create a contact; an address on the unsubscribed list stays so. */
enum mb_rc sandbox_contact_create(struct sandbox_store *st,
				  const struct contact_in *in,
				  const char *now, struct contact_ref *c,
				  struct err *e);

/* The endpoints (struct sandbox_route handlers). */
enum mb_rc sandbox_contacts_upsert(struct sandbox_store *st,
				   struct sandbox_call *call, struct err *e);
enum mb_rc sandbox_contacts_unsubscribed(struct sandbox_store *st,
					 struct sandbox_call *call,
					 struct err *e);
enum mb_rc sandbox_contacts_add_tag(struct sandbox_store *st,
				    struct sandbox_call *call, struct err *e);
enum mb_rc sandbox_contacts_remove_tag(struct sandbox_store *st,
				       struct sandbox_call *call,
				       struct err *e);
enum mb_rc sandbox_events_track(struct sandbox_store *st,
				struct sandbox_call *call, struct err *e);

#endif
