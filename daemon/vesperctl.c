/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * vesperctl: the command line client of vesperd's control socket, also
 * used by the ocf:vesper resource agent.  It sends one request line built
 * from its arguments, prints the reply's body and exits 0 when the first
 * line was "ok", 1 when it was "error: ...", 2 when vesperd could not be
 * reached.  With --follow it keeps printing until vesperd closes the
 * connection or vesperctl gets SIGINT/SIGTERM.  Needs libc only.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define VESPERCTL_DEFAULT_SOCKET VSP_RUNSTATEDIR "/vesper/vesperd.sock"
#define VESPERCTL_MAX_REQUEST 4096
#define VESPERCTL_TIMEOUT_S 30

static volatile sig_atomic_t vesperctl_stop;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vesperctl [-s SOCKET] [--json] COMMAND [ARGS] [--json]\n"
            "commands:\n"
            "  status                       daemon summary\n"
            "  version                      vesperd and protocol version\n"
            "  guests                       one line per guest\n"
            "  guest NAME                   everything about one guest\n"
            "  health NAME                  running | failed REASON | degraded REASON |\n"
            "                               unknown REASON | maintenance REASON (for scripts)\n"
            "  events [GUEST] [--limit N] [--follow]\n"
            "  operations [GUEST] [--limit N] [--follow]\n"
            "  operation OPID               one operation as a timeline\n"
            "  trace OPID [--format text|chrome|svg]\n"
            "                               the operation across layers: a tree with the\n"
            "                               critical path, Trace Event JSON (Perfetto) or\n"
            "                               a timeline picture\n"
            "  stats                        counters per guest\n"
            "  push NAME                    resend the guest's probe configuration\n"
            "  bind NAME RESOURCE [--groups G1,G2] [--watch comm:X,pid:N,cgroup:/P,unit:U]\n"
            "       [--agent CLASS:PROVIDER:TYPE]\n"
            "                               bind a cluster resource to the guest (and\n"
            "                               replace its probe groups / watch list)\n"
            "  unbind NAME [RESOURCE]       remove that binding and its replacements\n"
            "  clear NAME                   forget the guest's failed/degraded state\n"
            "  maintenance NAME on|off [--for DURATION]\n"
            "                               hold the guest's failover/migrate verdicts back\n"
            "                               (recorded, not acted on) until off or DURATION\n"
            "  reload                       reload the configuration (like SIGHUP)\n"
            "options:\n"
            "  -s, --socket PATH   control socket (default $VESPER_SOCKET or %s)\n"
            "  -j, --json          JSON output\n"
            "exit status: 0 ok, 1 vesperd answered with an error, 2 no answer\n",
            VESPERCTL_DEFAULT_SOCKET);
}

static void on_signal(int sig)
{
    (void)sig;
    vesperctl_stop = 1;
}

/* An argument must be one word of printable ASCII. */
static int arg_ok(const char *a)
{
    if (!*a)
        return 0;
    for (const unsigned char *p = (const unsigned char *)a; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7f)
            return 0;
    }
    return 1;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *sock = getenv("VESPER_SOCKET");
    char req[VESPERCTL_MAX_REQUEST + 2];
    size_t rlen = 0;
    int json = 0, follow = 0, have_cmd = 0;
    struct sockaddr_un sa;
    int fd, i;

    if (!sock || !*sock)
        sock = VESPERCTL_DEFAULT_SOCKET;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (!have_cmd && (strcmp(a, "-s") == 0 || strcmp(a, "--socket") == 0)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "vesperctl: %s needs a path\n", a);
                return 2;
            }
            sock = argv[++i];
            continue;
        }
        if (strcmp(a, "-j") == 0 || strcmp(a, "--json") == 0) {
            json = 1;
            continue;
        }
        if (!have_cmd && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
            usage(stdout);
            return 0;
        }
        if (!have_cmd && a[0] == '-') {
            fprintf(stderr, "vesperctl: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
        if (!arg_ok(a)) {
            fprintf(stderr,
                    "vesperctl: argument '%s' is empty or has spaces or control "
                    "characters\n",
                    a);
            return 2;
        }
        if (strcmp(a, "--follow") == 0)
            follow = 1;
        size_t al = strlen(a);

        if (rlen + al + 1 > VESPERCTL_MAX_REQUEST) {
            fprintf(stderr, "vesperctl: request too long\n");
            return 2;
        }
        if (rlen)
            req[rlen++] = ' ';
        memcpy(req + rlen, a, al);
        rlen += al;
        have_cmd = 1;
    }
    if (!have_cmd) {
        usage(stderr);
        return 2;
    }
    if (json) {
        if (rlen + 7 > VESPERCTL_MAX_REQUEST) {
            fprintf(stderr, "vesperctl: request too long\n");
            return 2;
        }
        memcpy(req + rlen, " --json", 7);
        rlen += 7;
    }
    req[rlen++] = '\n';

    if (strlen(sock) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "vesperctl: socket path %s is too long\n", sock);
        return 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, sock, strlen(sock));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "vesperctl: socket: %s\n", strerror(errno));
        return 2;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fprintf(stderr, "vesperctl: cannot connect to %s: %s (is vesperd running?)\n", sock,
                strerror(errno));
        close(fd);
        return 2;
    }
    if (!follow) {
        struct timeval tv = {.tv_sec = VESPERCTL_TIMEOUT_S};

        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    } else {
        struct sigaction sa_sig;

        memset(&sa_sig, 0, sizeof(sa_sig));
        sa_sig.sa_handler = on_signal; /* no SA_RESTART: recv returns EINTR */
        sigaction(SIGINT, &sa_sig, NULL);
        sigaction(SIGTERM, &sa_sig, NULL);
        setvbuf(stdout, NULL, _IOLBF, 0);
    }
    /* vesperd may answer (e.g. "permission denied") and close before the
     * request is out: a failed send is reported only if no answer came */
    int send_errno = write_all(fd, req, rlen) < 0 ? errno : 0;

    /* first line: ok / error: ...; the rest goes to stdout (stderr on error) */
    char buf[8192], first[VESPERCTL_MAX_REQUEST];
    size_t flen = 0;
    int state = 0; /* 0 reading the first line, 1 ok, 2 error */

    while (!vesperctl_stop) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                fprintf(stderr, "vesperctl: no answer from vesperd within %d s\n",
                        VESPERCTL_TIMEOUT_S);
                close(fd);
                return 2;
            }
            if (state != 0)
                break; /* the answer is in; a reset after it ends the body */
            if (send_errno)
                errno = send_errno;
            fprintf(stderr, "vesperctl: read from %s: %s\n", sock, strerror(errno));
            close(fd);
            return 2;
        }
        if (n == 0)
            break;
        size_t off = 0;

        if (state == 0) {
            while (off < (size_t)n && buf[off] != '\n') {
                if (flen < sizeof(first) - 1)
                    first[flen++] = buf[off];
                off++;
            }
            if (off == (size_t)n)
                continue; /* first line not complete yet */
            off++;        /* the newline */
            first[flen] = '\0';
            if (strcmp(first, "ok") == 0) {
                state = 1;
            } else {
                state = 2;
                if (strncmp(first, "error: ", 7) == 0)
                    fprintf(stderr, "vesperctl: %s\n", first + 7);
                else
                    fprintf(stderr, "vesperctl: unexpected answer: %s\n", first);
            }
        }
        if (off < (size_t)n)
            fwrite(buf + off, 1, (size_t)n - off, state == 1 ? stdout : stderr);
    }
    close(fd);
    fflush(stdout);
    if (state == 0) {
        if (vesperctl_stop)
            return 0;
        if (send_errno)
            fprintf(stderr, "vesperctl: cannot send to %s: %s\n", sock, strerror(send_errno));
        else
            fprintf(stderr, "vesperctl: vesperd closed the connection without an answer\n");
        return 2;
    }
    return state == 1 ? 0 : 1;
}
