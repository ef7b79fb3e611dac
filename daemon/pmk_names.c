/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * pmk: the pure helpers of the Pacemaker requests (see pmk.h): the names
 * of request kinds and link states, the check of a resource name, the
 * parse of an agent spec, the degraded mark's attribute name and its
 * location rule.  No I/O, no state: the unit tests and vesperd's
 * configuration checks call them directly.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pmk.h"
#include "pmk_int.h"

const char *pmk_kind_name(enum pmk_kind k)
{
    switch (k) {
    case PMK_FAIL:
        return "fail";
    case PMK_ATTR_SET:
        return "attr-set";
    case PMK_ATTR_DELETE:
        return "attr-delete";
    case PMK_ATTR_MARK:
        return "mark";
    }
    return "?";
}

const char *pmk_link_name(enum pmk_link l)
{
    switch (l) {
    case PMK_LINK_DOWN:
        return "down";
    case PMK_LINK_CONNECTING:
        return "connecting";
    case PMK_LINK_READY:
        return "ready";
    }
    return "?";
}

/* A name Pacemaker and the CIB accept, that is safe on a command line and in
 * XML: letters, digits and ._-:@ only (resource ids are XML IDs). */
int pmk_name_ok(const char *s)
{
    size_t n;

    if (s == NULL || *s == '\0')
        return 0;
    n = strlen(s);
    if (n > PMK_NAME_MAX)
        return 0;
    for (const char *p = s; *p; p++) {
        if (!g_ascii_isalnum(*p) && strchr("._-:@", *p) == NULL)
            return 0;
    }
    return 1;
}

int pmk_parse_agent(const char *spec, char *cls, char *provider, char *type, size_t len)
{
    const char *a, *b;
    size_t n;

    if (spec == NULL || len == 0)
        return -EINVAL;
    a = strchr(spec, ':');
    if (a == NULL || a == spec)
        return -EINVAL;
    b = strchr(a + 1, ':');
    n = (size_t)(a - spec);
    if (n >= len)
        return -EINVAL;
    memcpy(cls, spec, n);
    cls[n] = '\0';
    if (b == NULL) {
        provider[0] = '\0';
        if (a[1] == '\0' || strlen(a + 1) >= len)
            return -EINVAL;
        strcpy(type, a + 1);
    } else {
        n = (size_t)(b - a - 1);
        if (n == 0 || n >= len || b[1] == '\0' || strchr(b + 1, ':') || strlen(b + 1) >= len)
            return -EINVAL;
        memcpy(provider, a + 1, n);
        provider[n] = '\0';
        strcpy(type, b + 1);
    }
    /* ocf agents always have a provider; the other classes never do */
    if ((strcmp(cls, "ocf") == 0) != (provider[0] != '\0'))
        return -EINVAL;
    return 0;
}

int pmk_attr_name(const char *rsc, char *buf, size_t len)
{
    int n = snprintf(buf, len, PMK_ATTR_PREFIX "%s", rsc);

    return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

int pmk_rule_xml(const char *rsc, char *buf, size_t len)
{
    if (!pmk_name_ok(rsc))
        return -EINVAL;
    return snprintf(buf, len,
                    "<rsc_location id=\"vesper-degraded-%s\" rsc=\"%s\">"
                    "<rule id=\"vesper-degraded-%s-rule\" score-attribute=\"" PMK_ATTR_PREFIX
                    "%s\"><expression id=\"vesper-degraded-%s-expr\" attribute=\"" PMK_ATTR_PREFIX
                    "%s\" operation=\"defined\"/></rule></rsc_location>",
                    rsc, rsc, rsc, rsc, rsc, rsc);
}
