/* kevents/_cffi/engine.c: Engine.control and Engine._collect (kevents/_engine.py) for
 * the steady state, in C: no changes (None or an empty list/tuple), room for events,
 * a plain timeout, and an engine with nothing of its own to merge (no ready knotes, no
 * timers, no pending signal, not closed). Then the whole call is one epoll_wait without
 * the GIL and events built in C (linux_read_write.c); no Python frame runs.
 *
 * Anything else goes to the Python engine, at one of two points:
 *   - before the wait (kev_slow): the call is the Python Queue.control, unchanged;
 *   - after a wait (kev_resume): the batch is handed to Engine._collect(..., first=batch),
 *     which merges it exactly as if its own backend.wait had returned it, and goes on.
 * So the rules live in Python; this file only skips them where they do nothing.
 */
#include "core.h" /* Python.h first: it sets the feature macros */
#include <errno.h>
#include <math.h>
#include <time.h>

/* Engine's MAX_WAIT_NS: one wait never sleeps longer (a clamp; longer timeouts loop). */
#define KEV_MAX_WAIT_NS (24LL * 3600 * 1000000000LL)

PyObject *kev_slow_control;
static PyObject *s_collect, *s_release;

int kev_engine_setup(void)
{
    s_collect = PyUnicode_InternFromString("_collect");
    s_release = PyUnicode_InternFromString("_release");
    return s_collect && s_release ? 0 : -1;
}

/* time.monotonic_ns() */
static int64_t kev_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* timeout_to_ns for the plain cases: 1 and *ns (-1: forever), or 0 when the Python
 * engine must decide (bad types and values raise there, with its messages). */
int kev_timeout_plain(PyObject *t, int64_t *ns)
{
    if (t == Py_None) {
        *ns = -1;
        return 1;
    }
    if (PyLong_CheckExact(t)) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(t, &overflow);
        if (overflow || v < 0 || v > (1LL << 62) / 1000000000) {
            PyErr_Clear();
            return 0;
        }
        *ns = (int64_t)v * 1000000000;
        return 1;
    }
    if (PyFloat_CheckExact(t)) {
        double v = PyFloat_AsDouble(t);
        if (!(v >= 0)) /* NaN or negative: an error, raised by Python */
            return 0;
        double d = v * 1e9; /* as Python: timeout * 1e9, then math.ceil */
        if (isinf(d)) {
            *ns = -1; /* beyond any clock: no timeout */
            return 1;
        }
        d = ceil(d);
        if (d > (double)(1LL << 62))
            return 0;
        *ns = (int64_t)d;
        return 1;
    }
    return 0;
}

/* -- EngineBase ----------------------------------------------------------------------- */

#ifndef Py_T_BOOL
#include "structmember.h"
#define Py_T_BOOL T_BOOL
#endif
#include <stddef.h>

static PyTypeObject *kev_engine_type;

static PyMemberDef kev_engine_members[] = {
    {"closed", Py_T_BOOL, offsetof(kev_engine_state, closed), 0, "the queue is closed"},
    {"pending", Py_T_BOOL, offsetof(kev_engine_state, pending), 0,
     "the backend's pending signal is on"},
    {NULL, 0, 0, 0, NULL},
};

static void kev_engine_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    ((freefunc)PyType_GetSlot(tp, Py_tp_free))(self);
    Py_DECREF(tp);
}

static PyType_Slot kev_engine_slots[] = {
    {Py_tp_doc, (void *)"The C base of kevents._engine.Engine: its closed and pending flags."},
    {Py_tp_members, kev_engine_members},
    {Py_tp_dealloc, (void *)kev_engine_dealloc},
    {Py_tp_new, (void *)PyType_GenericNew},
    {0, NULL},
};

static PyType_Spec kev_engine_spec = {
    "kevents._speedups.EngineBase", sizeof(kev_engine_state), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, kev_engine_slots,
};

PyObject *kev_engine_type_new(void)
{
    PyObject *tp = PyType_FromSpec(&kev_engine_spec);
    if (tp != NULL) {
        Py_XDECREF((PyObject *)kev_engine_type);
        kev_engine_type = (PyTypeObject *)Py_NewRef(tp);
    }
    return tp;
}

int kev_engine_check(PyObject *obj)
{
    return kev_engine_type != NULL && PyObject_TypeCheck(obj, kev_engine_type);
}

#define KEV_ENGINE(c) ((kev_engine_state *)(c)->engine)

/* Before the wait: not closed (D36: never block on fds a close may release), no ready
 * knotes (they make the wait 0) and no timers (they clip it). A pending signal needs no
 * check: its eventfd wakes the wait, whose record goes to Python (kev_resume).
 * After the wait, _collect's "nothing else to merge" test: not self.ready, not
 * self.pending, no timers and not closed. 1 yes, 0 no, -1 error. */
static int kev_quiet(kev_core *c, int after)
{
    if (KEV_ENGINE(c)->closed || (after && KEV_ENGINE(c)->pending))
        return 0;
    Py_ssize_t n = PyObject_Size(c->ready);
    if (n != 0)
        return n < 0 ? -1 : 0;
    n = PyObject_Size(c->heap);
    if (n != 0)
        return n < 0 ? -1 : 0;
    return 1;
}

/* fn(self, *args, **kwargs) from a vectorcall-style argument array */
PyObject *kev_call_python(PyObject *fn, PyObject *self, PyObject *const *args,
                          Py_ssize_t nargs, PyObject *kwnames)
{
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_Size(kwnames);
    PyObject *pos = PyTuple_New(nargs + 1), *kw = NULL, *res = NULL;
    if (pos == NULL)
        return NULL;
    Py_INCREF(self);
    PyTuple_SetItem(pos, 0, self);
    for (Py_ssize_t i = 0; i < nargs; i++) {
        Py_INCREF(args[i]);
        PyTuple_SetItem(pos, i + 1, args[i]);
    }
    if (nkw) {
        if ((kw = PyDict_New()) == NULL)
            goto done;
        for (Py_ssize_t i = 0; i < nkw; i++)
            if (PyDict_SetItem(kw, PyTuple_GetItem(kwnames, i), args[nargs + i]) < 0)
                goto done;
    }
    res = PyObject_Call(fn, pos, kw);
done:
    Py_DECREF(pos);
    Py_XDECREF(kw);
    return res;
}

/* The call as the Python Queue.control (kevents._core.PyCore.control) makes it. */
static PyObject *kev_slow(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames)
{
    return kev_call_python(kev_slow_control, self, args, nargs, kwnames);
}

/* control()'s finally: waiting.pop(); if self.closed and not waiting: self._release()
 * (`open`: closed was read False since the wait, with the GIL held throughout) */
static int kev_leave(kev_core *c, int open)
{
    PyObject *et, *ev, *tb;
    int rc = 0;
    PyErr_Fetch(&et, &ev, &tb);
    Py_ssize_t n = PyList_Size(c->waiting);
    if (n > 0 && PySequence_DelItem(c->waiting, n - 1) < 0)
        rc = -1;
    else if (n <= 1 && !open) {
        if (KEV_ENGINE(c)->closed) {
            PyObject *r = PyObject_CallMethodObjArgs(c->engine, s_release, NULL);
            if (r == NULL)
                rc = -1;
            Py_XDECREF(r);
        }
    }
    if (et != NULL) { /* the first exception wins, as in a Python finally */
        if (rc < 0)
            PyErr_Clear();
        PyErr_Restore(et, ev, tb);
        return -1;
    }
    return rc;
}

static PyObject *kev_fast_control(kev_core *c, PyObject *self, PyObject *const *args,
                                  Py_ssize_t nargs, kev_build_fn build, int *built);

PyObject *kev_engine_control(kev_core *core, PyObject *self, PyObject *const *args,
                             Py_ssize_t nargs, PyObject *kwnames)
{
    int built;
    if (kwnames != NULL)
        return kev_slow(self, args, nargs, kwnames);
    return kev_engine_control_with(core, self, args, nargs, kev_event_new, &built);
}

PyObject *kev_engine_control_with(kev_core *core, PyObject *self, PyObject *const *args,
                                  Py_ssize_t nargs, kev_build_fn build, int *built)
{
    *built = 0;
    if (nargs < 2 || nargs > 3 || core->fast == NULL || core->engine == NULL)
        return kev_slow(self, args, nargs, NULL);
    /* own references for the call: another thread may change the queue meanwhile */
    kev_core c = *core;
    Py_INCREF(c.engine);
    Py_INCREF(c.fast);
    Py_INCREF(c.ready);
    Py_INCREF(c.heap);
    Py_INCREF(c.waiting);
    PyObject *result = kev_fast_control(&c, self, args, nargs, build, built);
    Py_DECREF(c.engine);
    Py_DECREF(c.fast);
    Py_DECREF(c.ready);
    Py_DECREF(c.heap);
    Py_DECREF(c.waiting);
    return result;
}

static PyObject *kev_fast_control(kev_core *c, PyObject *self, PyObject *const *args,
                                  Py_ssize_t nargs, kev_build_fn build, int *built)
{
    PyObject *const kwnames = NULL;
    int64_t timeout_ns, deadline, wait_ns;
    int64_t sout[KEV_RECORD_WIDTH * KEV_STACK_ROOM], *out = sout;
    PyObject *result = NULL, *batch = NULL;
    int room;

    PyObject *changes = args[0], *maxev = args[1];
    if (changes != Py_None) {
        if (!((PyList_CheckExact(changes) && PyList_Size(changes) == 0) ||
              (PyTuple_CheckExact(changes) && PyTuple_Size(changes) == 0)))
            return kev_slow(self, args, nargs, kwnames);
    }
    if (!PyLong_CheckExact(maxev))
        return kev_slow(self, args, nargs, kwnames);
    long long m = PyLong_AsLongLong(maxev);
    if (m <= 0) { /* 0: change-only calls; negative, or too big: an error for Python */
        PyErr_Clear();
        return kev_slow(self, args, nargs, kwnames);
    }
    room = m > KEV_MAX_ROOM ? KEV_MAX_ROOM : (int)m;
    if (!kev_timeout_plain(nargs == 3 ? args[2] : Py_None, &timeout_ns))
        return kev_slow(self, args, nargs, kwnames);
    int quiet = kev_quiet(c, 0), open = 0;
    if (quiet <= 0)
        return quiet < 0 ? NULL : kev_slow(self, args, nargs, kwnames);

    /* Engine.control: the deadline, then count this thread in `waiting` (D36) */
    deadline = timeout_ns < 0 ? -1 : kev_now_ns() + timeout_ns;
    wait_ns = timeout_ns < 0 || timeout_ns > KEV_MAX_WAIT_NS ? KEV_MAX_WAIT_NS : timeout_ns;
    if (PyList_Append(c->waiting, Py_None) < 0)
        return NULL;
    if (room > KEV_STACK_ROOM) {
        out = PyMem_Malloc(sizeof *out * KEV_RECORD_WIDTH * (size_t)room);
        if (out == NULL) {
            PyErr_NoMemory();
            goto leave;
        }
    }
    for (;;) { /* Engine._collect */
        int n;
        Py_BEGIN_ALLOW_THREADS
        n = kev_wait_records(c->epfd, c->innerfd, room, wait_ns, c->counts, out);
        Py_END_ALLOW_THREADS
        if (n == -EINTR) {
            /* InterruptedError: Python handlers run; the wait resumes without
             * re-applying changes (D9), in Python, which re-checks everything */
            if (PyErr_CheckSignals() < 0)
                goto leave;
            batch = PyTuple_New(0);
            goto resume;
        }
        if (n < 0) {
            batch = Py_NewRef(Py_None); /* Python waits again and raises its own error */
            goto resume;
        }
        PyObject *events = NULL;
        if (n > 0) {
            events = kev_records_to_events(out, n, c->fast, c->counts, build);
            if (events == NULL) {
                if (PyErr_Occurred())
                    goto leave;
                batch = kev_raw_records(out, n);
                goto resume;
            }
        }
        quiet = kev_quiet(c, 1);
        if (quiet <= 0) {
            if (quiet < 0) {
                Py_XDECREF(events);
                goto leave;
            }
            if (events != NULL && build != kev_event_new) {
                Py_CLEAR(events); /* the engine merges KEvents: give it the records */
                batch = kev_raw_records(out, n);
            } else {
                batch = events != NULL ? events : PyTuple_New(0);
            }
            goto resume;
        }
        if (events != NULL) {
            result = events; /* the backend translated everything; nothing to merge */
            *built = 1;
            open = 1;
            goto leave;
        }
        /* nothing: _remaining(deadline) */
        if (deadline >= 0) {
            int64_t left = deadline - kev_now_ns();
            if (left <= 0) {
                result = PyList_New(0);
                *built = 1;
                open = 1;
                goto leave;
            }
            wait_ns = left > KEV_MAX_WAIT_NS ? KEV_MAX_WAIT_NS : left;
        } else {
            wait_ns = KEV_MAX_WAIT_NS;
        }
    }
resume:
    if (batch != NULL) {
        PyObject *dl = deadline < 0 ? Py_NewRef(Py_None) : PyLong_FromLongLong(deadline);
        PyObject *wn = PyLong_FromLongLong(wait_ns);
        if (dl && wn)
            result = PyObject_CallMethodObjArgs(c->engine, s_collect, maxev, dl, wn, batch,
                                                NULL);
        Py_XDECREF(dl);
        Py_XDECREF(wn);
        Py_DECREF(batch);
    }
leave:
    if (out != sout)
        PyMem_Free(out);
    if (kev_leave(c, open && result != NULL) < 0) {
        Py_XDECREF(result);
        return NULL;
    }
    return result;
}
