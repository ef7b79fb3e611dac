// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Copyright (C) 2026 The vesper authors
 *
 * vweb: the web service of the failover experiments, run inside the guest
 * (tools/libvirt/guest-hv.sh "web start").  `vweb -p PORT -t TEXT` is a
 * single-threaded HTTP/1.0 server on every address: each GET is answered
 * with 200 and the body TEXT plus a newline, then the connection is closed.
 * Two fault hooks, honoured only for a client on 127.0.0.1 (the guest
 * itself; anyone else gets 403), reply 200 first and then make the server
 * itself the fault:
 *   GET /fault/oom        sets its oom_score_adj to 1000 (so the OOM killer
 *                         picks it, not the agent), then allocates and
 *                         touches memory 1 MiB at a time until it is killed;
 *   GET /fault/hang?s=N   sleeps N s (1..3600) in D state through vesper.ko's
 *                         test hook (module parameter test_hooks=1): nothing
 *                         is answered meanwhile and the guest's hung task
 *                         detector reports it; 503 when the hook is off;
 *   GET /fault/deadlock?s=N  a user-space deadlock for N s (1..3600): the
 *                         server waits on a futex nobody wakes, asleep
 *                         (state S, not D) with its process and listening
 *                         socket alive, so a TCP connect still succeeds
 *                         (the kernel completes it into the backlog) while
 *                         no request is answered; it serves again after N s.
 * SIGHUP is ignored (a reload that changes nothing), SIGTERM ends it.
 * Errors go to stderr as "vweb: ...".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/futex.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "vesper_uapi.h"

#define VWEB_CHUNK (1024 * 1024)
#define VWEB_REQ_MAX 2048   /* request head kept; the rest is not read */
#define VWEB_TEXT_MAX 4096  /* cap of -t TEXT */
#define VWEB_IO_TIMEOUT_S 2 /* a stalled client cannot hold the server */

enum vweb_fault { VWEB_NONE, VWEB_OOM, VWEB_HANG, VWEB_DEADLOCK };

static void usage(void)
{
    fprintf(stderr, "usage: vweb -p PORT -t TEXT\n");
    exit(2);
}

/* A listening TCP socket on every address, port PORT; exits on failure. */
static int vweb_listen(unsigned int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_ANY)};
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
        fprintf(stderr, "vweb: port %u: %s\n", port, strerror(errno));
        exit(1);
    }
    return fd;
}

/*
 * Read the request head into buf (NUL-terminated, at most size - 1 bytes)
 * until an empty line, end of file, a full buffer or the I/O timeout.
 * Returns the bytes read, -1 on an error.
 */
static ssize_t vweb_read_head(int fd, char *buf, size_t size)
{
    size_t len = 0;
    ssize_t n;

    while (len + 1 < size) {
        n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
            break;
    }
    buf[len] = '\0';
    return (ssize_t)len;
}

/* Write all of buf (the timeout bounds a client that does not read). */
static void vweb_write_all(int fd, const char *buf, size_t len)
{
    ssize_t n;

    while (len > 0) {
        n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

/* One HTTP/1.0 response with a text/plain body; the caller closes. */
static void vweb_reply(int fd, int code, const char *reason, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.0 %d %s\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     code, reason, strlen(body));

    vweb_write_all(fd, head, (size_t)n);
    vweb_write_all(fd, body, strlen(body));
}

/* True when vesper.ko is loaded with test_hooks=1 (the hang can work). */
static int vweb_hooks_on(void)
{
    struct vesper_info info;
    int fd = open(VESPER_DEVICE, O_WRONLY | O_CLOEXEC);
    int on;

    if (fd < 0)
        return 0;
    on = ioctl(fd, VESPER_IOC_INFO, &info) == 0 && info.test_hooks;
    close(fd);
    return on;
}

/*
 * Answer one request on connection fd from peer; returns the fault the
 * server must do once the connection is closed, with its seconds in *secs.
 */
static enum vweb_fault vweb_serve(int fd, const struct sockaddr_in *peer, const char *body,
                                  unsigned int *secs)
{
    char req[VWEB_REQ_MAX];
    char *path, *end;
    int local = peer->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
    long s;

    if (vweb_read_head(fd, req, sizeof(req)) <= 0)
        return VWEB_NONE;
    if (strncmp(req, "GET ", 4) != 0) {
        vweb_reply(fd, 501, "Not Implemented", "only GET\n");
        return VWEB_NONE;
    }
    path = req + 4;
    path[strcspn(path, " \r\n")] = '\0';
    if (strncmp(path, "/fault/", 7) != 0) {
        vweb_reply(fd, 200, "OK", body);
        return VWEB_NONE;
    }
    if (!local) {
        vweb_reply(fd, 403, "Forbidden", "faults only from 127.0.0.1\n");
        return VWEB_NONE;
    }
    if (!strcmp(path, "/fault/oom")) {
        vweb_reply(fd, 200, "OK", "oom\n");
        return VWEB_OOM;
    }
    if (!strncmp(path, "/fault/deadlock?s=", 18)) {
        errno = 0;
        s = strtol(path + 18, &end, 10);
        if (errno || *end || s < 1 || s > 3600) {
            vweb_reply(fd, 400, "Bad Request", "deadlock?s=1..3600\n");
            return VWEB_NONE;
        }
        vweb_reply(fd, 200, "OK", "deadlock\n");
        *secs = (unsigned int)s;
        return VWEB_DEADLOCK;
    }
    if (!strncmp(path, "/fault/hang?s=", 14)) {
        errno = 0;
        s = strtol(path + 14, &end, 10);
        if (errno || *end || s < 1 || s > 3600) {
            vweb_reply(fd, 400, "Bad Request", "hang?s=1..3600\n");
            return VWEB_NONE;
        }
        if (!vweb_hooks_on()) {
            vweb_reply(fd, 503, "Service Unavailable", "vesper.ko test_hooks off\n");
            return VWEB_NONE;
        }
        vweb_reply(fd, 200, "OK", "hang\n");
        *secs = (unsigned int)s;
        return VWEB_HANG;
    }
    vweb_reply(fd, 404, "Not Found", "unknown fault\n");
    return VWEB_NONE;
}

/* Become the OOM killer's victim and leak until it kills us. */
static _Noreturn void vweb_oom(void)
{
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    char *p;

    if (fd < 0 || write(fd, "1000", 4) != 4)
        fprintf(stderr, "vweb: oom_score_adj: %s\n", strerror(errno));
    if (fd >= 0)
        close(fd);
    fprintf(stderr, "vweb: oom fault\n");
    for (;;) {
        p = malloc(VWEB_CHUNK);
        if (!p) {
            /* Overcommit refused: keep what we have and wait for the killer. */
            pause();
            continue;
        }
        memset(p, 0x5a, VWEB_CHUNK);
    }
}

/* Sleep secs seconds in D state in vesper.ko (VESPER_IOC_TEST_HANG). */
static void vweb_hang(unsigned int secs)
{
    uint32_t arg = secs;
    int fd = open(VESPER_DEVICE, O_WRONLY | O_CLOEXEC);

    fprintf(stderr, "vweb: hang fault, %u s in D state\n", secs);
    if (fd < 0) {
        fprintf(stderr, "vweb: %s: %s\n", VESPER_DEVICE, strerror(errno));
        return;
    }
    if (ioctl(fd, VESPER_IOC_TEST_HANG, &arg) < 0)
        fprintf(stderr, "vweb: TEST_HANG: %s\n", strerror(errno));
    close(fd);
}

/*
 * Wait secs seconds on a futex word that nobody ever changes or wakes: the
 * thread sleeps interruptibly in the kernel as a deadlocked worker does.
 * A signal with a handler only restarts the wait (SIGTERM, which has none,
 * still ends the process).
 */
static void vweb_deadlock(unsigned int secs)
{
    static uint32_t word;
    struct timespec now, end, left;

    fprintf(stderr, "vweb: deadlock fault, %u s asleep on a futex\n", secs);
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += secs;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        left.tv_sec = end.tv_sec - now.tv_sec;
        left.tv_nsec = end.tv_nsec - now.tv_nsec;
        if (left.tv_nsec < 0) {
            left.tv_sec--;
            left.tv_nsec += 1000000000L;
        }
        if (left.tv_sec < 0)
            break;
        /* FUTEX_WAIT's timeout is relative; EAGAIN cannot happen (word stays 0). */
        if (syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, &left, NULL, 0) < 0 &&
            errno != EINTR && errno != ETIMEDOUT) {
            fprintf(stderr, "vweb: futex: %s\n", strerror(errno));
            break;
        }
    }
    fprintf(stderr, "vweb: deadlock over, serving again\n");
}

int main(int argc, char **argv)
{
    struct timeval tmo = {.tv_sec = VWEB_IO_TIMEOUT_S};
    struct sockaddr_in peer;
    socklen_t plen;
    const char *text = NULL;
    char *body, *end;
    unsigned long port = 0;
    unsigned int secs = 0;
    enum vweb_fault f;
    int opt, lfd, cfd;

    while ((opt = getopt(argc, argv, "p:t:")) != -1) {
        if (opt == 'p') {
            errno = 0;
            port = strtoul(optarg, &end, 10);
            if (errno || *end || port < 1 || port > 65535)
                usage();
        } else if (opt == 't') {
            text = optarg;
        } else {
            usage();
        }
    }
    if (!port || !text || optind != argc || strlen(text) > VWEB_TEXT_MAX)
        usage();
    body = malloc(strlen(text) + 2);
    if (!body) {
        fprintf(stderr, "vweb: out of memory\n");
        return 1;
    }
    sprintf(body, "%s\n", text);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    lfd = vweb_listen((unsigned int)port);

    for (;;) {
        plen = sizeof(peer);
        cfd = accept(lfd, (struct sockaddr *)&peer, &plen);
        if (cfd < 0) {
            if (errno != EINTR && errno != ECONNABORTED)
                fprintf(stderr, "vweb: accept: %s\n", strerror(errno));
            continue;
        }
        setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
        setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
        f = plen >= sizeof(peer) ? vweb_serve(cfd, &peer, body, &secs) : VWEB_NONE;
        close(cfd);
        if (f == VWEB_OOM)
            vweb_oom();
        if (f == VWEB_HANG)
            vweb_hang(secs);
        if (f == VWEB_DEADLOCK)
            vweb_deadlock(secs);
    }
}
