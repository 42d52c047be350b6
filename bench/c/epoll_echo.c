/*
 * Baseline: echo server in C on epoll, edge-triggered, the way a careful
 * C programmer writes it.
 *
 *   cc -O2 -o epoll_echo bench/c/epoll_echo.c && ./epoll_echo --addr 127.0.0.1:0
 *
 * Every connection is registered once, for EPOLLIN | EPOLLOUT | EPOLLRDHUP,
 * edge-triggered, and never touched with epoll_ctl again. What is read is
 * written back at once from one shared 64 KiB buffer; only what the socket
 * refuses is copied to a per-connection buffer (allocated only then) and
 * sent on the next EPOLLOUT edge, reading paused until it drains. A read
 * shorter than the buffer means the socket is drained, so the extra read
 * that would only return EAGAIN is skipped (unless a hang-up was reported:
 * then the EOF may be right behind the data). Prints `listening on ADDR`
 * first; SIGINT or SIGTERM exit 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ (64 * 1024)
#define MAX_EVENTS 1024

struct conn {
    int fd;
    int read_paused; /* output is waiting: resume reading once it drains */
    char *pending;   /* NULL unless the socket refused part of a write */
    size_t len, off;
};

static char buf[BUFSZ];
static volatile sig_atomic_t stop;

static void on_signal(int sig) { (void)sig; stop = 1; }

static void close_conn(struct conn *c) {
    close(c->fd); /* also removes it from the epoll set */
    free(c->pending);
    free(c);
}

/* Writes what waits; returns -1 if the connection failed. */
static int flush_pending(struct conn *c) {
    while (c->off < c->len) {
        ssize_t n = write(c->fd, c->pending + c->off, c->len - c->off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN ? 0 : -1;
        }
        c->off += (size_t)n;
    }
    free(c->pending);
    c->pending = NULL;
    c->len = c->off = 0;
    return 0;
}

/* Reads and echoes; returns -1 when the connection is over. */
static int on_readable(struct conn *c, int to_end) {
    for (;;) {
        if (c->pending) {
            c->read_paused = 1;
            return 0;
        }
        ssize_t n = read(c->fd, buf, BUFSZ);
        if (n == 0) return -1;
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN ? 0 : -1;
        }
        ssize_t w = write(c->fd, buf, (size_t)n);
        if (w < 0) {
            if (errno != EAGAIN && errno != EINTR) return -1;
            w = 0;
        }
        if (w < n) {
            c->len = (size_t)(n - w);
            c->off = 0;
            c->pending = malloc(c->len);
            if (!c->pending) return -1;
            memcpy(c->pending, buf + w, c->len);
            c->read_paused = 1;
            return 0;
        }
        if (n < BUFSZ && !to_end) return 0; /* drained: no EAGAIN read */
    }
}

static int parse_addr(const char *s, struct sockaddr_in *sa) {
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof host) return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535) return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((unsigned short)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

int main(int argc, char **argv) {
    const char *addr = "127.0.0.1:8888";
    if (argc == 3 && strcmp(argv[1], "--addr") == 0) {
        addr = argv[2];
    } else if (argc != 1) {
        fprintf(stderr, "usage: epoll_echo [--addr HOST:PORT]\n");
        return 2;
    }
    struct sockaddr_in sa;
    if (parse_addr(addr, &sa) < 0) {
        fprintf(stderr, "error: bad address %s (want IPv4 HOST:PORT)\n", addr);
        return 2;
    }
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_handler = on_signal; /* no SA_RESTART: epoll_wait returns EINTR */
    sigaction(SIGINT, &act, NULL);
    sigaction(SIGTERM, &act, NULL);
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(lfd, SOMAXCONN) < 0) {
        fprintf(stderr, "error: listening on %s: %s\n", addr, strerror(errno));
        return 1;
    }
    socklen_t salen = sizeof sa;
    getsockname(lfd, (struct sockaddr *)&sa, &salen);
    char host[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sa.sin_addr, host, sizeof host);
    printf("listening on %s:%u\n", host, ntohs(sa.sin_port));
    fflush(stdout);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    struct epoll_event events[MAX_EVENTS];
    while (!stop) {
        int n = epoll_wait(ep, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            uint32_t e = events[i].events;
            if (!c) {
                for (;;) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED) continue;
                        break; /* EAGAIN, or EMFILE: try again on the next edge */
                    }
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct conn *nc = calloc(1, sizeof *nc);
                    if (!nc) {
                        close(fd);
                        continue;
                    }
                    nc->fd = fd;
                    struct epoll_event cev = {
                        .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                        .data.ptr = nc};
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev) < 0) close_conn(nc);
                }
                continue;
            }
            int dead = 0;
            if ((e & EPOLLOUT) && c->pending) {
                dead = flush_pending(c) < 0;
                if (!dead && !c->pending && c->read_paused) {
                    c->read_paused = 0;
                    e |= EPOLLIN; /* bytes may have waited while we were paused */
                }
            }
            int hup = e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR);
            if (!dead && (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
                dead = on_readable(c, hup) < 0;
            if (dead) close_conn(c);
        }
    }
    return 0;
}
