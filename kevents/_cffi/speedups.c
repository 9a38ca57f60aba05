/* kevents._speedups: the Linux fast path of Queue.control(None, n, timeout).
 *
 * Story: cffi cannot build Python objects, so with the cffi module alone every event
 * costs a trip through Python (unpack the records, look the token up, build the
 * KEvent): about 2.5 us per wait against 0.7 us for select.epoll.poll(), which made a
 * ping-pong over one socketpair run at half the speed of raw epoll. This small
 * CPython extension (limited API, one abi3 binary for 3.11+) waits and builds the
 * KEvents itself for the common case, and hands everything else back to the Python
 * engine, which stays the reference implementation:
 *
 *   fast_wait(epfd, innerfd, room, timeout_ns, fast, KEvent) -> list | tuple
 *
 * `fast` maps a token to (ident, filter, flags, udata, lowat) for the kernel-armed
 * READ/WRITE knotes whose events need no bookkeeping (level or EV_CLEAR, enabled);
 * the Linux backend keeps it up to date. If every record is such a knote with no EOF,
 * no error and enough data, the result is the list of KEvents. Otherwise the result is
 * the flat tuple of raw records (KEV_OUT_WIDTH ints each), which the engine
 * translates in Python exactly as it does without this module. The wait itself runs
 * without the GIL.
 */
#define Py_LIMITED_API 0x030B0000
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "epoll_wait.h"

#define KEV_FAST_ROOM 256    /* on the stack; larger waits use the heap */
#define KEV_MAX_ROOM 65536   /* events taken from the kernel per wait; the rest wait */

static PyObject *kev_zero;

static PyObject *kev_raw_records(const int64_t *out, int n)
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

/* A KEvent (a tuple subclass) built without a Python-level call. */
static PyObject *kev_new_event(PyTypeObject *type, allocfunc alloc, PyObject *info,
                               int64_t data)
{
    PyObject *ev = alloc(type, 7);
    if (ev == NULL)
        return NULL;
    PyObject *d = PyLong_FromLongLong(data);
    if (d == NULL) {
        Py_DECREF(ev);
        return NULL;
    }
    /* info = (ident, filter, flags, udata, lowat) */
    PyObject *items[7] = {
        PyTuple_GetItem(info, 0), PyTuple_GetItem(info, 1), PyTuple_GetItem(info, 2),
        kev_zero, d, PyTuple_GetItem(info, 3), Py_None,
    };
    for (int i = 0; i < 7; i++) {
        if (i != 4)
            Py_INCREF(items[i]);
        PyTuple_SetItem(ev, i, items[i]);
    }
    return ev;
}

static PyObject *kev_translate(const int64_t *out, int n, PyObject *fast,
                               PyObject *kevent_type);

static PyObject *fast_wait(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    int epfd, innerfd, room, n;
    long long timeout_ns;
    PyObject *fast, *kevent_type;
    struct epoll_event sbuf[KEV_FAST_ROOM], *buf = sbuf;
    int64_t sout[KEV_OUT_WIDTH * KEV_FAST_ROOM], *out = sout;
    PyObject *result = NULL;

    if (nargs != 6 || !PyDict_Check(args[4]) || !PyType_Check(args[5])) {
        PyErr_SetString(PyExc_TypeError,
                        "fast_wait(epfd, innerfd, room, timeout_ns, dict, type)");
        return NULL;
    }
    epfd = (int)PyLong_AsLong(args[0]);
    innerfd = (int)PyLong_AsLong(args[1]);
    room = (int)PyLong_AsLong(args[2]);
    timeout_ns = PyLong_AsLongLong(args[3]);
    if (PyErr_Occurred())
        return NULL;
    fast = args[4];
    kevent_type = args[5];
    if (room > KEV_MAX_ROOM)
        room = KEV_MAX_ROOM;
    if (room < 1)
        room = 1;
    if (room > KEV_FAST_ROOM) {
        buf = PyMem_Malloc(sizeof *buf * (size_t)room);
        out = PyMem_Malloc(sizeof *out * KEV_OUT_WIDTH * (size_t)room);
        if (buf == NULL || out == NULL) {
            PyErr_NoMemory();
            goto done;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    n = kev_wait(epfd, innerfd, buf, room, (int64_t)timeout_ns, out);
    Py_END_ALLOW_THREADS
    if (n < 0) {
        errno = -n;
        PyErr_SetFromErrno(PyExc_OSError); /* EINTR: runs handlers first */
        goto done;
    }
    result = kev_translate(out, n, fast, kevent_type);
done:
    if (buf != sbuf)
        PyMem_Free(buf);
    if (out != sout)
        PyMem_Free(out);
    return result;
}

/* The KEvents for `n` records, or the raw records when one needs the Python engine. */
static PyObject *kev_translate(const int64_t *out, int n, PyObject *fast,
                               PyObject *kevent_type)
{
    PyTypeObject *type = (PyTypeObject *)kevent_type;
    allocfunc alloc = (allocfunc)PyType_GetSlot(type, Py_tp_alloc);
    PyObject *events = PyList_New(0);
    if (events == NULL || alloc == NULL) {
        Py_XDECREF(events);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        const int64_t *r = out + KEV_OUT_WIDTH * i;
        uint32_t ev = (uint32_t)r[1];
        int role = (int)((r[0] >> 32) & 0xf);
        if ((ev & KEV_STALE) || r[3] != 0)
            goto raw;
        if (role == KEV_ROLE_READ && (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
            goto raw;
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
            goto raw;
        }
        if (!PyTuple_Check(info) || PyTuple_Size(info) != 5)
            goto raw;
        long long lowat = PyLong_AsLongLong(PyTuple_GetItem(info, 4));
        if (lowat == -1 && PyErr_Occurred())
            goto fail;
        if (r[2] < lowat)
            goto raw;
        PyObject *kev = kev_new_event(type, alloc, info, r[2]);
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
    return kev_raw_records(out, n);
fail:
    Py_DECREF(events);
    return NULL;
}

static PyMethodDef kev_methods[] = {
    {"fast_wait", (PyCFunction)(void (*)(void))fast_wait, METH_FASTCALL,
     "fast_wait(epfd, innerfd, room, timeout_ns, fast, KEvent) -> list | tuple"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef kev_module = {
    PyModuleDef_HEAD_INIT, "kevents._speedups", "Linux fast path of Queue.control.", -1,
    kev_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__speedups(void)
{
    if (kev_zero == NULL && (kev_zero = PyLong_FromLong(0)) == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&kev_module);
    if (m != NULL && PyModule_AddStringConstant(m, "VERSION", KEV_PACKAGE_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
