/* kevents/_cffi/queue.c: Core, the C base of kevents.Queue (kevents/_queue.py), the
 * twin of kevents/_core.py's PyCore: it holds Queue._engine and runs control(). */
#include "core.h"
#include <stddef.h>

static int core_traverse(PyObject *op, visitproc visit, void *arg)
{
    kev_core *c = (kev_core *)op;
    Py_VISIT(Py_TYPE(op));
    Py_VISIT(c->engine);
    Py_VISIT(c->fast);
    Py_VISIT(c->ready);
    Py_VISIT(c->heap);
    Py_VISIT(c->waiting);
    Py_VISIT(c->lock_of);
    Py_VISIT(c->lock);
    Py_VISIT(c->plain_of);
    return 0;
}

static void core_drop_fast(kev_core *c)
{
    Py_CLEAR(c->fast);
    Py_CLEAR(c->ready);
    Py_CLEAR(c->heap);
    Py_CLEAR(c->waiting);
    Py_CLEAR(c->lock_of);
    Py_CLEAR(c->lock);
    kev_core_plain_drop(c);
    c->epfd = c->innerfd = -1;
}

static int core_clear(PyObject *op)
{
    kev_core *c = (kev_core *)op;
    Py_CLEAR(c->engine);
    core_drop_fast(c);
    return 0;
}

static void core_dealloc(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    core_clear(op);
    freefunc free = (freefunc)PyType_GetSlot(tp, Py_tp_free);
    free(op);
    Py_DECREF(tp);
}

/* Queue.control: the steady state in C (engine.c), everything else in Python */
static PyObject *core_control(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames)
{
    return kev_engine_control((kev_core *)self, self, args, nargs, kwnames);
}

/* _fast_setup(fast, ready, heap, waiting, epfd, innerfd, counts): the engine's state
 * the C path reads (LinuxBackend.fast_state), once Queue._engine is set (an
 * EngineBase); _fast_setup(None) turns it off. */
static PyObject *core_fast_setup(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    kev_core *c = (kev_core *)self;
    if (nargs == 1 && args[0] == Py_None) {
        core_drop_fast(c);
        Py_RETURN_NONE;
    }
    if (nargs != 7 || !kev_fast_check(args[0]) || !PyList_Check(args[2]) ||
        !kev_waiters_check(args[3]) || c->engine == NULL || !kev_engine_check(c->engine)) {
        PyErr_SetString(PyExc_TypeError, "_fast_setup(fast, ready, heap, waiting, epfd, "
                                         "innerfd, counts) after _engine = an EngineBase");
        return NULL;
    }
    int epfd = (int)PyLong_AsLong(args[4]);
    int innerfd = (int)PyLong_AsLong(args[5]);
    int counts = PyObject_IsTrue(args[6]);
    if (PyErr_Occurred())
        return NULL;
    core_drop_fast(c);
    if (kev_core_lock_setup(c) < 0)
        return NULL;
    c->fast = Py_NewRef(args[0]);
    c->ready = Py_NewRef(args[1]);
    c->heap = Py_NewRef(args[2]);
    c->waiting = Py_NewRef(args[3]);
    c->epfd = epfd;
    c->innerfd = innerfd;
    c->counts = counts;
    Py_RETURN_NONE;
}

static PyMethodDef core_methods[] = {
    {"control", (PyCFunction)(void (*)(void))core_control, METH_FASTCALL | METH_KEYWORDS,
     "control($self, changelist, max_events, timeout=None)\n--\n\n"
     "Apply ``changelist`` in order, then wait up to ``timeout`` seconds (None:\n"
     "forever) for at most ``max_events`` events.\n\n"
     "A change that fails yields an EV_ERROR entry (``data`` = errno) when there is\n"
     "room, and then no events are collected in this call; with no room it raises\n"
     "OSError and later changes are not applied. Signals interrupt the wait only to\n"
     "run Python handlers; the wait then resumes without re-applying changes."},
    {"_fast_setup", (PyCFunction)(void (*)(void))core_fast_setup, METH_FASTCALL,
     "_fast_setup(fast, ready, heap, waiting, epfd, innerfd, counts)"},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef core_members[] = {
    {"_engine", Py_T_OBJECT, offsetof(kev_core, engine), 0, "the queue's engine"},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot core_slots[] = {
    {Py_tp_doc, (void *)"The C base of kevents.Queue: control() for the steady state."},
    {Py_tp_traverse, (void *)core_traverse},
    {Py_tp_clear, (void *)core_clear},
    {Py_tp_dealloc, (void *)core_dealloc},
    {Py_tp_methods, core_methods},
    {Py_tp_members, core_members},
    {Py_tp_new, (void *)PyType_GenericNew},
    {0, NULL},
};

static PyType_Spec core_spec = {
    "kevents._speedups.Core", sizeof(kev_core), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, core_slots,
};

PyObject *kev_core_type_new(PyObject *module)
{
    (void)module;
    return PyType_FromSpec(&core_spec);
}
