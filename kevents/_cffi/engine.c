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
#include <limits.h>
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

#include <stddef.h>

static PyTypeObject *kev_engine_type;

static PyMemberDef kev_engine_members[] = {
    {"closed", Py_T_BOOL, offsetof(kev_engine_state, closed), 0, "the queue is closed"},
    {"pending", Py_T_BOOL, offsetof(kev_engine_state, pending), 0,
     "the backend's pending signal is on"},
    {NULL, 0, 0, 0, NULL},
};

static PyMethodDef kev_engine_methods[] = {
    {"_apply_plain", (PyCFunction)(void (*)(void))kev_engine_apply_plain, METH_FASTCALL,
     "_apply_plain(changes, start, state) -> end: the plain changes from `start`, in C"},
    {"_drop_all", (PyCFunction)(void (*)(void))kev_engine_drop_all, METH_FASTCALL,
     "_drop_all(knotes, state): close()'s drop of each knote, in C"},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot kev_engine_slots[] = {
    {Py_tp_doc, (void *)"The C base of kevents._engine.Engine: its closed and pending flags."},
    {Py_tp_members, kev_engine_members},
    {Py_tp_methods, kev_engine_methods},
    {Py_tp_dealloc, (void *)kev_plain_dealloc},
    {Py_tp_new, (void *)PyType_GenericNew},
    {0, NULL},
};

static PyType_Spec kev_engine_spec = {
    "kevents._speedups.EngineBase", sizeof(kev_engine_state), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, kev_engine_slots,
};

PyObject *kev_engine_type_new(void)
{
    return kev_type_kept(&kev_engine_spec, &kev_engine_type);
}

int kev_engine_check(PyObject *obj)
{
    return kev_engine_type != NULL && PyObject_TypeCheck(obj, kev_engine_type);
}

/* -- Waiters --------------------------------------------------------------------------
 * Story: Engine.waiting counts the threads inside control()'s wait (D36) with a list's
 * append and pop, atomic under the GIL. A ping-pong hop enters and leaves the wait once,
 * and the list went from 0 to 1 item and back each time: two reallocations of its item
 * array, ~330 of a hop's ~5,900 instructions (callgrind). Under speedups it is this
 * object instead: the same append(None), pop() and len() for the Python engine's code,
 * and a count the core changes in place, with the GIL held. */

static PyTypeObject *kev_waiters_type;

static PyObject *kev_waiters_append(PyObject *self, PyObject *arg)
{
    (void)arg;
    ((kev_waiters *)self)->n++;
    Py_RETURN_NONE;
}

static PyObject *kev_waiters_pop(PyObject *self, PyObject *unused)
{
    (void)unused;
    kev_waiters *w = (kev_waiters *)self;
    if (w->n <= 0) {
        PyErr_SetString(PyExc_IndexError, "pop from empty Waiters");
        return NULL;
    }
    w->n--;
    Py_RETURN_NONE;
}

static Py_ssize_t kev_waiters_len(PyObject *self)
{
    return ((kev_waiters *)self)->n;
}

static PyMethodDef kev_waiters_methods[] = {
    {"append", kev_waiters_append, METH_O, "append(x): one more thread waits"},
    {"pop", kev_waiters_pop, METH_NOARGS, "pop(): one thread left the wait"},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot kev_waiters_slots[] = {
    {Py_tp_doc, (void *)"Engine.waiting under speedups: how many threads wait (engine.c)."},
    {Py_tp_methods, kev_waiters_methods},
    {Py_sq_length, (void *)kev_waiters_len},
    {Py_tp_dealloc, (void *)kev_plain_dealloc},
    {Py_tp_new, (void *)PyType_GenericNew},
    {0, NULL},
};

static PyType_Spec kev_waiters_spec = {
    "kevents._speedups.Waiters", sizeof(kev_waiters), 0, Py_TPFLAGS_DEFAULT, kev_waiters_slots,
};

PyObject *kev_waiters_type_new(void)
{
    return kev_type_kept(&kev_waiters_spec, &kev_waiters_type);
}

int kev_waiters_check(PyObject *obj)
{
    return kev_waiters_type != NULL && Py_IS_TYPE(obj, kev_waiters_type);
}

/* -- Lock -----------------------------------------------------------------------------
 * Story: a change list in C takes engine.lock without blocking, and releases it after.
 * Through threading.Lock's bound methods that was acquire(False)'s argument parsing
 * and two method calls: ~750 of a one-timer control()'s ~7,300 instructions
 * (callgrind). Under speedups Engine.lock is this object instead: threading.Lock's
 * acquire(blocking=True, timeout=-1), release(), locked() and context manager for the
 * Python engine's code, the same raw PyThread lock underneath (not reentrant, released
 * by any thread, a blocking acquire that lets other threads run and signal handlers
 * interrupt it), and a plain call for the core. */

static PyTypeObject *kev_lock_type;
/* POSIX's PY_TIMEOUT_MAX, in microseconds (not in the limited API from 3.13 on) */
#define KEV_LOCK_TIMEOUT_MAX_US (LLONG_MAX / 1000)

int kev_lock_try(PyObject *lock)
{
    kev_lock *l = (kev_lock *)lock;
    if (!PyThread_acquire_lock(l->lock, NOWAIT_LOCK))
        return 0;
    l->locked = 1;
    return 1;
}

void kev_lock_release(PyObject *lock)
{
    kev_lock *l = (kev_lock *)lock;
    l->locked = 0;
    PyThread_release_lock(l->lock);
}

/* acquire with a timeout in microseconds (-1: none): 1, 0 (timed out), -1 (a signal
 * handler raised). The GIL is released only when the lock is held elsewhere. */
static int kev_lock_acquire_us(kev_lock *l, long long us)
{
    if (PyThread_acquire_lock_timed(l->lock, 0, 0) == PY_LOCK_ACQUIRED) {
        l->locked = 1;
        return 1;
    }
    if (us == 0)
        return 0;
    long long end = us < 0 ? 0 : kev_now_ns() / 1000 + us;
    for (;;) {
        PyLockStatus r;
        Py_BEGIN_ALLOW_THREADS
        r = PyThread_acquire_lock_timed(l->lock, us, 1);
        Py_END_ALLOW_THREADS
        if (r == PY_LOCK_ACQUIRED) {
            l->locked = 1;
            return 1;
        }
        if (r != PY_LOCK_INTR)
            return 0;
        /* interrupted: run the handlers (KeyboardInterrupt ends the wait), then wait
         * for what is left */
        if (PyErr_CheckSignals() < 0)
            return -1;
        if (us > 0 && (us = end - kev_now_ns() / 1000) <= 0)
            return 0;
    }
}

static PyObject *kev_lock_acquire(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"blocking", "timeout", NULL};
    int blocking = 1;
    double timeout = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|pd:acquire", kwlist, &blocking, &timeout))
        return NULL;
    long long us;
    if (!blocking) {
        if (timeout != -1) {
            PyErr_SetString(PyExc_ValueError, "can't specify a timeout for a non-blocking call");
            return NULL;
        }
        us = 0;
    } else if (timeout == -1)
        us = -1;
    else if (timeout < 0) {
        PyErr_SetString(PyExc_ValueError, "timeout value must be a non-negative number");
        return NULL;
    } else if (timeout * 1e6 >= (double)KEV_LOCK_TIMEOUT_MAX_US) {
        PyErr_SetString(PyExc_OverflowError, "timeout value is too large");
        return NULL;
    } else
        us = (long long)(timeout * 1e6);
    int r = kev_lock_acquire_us((kev_lock *)self, us);
    return r < 0 ? NULL : PyBool_FromLong(r);
}

static PyObject *kev_lock_enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    int r = kev_lock_acquire_us((kev_lock *)self, -1);
    return r < 0 ? NULL : PyBool_FromLong(r);
}

static PyObject *kev_lock_release_m(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (!((kev_lock *)self)->locked) {
        PyErr_SetString(PyExc_RuntimeError, "release unlocked lock");
        return NULL;
    }
    kev_lock_release(self);
    Py_RETURN_NONE;
}

static PyObject *kev_lock_exit(PyObject *self, PyObject *args)
{
    (void)args;
    return kev_lock_release_m(self, NULL);
}

static PyObject *kev_lock_locked(PyObject *self, PyObject *unused)
{
    (void)unused;
    return PyBool_FromLong(((kev_lock *)self)->locked);
}

static PyObject *kev_lock_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    if (PyTuple_Size(args) != 0 || (kwds != NULL && PyDict_Size(kwds) != 0)) {
        PyErr_SetString(PyExc_TypeError, "Lock() takes no arguments");
        return NULL;
    }
    kev_lock *l = (kev_lock *)((allocfunc)PyType_GetSlot(tp, Py_tp_alloc))(tp, 0);
    if (l == NULL)
        return NULL;
    if ((l->lock = PyThread_allocate_lock()) == NULL) {
        Py_DECREF(l);
        return PyErr_NoMemory();
    }
    return (PyObject *)l;
}

static void kev_lock_dealloc(PyObject *self)
{
    kev_lock *l = (kev_lock *)self;
    if (l->lock != NULL) {
        if (l->locked)
            PyThread_release_lock(l->lock);
        PyThread_free_lock(l->lock);
    }
    kev_plain_dealloc(self);
}

static PyMethodDef kev_lock_methods[] = {
    {"acquire", (PyCFunction)(void (*)(void))kev_lock_acquire, METH_VARARGS | METH_KEYWORDS,
     "acquire(blocking=True, timeout=-1) -> bool (threading.Lock.acquire)"},
    {"release", kev_lock_release_m, METH_NOARGS, "release() (threading.Lock.release)"},
    {"locked", kev_lock_locked, METH_NOARGS, "locked() -> bool"},
    {"__enter__", kev_lock_enter, METH_NOARGS, "acquire()"},
    {"__exit__", kev_lock_exit, METH_VARARGS, "release()"},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot kev_lock_slots[] = {
    {Py_tp_doc, (void *)"Engine.lock under speedups: a threading.Lock the core takes with "
                        "a plain call (engine.c)."},
    {Py_tp_methods, kev_lock_methods},
    {Py_tp_new, (void *)kev_lock_new},
    {Py_tp_dealloc, (void *)kev_lock_dealloc},
    {0, NULL},
};

static PyType_Spec kev_lock_spec = {
    "kevents._speedups.Lock", sizeof(kev_lock), 0, Py_TPFLAGS_DEFAULT, kev_lock_slots,
};

PyObject *kev_lock_type_new(void)
{
    return kev_type_kept(&kev_lock_spec, &kev_lock_type);
}

int kev_lock_check(PyObject *obj)
{
    return kev_lock_type != NULL && Py_IS_TYPE(obj, kev_lock_type);
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
    Py_ssize_t n = ((kev_waiters *)c->waiting)->n; /* waiting.pop() */
    if (n > 0)
        ((kev_waiters *)c->waiting)->n = n - 1;
    if (n <= 1 && !open) {
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
static int kev_control_changes(kev_core *c, kev_core *keep, PyObject *const *args,
                               Py_ssize_t nargs, PyObject **result);

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
    Py_XINCREF(c.lock_of);
    Py_XINCREF(c.lock);
    PyObject *result = kev_fast_control(&c, self, args, nargs, build, built);
    Py_XDECREF(c.lock_of);
    Py_XDECREF(c.lock);
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
    PyObject *rest[3] = {Py_None, maxev, nargs == 3 ? args[2] : Py_None};
    if (!PyLong_CheckExact(maxev))
        return kev_slow(self, args, nargs, kwnames);
    long long m = PyLong_AsLongLong(maxev);
    if (m < 0) { /* negative, or too big: an error for Python */
        PyErr_Clear();
        return kev_slow(self, args, nargs, kwnames);
    }
    if (changes != Py_None && !PyList_CheckExact(changes) && !PyTuple_CheckExact(changes))
        return kev_slow(self, args, nargs, kwnames); /* an iterable: Python's to walk */
    if (changes != Py_None && PyObject_Size(changes) != 0) {
        /* a change list: applied here when it is plain, else by Python (D77) */
        /* (self is the queue, whose core keeps engine.plain unpacked; c is this call's
         * copy of it) */
        int done = kev_control_changes(c, (kev_core *)self, args, nargs, &result);
        if (done < 0)
            return NULL;
        if (done == 0)
            return kev_slow(self, args, nargs, kwnames);
        if (done == 2) {
            *built = 0;
            return result; /* Python's engine finished the call (KEvents) */
        }
        if (m == 0) { /* all applied: Engine.control's "if max_events == 0" */
            *built = 1;
            return PyList_New(0);
        }
        args = rest; /* the wait, without the changes (applied: exactly once) */
    }
    if (m == 0) /* change-only calls */
        return kev_slow(self, args, nargs, kwnames);
    room = m > KEV_MAX_ROOM ? KEV_MAX_ROOM : (int)m;
    if (!kev_timeout_plain(nargs == 3 ? args[2] : Py_None, &timeout_ns))
        return kev_slow(self, args, nargs, kwnames);
    int quiet = kev_quiet(c, 0), open = 0;
    if (quiet <= 0)
        return quiet < 0 ? NULL : kev_slow(self, args, nargs, kwnames);

    /* Engine.control: the deadline, then count this thread in `waiting` (D36) */
    deadline = timeout_ns < 0 ? -1 : kev_now_ns() + timeout_ns;
    wait_ns = timeout_ns < 0 || timeout_ns > KEV_MAX_WAIT_NS ? KEV_MAX_WAIT_NS : timeout_ns;
    ((kev_waiters *)c->waiting)->n++; /* waiting.append(None) */
    if (room > KEV_STACK_ROOM) {
        out = PyMem_Malloc(sizeof *out * KEV_RECORD_WIDTH * (size_t)room);
        if (out == NULL) {
            PyErr_NoMemory();
            goto leave;
        }
    }
    for (;;) { /* Engine._collect */
        int n;
        /* no deadline and the clamp: _engine.py's FOREVER (epoll_wait(-1), see there) */
        int64_t bound = deadline < 0 && wait_ns == KEV_MAX_WAIT_NS ? -1 : wait_ns;
        Py_BEGIN_ALLOW_THREADS
        n = kev_wait_records(c->epfd, c->innerfd, room, bound, c->counts, out);
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

/* -- change lists (Engine._materialise and Engine._results/_apply_one, D77) -----------
 * Story: a change list cost about 11 us per change in Python (the checks of
 * _materialise, the _results generator, _apply_one, identify, the knote, its _Reg,
 * new_token, publish): 6x a select.epoll.register loop. Here the "plain" changes are
 * applied in one C pass: READ/WRITE ADD of a new key on an fd epoll accepts, DELETE,
 * re-add, ENABLE and DISABLE of a kernel-armed READ/WRITE knote, ADD of a new relative
 * TIMER or of a USER knote that does not trigger (timer.c). Every other change, and every change
 * whose answer would be an error, stops the pass: the Python engine applies that one
 * change from the state the C pass left (which its own path passes through too), then
 * calls back here for the rest. So each error is still produced by Python, once, with
 * its messages, room rules (D6) and io_uring batch semantics unchanged. */

/* the flags a plain change may carry; any other bit (EV_FORCEONESHOT, the system flags,
 * a kevents-only bit) sends the change to Python */
#define KEV_PLAIN_FLAGS                                                                    \
    (KEV_EV_ADD | KEV_EV_DELETE | KEV_EV_ENABLE | KEV_EV_DISABLE | KEV_EV_ONESHOT |        \
     KEV_EV_CLEAR | KEV_EV_RECEIPT | KEV_EV_DISPATCH | KEV_EV_KEEPUDATA)

/* an int field of a change in [lo, hi]: 1, else 0 (the Python check raises) */
static int kev_int_in(PyObject *v, long long lo, long long hi, long long *out)
{
    if (!PyLong_Check(v))
        return 0;
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (x == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    if (overflow || x < lo || x > hi)
        return 0;
    *out = x;
    return 1;
}

/* kev_materialise, and each change's ints in *parsed (PyMem_Malloc'd, the caller's to
 * free) when parsed is not NULL and the answer is a list */
static PyObject *kev_materialise_parsed(PyObject *arg, kev_change **parsed)
{
    PyObject *kev = kev_event_type();
    int is_list = PyList_CheckExact(arg);
    if (kev == NULL || (!is_list && !PyTuple_CheckExact(arg)))
        Py_RETURN_NONE;
    Py_ssize_t n = is_list ? PyList_Size(arg) : PyTuple_Size(arg);
    PyObject *todo = PyList_New(n);
    kev_change *out = NULL;
    if (todo == NULL)
        return NULL;
    if (parsed != NULL && (out = PyMem_Malloc((n ? n : 1) * sizeof *out)) == NULL) {
        Py_DECREF(todo);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *ch = is_list ? PyList_GetItem(arg, i) : PyTuple_GetItem(arg, i);
        kev_change c;
        if (ch == NULL)
            goto fail;
        if ((PyObject *)Py_TYPE(ch) != kev || PyTuple_Size(ch) != 7 ||
            !PyLong_CheckExact(PyTuple_GetItem(ch, 0)) ||
            !kev_int_in(PyTuple_GetItem(ch, 0), LLONG_MIN, LLONG_MAX, &c.ident) ||
            !kev_int_in(PyTuple_GetItem(ch, 1), -0x8000, 0x7FFF, &c.filter) ||
            !kev_int_in(PyTuple_GetItem(ch, 2), 0, 0xFFFF, &c.flags) ||
            !kev_int_in(PyTuple_GetItem(ch, 3), 0, 0xFFFFFFFFLL, &c.fflags) ||
            !kev_int_in(PyTuple_GetItem(ch, 4), LLONG_MIN, LLONG_MAX, &c.data)) {
            Py_DECREF(todo);
            PyMem_Free(out);
            Py_RETURN_NONE; /* (a list changed by a finalizer meanwhile lands here too) */
        }
        if (out != NULL)
            out[i] = c;
        PyList_SetItem(todo, i, Py_NewRef(ch));
    }
    if (parsed != NULL)
        *parsed = out;
    return todo;
fail:
    Py_DECREF(todo);
    PyMem_Free(out);
    return NULL;
}

/* materialise(changes) -> list | None: _materialise for a list or tuple of KEvents
 * whose fields are ints in range and whose idents are ints already (so nothing is
 * resolved or replaced); None: the Python _materialise decides (and raises). */
PyObject *kev_materialise(PyObject *self, PyObject *arg)
{
    (void)self;
    return kev_materialise_parsed(arg, NULL);
}

static PyObject *s_serial, *s_wrapped, *s_closing, *s_batcher_, *s_ring, *s_fd, *s_expire;

/* whether `cls` adds nothing to its C base's layout of `size` bytes (no __dict__, no
 * slots of its own), so a struct cast is right; checked once per class */
static int kev_same_layout(PyObject *cls, size_t size)
{
    static PyObject *checked[3];
    if (cls == checked[0] || cls == checked[1] || cls == checked[2])
        return 1;
    PyObject *v = PyObject_GetAttrString(cls, "__basicsize__");
    if (v == NULL)
        return -1;
    Py_ssize_t n = PyLong_AsSsize_t(v);
    Py_DECREF(v);
    if (n != (Py_ssize_t)size)
        return 0;
    for (int i = 0; i < 3; i++)
        if (checked[i] == NULL) {
            checked[i] = Py_NewRef(cls); /* (kept: a class of the package) */
            break;
        }
    return 1;
}

/* a pass's own fields: nothing read of the counters yet */
static void kev_plain_fresh(kev_plain *p)
{
    p->timed = 0;
    p->seq = -1;
    p->rw = 0;
    p->ring = NULL;   /* (Core.control's pass sets it: Python batches its own) */
    p->parsed = NULL; /* (and the changes' ints, which it has read already) */
}

/* LinuxBackend.plain_state(engine) unpacked (its mutable fields: kev_plain_rw and
 * kev_plain_timers, when a change needs them) */
static int kev_plain_load(kev_plain *p, PyObject *state)
{
    if (!PyTuple_Check(state) || PyTuple_Size(state) != 21) {
        PyErr_SetString(PyExc_TypeError, "_apply_plain: a LinuxBackend.plain_state tuple");
        return -1;
    }
    PyObject **f[] = {&p->knotes,   &p->backend,  &p->src[0],   &p->src[1],  &p->filt[0],
                      &p->filt[1],  &p->bknotes,  &p->fast,     &p->zombies, &p->internal,
                      &p->private_, &p->handlers, &p->knote_cls, &p->reg_cls,
                      &p->timers,   &p->tfilt,    &p->timer_cls, &p->heap,
                      &p->users,    &p->ufilt};
    for (Py_ssize_t i = 0; i < 20; i++)
        *f[i] = PyTuple_GetItem(state, i); /* borrowed: the tuple lives for the call */
    if (!kev_fast_check(p->fast) || !PyType_Check(p->knote_cls) || !PyType_Check(p->reg_cls) ||
        !PyType_IsSubtype((PyTypeObject *)p->knote_cls, (PyTypeObject *)kev_knote_type) ||
        !PyType_IsSubtype((PyTypeObject *)p->reg_cls, (PyTypeObject *)kev_reg_type) ||
        kev_same_layout(p->knote_cls, sizeof(kev_knote)) <= 0 ||
        kev_same_layout(p->reg_cls, sizeof(kev_reg)) <= 0 || !PyList_CheckExact(p->heap) ||
        !PyType_Check(p->timer_cls) ||
        !PyType_IsSubtype((PyTypeObject *)p->timer_cls, (PyTypeObject *)kev_timer_type) ||
        !PyObject_TypeCheck(p->timers, (PyTypeObject *)kev_timer_source_type) ||
        kev_same_layout(p->timer_cls, sizeof(kev_timer)) <= 0) {
        PyErr_SetString(PyExc_TypeError, "_apply_plain: not the C knote layout");
        return -1;
    }
    PyObject *fds = PyTuple_GetItem(state, 20);
    p->epfd = (int)PyLong_AsLong(PyTuple_GetItem(fds, 0));
    p->innerfd = (int)PyLong_AsLong(PyTuple_GetItem(fds, 1));
    if (PyErr_Occurred())
        return -1;
    if (s_serial == NULL && ((s_serial = PyUnicode_InternFromString("serial")) == NULL ||
                             (s_wrapped = PyUnicode_InternFromString("wrapped")) == NULL ||
                             (s_expire = PyUnicode_InternFromString("expire")) == NULL ||
                             (s_closing = PyUnicode_InternFromString("closing")) == NULL ||
                             (s_batcher_ = PyUnicode_InternFromString("_batcher")) == NULL ||
                             (s_ring = PyUnicode_InternFromString("ring")) == NULL ||
                             (s_fd = PyUnicode_InternFromString("fd")) == NULL))
        return -1;
    kev_plain_fresh(p);
    return 0;
}

/* Story: engine.plain is made once per engine, and checking and unpacking it (23 tuple
 * reads and the layout checks) was ~770 of a one-timer control()'s ~6,700 instructions
 * (callgrind). The core keeps the unpacked copy with the tuple it came from (its
 * references are the tuple's) and reuses it while engine.plain is that same tuple. */
static int kev_plain_cached(kev_core *c, kev_plain *p, PyObject *state)
{
    if (c->plain != NULL && c->plain_of == state) {
        *p = *(kev_plain *)c->plain;
        kev_plain_fresh(p);
        return 0;
    }
    if (kev_plain_load(p, state) < 0)
        return -1;
    kev_core_plain_drop(c);
    if ((c->plain = PyMem_Malloc(sizeof(kev_plain))) != NULL) {
        *(kev_plain *)c->plain = *p;
        c->plain_of = Py_NewRef(state);
    }
    return 0;
}

void kev_core_plain_drop(kev_core *c)
{
    PyMem_Free(c->plain);
    c->plain = NULL;
    Py_CLEAR(c->plain_of);
}

/* Story: the backend's and the TIMER source's counters were read on every pass, four
 * getattrs that were a tenth of a one-timer control() call. Each is read on the
 * pass's first change that needs it. */

/* the backend's fields a READ/WRITE change reads: serial (new_token), closing, and
 * ring_fd() (LinuxBackend.owns) read without its Python frame: _batcher.ring.fd, or -1 */
int kev_plain_rw(kev_plain *p)
{
    if (p->rw)
        return 0;
    PyObject *v = PyObject_GetAttr(p->backend, s_serial);
    if (v == NULL)
        return -1;
    p->serial = p->serial0 = PyLong_AsLongLong(v);
    Py_DECREF(v);
    if ((v = PyObject_GetAttr(p->backend, s_wrapped)) == NULL)
        return -1;
    p->wrapped = p->wrapped0 = PyObject_IsTrue(v);
    Py_DECREF(v);
    if ((v = PyObject_GetAttr(p->backend, s_closing)) == NULL)
        return -1;
    p->closing = PyObject_IsTrue(v);
    Py_DECREF(v);
    p->ringfd = -1;
    PyObject *batcher = PyObject_GetAttr(p->backend, s_batcher_), *ring = NULL;
    if (batcher == NULL)
        return -1;
    if (batcher != Py_None)
        ring = PyObject_GetAttr(batcher, s_ring);
    Py_DECREF(batcher);
    if (ring != NULL && ring != Py_None && (v = PyObject_GetAttr(ring, s_fd)) != NULL) {
        p->ringfd = (int)PyLong_AsLong(v);
        Py_DECREF(v);
    }
    Py_XDECREF(ring);
    if (p->closing < 0 || p->wrapped < 0 || PyErr_Occurred())
        return -1;
    p->rw = 1;
    return 0;
}

/* TimerSource.seq, for the pass's first new timer */
static int kev_plain_timers(kev_plain *p)
{
    if (p->seq >= 0)
        return 0;
    p->seq = ((kev_timer_source *)p->timers)->seq; /* (kev_plain_load checked the type) */
    if (p->seq < 0) {
        PyErr_SetString(PyExc_ValueError, "TimerSource.seq < 0");
        return -1;
    }
    return 0;
}

/* One plain change of _apply_one: 1 applied (errno 0), 0 for Python, -1 an exception.
 * `pc`: the change's ints, checked by kev_materialise_parsed (NULL: read here). */
static int kev_apply_one(kev_plain *p, PyObject *ch, const kev_change *pc)
{
    PyObject *ident = PyTuple_GetItem(ch, 0), *filter = PyTuple_GetItem(ch, 1);
    kev_change c;
    if (pc == NULL) {
        if (!kev_int_in(ident, LLONG_MIN, LLONG_MAX, &c.ident) ||
            !kev_int_in(filter, -0x8000, 0x7FFF, &c.filter) ||
            !kev_int_in(PyTuple_GetItem(ch, 2), 0, 0xFFFF, &c.flags) ||
            !kev_int_in(PyTuple_GetItem(ch, 3), 0, 0xFFFFFFFFLL, &c.fflags) ||
            !kev_int_in(PyTuple_GetItem(ch, 4), LLONG_MIN, LLONG_MAX, &c.data))
            return 0;
        pc = &c;
    }
    long long filt = pc->filter, flags = pc->flags, fflags = pc->fflags, fd = pc->ident;
    if (filt < KEV_FILT_USER || filt > KEV_FILT_READ || flags & ~KEV_PLAIN_FLAGS ||
        (flags & KEV_EV_ENABLE && flags & KEV_EV_DISABLE))
        return 0; /* a flag of its own; EINVAL */
    int i = filt == KEV_FILT_READ ? 0 : 1;
    if (filt == KEV_FILT_TIMER || filt == KEV_FILT_USER) {
        /* TIMER, USER: not fd-based (a negative ident is EINVAL); only new keys here */
        if (fd < 0 || (flags & (KEV_EV_DELETE | KEV_EV_KEEPUDATA | KEV_EV_DISABLE)) ||
            !(flags & KEV_EV_ADD))
            return 0;
    } else if (filt < KEV_FILT_WRITE || fflags != 0 || fd < 0 || fd > 0x7FFFFFFF)
        return 0; /* another filter, a note (NOTE_LOWAT...); EBADF */
    if ((filt == KEV_FILT_TIMER  ? kev_plain_timers(p)
         : filt == KEV_FILT_USER ? 0
                                 : kev_plain_rw(p)) < 0)
        return -1;
    PyObject *key = PyTuple_Pack(2, ident, filter);
    if (key == NULL)
        return -1;
    int rc = 0;
    PyObject *kn = PyDict_GetItemWithError(p->knotes, key);
    if (kn == NULL && PyErr_Occurred())
        rc = -1;
    else if (filt == KEV_FILT_TIMER) {
        if (kn == NULL)
            rc = kev_timer_add(p, key, flags, fflags, pc->data, PyTuple_GetItem(ch, 5));
    } else if (filt == KEV_FILT_USER) {
        if (kn == NULL)
            rc = kev_user_add(p, key, flags, fflags, pc->data, PyTuple_GetItem(ch, 5));
    } else if (kn != NULL && !(flags & KEV_EV_DELETE) &&
               (flags & (KEV_EV_ADD | KEV_EV_KEEPUDATA)) != (KEV_EV_ADD | KEV_EV_KEEPUDATA)) {
        /* an existing knote: a re-add, EV_ENABLE, EV_DISABLE (touch) */
        Py_INCREF(kn);
        rc = kev_rw_touch(p, i, kn, flags, pc->data, PyTuple_GetItem(ch, 5));
        Py_DECREF(kn);
    } else if (flags & KEV_EV_ADD) {
        /* EV_ADD with DELETE or KEEPUDATA is EINVAL; DISABLE at creation takes the
         * Python path */
        if (kn == NULL && !(flags & (KEV_EV_DELETE | KEV_EV_KEEPUDATA | KEV_EV_DISABLE)))
            rc = kev_rw_add(p, i, key, (long)fd, flags, pc->data, PyTuple_GetItem(ch, 5));
    } else if (flags & KEV_EV_DELETE && kn != NULL &&
               !(flags & ~(KEV_EV_DELETE | KEV_EV_RECEIPT))) {
        Py_INCREF(kn); /* dropping it may run finalizers */
        rc = kev_rw_delete(p, i, key, kn);
        Py_DECREF(kn);
    }
    Py_DECREF(key);
    return rc;
}

#define KEV_MIN_RUN 8 /* Engine's _MIN_RUN: the shortest run handed to a batcher */

/* Whether TimerSource.expire() would do anything: 0 when the earliest timer is not due
 * and is the one the kernel timer is armed for (then it neither expires a timer nor
 * re-arms), 1 when it would, -1 when it cannot tell (an exception: expire decides).
 * Its frame was most of a one-timer control() call. */
static int kev_expire_has_work(kev_plain *p)
{
    if (PyList_Size(p->heap) <= 0)
        return 1;
    long long top, seq;
    if (kev_timer_top(p, &top, &seq) < 0) {
        PyErr_Clear();
        return -1;
    }
    long long armed = ((kev_timer_source *)p->timers)->armed;
    return top != armed || top <= kev_timer_now() ? 1 : 0;
}

/* The pass from `i`: the end index, or -1 with an exception. `receipts`: apply an
 * EV_RECEIPT change, then stop (its entry is the caller's); else stop before one. */
static Py_ssize_t kev_plain_pass(kev_plain *p, PyObject *changes, Py_ssize_t i, int receipts)
{
    int rc = 1;
    /* Story: each knote is two GC objects (with its _Reg), so a 10,000-change list
     * set off some 30 collections, each walking every young knote made so far: 45% of
     * the pass's instructions (callgrind). The collector waits for the end of the pass
     * (no other thread runs meanwhile: the GIL is never released here), then runs
     * once, at the next allocation, as it would have anyway. */
    int gc = PyGC_Disable();
    Py_ssize_t short_end = -1; /* the changes up to here are in a run too short to batch */
    while (rc == 1 && i < PyList_Size(changes)) {
        if (p->ring != NULL && p->parsed != NULL && PyList_Size(changes) - i >= KEV_MIN_RUN &&
            i > short_end) {
            /* Engine._results: a long run of new registrations goes through the ring */
            PyObject **keys = NULL;
            Py_ssize_t j = kev_plain_rw(p) < 0 ? -1 : kev_batch_run_end(p, changes, i, &keys);
            if (j >= 0 && j - i >= KEV_MIN_RUN) {
                Py_ssize_t got = kev_batch_apply(p, changes, i, j, keys);
                kev_batch_keys_free(keys, j - i);
                rc = got < 0 ? -1 : got == j;
                i = got < 0 ? i : got;
                continue;
            }
            kev_batch_keys_free(keys, j > i ? j - i : 0);
            if (j < 0) {
                rc = -1;
                break;
            }
            short_end = j;
        }
        PyObject *ch = Py_NewRef(PyList_GetItem(changes, i));
        const kev_change *pc = p->parsed == NULL ? NULL : &p->parsed[i];
        long long flags = pc != NULL ? pc->flags : PyLong_AsLongLong(PyTuple_GetItem(ch, 2));
        if (flags & KEV_EV_RECEIPT && !receipts)
            rc = 0;
        else
            rc = kev_apply_one(p, ch, pc);
        if (rc == 1) {
            i++;
            if (flags & KEV_EV_RECEIPT)
                rc = 0;
        }
        Py_DECREF(ch);
    }
    if (gc)
        PyGC_Enable();
    if (p->timed) { /* TimerSource.seq, then expire(): one timerfd re-arm per pass */
        PyObject *et, *ev, *tb, *v = NULL;
        PyErr_Fetch(&et, &ev, &tb);
        ((kev_timer_source *)p->timers)->seq = p->seq;
        if (rc >= 0 && kev_expire_has_work(p) != 0 &&
            (v = PyObject_CallMethodObjArgs(p->timers, s_expire, NULL)) == NULL)
            rc = -1;
        Py_XDECREF(v);
        if (et != NULL) {
            PyErr_Clear();
            PyErr_Restore(et, ev, tb);
        }
    }
    if (p->rw && p->serial != p->serial0) { /* new_token's counter, as far as the pass took it */
        PyObject *et, *ev, *tb, *v;
        PyErr_Fetch(&et, &ev, &tb);
        v = PyLong_FromLongLong(p->serial);
        if (v == NULL || PyObject_SetAttr(p->backend, s_serial, v) < 0 ||
            (p->wrapped != p->wrapped0 && PyObject_SetAttr(p->backend, s_wrapped, Py_True) < 0))
            rc = -1;
        Py_XDECREF(v);
        if (et != NULL) {
            PyErr_Clear();
            PyErr_Restore(et, ev, tb);
        }
    }
    return rc < 0 ? -1 : i;
}

/* Engine._apply_plain(changes, start, state) -> end: applies changes[start:end], each
 * plain and successful, in one pass; it stops before the first change it does not
 * apply, and after one with EV_RECEIPT (whose entry Python adds: it may be the one
 * that fills the event list, D6). */
PyObject *kev_engine_apply_plain(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    kev_plain p;
    if (nargs != 3 || !PyList_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "_apply_plain(changes: list, start, state)");
        return NULL;
    }
    Py_ssize_t i = PyLong_AsSsize_t(args[1]);
    if ((i == -1 && PyErr_Occurred()) || kev_plain_load(&p, args[2]) < 0)
        return NULL;
    i = kev_plain_pass(&p, args[0], i, 1);
    return i < 0 ? NULL : PyLong_FromSsize_t(i);
}

static PyObject *s_detach;

/* one turn of Engine.close's loop: if kn.alive: kn.alive = False; kn.source.detach(kn).
 * Every knote is a Knote, whose C layout kev_plain_load checked, with alive a bool and
 * source set by whoever made it (_engine.py, _aio.py, batch.py, _proc_connector.py). */
static int kev_drop_one(kev_plain *p, PyObject *o)
{
    kev_knote *kn = (kev_knote *)o;
    if (!PyObject_TypeCheck(o, (PyTypeObject *)kev_knote_type) || kn->source == NULL) {
        PyErr_SetString(PyExc_TypeError, "_drop_all: not a knote");
        return -1;
    }
    if (!kn->alive)
        return 0;
    kn->alive = 0;
    if (kev_rw_detach_closing(p, kn))
        return 0;
    PyObject *r = PyObject_CallMethodObjArgs(kn->source, s_detach, o, NULL);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

/* Engine._drop_all(knotes, state): Engine.close()'s loop over the knotes it drops (its
 * Python form, in close(), is the reference), with the detach of a kernel-armed
 * READ/WRITE knote done here when it is only bookkeeping (kev_rw_detach_closing):
 * 10,000 READ knotes closed in ~1,500 instructions each rather than ~2,200. As in
 * Python, the first exception stops the loop. */
PyObject *kev_engine_drop_all(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    kev_plain p;
    if (nargs != 2 || !PyList_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "_drop_all(knotes: list, state)");
        return NULL;
    }
    if (s_detach == NULL && (s_detach = PyUnicode_InternFromString("detach")) == NULL)
        return NULL;
    if (kev_plain_load(&p, args[1]) < 0 || kev_plain_rw(&p) < 0)
        return NULL;
    PyObject *knotes = args[0];
    for (Py_ssize_t i = 0; i < PyList_Size(knotes); i++) {
        PyObject *o = PyList_GetItem(knotes, i);
        if (o == NULL)
            return NULL;
        Py_INCREF(o);
        int rc = kev_drop_one(&p, o);
        Py_DECREF(o);
        if (rc < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *s_plain, *s_control_from, *s_sync, *s_batcher, *s_ring_address;

/* The Batcher's ring for a list long enough for it (Engine._results: _MIN_RUN), made
 * on first use (lock held, queue open: no other thread makes one, and none is made
 * for a closed queue), before the pass reads its descriptor (ring_fd); NULL: no
 * batching (a short list, or no io_uring). 0, or -1 with an exception. */
static int kev_batch_ring(PyObject *state, Py_ssize_t n, void **ring)
{
    if (n < KEV_MIN_RUN)
        return 0;
    PyObject *b = PyObject_CallMethodObjArgs(PyTuple_GetItem(state, 1), s_batcher, NULL);
    PyObject *addr = b == NULL || b == Py_None
                         ? NULL
                         : PyObject_CallMethodObjArgs(b, s_ring_address, NULL);
    if (addr != NULL)
        *ring = PyLong_AsVoidPtr(addr);
    Py_XDECREF(addr);
    Py_XDECREF(b);
    return PyErr_Occurred() ? -1 : 0;
}

/* Core._fast_setup's: engine.lock kept in the core, with the engine it belongs to
 * (c->lock_of); a lock that is not a Lock (the engine's own, replaced) leaves every
 * change list to Python */
int kev_core_lock_setup(kev_core *c)
{
    PyObject *lock = PyObject_GetAttrString(c->engine, "lock");
    if (lock == NULL)
        return -1;
    PyObject *old[2] = {c->lock, c->lock_of};
    c->lock = kev_lock_check(lock) ? lock : NULL;
    if (c->lock == NULL)
        Py_DECREF(lock);
    c->lock_of = Py_NewRef(c->engine);
    for (int i = 0; i < 2; i++)
        Py_XDECREF(old[i]);
    return 0;
}

/* Engine.control's change list, from Core.control (a list or tuple, max_events an int
 * >= 0): without a Python frame when every change is plain and no EV_RECEIPT asks for
 * an entry. The lock is taken without blocking (contended: Python's, which waits), the
 * queue must be open, the changes pass the C _materialise. Returns 0 (nothing done:
 * the Python call, unchanged), 1 (all applied; the call goes on as control(None...)),
 * 2 (*result: Engine.control_from finished the call after the changes C applied), or
 * -1 (an exception). */
static int kev_control_changes(kev_core *c, kev_core *keep, PyObject *const *args,
                               Py_ssize_t nargs, PyObject **result)
{
    PyObject *changes = args[0];
    if (!PyList_CheckExact(changes) && !PyTuple_CheckExact(changes))
        return 0;
    if (s_plain == NULL && ((s_plain = PyUnicode_InternFromString("plain")) == NULL ||
                            (s_sync = PyUnicode_InternFromString("sync_pending")) == NULL ||
                            (s_batcher = PyUnicode_InternFromString("batcher")) == NULL ||
                            (s_ring_address = PyUnicode_InternFromString("ring_address")) ==
                                NULL ||
                            (s_control_from = PyUnicode_InternFromString("control_from")) ==
                                NULL))
        return -1;
    if (KEV_ENGINE(c)->closed)
        return 0;
    /* engine.plain: set once by Engine.__init__, and None only after close (checked
     * above), so the tuple the core keeps unpacked is still it */
    PyObject *state = keep->plain != NULL && keep->lock_of == c->engine
                          ? Py_NewRef(keep->plain_of)
                          : PyObject_GetAttr(c->engine, s_plain);
    if (state == NULL)
        return -1;
    if (state == Py_None) {
        Py_DECREF(state);
        return 0;
    }
    kev_change *parsed = NULL; /* (each change's ints, read once) */
    PyObject *todo = kev_materialise_parsed(changes, &parsed);
    if (todo == NULL || todo == Py_None) {
        Py_DECREF(state);
        Py_XDECREF(todo);
        return todo == NULL ? -1 : 0;
    }
    /* with self.lock: taken without blocking (engine.lock is a Lock: a plain call) */
    if (c->lock_of != c->engine || c->lock == NULL || !kev_lock_try(c->lock)) {
        PyMem_Free(parsed);
        Py_DECREF(todo); /* another thread holds it: Python's, which waits */
        Py_DECREF(state);
        return 0;
    }
    /* (closed is checked again, as the Python engine does inside the lock) */
    Py_ssize_t end = 0, n = PyList_Size(todo);
    kev_plain p;
    if (!KEV_ENGINE(c)->closed) {
        void *ring = NULL;
        if (kev_batch_ring(state, PyList_Size(todo), &ring) < 0 ||
            kev_plain_cached(keep, &p, state) < 0)
            end = -1;
        else {
            p.ring = ring;
            p.parsed = parsed;
            end = kev_plain_pass(&p, todo, 0, 0);
        }
    }
    PyMem_Free(parsed);
    /* finally: self.sync_pending() (ready and pending differ only if a change queued a
     * knote), then the lock's release */
    PyObject *et, *ev, *tb, *r;
    PyErr_Fetch(&et, &ev, &tb);
    int rc = 0;
    Py_ssize_t ready = PyObject_Size(c->ready);
    if (ready < 0 || (ready > 0) != (KEV_ENGINE(c)->pending != 0)) {
        PyErr_Clear();
        r = PyObject_CallMethodObjArgs(c->engine, s_sync, NULL);
        rc = r == NULL ? -1 : 0;
        Py_XDECREF(r);
    }
    kev_lock_release(c->lock); /* (after a failed sync_pending all the same) */
    if (et != NULL) {
        PyErr_Clear();
        PyErr_Restore(et, ev, tb);
        end = -1;
    }
    Py_DECREF(state);
    if (end < 0 || rc < 0) {
        Py_DECREF(todo);
        return -1;
    }
    if (end == n) {
        Py_DECREF(todo);
        return 1;
    }
    if (end == 0) { /* nothing applied: the ordinary Python call */
        Py_DECREF(todo);
        return 0;
    }
    /* the rest, and the wait, in Python: changes[:end] are applied, once */
    PyObject *start = PyLong_FromSsize_t(end);
    if (start != NULL)
        *result = PyObject_CallMethodObjArgs(c->engine, s_control_from, todo, start, args[1],
                                             nargs == 3 ? args[2] : Py_None, NULL);
    Py_XDECREF(start);
    Py_DECREF(todo);
    return *result == NULL ? -1 : 2;
}
