/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * libFuzzer target for the configuration parser (conf_parse_daemon(),
 * conf_parse_groups(), conf_resolve(), conf_print()): a configuration file
 * is untrusted input too.  The first byte picks the kind of file (even: a
 * vesperd.conf, odd: a probe-group file), the rest is its text.  The target
 * aborts when a promise is broken: every error reads "fuzz.conf:LINE:
 * message" with LINE in the file's range (or "fuzz.conf: message"), the
 * error count is what the parser returned, and a configuration without
 * errors prints (vesperd -nv) to a text that parses again without errors and
 * prints back identically (the normalised form is a fixed point, as the
 * golden tests check for their cases).
 * Built by `make fuzz` (configure CC=clang --enable-fuzz); run by run-fuzz.sh.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

#define FUZZ_FILE "fuzz.conf"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what, const char *detail)
{
    if (!ok) {
        fprintf(stderr, "fuzz_conf: broken promise: %s%s%s\n", what, detail ? ": " : "",
                detail ? detail : "");
        abort();
    }
}

/* Lines of text (a last line without newline counts). */
static long count_lines(const char *text, size_t len)
{
    long n = 0;

    for (size_t i = 0; i < len; i++)
        n += text[i] == '\n';
    return n + (len > 0 && text[len - 1] != '\n');
}

static void check_errors(const struct conf_errors *e, int rc, long lines)
{
    const size_t pre = strlen(FUZZ_FILE);

    check(rc >= 0 && (size_t)rc == conf_errors_count(e), "error count differs from the return",
          NULL);
    for (size_t i = 0; i < e->n; i++) {
        const char *m = e->msg[i];
        char *end;
        long line;

        check(strncmp(m, FUZZ_FILE ":", pre + 1) == 0, "error without the file name", m);
        if (m[pre + 1] == ' ')
            continue; /* about the whole file */
        line = strtol(m + pre + 1, &end, 10);
        check(end != m + pre + 1 && *end == ':' && end[1] == ' ', "error not file:line: message",
              m);
        check(line >= 1 && line <= lines + 1, "error line out of the file", m);
        check(end[2] != '\0', "empty error message", m);
    }
}

/* Parse text as kind (0 daemon, 1 groups), resolve; returns the conf and the
 * number of errors in *rc (errors checked against the text's lines). */
static struct conf *parse(int kind, const char *text, size_t len, int *rc)
{
    struct conf *c = conf_new();
    struct conf_errors e;

    conf_errors_init(&e);
    *rc = kind ? conf_parse_groups(c, FUZZ_FILE, text, len, &e)
               : conf_parse_daemon(c, FUZZ_FILE, text, len, &e);
    *rc += conf_resolve(c, &e);
    check_errors(&e, *rc, count_lines(text, len));
    conf_errors_free(&e);
    return c;
}

/* The normalised form (vesperd -nv): malloc'ed text and its length. */
static char *print(int kind, const struct conf *c, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);

    check(f != NULL, "open_memstream failed", NULL);
    if (kind)
        conf_print_groups(c, f);
    else
        conf_print(c, f);
    check(fclose(f) == 0, "printing failed", NULL);
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int kind, rc, rc2;
    struct conf *c, *c2;
    char *t1, *t2;
    size_t n1, n2;

    if (size < 1)
        return 0;
    kind = data[0] & 1;
    c = parse(kind, (const char *)data + 1, size - 1, &rc);
    t1 = print(kind, c, &n1);
    conf_free(c);
    if (rc == 0) {
        c2 = parse(kind, t1, n1, &rc2);
        if (rc2 != 0)
            fprintf(stderr, "fuzz_conf: normalised text:\n%.*s\n", (int)n1, t1);
        check(rc2 == 0, "normalised form does not parse again", NULL);
        t2 = print(kind, c2, &n2);
        if (n2 != n1 || memcmp(t1, t2, n1) != 0)
            fprintf(stderr, "fuzz_conf: first:\n%.*s\nsecond:\n%.*s\n", (int)n1, t1, (int)n2, t2);
        check(n2 == n1 && memcmp(t1, t2, n1) == 0, "normalised form is not a fixed point", NULL);
        free(t2);
        conf_free(c2);
    }
    free(t1);
    return 0;
}
