/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Budgets (see budget.h): a ring of the last BUDGET_MAX action times,
 * kept sorted so that reading the log back in any order gives the same
 * ring as taking the actions one by one.
 */
#include <string.h>

#include "budget.h"

#define AT(b, i) ((b)->t[((b)->head + (i)) % BUDGET_MAX])

void budget_reset(struct budget *b)
{
    memset(b, 0, sizeof(*b));
}

unsigned budget_used(const struct budget *b, uint64_t window_ns, uint64_t now_ns)
{
    unsigned n = 0;

    for (unsigned i = 0; i < b->len; i++) {
        uint64_t t = AT(b, i);

        if (window_ns == 0 || (t <= now_ns && now_ns - t < window_ns) || t > now_ns)
            n++;
    }
    return n;
}

void budget_note(struct budget *b, uint64_t t)
{
    unsigned i;

    if (b->len == BUDGET_MAX) {
        if (t <= AT(b, 0))
            return; /* older than everything kept */
        b->head = (b->head + 1) % BUDGET_MAX;
        b->len--;
    }
    /* insert keeping the ring sorted, oldest first */
    i = b->len;
    while (i > 0 && AT(b, i - 1) > t) {
        AT(b, i) = AT(b, i - 1);
        i--;
    }
    AT(b, i) = t;
    b->len++;
}

int budget_take(struct budget *b, unsigned n, uint64_t window_ns, uint64_t now_ns)
{
    if (n > BUDGET_MAX)
        n = BUDGET_MAX;
    if (n && budget_used(b, window_ns, now_ns) >= n)
        return 0;
    budget_note(b, now_ns);
    return 1;
}

int budget_give_back(struct budget *b, uint64_t t)
{
    for (unsigned i = 0; i < b->len; i++) {
        if (AT(b, i) != t)
            continue;
        /* close the gap: the ring stays sorted, oldest first */
        for (; i + 1 < b->len; i++)
            AT(b, i) = AT(b, i + 1);
        b->len--;
        return 1;
    }
    return 0;
}

uint64_t budget_free_at(const struct budget *b, unsigned n, uint64_t window_ns, uint64_t now_ns)
{
    unsigned used;

    if (n > BUDGET_MAX)
        n = BUDGET_MAX;
    used = budget_used(b, window_ns, now_ns);
    if (n == 0 || used < n || window_ns == 0)
        return n == 0 || used < n ? 0 : UINT64_MAX;
    /* the (used - n + 1)th oldest in the window must age out */
    for (unsigned i = 0, seen = 0; i < b->len; i++) {
        uint64_t t = AT(b, i);

        if (t > now_ns || now_ns - t < window_ns) {
            if (++seen == used - n + 1)
                return t + window_ns;
        }
    }
    return 0;
}
