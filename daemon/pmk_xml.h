/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Reading a CIB as libxml2 tree (cibadmin -Q's form), for the pure CIB
 * readers pmk_planned.c and pmk_history.c: element and attribute look-ups
 * that never allocate and treat anything unusual (entities, non-element
 * nodes) as absent.  Pointers returned refer into the caller's tree.  Not
 * for use outside the pmk_ subsystem.
 */
#ifndef VSP_PMK_XML_H
#define VSP_PMK_XML_H

#include <libxml/tree.h>

/* Is x an element named name? */
int pmk_xml_is(const xmlNode *x, const char *name);

/* The first child element of x named name, or NULL (x NULL too). */
const xmlNode *pmk_xml_first(const xmlNode *x, const char *name);

/* The value of attribute name of x, in the tree's own storage (valid while
 * the tree is), or NULL.  Attribute values of a parsed tree are one text
 * child each; anything else (entities) counts as absent. */
const char *pmk_xml_get(const xmlNode *x, const char *name);

/* Has x attribute name with exactly value? */
int pmk_xml_attr_is(const xmlNode *x, const char *name, const char *value);

/* Pacemaker's booleans (crm_is_true()): true, on, yes, y, 1. */
int pmk_true(const char *v);

/* A node_state whose node is in the cluster and whose controller runs: in
 * 2.1 in_ccm="true" and crmd="online", in 3.0 both become timestamps
 * ("0" or absent when not). */
int pmk_node_up(const xmlNode *ns);

/* Is lrm_resource id that of rsc (itself, or an instance "rsc:N" of a clone)? */
int pmk_lrm_id_is(const char *id, const char *rsc);

#endif /* VSP_PMK_XML_H */
