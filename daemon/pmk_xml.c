/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * CIB look-ups for the pure CIB readers (see pmk_xml.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <libxml/tree.h>

#include "pmk_xml.h"

int pmk_xml_is(const xmlNode *x, const char *name)
{
    return x && x->type == XML_ELEMENT_NODE && strcmp((const char *)x->name, name) == 0;
}

const xmlNode *pmk_xml_first(const xmlNode *x, const char *name)
{
    for (const xmlNode *c = x ? x->children : NULL; c; c = c->next) {
        if (pmk_xml_is(c, name))
            return c;
    }
    return NULL;
}

const char *pmk_xml_get(const xmlNode *x, const char *name)
{
    for (const xmlAttr *a = x ? x->properties : NULL; a; a = a->next) {
        if (a->ns == NULL && strcmp((const char *)a->name, name) == 0) {
            const xmlNode *t = a->children;

            if (t == NULL)
                return "";
            if (t->type == XML_TEXT_NODE && t->next == NULL && t->content)
                return (const char *)t->content;
            return NULL;
        }
    }
    return NULL;
}

int pmk_xml_attr_is(const xmlNode *x, const char *name, const char *value)
{
    const char *v = pmk_xml_get(x, name);

    return v && strcmp(v, value) == 0;
}

int pmk_true(const char *v)
{
    static const char *const yes[] = {"true", "on", "yes", "y", "1"};

    for (size_t i = 0; v && i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return 1;
    }
    return 0;
}

int pmk_node_up(const xmlNode *ns)
{
    const char *ccm = pmk_xml_get(ns, "in_ccm"), *crmd = pmk_xml_get(ns, "crmd");

    if (!ccm || !crmd || strcmp(ccm, "false") == 0 || strcmp(ccm, "0") == 0)
        return 0;
    return strcmp(crmd, "offline") != 0 && strcmp(crmd, "0") != 0;
}

int pmk_lrm_id_is(const char *id, const char *rsc)
{
    size_t n = strlen(rsc);

    if (!id || strncmp(id, rsc, n) != 0)
        return 0;
    if (id[n] == '\0')
        return 1;
    if (id[n] != ':' || id[n + 1] == '\0')
        return 0;
    for (const char *p = id + n + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
    }
    return 1;
}
