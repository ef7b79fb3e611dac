# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# The counting every Python test shares (tests/lib.sh is the same for shell):
# one line per check, "ok: WHAT", "FAIL: WHAT" or "skip: WHAT", and a closing
# line "N passed, N failed[, N skipped]" that tools/check counts.  A test
# that cannot run at all says why and exits 77 (skip).  The check and skip
# lines go through say(), print by default; a test may set vsptest.say to
# its own logger.  The closing line is always printed as it is: tools/check
# reads it only without a prefix such as a logger's time stamp.
"""Check bookkeeping of the vesper tests (python3 standard library only)."""

import os
import sys

NAME = os.path.splitext(os.path.basename(sys.argv[0]))[0]

passes = []
failures = []
skips = []


def say(line):
    print(line, flush=True)


def check(cond, what):
    """Record one check; returns cond, so that callers can branch on it."""
    (passes if cond else failures).append(what)
    say("%s %s" % ("ok:" if cond else "FAIL:", what))
    return cond


def skipped(what):
    """Record one check that could not run here (never a pass)."""
    skips.append(what)
    say("skip: %s" % what)


def skip(reason):
    """The whole test cannot run here: say why and exit 77."""
    say("SKIP: %s: %s" % (NAME, reason))
    sys.exit(77)


def summary():
    """Print the closing line; returns the exit status (0 if no check failed)."""
    line = "%d passed, %d failed" % (len(passes), len(failures))
    if skips:
        line += ", %d skipped" % len(skips)
    print(line, flush=True)
    return 1 if failures else 0
