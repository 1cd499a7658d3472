"""End-to-end: other projects' real contact files are auto-detected.

Every contact file under ../shared/conformance/real/ that a provider wrote
(or that a provider's own import/export code reads) is staged with
`--preset auto`, and the preset stage picks must be that provider's.  The
files that belong to no preset (Chatwoot's imports, Ghost's "email,name"
fixtures, Keila's plain three-column imports) are listed too, as generic,
so that a fingerprint grown too wide shows up here.  Issue 15 item 4.
"""
import os

import pytest

from conftest import REPO, staging_query as query

REAL = os.path.join(os.path.dirname(REPO), "shared", "conformance", "real")

# path under REAL -> the preset auto-detection must pick
EXPECTED = {
    # Ghost: the members export and its importer's fixtures
    "TryGhost-Ghost/members-importer/member-csv-export.csv": "ghost",
    "TryGhost-Ghost/members-importer/subscribed-to-emails-cases.csv": "ghost",
    "TryGhost-Ghost/members-csv/subscribed-to-emails-header.csv": "ghost",
    "TryGhost-Ghost/core-fixtures-csv/valid-members-import.csv": "ghost",
    "TryGhost-Ghost/core-fixtures-csv/members-invalid-values.csv": "ghost",
    "TryGhost-Ghost/core-fixtures-csv/members-newsletters-step1.csv": "ghost",
    "TryGhost-Ghost/core-fixtures-csv/members-newsletters-step2.csv": "ghost",
    "TryGhost-Ghost/core-fixtures-csv/valid-members-labels.csv": "ghost",
    "TryGhost-Ghost/core-fixtures-csv/members-for-bulk-unsubscribe.csv":
        "ghost",
    "TryGhost-Ghost/core-fixtures-csv/members-update-named.csv": "generic",
    # listmonk
    "knadh-listmonk/subs.csv": "listmonk",
    "knadh-listmonk/subs-domain-blocklist.csv": "listmonk",
    "esp-headers-from-code/listmonk_subscribers_export_header.csv":
        "listmonk",
    # Keila: its export header, and imports with Data or Status
    "esp-headers-from-code/keila_contacts_export_header.csv": "keila",
    "pentacent-keila/import_rfc_4180_with_status.csv": "keila",
    "pentacent-keila/import_with_data.csv": "keila",
    "pentacent-keila/keila_import_template.csv": "keila",
    "pentacent-keila/import_rfc_4180.csv": "generic",
    # Mautic
    "mautic-mautic/contacts.csv": "mautic",
    "mautic-mautic/contacts_invalid_date.csv": "mautic",
    "mautic-mautic/import-contact-permissions.csv": "mautic",
    # Mailchimp, German and from 2013 to 2024
    "mailchimp-real-headers/listmonk-issue-688_subscribed_segment_export_de.csv":
        "mailchimp",
    "mailchimp-real-headers/code-dot-org_mailchimp_engineers_unsubscribed_2013.csv":
        "mailchimp",
    "mailchimp-real-headers/buttondown-roadmap-2276_header.csv": "mailchimp",
    "mailchimp-real-headers/chefsteps-rake_mailchimp_header.csv": "mailchimp",
    "mailchimp-real-headers/honey_format_diabolical_mailchimp_2015.csv":
        "mailchimp",
    "TryGhost-migrate/mg-mailchimp-members/subscribed.csv": "mailchimp",
    "TryGhost-migrate/mg-mailchimp-members/unsubscribed.csv": "mailchimp",
    "TryGhost-migrate/mg-mailchimp-members/cleaned.csv": "mailchimp",
    # the presets from esp-exports.md
    "TryGhost-migrate/mg-beehiiv-members/members.csv": "beehiiv",
    "TryGhost-migrate/mg-substack-members-csv/fixtures_signup_emails.csv":
        "substack",
    "TryGhost-migrate/mg-substack-members-csv/fixtures_subscriber_emails.csv":
        "substack",
    "esp-headers-from-code/brevo_contacts_export_header.csv": "brevo",
    "esp-headers-from-code/brevo_contacts_export_minimal.csv": "brevo",
    "esp-headers-from-code/sendgrid_contacts_export_header.csv": "sendgrid",
    "esp-headers-from-code/klaviyo_profiles_export_header.csv": "klaviyo",
    # no provider of ours wrote these
    "chatwoot-chatwoot/contacts.csv": "generic",
    "chatwoot-chatwoot/with_utf8_bom.csv": "generic",
}


@pytest.mark.skipif(not os.path.isdir(REAL),
                    reason="../shared/conformance/real/ is absent")
def test_real_provider_files_are_auto_detected(bulk, tmp_path):
    db = str(tmp_path / "stage.db")
    paths = [os.path.join(REAL, p) for p in EXPECTED]
    r = bulk(["stage", *paths, "--db", db, "--json"])
    assert r.returncode in (0, 65), r.stderr
    got = {os.path.relpath(path, REAL): preset for path, preset in query(
        db, "SELECT path, preset FROM inputs")}
    assert got == EXPECTED


@pytest.mark.skipif(not os.path.isdir(REAL),
                    reason="../shared/conformance/real/ is absent")
def test_ghost_unsubscribed_members_are_not_mailable(bulk, tmp_path):
    """Ghost's subscribed_to_emails=false members are suppressed, not
    created mailable (the issue's example)."""
    db = str(tmp_path / "stage.db")
    path = os.path.join(
        REAL, "TryGhost-Ghost/members-importer/subscribed-to-emails-cases.csv")
    r = bulk(["stage", path, "--db", db])
    assert r.returncode == 0, r.stderr
    rows = dict(query(db, "SELECT email, source_status FROM contacts"))
    assert rows["member_subscribed_false@example.com"] == "unsubscribed"
    assert rows["member_subscribed_true@example.com"] is None
    assert rows["member_subscribed_null@example.com"] is None
