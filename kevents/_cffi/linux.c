/* Linux epoll core: the fd helpers around the wait in epoll_wait.h. */
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include "epoll_wait.h"

static int kev_epoll_create(void)
{
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static int kev_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = token;
    return epoll_ctl(epfd, op, fd, &ev) < 0 ? -errno : 0;
}

static int kev_epoll_wait_size(void) { return (int)sizeof(struct epoll_event); }

static int kev_eventfd(void)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return fd < 0 ? -errno : fd;
}

static int kev_eventfd_signal(int fd)
{
    uint64_t one = 1;
    return write(fd, &one, sizeof one) < 0 ? -errno : 0;
}

static int kev_eventfd_drain(int fd)
{
    uint64_t v;
    return read(fd, &v, sizeof v) < 0 ? -errno : 0;
}

static int kev_timerfd(void)
{
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    return fd < 0 ? -errno : fd;
}

/* Arm at an absolute CLOCK_MONOTONIC deadline (the clock of time.monotonic_ns()), or
 * disarm with a negative deadline. Story: it_value 0 disarms a timerfd, so a deadline
 * at or before 0 is bumped to 1 ns, which is in the past and fires at once. */
static int kev_timerfd_arm(int fd, int64_t deadline_ns)
{
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    if (deadline_ns >= 0) {
        if (deadline_ns == 0)
            deadline_ns = 1;
        its.it_value.tv_sec = (time_t)(deadline_ns / 1000000000);
        its.it_value.tv_nsec = (long)(deadline_ns % 1000000000);
    }
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) < 0 ? -errno : 0;
}

static int kev_close(int fd) { return close(fd) < 0 ? -errno : 0; }

static int kev_dup2_cloexec(int oldfd, int newfd)
{
    return dup3(oldfd, newfd, O_CLOEXEC) < 0 ? -errno : 0;
}

#include <sys/inotify.h>

static int kev_inotify_init(void)
{
    int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    return fd < 0 ? -errno : fd;
}

static int kev_inotify_add(int ifd, const char *path, uint32_t mask)
{
    int wd = inotify_add_watch(ifd, path, mask);
    return wd < 0 ? -errno : wd;
}

static int kev_inotify_rm(int ifd, int wd)
{
    return inotify_rm_watch(ifd, wd) < 0 ? -errno : 0;
}

/* SO_TYPE of a socket (SOCK_STREAM, SOCK_DGRAM, ...) or -errno. */
static int kev_socket_type(int fd)
{
    int type = 0;
    socklen_t len = sizeof type;
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ? -errno : type;
}
