/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The rule grammar of probe groups: a "rule = PROBE [FILTER ...] -> VERDICT"
 * value parsed into a struct conf_rule (conf_parse_rule), printed back in
 * canonical form (conf_format_rule), and the shadowing test the parser uses
 * to refuse a rule an earlier one always wins over (conf_rule_shadows).
 * Pure: nothing here does I/O or logs.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "conf.h"
#include "conf_int.h"

/* What filters a probe accepts, and the unit of its event value. */
enum value_kind { VAL_NONE, VAL_KIB, VAL_SEC, VAL_USEC };
struct probe_filters {
    unsigned sig : 1, watched : 1, exit : 1, comm : 1, planned : 1, result : 1, state : 1;
    enum value_kind value;
};

static struct probe_filters probe_filters(unsigned probe)
{
    struct probe_filters f = {0};

    switch (probe) {
    case VSP_PROBE_SIGNAL:
        f.sig = f.watched = f.comm = f.planned = 1;
        break;
    case VSP_PROBE_EXIT:
        f.sig = f.watched = f.exit = f.comm = f.planned = 1;
        break;
    case VSP_PROBE_OOM:
        f.watched = f.comm = 1;
        f.value = VAL_KIB;
        break;
    case VSP_PROBE_HANG:
        f.watched = f.comm = 1;
        f.value = VAL_SEC;
        break;
    case VSP_PROBE_PSI_CPU:
    case VSP_PROBE_PSI_MEMORY:
    case VSP_PROBE_PSI_IO:
        f.value = VAL_USEC;
        break;
    case VSP_PROBE_CHECK:
        f.result = 1;
        f.value = VAL_USEC; /* the check's latency */
        break;
    case VSP_PROBE_STALL:
        /* no value>=: one event per stall, its value the guest's threshold
         * and at most one look of vesper.ko more */
        f.watched = f.comm = f.state = 1;
        break;
    default:
        break;
    }
    return f;
}

static const char *const exit_names[] = {
    [CONF_EXIT_ANY] = "any",       [CONF_EXIT_CLEAN] = "clean",   [CONF_EXIT_ERROR] = "error",
    [CONF_EXIT_SIGNAL] = "signal", [CONF_EXIT_FAILED] = "failed",
};

static int parse_sig_list(const char *s, uint64_t *mask, char *err, size_t errlen)
{
    char name[32];
    char q[CONF_QUOTE_LEN];
    const char *p = s;

    *mask = 0;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int sig;

        if (len == 0) {
            seterr(err, errlen, "empty entry in signal list '%s'", conf_quote(s, q, sizeof(q)));
            return -EINVAL;
        }
        if (len >= sizeof(name)) {
            seterr(err, errlen, "unknown signal '%.*s...'", 16, p);
            return -EINVAL;
        }
        memcpy(name, p, len);
        name[len] = '\0';
        sig = conf_signal_from_name(name);
        if (sig < 0) {
            seterr(err, errlen, "unknown signal '%s' (names such as TERM or SIGTERM, or 1..64)",
                   name);
            return -EINVAL;
        }
        if (*mask & CONF_SIG_BIT(sig)) {
            seterr(err, errlen, "signal '%s' listed twice", name);
            return -EINVAL;
        }
        *mask |= CONF_SIG_BIT(sig);
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

static const struct {
    const char *name;
    uint64_t mult;
} kib_units[] = {{"GiB", 1024 * 1024}, {"MiB", 1024}, {"KiB", 1}};

static int parse_value(const char *s, enum value_kind kind, uint64_t *out, char *err, size_t errlen)
{
    char q[CONF_QUOTE_LEN];
    uint64_t v, ns;
    size_t nd = strspn(s, "0123456789");
    int rc;

    switch (kind) {
    case VAL_KIB:
        rc = conf_parse_uint(s, nd, &v);
        for (size_t i = 0; rc == 0 && i < G_N_ELEMENTS(kib_units); i++) {
            if (strcmp(s + nd, kib_units[i].name) != 0)
                continue;
            if (v > UINT64_MAX / kib_units[i].mult)
                break;
            *out = v * kib_units[i].mult;
            return 0;
        }
        seterr(err, errlen, "bad size '%s': expected a number and KiB, MiB or GiB",
               conf_quote(s, q, sizeof(q)));
        return -EINVAL;
    case VAL_SEC:
        if (conf_parse_duration(s, &ns, err, errlen) != 0)
            return -EINVAL;
        if (ns % CONF_NS_S) {
            seterr(err, errlen, "hang time '%s' must be whole seconds",
                   conf_quote(s, q, sizeof(q)));
            return -EINVAL;
        }
        *out = ns / CONF_NS_S;
        return 0;
    case VAL_USEC:
        if (conf_parse_duration(s, &ns, err, errlen) != 0)
            return -EINVAL;
        *out = ns / CONF_NS_US;
        return 0;
    default:
        return -EINVAL;
    }
}

static void format_value(uint64_t v, enum value_kind kind, char *buf, size_t len)
{
    switch (kind) {
    case VAL_KIB:
        for (size_t i = 0; i < G_N_ELEMENTS(kib_units); i++) {
            if (v % kib_units[i].mult == 0) {
                snprintf(buf, len, "%llu%s", (unsigned long long)(v / kib_units[i].mult),
                         kib_units[i].name);
                return;
            }
        }
        break;
    case VAL_SEC:
        conf_format_duration(v * CONF_NS_S, buf, len);
        return;
    case VAL_USEC:
        conf_format_duration(v * CONF_NS_US, buf, len);
        return;
    default:
        break;
    }
    snprintf(buf, len, "%llu", (unsigned long long)v);
}

int conf_parse_rule(const char *s, struct conf_rule *r, char *err, size_t errlen)
{
    char buf[CONF_MAX_LINE + 1];
    char q[CONF_QUOTE_LEN];
    char *words[16];
    char *arrow, *vwords[2];
    struct probe_filters pf;
    int nw, nv, probe, v;
    unsigned seen = 0;

    memset(r, 0, sizeof(*r));
    r->watched = -1;
    r->planned = -1;
    r->iowait = -1;
    if (strlen(s) >= sizeof(buf)) {
        seterr(err, errlen, "rule too long");
        return -EINVAL;
    }
    strcpy(buf, s);
    arrow = strstr(buf, "->");
    if (!arrow) {
        seterr(err, errlen, "rule needs '-> VERDICT' (PROBE [FILTER ...] -> VERDICT)");
        return -EINVAL;
    }
    if (strstr(arrow + 2, "->")) {
        seterr(err, errlen, "rule has more than one '->'");
        return -EINVAL;
    }
    *arrow = '\0';
    nv = conf_split_words(arrow + 2, vwords, 2);
    if (nv != 1) {
        seterr(err, errlen,
               "rule needs exactly one verdict after '->' "
               "(ignore, log, migrate or failover)");
        return -EINVAL;
    }
    v = conf_verdict_from_name(vwords[0]);
    if (v <= VSP_VERDICT_NONE) {
        seterr(err, errlen, "unknown verdict '%s' (ignore, log, migrate or failover)",
               conf_quote(vwords[0], q, sizeof(q)));
        return -EINVAL;
    }
    r->verdict = (enum vsp_verdict)v;

    nw = conf_split_words(buf, words, (int)G_N_ELEMENTS(words));
    if (nw == 0) {
        seterr(err, errlen, "rule needs a probe before '->'");
        return -EINVAL;
    }
    if (nw < 0) {
        seterr(err, errlen, "too many filters in rule");
        return -EINVAL;
    }
    probe = vsp_probe_from_name(words[0]);
    if (probe <= VSP_PROBE_NONE || !vsp_probe_name((unsigned)probe)) {
        seterr(err, errlen,
               "unknown probe '%s' (signal oom exit hang psi-cpu psi-memory psi-io check stall "
               "agent-lost agent-back guest-stuck agent-dead crash watchdog io-error stopped)",
               conf_quote(words[0], q, sizeof(q)));
        return -EINVAL;
    }
    r->probe = (unsigned)probe;
    pf = probe_filters(r->probe);

    for (int i = 1; i < nw; i++) {
        char *w = words[i], *val;
        const char *key;
        unsigned bit;
        int ok;

        if (strncmp(w, "value>=", 7) == 0) {
            key = "value>=";
            val = w + 7;
            bit = 1u << 4;
            ok = pf.value != VAL_NONE;
        } else if ((val = strchr(w, '=')) != NULL) {
            *val++ = '\0';
            key = w;
            if (strcmp(key, "sig") == 0) {
                bit = 1u << 0;
                ok = pf.sig;
            } else if (strcmp(key, "watched") == 0) {
                bit = 1u << 1;
                ok = pf.watched;
            } else if (strcmp(key, "exit") == 0) {
                bit = 1u << 2;
                ok = pf.exit;
            } else if (strcmp(key, "comm") == 0) {
                bit = 1u << 3;
                ok = pf.comm;
            } else if (strcmp(key, "planned") == 0) {
                bit = 1u << 5;
                ok = pf.planned;
            } else if (strcmp(key, "result") == 0) {
                bit = 1u << 6;
                ok = pf.result;
            } else if (strcmp(key, "state") == 0) {
                bit = 1u << 7;
                ok = pf.state;
            } else if (strcmp(key, "iowait") == 0) {
                bit = 1u << 8;
                ok = pf.state;
            } else {
                seterr(err, errlen,
                       "unknown filter '%s' (sig= watched= exit= comm= planned= result= state= "
                       "iowait= value>=)",
                       conf_quote(key, q, sizeof(q)));
                return -EINVAL;
            }
        } else {
            seterr(err, errlen,
                   "expected a filter (sig= watched= exit= comm= planned= result= state= iowait= "
                   "value>=), found '%s'",
                   conf_quote(w, q, sizeof(q)));
            return -EINVAL;
        }
        if (!ok) {
            seterr(err, errlen, "filter %s%s does not apply to probe '%s'", key,
                   key[strlen(key) - 1] == '=' ? "" : "=", words[0]);
            return -EINVAL;
        }
        if (seen & bit) {
            seterr(err, errlen, "filter %s%s given twice", key,
                   key[strlen(key) - 1] == '=' ? "" : "=");
            return -EINVAL;
        }
        seen |= bit;
        if (*val == '\0') {
            seterr(err, errlen, "filter %s%s needs a value", key,
                   key[strlen(key) - 1] == '=' ? "" : "=");
            return -EINVAL;
        }
        switch (bit) {
        case 1u << 0:
            if (parse_sig_list(val, &r->sigmask, err, errlen) != 0)
                return -EINVAL;
            break;
        case 1u << 1:
        case 1u << 5:
        case 1u << 8: {
            int *yn = bit == 1u << 1 ? &r->watched : bit == 1u << 5 ? &r->planned : &r->iowait;

            if (strcmp(val, "yes") == 0) {
                *yn = 1;
            } else if (strcmp(val, "no") == 0) {
                *yn = 0;
            } else {
                seterr(err, errlen, "%s= must be yes or no, not '%s'", key,
                       conf_quote(val, q, sizeof(q)));
                return -EINVAL;
            }
            break;
        }
        case 1u << 2: {
            int k = -1;

            for (int j = CONF_EXIT_CLEAN; j <= CONF_EXIT_FAILED; j++)
                if (strcmp(val, exit_names[j]) == 0)
                    k = j;
            if (k < 0) {
                seterr(err, errlen, "exit= must be clean, error, signal or failed, not '%s'",
                       conf_quote(val, q, sizeof(q)));
                return -EINVAL;
            }
            r->exit_kind = (enum conf_exit_kind)k;
            break;
        }
        case 1u << 3:
            if (!conf_comm_ok(val)) {
                seterr(err, errlen,
                       "bad comm '%s': 1..15 printable characters without blanks or ,#>\"'=",
                       conf_quote(val, q, sizeof(q)));
                return -EINVAL;
            }
            strcpy(r->comm, val);
            break;
        case 1u << 7:
            if (strcmp(val, "D") == 0 || strcmp(val, "R") == 0) {
                r->state = val[0];
            } else {
                seterr(err, errlen, "state= must be D or R, not '%s'",
                       conf_quote(val, q, sizeof(q)));
                return -EINVAL;
            }
            break;
        case 1u << 6:
            if (strcmp(val, "fail") == 0) {
                r->result = CONF_RESULT_FAIL;
            } else if (strcmp(val, "ok") == 0) {
                r->result = CONF_RESULT_OK;
            } else {
                seterr(err, errlen, "result= must be fail or ok, not '%s'",
                       conf_quote(val, q, sizeof(q)));
                return -EINVAL;
            }
            break;
        default:
            if (parse_value(val, pf.value, &r->min_value, err, errlen) != 0)
                return -EINVAL;
            if (r->min_value == 0) {
                seterr(err, errlen, "value>= must be above 0 (leave it out to match any value)");
                return -EINVAL;
            }
            break;
        }
    }
    if (r->sigmask && (r->exit_kind == CONF_EXIT_CLEAN || r->exit_kind == CONF_EXIT_ERROR)) {
        seterr(err, errlen, "sig= contradicts exit=%s (such an exit has no signal)",
               exit_names[r->exit_kind]);
        return -EINVAL;
    }
    if (r->iowait == 1 && r->state == VSP_STALL_R) {
        seterr(err, errlen,
               "iowait=yes contradicts state=R (only a task in D state waits for I/O)");
        return -EINVAL;
    }
    return 0;
}

static void format_sigs(uint64_t mask, char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (int sig = 1; sig <= 64; sig++) {
        const char *name;
        int n;

        if (!(mask & CONF_SIG_BIT(sig)))
            continue;
        name = conf_signal_name(sig);
        if (name)
            n = snprintf(buf + off, len - off, "%s%s", off ? "," : "", name);
        else
            n = snprintf(buf + off, len - off, "%s%d", off ? "," : "", sig);
        if (n < 0 || (size_t)n >= len - off)
            return;
        off += (size_t)n;
    }
}

const char *conf_format_rule(const struct conf_rule *r, char *buf, size_t len)
{
    struct probe_filters pf = probe_filters(r->probe);
    const char *pname = vsp_probe_name(r->probe);
    GString *s = g_string_new(pname ? pname : "?");
    char tmp[400];

    /* a check rule matches failures or successes, never both: always said */
    if (r->probe == VSP_PROBE_CHECK)
        g_string_append_printf(s, " result=%s", r->result == CONF_RESULT_OK ? "ok" : "fail");
    if (r->state)
        g_string_append_printf(s, " state=%c", (char)r->state);
    if (r->iowait >= 0)
        g_string_append_printf(s, " iowait=%s", r->iowait ? "yes" : "no");
    if (r->sigmask) {
        format_sigs(r->sigmask, tmp, sizeof(tmp));
        g_string_append_printf(s, " sig=%s", tmp);
    }
    if (r->exit_kind > CONF_EXIT_ANY && r->exit_kind <= CONF_EXIT_FAILED)
        g_string_append_printf(s, " exit=%s", exit_names[r->exit_kind]);
    if (r->watched >= 0)
        g_string_append_printf(s, " watched=%s", r->watched ? "yes" : "no");
    if (r->planned >= 0)
        g_string_append_printf(s, " planned=%s", r->planned ? "yes" : "no");
    if (r->comm[0])
        g_string_append_printf(s, " comm=%.*s", VSP_COMM_LEN - 1, r->comm);
    if (r->min_value) {
        format_value(r->min_value, pf.value, tmp, sizeof(tmp));
        g_string_append_printf(s, " value>=%s", tmp);
    }
    g_string_append_printf(s, " -> %s", conf_verdict_name(r->verdict));
    snprintf(buf, len, "%s", s->str);
    g_string_free(s, TRUE);
    return buf;
}

int conf_rule_shadows(const struct conf_rule *a, const struct conf_rule *b)
{
    if (a->probe != b->probe)
        return 0;
    if (a->sigmask && (!b->sigmask || (b->sigmask & ~a->sigmask)))
        return 0;
    if (a->watched >= 0 && a->watched != b->watched)
        return 0;
    if (a->planned >= 0 && a->planned != b->planned)
        return 0;
    if (a->state && a->state != b->state)
        return 0;
    if (a->iowait >= 0 && a->iowait != b->iowait)
        return 0;
    if (a->exit_kind != CONF_EXIT_ANY && a->exit_kind != b->exit_kind &&
        !(a->exit_kind == CONF_EXIT_FAILED &&
          (b->exit_kind == CONF_EXIT_ERROR || b->exit_kind == CONF_EXIT_SIGNAL)))
        return 0;
    if (a->comm[0] && strcmp(a->comm, b->comm) != 0)
        return 0;
    if (a->min_value > b->min_value)
        return 0;
    if (a->result != b->result)
        return 0;
    return 1;
}
