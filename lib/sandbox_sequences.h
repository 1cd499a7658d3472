/*
 * sandbox_sequences: meisa-sandbox's sequence endpoints: enroll one
 * address, bulk-enroll up to 500, list sequences, a contact's enrollments.
 */
#ifndef MB_SANDBOX_SEQUENCES_H
#define MB_SANDBOX_SEQUENCES_H

#include "err.h"
#include "sandbox_api.h"
#include "sandbox_store.h"

/* The endpoints (struct sandbox_route handlers). */
enum mb_rc sandbox_sequences_enroll(struct sandbox_store *st,
				    struct sandbox_call *call, struct err *e);
enum mb_rc sandbox_sequences_bulk_enroll(struct sandbox_store *st,
					 struct sandbox_call *call,
					 struct err *e);
enum mb_rc sandbox_sequences_list(struct sandbox_store *st,
				  struct sandbox_call *call, struct err *e);
enum mb_rc sandbox_sequences_contact_enrollments(struct sandbox_store *st,
						 struct sandbox_call *call,
						 struct err *e);

#endif
