#ifndef KEV_EPOLL_WAIT_H
#define KEV_EPOLL_WAIT_H
/* The epoll wait + per-event `data` hot path, shared by the cffi module (linux.c) and
 * the CPython fast path (linux_read_write.c).
 *
 * Story: a Python loop over select.epoll plus one ioctl(FIONREAD) per event costs about
 * 30 % of a ping-pong round trip (spec §6.3), so the wait and the per-event `data`
 * computation happen here, in one call that releases the GIL, and Python only maps
 * tokens to knotes.
 *
 * A token (epoll_data.u64) is: bits 0-31 the fd, 32-35 the role, bit 36 "no data"
 * (KEV_TOKEN_NODATA), 40-62 a serial number. The serial makes a token unique for the
 * life of a knote, so an event for a deleted or replaced registration is recognised and
 * dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>

#define KEV_ROLE_INTERNAL 0
#define KEV_ROLE_READ 1
#define KEV_ROLE_WRITE 2
#define KEV_ROLE_INNER 3
/* Token bit: the knote was made with Flag.NODATA (D78), so its events skip the count.
 * Story: the asyncio and Trio adapters never read READ/WRITE `data`, but their queue
 * also serves users' add_kevent/wait_kevent knotes, which may; so the opt-out is per
 * knote, and it rides in the token the kernel hands back, so this loop tests a bit
 * where a per-knote table lookup would cost a cache miss per event. */
#define KEV_TOKEN_NODATA (1ULL << 36)
/* Set in an output `events` word when the fd turned out to be closed (EBADF). */
#define KEV_STALE 0x80000000u
/* int64 words per output record: token, events, data, fflags (socket error). */
#define KEV_OUT_WIDTH 4

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif

/* Story: epoll_wait takes whole milliseconds, so a 0.3 ms timer would either busy-loop
 * (rounded down) or wait 1 ms. epoll_pwait2 (Linux 5.11) takes a timespec; we try it
 * once and remember ENOSYS (old kernels, some seccomp profiles). Timeouts are rounded
 * up, never down, and a negative timeout means "forever". */
static int kev_have_pwait2 = 1;

static int kev_raw_wait(int epfd, struct epoll_event *buf, int room, int64_t timeout_ns)
{
    int n;
    /* Whole milliseconds (0, "forever", the engine's clamped waits) take the cheaper
     * epoll_wait: on this kind of VM epoll_pwait2 costs 0.13 us more per call. */
    if (kev_have_pwait2 && timeout_ns > 0 && timeout_ns % 1000000 != 0) {
        struct timespec ts;
        ts.tv_sec = (time_t)(timeout_ns / 1000000000);
        ts.tv_nsec = (long)(timeout_ns % 1000000000);
        n = (int)syscall(SYS_epoll_pwait2, epfd, buf, room, &ts, NULL, (size_t)8);
        if (n >= 0)
            return n;
        if (errno != ENOSYS && errno != EPERM)
            return -errno;
        kev_have_pwait2 = 0;
    }
    int ms = -1;
    if (timeout_ns >= 0) {
        int64_t m = (timeout_ns + 999999) / 1000000;
        ms = m > 0x7fffffff ? 0x7fffffff : (int)m;
    }
    n = epoll_wait(epfd, buf, room, ms);
    return n < 0 ? -errno : n;
}

/* The socket error is not read here. BSD puts so_error in fflags without clearing it;
 * Linux has no such read: getsockopt(SO_ERROR) clears sk_err (and recv/connect consume
 * it too). Reading it would take the error from the program, and the standard
 * non-blocking connect (wait for WRITE, then getsockopt(SO_ERROR): selectors, asyncio)
 * would see a failed connect as a success. So fflags stays 0 and the error stays in
 * the socket for the program (D39). */

/* READ data: bytes readable (FIONREAD); for a TCP listener, where FIONREAD is EINVAL,
 * the accept-queue length from TCP_INFO (tcpi_unacked, verified on 6.18); anything else
 * that cannot count (another epoll/kevents queue, AF_UNIX listener) reports 1. */
static int64_t kev_read_data(int fd, uint32_t *events)
{
    int avail = 0;
    if (ioctl(fd, FIONREAD, &avail) == 0)
        return avail;
    if (errno == EBADF) {
        *events |= KEV_STALE;
        return 0;
    }
    if (errno == EINVAL) {
        struct tcp_info ti;
        socklen_t len = sizeof ti;
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0)
            return ti.tcpi_unacked;
    }
    return 1;
}

/* WRITE data: free space, never bytes queued (libkqueue's bug). Sockets: SO_SNDBUF minus
 * SIOCOUTQ (Linux doubles SO_SNDBUF for bookkeeping, so this is an upper estimate);
 * pipes: F_GETPIPE_SZ minus FIONREAD; other objects: 0 (BSD's regular-file value). The
 * kind of object is found by trying, so a token need not carry it. */
static int64_t kev_write_data(int fd, uint32_t *events)
{
    int a = 0, b = 0;
    socklen_t len = sizeof a;
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &a, &len) == 0) {
        if (ioctl(fd, SIOCOUTQ, &b) < 0)
            b = 0;
    } else if (errno == EBADF) {
        *events |= KEV_STALE;
        return 0;
    } else if ((a = fcntl(fd, F_GETPIPE_SZ)) >= 0) {
        if (ioctl(fd, FIONREAD, &b) < 0)
            b = 0;
    } else {
        return 0;
    }
    return a > b ? (int64_t)a - b : 0;
}

/* `counts` 0: the queue does not compute READ/WRITE data (Queue(counts=False), D43),
 * and a KEV_TOKEN_NODATA token: this knote does not (Flag.NODATA, D78). Either way no
 * system call per event, data 0, and no stale-fd check (that came from FIONREAD). */
static void kev_emit(int64_t *o, uint64_t token, uint32_t events, int counts)
{
    int fd = (int)(token & 0xffffffffu);
    int role = (int)((token >> 32) & 0xf);
    int64_t data = 0;
    if (!counts || (token & KEV_TOKEN_NODATA))
        ;
    else if (role == KEV_ROLE_READ)
        data = kev_read_data(fd, &events);
    else if (role == KEV_ROLE_WRITE)
        data = kev_write_data(fd, &events);
    o[0] = (int64_t)token;
    o[1] = (int64_t)events;
    o[2] = data;
    o[3] = 0; /* fflags: see above */
}

/* Wait on the queue's epoll fd and translate up to `room` events into `out`
 * (KEV_OUT_WIDTH words each). WRITE registrations live in an inner epoll nested in the
 * main one (see linux/read_write.py for why); when it reports ready, it is drained
 * here with a zero timeout, within the same room. Returns the record count or -errno. */
static int kev_wait(int epfd, int innerfd, void *vbuf, int room, int64_t timeout_ns,
                    int64_t *out, int counts)
{
    struct epoll_event *buf = vbuf;
    int k = 0, inner = 0;
    int n = kev_raw_wait(epfd, buf, room, timeout_ns);
    if (n < 0)
        return n;
    for (int i = 0; i < n; i++) {
        uint64_t token = buf[i].data.u64;
        if (((token >> 32) & 0xf) == KEV_ROLE_INNER) {
            inner = 1;
            continue;
        }
        kev_emit(out + KEV_OUT_WIDTH * k++, token, buf[i].events, counts);
    }
    if (inner && k < room) {
        n = epoll_wait(innerfd, buf, room - k, 0);
        for (int i = 0; i < n; i++)
            kev_emit(out + KEV_OUT_WIDTH * k++, buf[i].data.u64, buf[i].events, counts);
    }
    return k;
}

#endif /* KEV_EPOLL_WAIT_H */
