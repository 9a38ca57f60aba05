/* kevents/_cffi/linux_batch.c: kevents/_backends/linux/batch.py's Batcher for the
 * change-list pass that Core.control drives (engine.c, D77): a run of new READ/WRITE
 * registrations becomes one IORING_OP_EPOLL_CTL SQE per change, submitted and reaped
 * in one io_uring_enter per run, and each knote is made by the same kev_rw_adopt as a
 * single EV_ADD's. The ring is the Batcher's own (Batcher.ring_address), never the AIO
 * source's, so every completion reaped here is one of this run's.
 *
 * The rules are batch.py's: only plain new registrations are batched (EV_ADD, with
 * EV_CLEAR, EV_ONESHOT or EV_DISPATCH at most, no fflags, a key not yet in the queue
 * and not repeated in the run, not one of the queue's own descriptors); the first
 * change the kernel refuses (EPERM: a regular file; EBADF; EEXIST...) ends the run,
 * the registrations the kernel made for the changes after it are taken back, and the
 * Python path applies the list from that change on, so "later changes are not
 * applied" holds and every error is the Python path's, exactly.
 *
 * The ring code is linux_uring.c's, compiled into this module too (the cffi module
 * _native holds the other copy); the functions this file does not call are unused. */
#include "core.h"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "linux_uring.c"
#pragma GCC diagnostic pop

#define KEV_BATCH_FLAGS (KEV_EV_ADD | KEV_EV_ONESHOT | KEV_EV_CLEAR | KEV_EV_DISPATCH)
#define KEV_BATCH_TOP_FD (1L << 24) /* above: the Python path (run_end's bitmap stays small) */

/* change k's (fd, i: 0 READ, 1 WRITE, flags) when it is batchable by its own fields,
 * from the ints kev_materialise_parsed checked (a batching pass always has them); 0
 * when not (the key's state is checked by the caller) */
static int kev_batch_fields(const kev_plain *p, Py_ssize_t k, long *fd, int *i, long long *flags)
{
    const kev_change *c = &p->parsed[k];
    if ((c->filter != KEV_FILT_READ && c->filter != KEV_FILT_WRITE) || c->fflags != 0 ||
        c->ident < 0 || c->ident > KEV_BATCH_TOP_FD || !(c->flags & KEV_EV_ADD) ||
        c->flags & ~KEV_BATCH_FLAGS)
        return 0;
    *fd = (long)c->ident;
    *i = c->filter == KEV_FILT_READ ? 0 : 1;
    *flags = c->flags;
    return 1;
}

void kev_batch_keys_free(PyObject **keys, Py_ssize_t n)
{
    if (keys != NULL)
        for (Py_ssize_t k = 0; k < n; k++)
            Py_XDECREF(keys[k]);
    PyMem_Free(keys);
}

Py_ssize_t kev_batch_run_end(kev_plain *p, PyObject *changes, Py_ssize_t i, PyObject ***keys)
{
    /* run_end: no key twice in a run (a key seen: bit 2*fd+i of a bitmap over the fds
     * of the run, sized by the largest); at most one ring-full. The run's keys are
     * kept for kev_batch_apply, which files each knote under its own. */
    Py_ssize_t n = PyList_Size(changes), end = i, room = kev_ring_space(p->ring);
    long top = -1;
    *keys = NULL;
    for (Py_ssize_t k = i; k < n && k - i < room; k++) {
        long fd;
        int w;
        long long flags;
        if (!kev_batch_fields(p, k, &fd, &w, &flags))
            break;
        top = fd > top ? fd : top;
    }
    if (top < 0)
        return i; /* changes[i] is not batchable */
    size_t words = ((size_t)(top + 1) * 2 + 63) / 64;
    uint64_t *seen = PyMem_Calloc(words, sizeof *seen);
    Py_ssize_t most = n - i < room ? n - i : room;
    if (seen == NULL || (*keys = PyMem_Calloc((size_t)most, sizeof **keys)) == NULL) {
        PyMem_Free(seen);
        PyErr_NoMemory();
        return -1;
    }
    for (; end < n && end - i < room; end++) {
        PyObject *ch = PyList_GetItem(changes, end);
        long fd;
        int w;
        long long flags;
        if (!kev_batch_fields(p, end, &fd, &w, &flags) || fd > top)
            break;
        size_t bit = (size_t)fd * 2 + (size_t)w;
        if (seen[bit / 64] >> (bit % 64) & 1)
            break;
        int refused = kev_rw_refused(p, PyTuple_GetItem(ch, 0), fd);
        PyObject *key = refused ? NULL : PyTuple_Pack(2, PyTuple_GetItem(ch, 0),
                                                        PyTuple_GetItem(ch, 1));
        int known = key == NULL ? -1 : PyDict_Contains(p->knotes, key);
        if (refused < 0 || (refused == 0 && known < 0)) {
            Py_XDECREF(key);
            PyMem_Free(seen);
            kev_batch_keys_free(*keys, most);
            *keys = NULL;
            return -1;
        }
        if (refused || known) {
            Py_XDECREF(key);
            break;
        }
        (*keys)[end - i] = key;
        seen[bit / 64] |= (uint64_t)1 << (bit % 64);
    }
    PyMem_Free(seen);
    return end;
}

/* Batcher._drain: submit what is prepared and reap all of it; 0, or -errno */
static int kev_batch_drain(void *ring, int prepared, int32_t *res)
{
    uint64_t ud[256];
    int32_t got_res[256];
    int got = 0, ret = kev_ring_submit(ring, (unsigned)prepared);
    while (ret >= 0 && got < prepared) {
        int n = kev_ring_reap(ring, ud, got_res, 256);
        if (n == 0) {
            ret = kev_ring_submit(ring, (unsigned)(prepared - got));
            continue;
        }
        for (int k = 0; k < n; k++)
            res[ud[k]] = got_res[k];
        got += n;
    }
    return ret < 0 ? ret : 0;
}

Py_ssize_t kev_batch_apply(kev_plain *p, PyObject *changes, Py_ssize_t i, Py_ssize_t end,
                           PyObject **keys)
{
    int n = (int)(end - i);
    struct epoll_event *evs = PyMem_Calloc((size_t)n, sizeof *evs);
    uint64_t *tokens = PyMem_Calloc((size_t)n, sizeof *tokens);
    int32_t *res = PyMem_Calloc((size_t)n, sizeof *res);
    PyObject **toks = PyMem_Calloc((size_t)n, sizeof *toks);
    Py_ssize_t reached = -1;
    long long serial = p->serial;
    int wrapped = p->wrapped;
    if (evs == NULL || tokens == NULL || res == NULL || toks == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    /* results(): a token per change (new_token), then one EPOLL_CTL_ADD SQE each (the
     * tokens first: no SQE is prepared unless all of them are) */
    for (int k = 0; k < n; k++) {
        long fd;
        int w;
        long long flags;
        kev_batch_fields(p, i + k, &fd, &w, &flags); /* (checked) */
        if (kev_rw_token(p, w, fd, &serial, &wrapped, &tokens[k], &toks[k]) < 0)
            goto done;
    }
    for (int k = 0; k < n; k++) {
        long fd;
        int w;
        long long flags;
        kev_batch_fields(p, i + k, &fd, &w, &flags);
        kev_ring_prep_epoll_ctl(p->ring, w == 0 ? p->epfd : p->innerfd, EPOLL_CTL_ADD, (int)fd,
                                evs, k, kev_rw_events(w, flags), tokens[k], (uint64_t)k);
    }
    int err = kev_batch_drain(p->ring, n, res);
    if (err < 0) {
        /* the ring itself failed (as Ring.submit raises): SQEs the kernel did not take
         * may still point at evs, so it is left allocated */
        evs = NULL;
        errno = -err;
        PyErr_SetFromErrno(PyExc_OSError);
        goto done;
    }
    p->serial = serial;
    p->wrapped = wrapped;
    /* in change-list order: each registration the kernel made gets its knote; the first
     * refusal stops the run there */
    int k = 0;
    for (; k < n && res[k] == 0; k++) {
        PyObject *ch = PyList_GetItem(changes, i + k);
        long fd;
        int w;
        long long flags;
        kev_batch_fields(p, i + k, &fd, &w, &flags);
        int rc = kev_rw_adopt(p, w, keys[k], fd, flags, p->parsed[i + k].data,
                              PyTuple_GetItem(ch, 5), tokens[k], toks[k],
                              kev_rw_events(w, flags));
        if (rc < 0) { /* (adopt took its own registration back) */
            res[k] = -ENOMEM;
            break;
        }
    }
    /* GeneratorExit's undo: what the kernel registered after the stopping change */
    for (int j = k + 1; j < n; j++)
        if (res[j] == 0) {
            long fd;
            int w;
            long long flags;
            kev_batch_fields(p, i + j, &fd, &w, &flags);
            epoll_ctl(w == 0 ? p->epfd : p->innerfd, EPOLL_CTL_DEL, (int)fd, &evs[j]);
        }
    reached = PyErr_Occurred() ? -1 : i + k;
done:
    if (toks != NULL)
        for (int k = 0; k < n; k++)
            Py_XDECREF(toks[k]);
    PyMem_Free(toks);
    PyMem_Free(res);
    PyMem_Free(tokens);
    PyMem_Free(evs);
    return reached;
}
