/* io_uring by raw system calls: just what kevents needs (AIO reads/writes/fsync with
 * cancellation, batched epoll_ctl). No liburing: the ABI is stable and small.
 *
 * Story: rings are mapped with the IORING_FEAT_SINGLE_MMAP layout when the kernel has it
 * (5.4+) and with three mappings otherwise. SQEs are written at a private tail and only
 * published (a release store to the shared tail) by kev_ring_submit, so a batch becomes
 * visible to the kernel all at once. Never SQPOLL: the caller's thread enters the
 * kernel, which keeps io_uring inside the process's own CPU accounting.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/io_uring.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define KEV_OP_NOP IORING_OP_NOP
#define KEV_OP_READ IORING_OP_READ
#define KEV_OP_WRITE IORING_OP_WRITE
#define KEV_OP_FSYNC IORING_OP_FSYNC
#define KEV_OP_ASYNC_CANCEL IORING_OP_ASYNC_CANCEL
#define KEV_OP_EPOLL_CTL IORING_OP_EPOLL_CTL
#define KEV_EPOLL_EVENT_SIZE ((int)sizeof(struct epoll_event))

struct kev_ring {
    int fd;
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array, *sq_flags, sq_entries;
    unsigned *cq_head, *cq_tail, *cq_mask, cq_entries;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
    void *sq_map, *cq_map;
    size_t sq_len, cq_len, sqes_len;
    unsigned tail; /* private tail: prepared, not yet published */
};

static void kev_ring_free(void *vr)
{
    struct kev_ring *r = vr;
    if (r == NULL)
        return;
    if (r->sqes != NULL && r->sqes != MAP_FAILED)
        munmap(r->sqes, r->sqes_len);
    if (r->cq_map != NULL && r->cq_map != MAP_FAILED && r->cq_map != r->sq_map)
        munmap(r->cq_map, r->cq_len);
    if (r->sq_map != NULL && r->sq_map != MAP_FAILED)
        munmap(r->sq_map, r->sq_len);
    if (r->fd >= 0)
        close(r->fd);
    free(r);
}

static void *kev_ring_new(unsigned entries, int *err)
{
    struct io_uring_params p;
    struct kev_ring *r = calloc(1, sizeof *r);
    if (r == NULL) {
        *err = ENOMEM;
        return NULL;
    }
    memset(&p, 0, sizeof p);
    r->fd = (int)syscall(__NR_io_uring_setup, entries, &p);
    if (r->fd < 0) {
        *err = errno;
        free(r);
        return NULL;
    }
    fcntl(r->fd, F_SETFD, FD_CLOEXEC); /* io_uring fds are O_CLOEXEC since 5.x anyway */
    r->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    r->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    if (p.features & IORING_FEAT_SINGLE_MMAP) {
        if (r->cq_len > r->sq_len)
            r->sq_len = r->cq_len;
        r->cq_len = r->sq_len;
    }
    r->sq_map = mmap(NULL, r->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                     r->fd, IORING_OFF_SQ_RING);
    if (r->sq_map == MAP_FAILED)
        goto fail;
    if (p.features & IORING_FEAT_SINGLE_MMAP)
        r->cq_map = r->sq_map;
    else {
        r->cq_map = mmap(NULL, r->cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                         r->fd, IORING_OFF_CQ_RING);
        if (r->cq_map == MAP_FAILED)
            goto fail;
    }
    r->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
    r->sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                   r->fd, IORING_OFF_SQES);
    if (r->sqes == MAP_FAILED)
        goto fail;
    char *sq = r->sq_map, *cq = r->cq_map;
    r->sq_head = (unsigned *)(sq + p.sq_off.head);
    r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    r->sq_array = (unsigned *)(sq + p.sq_off.array);
    r->sq_flags = (unsigned *)(sq + p.sq_off.flags);
    r->sq_entries = p.sq_entries;
    r->cq_entries = p.cq_entries;
    r->cq_head = (unsigned *)(cq + p.cq_off.head);
    r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    r->tail = *r->sq_tail;
    return r;
fail:
    *err = errno;
    kev_ring_free(r);
    return NULL;
}

static int kev_ring_fd(void *vr) { return ((struct kev_ring *)vr)->fd; }

/* How many completions the CQ holds (the kernel gives twice the SQ size). A caller
 * that never has more requests in flight than this can never overflow it. */
static int kev_ring_cq_entries(void *vr) { return (int)((struct kev_ring *)vr)->cq_entries; }

/* 1 when the kernel supports opcode `op`, 0 when not, -errno when probing fails. */
static int kev_ring_probe(void *vr, int op)
{
    struct kev_ring *r = vr;
    size_t len = sizeof(struct io_uring_probe) + 256 * sizeof(struct io_uring_probe_op);
    struct io_uring_probe *probe = calloc(1, len);
    if (probe == NULL)
        return -ENOMEM;
    int ret = (int)syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_PROBE, probe, 256);
    if (ret < 0) {
        ret = -errno;
    } else {
        ret = op <= probe->last_op && (probe->ops[op].flags & IO_URING_OP_SUPPORTED) ? 1 : 0;
    }
    free(probe);
    return ret;
}

static int kev_ring_space(void *vr)
{
    struct kev_ring *r = vr;
    unsigned head = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
    return (int)(r->sq_entries - (r->tail - head));
}

static struct io_uring_sqe *kev_ring_sqe(struct kev_ring *r)
{
    if (kev_ring_space(r) <= 0)
        return NULL;
    unsigned idx = r->tail & *r->sq_mask;
    struct io_uring_sqe *sqe = &r->sqes[idx];
    memset(sqe, 0, sizeof *sqe);
    r->sq_array[idx] = idx;
    r->tail++;
    return sqe;
}

static int kev_ring_prep_rw(void *vr, int op, int fd, void *buf, uint32_t len, uint64_t off,
                            uint64_t ud)
{
    struct io_uring_sqe *sqe = kev_ring_sqe(vr);
    if (sqe == NULL)
        return -EBUSY;
    sqe->opcode = (uint8_t)op;
    sqe->fd = fd;
    sqe->addr = (uint64_t)(uintptr_t)buf;
    sqe->len = len;
    sqe->off = off;
    sqe->user_data = ud;
    return 0;
}

static int kev_ring_prep_fsync(void *vr, int fd, uint64_t ud)
{
    return kev_ring_prep_rw(vr, IORING_OP_FSYNC, fd, NULL, 0, 0, ud);
}

static int kev_ring_prep_cancel(void *vr, uint64_t target, uint64_t ud)
{
    struct io_uring_sqe *sqe = kev_ring_sqe(vr);
    if (sqe == NULL)
        return -EBUSY;
    sqe->opcode = IORING_OP_ASYNC_CANCEL;
    sqe->fd = -1;
    sqe->addr = target;
    sqe->user_data = ud;
    return 0;
}

/* `events` is an array of struct epoll_event (packed on x86-64) owned by the caller,
 * which keeps it alive until the completion is reaped. */
static int kev_ring_prep_epoll_ctl(void *vr, int epfd, int op, int fd, void *events,
                                   int index, uint32_t mask, uint64_t token, uint64_t ud)
{
    struct epoll_event *ev = (struct epoll_event *)events + index;
    struct io_uring_sqe *sqe = kev_ring_sqe(vr);
    if (sqe == NULL)
        return -EBUSY;
    ev->events = mask;
    ev->data.u64 = token;
    sqe->opcode = IORING_OP_EPOLL_CTL;
    sqe->fd = epfd;
    sqe->len = (uint32_t)op;
    sqe->off = (uint64_t)fd;
    sqe->addr = (uint64_t)(uintptr_t)ev;
    sqe->user_data = ud;
    return 0;
}

/* Publish the private tail and enter the kernel once: submit everything prepared and,
 * with wait_nr > 0, wait until that many completions are available. */
static int kev_ring_submit(void *vr, unsigned wait_nr)
{
    struct kev_ring *r = vr;
    __atomic_store_n(r->sq_tail, r->tail, __ATOMIC_RELEASE);
    for (;;) {
        /* not yet consumed by the kernel: everything between its head and our tail */
        unsigned to_submit = r->tail - __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
        if (to_submit == 0 && wait_nr == 0)
            return 0;
        int ret = (int)syscall(__NR_io_uring_enter, r->fd, to_submit, wait_nr,
                               wait_nr ? IORING_ENTER_GETEVENTS : 0, NULL, 0);
        if (ret >= 0 || errno != EINTR)
            return ret < 0 ? -errno : ret;
    }
}

#ifndef IORING_SQ_CQ_OVERFLOW
#define IORING_SQ_CQ_OVERFLOW (1U << 1)
#endif

/* Story: when more completions arrive than the CQ holds, kernels >= 5.5
 * (IORING_FEAT_NODROP) keep the extra ones on an internal overflow list, and older ones
 * drop them. That list is moved into the CQ only inside io_uring_enter with
 * IORING_ENTER_GETEVENTS, never by polling the ring fd, which stays quiet once the CQ
 * is empty: reaping alone lost every completion past the CQ size and the ring wedged
 * (issue 15). The AIO source bounds its requests in flight by the CQ size so this never
 * happens; as a second line, when the kernel says the CQ overflowed (IORING_SQ_CQ_OVERFLOW
 * in the SQ flags, 5.8+), the list is flushed here and reaping goes on. */
static int kev_ring_reap(void *vr, uint64_t *ud, int32_t *res, int max)
{
    struct kev_ring *r = vr;
    int n = 0;
    for (;;) {
        unsigned head = *r->cq_head;
        unsigned tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
        while (head != tail && n < max) {
            struct io_uring_cqe *cqe = &r->cqes[head & *r->cq_mask];
            ud[n] = cqe->user_data;
            res[n] = cqe->res;
            n++;
            head++;
        }
        __atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
        if (n == max || !(__atomic_load_n(r->sq_flags, __ATOMIC_ACQUIRE) & IORING_SQ_CQ_OVERFLOW))
            return n;
        if (syscall(__NR_io_uring_enter, r->fd, 0, 0, IORING_ENTER_GETEVENTS, NULL, 0) < 0 &&
            errno != EINTR)
            return n;
        if (__atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE) == head)
            return n; /* nothing moved: never spin on a flag the kernel left set */
    }
}
