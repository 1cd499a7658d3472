/*
 * sandbox_emails: meisa-sandbox's transactional email endpoint
 * (/emails/trigger/): known trigger keys, suppression, idempotency keys
 * remembered for an hour, sends recorded in sent_emails.
 */
#ifndef MB_SANDBOX_EMAILS_H
#define MB_SANDBOX_EMAILS_H

#include "err.h"
#include "sandbox_api.h"
#include "sandbox_store.h"

/* The endpoint (a struct sandbox_route handler). */
enum mb_rc sandbox_emails_trigger(struct sandbox_store *st,
				  struct sandbox_call *call, struct err *e);

#endif
