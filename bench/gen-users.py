#!/usr/bin/python3
"""Write an application's users dump, as a nightly sync job gets it.

usage: gen-users.py ROWS OUT.csv [--night N] [--changed-pct P] [--seed S]

What `psql -c "\\copy (SELECT ...) TO STDOUT CSV HEADER"` gives for a users
table: user_id, email, names, plan, seats, a decimal score, a timestamp,
a status and tags; about 130 bytes a row, deterministic.  Night 1 is the
table as generated; with --night 2 (or later) exactly P% of the rows
(chosen with the seed) have a changed plan and seat count.  Prints the
number of changed rows on stdout, so a benchmark can check that a sync
sends exactly those.
"""
import random
import sys


def unsubscribed(i):
    return i % 97 == 0


def main():
    rows, out = int(sys.argv[1]), sys.argv[2]
    night, pct, seed = 1, 0.0, 1
    args = sys.argv[3:]
    while args:
        if args[0] == "--night":
            night = int(args[1])
        elif args[0] == "--changed-pct":
            pct = float(args[1])
        elif args[0] == "--seed":
            seed = int(args[1])
        else:
            sys.exit("gen-users.py: unknown option '%s'" % args[0])
        args = args[2:]
    # Rows unsubscribed at the source are skipped every night: a change to
    # one would not be sent, so none is changed.
    changed = set()
    if night > 1 and pct:
        mailable = [i for i in range(rows) if not unsubscribed(i)]
        changed = set(random.Random(seed).sample(mailable,
                                                 round(rows * pct / 100)))
    first = ["Ana", "Ben", "Chloé", "Dmitri", "Emma", "Femi", "Grace", "Hugo"]
    last = ["Smith", "Okafor", "Müller", "Rossi", "Tanaka", "Dubois", "Silva"]
    plans = ["free", "pro", "team"]
    with open(out, "w", encoding="utf-8", newline="") as f:
        f.write("user_id,email,first_name,last_name,plan,seats,score,"
                "created_at,status,tags\n")
        for i in range(rows):
            plan, seats = plans[i % 3], i % 20 + 1
            if i in changed:
                plan, seats = "enterprise", seats + 100
            status = "unsubscribed" if unsubscribed(i) else "active"
            tags = "customer;beta" if i % 10 == 0 else "customer"
            f.write("%d,user%d@example%d.com,%s,%s,%s,%d,%d.%02d,"
                    "2021-%02d-%02d %02d:%02d:00+00,%s,%s\n"
                    % (100000 + i, i, i % 50, first[i % len(first)],
                       last[i % len(last)], plan, seats, i % 1000, i % 100,
                       i % 12 + 1, i % 28 + 1, i % 24, i % 60, status, tags))
    print(len(changed))


if __name__ == "__main__":
    main()
