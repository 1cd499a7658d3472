#!/usr/bin/python3
"""Write a Mailchimp-style audience export of N rows (about 87 bytes a row).

usage: gen-mailchimp.py ROWS OUT.csv [--changed-pct P --seed S]

Nine columns as in a real subscribed_members_export file; addresses are
unique and deterministic, so two runs give the same file. With
--changed-pct the names of that share of rows differ (for nightly-diff
benchmarks).
"""
import random
import sys


def main():
    rows, out = int(sys.argv[1]), sys.argv[2]
    changed = 0.0
    seed = 1
    args = sys.argv[3:]
    while args:
        if args[0] == "--changed-pct":
            changed = float(args[1]) / 100.0
        elif args[0] == "--seed":
            seed = int(args[1])
        args = args[2:]
    rnd = random.Random(seed)
    first = ["Ana", "Ben", "Chloé", "Dmitri", "Emma", "Femi", "Grace", "Hugo"]
    last = ["Smith", "Okafor", "Müller", "Rossi", "Tanaka", "Dubois", "Silva"]
    with open(out, "w", encoding="utf-8", newline="") as f:
        f.write("Email Address,First Name,Last Name,Company,MEMBER_RATING,"
                "OPTIN_TIME,LEID,EUID,TAGS\n")
        for i in range(rows):
            fn = first[i % len(first)]
            if changed and rnd.random() < changed:
                fn = fn + "-x"
            tags = '"""Customers"""' if i % 10 == 0 else ""
            f.write("user%d@example%d.com,%s,%s,Company %d,%d,"
                    "2019-03-%02d 10:%02d:%02d,%d,%08x,%s\n"
                    % (i, i % 50, fn, last[i % len(last)], i % 997,
                       i % 5 + 1, i % 28 + 1, i % 60, (i * 7) % 60,
                       100000 + i, i * 2654435761 % (1 << 32), tags))


if __name__ == "__main__":
    main()
