/* kevents/_cffi/linux_read_write.c: the wait and the events of kernel-armed READ/WRITE
 * knotes, mirroring LinuxBackend.wait and the plain-knote branch of
 * LinuxBackend.translate (kevents/_backends/linux/__init__.py) and the knote view
 * that read_write.py's _EpollSource.publish keeps in LinuxBackend.fast.
 *
 * Story: cffi cannot build Python objects, so with the cffi module alone every event
 * costs a trip through Python (unpack the records, look the token up, build the
 * KEvent): about 2.5 us per wait against 0.7 us for select.epoll.poll(). Here the
 * records of epoll_wait.h become KEvents directly, for knotes whose events need no
 * bookkeeping (level or EV_CLEAR, enabled: the `fast` table). One record that needs
 * anything else (EOF, a stale fd, too little data, an internal fd, an unknown token)
 * sends the whole batch back to Python as raw records, which the engine translates
 * exactly as it does without this module.
 */
#include "core.h" /* Python.h first: it sets the feature macros */
#include <stdlib.h>
#include "epoll_wait.h"

#if KEV_RECORD_WIDTH != KEV_OUT_WIDTH
#error "core.h and epoll_wait.h disagree on the record width"
#endif

/* LinuxBackend.wait's kernel part (lib.kev_wait): called without the GIL (so the
 * buffer of a large wait comes from malloc, not PyMem). */
int kev_wait_records(int epfd, int innerfd, int room, int64_t timeout_ns, int counts,
                     int64_t *out)
{
    struct epoll_event sbuf[KEV_STACK_ROOM], *buf = sbuf;
    int n;
    if (room > KEV_STACK_ROOM) {
        buf = malloc(sizeof *buf * (size_t)room);
        if (buf == NULL)
            return -ENOMEM;
    }
    n = kev_wait(epfd, innerfd, buf, room, timeout_ns, out, counts);
    if (buf != sbuf)
        free(buf);
    return n;
}

/* The raw records as one flat tuple of ints (what ffi.unpack gives the Python path). */
PyObject *kev_raw_records(const int64_t *out, int n)
{
    PyObject *raw = PyTuple_New((Py_ssize_t)n * KEV_OUT_WIDTH);
    if (raw == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < (Py_ssize_t)n * KEV_OUT_WIDTH; i++) {
        PyObject *v = PyLong_FromLongLong(out[i]);
        if (v == NULL) {
            Py_DECREF(raw);
            return NULL;
        }
        PyTuple_SetItem(raw, i, v);
    }
    return raw;
}

/* LinuxBackend.translate for plain knotes: the list of KEvents, or NULL with no
 * exception set when a record needs the Python engine (NULL with one set: an error). */
PyObject *kev_records_to_events(const int64_t *out, int n, PyObject *fast, int counts)
{
    PyObject *events = PyList_New(0);
    if (events == NULL)
        return NULL;
    for (int i = 0; i < n; i++) {
        const int64_t *r = out + KEV_OUT_WIDTH * i;
        uint32_t ev = (uint32_t)r[1];
        int role = (int)((r[0] >> 32) & 0xf);
        if ((ev & KEV_STALE) || r[3] != 0)
            goto raw; /* engine.drop: the fd was closed under the knote */
        if (role == KEV_ROLE_READ && (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
            goto raw; /* EV_EOF */
        if (role == KEV_ROLE_WRITE && (ev & (EPOLLHUP | EPOLLERR)))
            goto raw;
        PyObject *key = PyLong_FromLongLong(r[0]);
        if (key == NULL)
            goto fail;
        PyObject *info = PyDict_GetItemWithError(fast, key); /* borrowed */
        Py_DECREF(key);
        if (info == NULL) {
            if (PyErr_Occurred())
                goto fail;
            goto raw; /* an internal fd, a one-shot or disabled knote, a stale token */
        }
        if (!PyTuple_Check(info) || PyTuple_Size(info) != 5)
            goto raw;
        if (counts) {
            /* data < st.lowat: nothing (or too little) to read, st.source.stale (D12) */
            long long lowat = PyLong_AsLongLong(PyTuple_GetItem(info, 4));
            if (lowat == -1 && PyErr_Occurred())
                goto fail;
            if (r[2] < lowat)
                goto raw;
        }
        PyObject *kev = kev_event_from_info(info, r[2]);
        if (kev == NULL)
            goto fail;
        int rc = PyList_Append(events, kev);
        Py_DECREF(kev);
        if (rc < 0)
            goto fail;
    }
    return events;
raw:
    Py_DECREF(events);
    return NULL;
fail:
    Py_DECREF(events);
    return NULL;
}

/* fast_wait(epfd, innerfd, room, timeout_ns, fast, counts) -> list | tuple: one
 * LinuxBackend.wait for the Python engine (what it calls when Core.control handed the
 * call over): the KEvents when every record is a plain knote, else the raw records. */
PyObject *kev_fast_wait(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    int epfd, innerfd, room, counts, n;
    long long timeout_ns;
    int64_t sout[KEV_OUT_WIDTH * KEV_STACK_ROOM], *out = sout;
    PyObject *result = NULL;
    (void)self;

    if (nargs != 6 || !PyDict_Check(args[4])) {
        PyErr_SetString(PyExc_TypeError,
                        "fast_wait(epfd, innerfd, room, timeout_ns, fast, counts)");
        return NULL;
    }
    epfd = (int)PyLong_AsLong(args[0]);
    innerfd = (int)PyLong_AsLong(args[1]);
    room = (int)PyLong_AsLong(args[2]);
    timeout_ns = PyLong_AsLongLong(args[3]);
    counts = PyObject_IsTrue(args[5]);
    if (PyErr_Occurred())
        return NULL;
    if (room > KEV_MAX_ROOM)
        room = KEV_MAX_ROOM;
    if (room < 1)
        room = 1;
    if (room > KEV_STACK_ROOM) {
        out = PyMem_Malloc(sizeof *out * KEV_OUT_WIDTH * (size_t)room);
        if (out == NULL)
            return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    n = kev_wait_records(epfd, innerfd, room, (int64_t)timeout_ns, counts, out);
    Py_END_ALLOW_THREADS
    if (n < 0) {
        errno = -n;
        PyErr_SetFromErrno(PyExc_OSError); /* EINTR: InterruptedError, handlers first */
        goto done;
    }
    result = kev_records_to_events(out, n, args[4], counts);
    if (result == NULL && !PyErr_Occurred())
        result = kev_raw_records(out, n);
done:
    if (out != sout)
        PyMem_Free(out);
    return result;
}
