/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * File I/O of the configuration: reads vesperd.conf and every *.conf of the
 * probe-group directory (in name order) with their size capped before any
 * allocation, hands the text to the pure parsers of conf_parse.c and
 * resolves the cross references.  I/O problems become errors of the same
 * "file: message" form as parse errors.  A file that its group or others
 * may write is refused: vesperd runs the commands its configuration names.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "conf.h"
#include "conf_int.h"

/* Read a whole regular file of at most CONF_MAX_FILE bytes that only its
 * owner may write; 0 or -1 with the error recorded. */
static int read_file(const char *path, char **text, size_t *len, struct conf_errors *errs)
{
    struct stat st;
    size_t cap, n = 0;
    char *buf;
    int fd;

    *text = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        conf_errors_add(errs, path, 0, "%s", g_strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        conf_errors_add(errs, path, 0, "%s", g_strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        conf_errors_add(errs, path, 0, "not a regular file");
        goto fail;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        conf_errors_add(errs, path, 0,
                        "writable by %s (mode %04o): refused, only its owner may write a "
                        "file of vesperd's configuration (chmod go-w)",
                        !(st.st_mode & S_IWOTH)   ? "its group"
                        : !(st.st_mode & S_IWGRP) ? "others"
                                                  : "its group and others",
                        (unsigned)(st.st_mode & 07777));
        goto fail;
    }
    if (st.st_size > CONF_MAX_FILE) {
        conf_errors_add(errs, path, 0, "file too large (%lld > %d bytes)", (long long)st.st_size,
                        CONF_MAX_FILE);
        goto fail;
    }
    cap = (size_t)st.st_size + 1;
    buf = g_malloc(cap);
    for (;;) {
        ssize_t r;

        if (n == cap) {
            if (cap > CONF_MAX_FILE) {
                conf_errors_add(errs, path, 0, "file too large (> %d bytes)", CONF_MAX_FILE);
                g_free(buf);
                goto fail;
            }
            cap = MIN(cap * 2, (size_t)CONF_MAX_FILE + 1);
            buf = g_realloc(buf, cap);
        }
        r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            conf_errors_add(errs, path, 0, "%s", g_strerror(errno));
            g_free(buf);
            goto fail;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    *text = buf;
    *len = n;
    return 0;
fail:
    close(fd);
    return -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_dir(struct conf *c, const char *dir, struct conf_errors *errs)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    struct dirent *de;
    DIR *d = opendir(dir);

    if (!d) {
        conf_errors_add(errs, dir, 0, "%s", g_strerror(errno));
        g_ptr_array_free(names, TRUE);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);

        if (de->d_name[0] == '.' || n <= 5 || strcmp(de->d_name + n - 5, ".conf") != 0)
            continue;
        if (names->len >= CONF_MAX_GROUP_FILES) {
            conf_errors_add(errs, dir, 0, "too many *.conf files (max %d)", CONF_MAX_GROUP_FILES);
            break;
        }
        g_ptr_array_add(names, g_strdup(de->d_name));
    }
    closedir(d);
    if (names->len > 1)
        qsort(names->pdata, names->len, sizeof(char *), cmp_str);
    for (guint i = 0; i < names->len; i++) {
        char *path = g_build_filename(dir, (char *)names->pdata[i], NULL);
        char *text;
        size_t len;

        if (read_file(path, &text, &len, errs) == 0) {
            conf_parse_groups(c, path, text, len, errs);
            g_free(text);
        }
        g_free(path);
    }
    g_ptr_array_free(names, TRUE);
}

int conf_load(const char *path, const char *group_dir, struct conf **out, struct conf_errors *errs)
{
    size_t before = conf_errors_count(errs), first = errs->n;
    struct conf *c = conf_new();
    char *text;
    size_t len;

    if (read_file(path, &text, &len, errs) == 0) {
        conf_parse_daemon(c, path, text, len, errs);
        g_free(text);
    } else {
        g_free(c->file);
        c->file = g_strdup(path);
    }
    c->group_dir_loaded = g_strdup(group_dir ? group_dir : c->group_dir);
    load_dir(c, c->group_dir_loaded, errs);
    conf_resolve(c, errs);
    /* the daemon file's errors (its own and its references) in line order,
     * then those of the group files */
    conf_errors_sort_file_first(errs, first, path);
    *out = c;
    return (int)(conf_errors_count(errs) - before);
}

int conf_load_group_file(const char *path, struct conf **out, struct conf_errors *errs)
{
    size_t before = conf_errors_count(errs);
    struct conf *c = conf_new();
    char *text;
    size_t len;

    if (read_file(path, &text, &len, errs) == 0) {
        conf_parse_groups(c, path, text, len, errs);
        g_free(text);
    }
    conf_resolve(c, errs);
    *out = c;
    return (int)(conf_errors_count(errs) - before);
}
