/* kevents/_cffi/compat_select.c: kevents.compat.select.kqueue.control for the steady
 * state (mirrors kqueue.control in kevents/compat/select.py, which stays the rule and
 * the slow path: its argument checks, messages and the kevent conversion).
 *
 * route_compat(kqueue, kevent) replaces kqueue.control by a C method. A call with no
 * changes (None or an empty list/tuple), a positive int maxevents and a plain timeout,
 * on an open queue whose Queue is a Core, is Queue.control in C (engine.c) followed by
 * the conversion to kevent objects in C; any other call is the Python method, unchanged.
 */
#include "core.h"

#include <limits.h>
#include <math.h>
#include <stddef.h>

/* -- kevent's C layout -----------------------------------------------------------------
 * Story: kevent was a __slots__ class with a __getattr__ for CPython's zeroed struct and
 * its messages, so every attribute read went through the slot_tp_getattr_hook (three
 * times a plain slot's cost), and each kevent built here took six descriptor calls.
 * Under speedups its base is this struct kevent: CPython's own member types on
 * FreeBSD (ident and udata unsigned 64-bit, filter a short, flags an unsigned short,
 * fflags an unsigned int, data a 64-bit int), so the running interpreter's member code
 * does what select.kevent's does on that version (D50), a kevent made by __new__ alone
 * reads as zeros, and a missing name raises select.kevent's AttributeError. The Python
 * class keeps its __init__, __setattr__ (D49's conversions, then the member store) and
 * the rest. */
typedef struct {
    PyObject_HEAD
    unsigned long long ident;
    short filter;
    unsigned short flags;
    unsigned int fflags;
    long long data;
    unsigned long long udata;
} kev_kevent;

#define KEV_KEVENT_MEMBER(name, type) {#name, type, offsetof(kev_kevent, name), 0, NULL}
static PyMemberDef kev_kevent_members[] = {
    KEV_KEVENT_MEMBER(ident, Py_T_ULONGLONG), KEV_KEVENT_MEMBER(filter, Py_T_SHORT),
    KEV_KEVENT_MEMBER(flags, Py_T_USHORT),    KEV_KEVENT_MEMBER(fflags, Py_T_UINT),
    KEV_KEVENT_MEMBER(data, Py_T_LONGLONG),   KEV_KEVENT_MEMBER(udata, Py_T_ULONGLONG),
    {NULL, 0, 0, 0, NULL},
};

/* kevent.__getattr__'s message, at C speed for the names that exist */
static PyObject *kev_kevent_getattro(PyObject *self, PyObject *name)
{
    PyObject *v = PyObject_GenericGetAttr(self, name);
    if (v != NULL || !PyErr_ExceptionMatches(PyExc_AttributeError) || !PyUnicode_Check(name))
        return v;
    PyErr_Clear();
    PyObject *exc =
        PyObject_CallFunction(PyExc_AttributeError, "N",
                              PyUnicode_FromFormat(
                                  "'select.kevent' object has no attribute '%U'", name));
    if (exc == NULL)
        return NULL;
    if (PyObject_SetAttrString(exc, "name", name) == 0 &&
        PyObject_SetAttrString(exc, "obj", self) == 0)
        PyErr_SetObject(PyExc_AttributeError, exc);
    Py_DECREF(exc);
    return NULL;
}

static PyType_Slot kev_kevent_slots[] = {
    {Py_tp_doc, (void *)"struct kevent: the C layout of kevents.compat.select.kevent "
                        "(compat_select.c)."},
    {Py_tp_members, kev_kevent_members},
    {Py_tp_getattro, (void *)kev_kevent_getattro},
    {Py_tp_dealloc, (void *)kev_plain_dealloc},
    {Py_tp_new, (void *)PyType_GenericNew},
    {0, NULL},
};

static PyType_Spec kev_kevent_spec = {
    "kevents._speedups.KeventBase", sizeof(kev_kevent), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, kev_kevent_slots,
};

static PyTypeObject *kev_kevent_type;

PyObject *kev_kevent_type_new(void)
{
    return kev_type_kept(&kev_kevent_spec, &kev_kevent_type);
}

static PyObject *kev_compat_slow;   /* the Python kqueue.control */
static PyTypeObject *kev_compat_kq; /* kevents.compat.select.kqueue */
static PyTypeObject *kev_compat_ev; /* kevents.compat.select.kevent */
static PyTypeObject *kev_core_type;
/* The data descriptors (__slots__ members) of kqueue._fd, kqueue._queue and kevent's
 * six fields, called directly: exact instances of these classes find them first anyway,
 * and the type lookup of PyObject_SetAttr was a fifth of a hop. */
typedef struct {
    PyObject *descr;
    descrgetfunc get;
    descrsetfunc set;
} kev_slot;

static kev_slot q_fd, q_queue, k_ident, k_filter, k_flags, k_fflags, k_data, k_udata;

static int kev_slot_init(kev_slot *slot, PyObject *type, const char *name)
{
    PyObject *d = PyObject_GetAttrString(type, name);
    if (d == NULL)
        return -1;
    slot->get = (descrgetfunc)PyType_GetSlot(Py_TYPE(d), Py_tp_descr_get);
    slot->set = (descrsetfunc)PyType_GetSlot(Py_TYPE(d), Py_tp_descr_set);
    if (slot->get == NULL || slot->set == NULL) {
        Py_DECREF(d);
        PyErr_Format(PyExc_TypeError, "%s is not a data descriptor", name);
        return -1;
    }
    Py_XDECREF(slot->descr);
    slot->descr = d;
    return 0;
}

/* the Python kqueue.control, unchanged */
static PyObject *compat_slow(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
    return kev_call_python(kev_compat_slow, self, args, nargs, kwnames);
}

static int compat_set(PyObject *k, kev_slot *slot, PyObject *v)
{
    if (v == NULL)
        return -1;
    int rc = slot->set(slot->descr, k, v);
    Py_DECREF(v);
    return rc;
}

static allocfunc kev_compat_alloc;
static PyObject *kev_zero_int;
static int kev_compat_direct; /* kevent has the C layout: its fields are stored here */

/* a kevent's fields stored directly, when each value is an int in its member's range
 * (1); 0 leaves it to the member descriptors, which convert (or refuse) as CPython's
 * members do. udata: an int as it is, anything else 0. */
static int compat_store(PyObject *k, PyObject *ident, PyObject *filter, PyObject *flags,
                        PyObject *fflags, long long data, PyObject *udata)
{
    if (!kev_compat_direct || !PyLong_Check(ident))
        return 0;
    unsigned long long id = PyLong_AsUnsignedLongLong(ident);
    long long f = PyLong_AsLongLong(filter), fl = PyLong_AsLongLong(flags);
    long long ff = fflags == NULL ? 0 : PyLong_AsLongLong(fflags);
    unsigned long long u = PyLong_CheckExact(udata) ? PyLong_AsUnsignedLongLong(udata) : 0;
    if (PyErr_Occurred() || f < -0x8000 || f > 0x7FFF || fl < 0 || fl > 0xFFFF || ff < 0 ||
        ff > 0xFFFFFFFFLL) {
        PyErr_Clear();
        return 0;
    }
    kev_kevent *e = (kev_kevent *)k;
    e->ident = id;
    e->filter = (short)f;
    e->flags = (unsigned short)fl;
    e->fflags = (unsigned int)ff;
    e->data = data;
    e->udata = u;
    return 1;
}

/* a kevent straight from a plain knote's fields (kev_build_fn): fflags 0 */
static PyObject *compat_event_new(PyObject *ident, PyObject *filter, PyObject *flags,
                                  int64_t data, PyObject *udata)
{
    PyObject *k = kev_compat_alloc(kev_compat_ev, 0);
    if (k == NULL)
        return NULL;
    if (compat_store(k, ident, filter, flags, NULL, data, udata))
        return k;
    if (compat_set(k, &k_ident, Py_NewRef(ident)) < 0 ||
        compat_set(k, &k_filter, PyNumber_Long(filter)) < 0 ||
        compat_set(k, &k_flags, PyNumber_Long(flags)) < 0 ||
        compat_set(k, &k_fflags, Py_NewRef(kev_zero_int)) < 0 ||
        compat_set(k, &k_data, PyLong_FromLongLong(data)) < 0 ||
        compat_set(k, &k_udata,
                   PyLong_CheckExact(udata) ? Py_NewRef(udata) : Py_NewRef(kev_zero_int)) < 0) {
        Py_DECREF(k);
        return NULL;
    }
    return k;
}

/* out.append(kevent with ev's fields): ident, int(filter), int(flags), int(fflags),
 * int(data), udata if it is an int else 0 */
static PyObject *compat_event(PyObject *ev, allocfunc alloc)
{
    PyObject *k = alloc(kev_compat_ev, 0);
    if (k == NULL)
        return NULL;
    PyObject *udata = PyTuple_GetItem(ev, 5), *data = PyTuple_GetItem(ev, 4);
    if (PyLong_Check(data)) {
        int overflow = 0;
        long long d = PyLong_AsLongLongAndOverflow(data, &overflow);
        if (PyErr_Occurred())
            PyErr_Clear();
        else if (!overflow && compat_store(k, PyTuple_GetItem(ev, 0), PyTuple_GetItem(ev, 1),
                                           PyTuple_GetItem(ev, 2), PyTuple_GetItem(ev, 3), d,
                                           udata))
            return k;
    }
    if (compat_set(k, &k_ident, Py_NewRef(PyTuple_GetItem(ev, 0))) < 0 ||
        compat_set(k, &k_filter, PyNumber_Long(PyTuple_GetItem(ev, 1))) < 0 ||
        compat_set(k, &k_flags, PyNumber_Long(PyTuple_GetItem(ev, 2))) < 0 ||
        compat_set(k, &k_fflags, PyNumber_Long(PyTuple_GetItem(ev, 3))) < 0 ||
        compat_set(k, &k_data, PyNumber_Long(PyTuple_GetItem(ev, 4))) < 0 ||
        compat_set(k, &k_udata, PyLong_CheckExact(udata) ? Py_NewRef(udata) : PyLong_FromLong(0)) <
            0) {
        Py_DECREF(k);
        return NULL;
    }
    return k;
}

static PyObject *compat_control(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames)
{
    int64_t timeout_ns;
    if (kwnames != NULL || nargs < 2 || nargs > 3 || Py_TYPE(self) != kev_compat_kq)
        return compat_slow(self, args, nargs, kwnames);
    PyObject *changes = args[0], *maxev = args[1];
    if (changes != Py_None &&
        !((PyList_CheckExact(changes) && PyList_Size(changes) == 0) ||
          (PyTuple_CheckExact(changes) && PyTuple_Size(changes) == 0)))
        return compat_slow(self, args, nargs, kwnames);
    /* maxevents is a C int in CPython: out of range is the Python method's error */
    long maxv = PyLong_CheckExact(maxev) ? PyLong_AsLong(maxev) : -1;
    if (maxv <= 0 || maxv > INT_MAX) {
        PyErr_Clear();
        return compat_slow(self, args, nargs, kwnames);
    }
    PyObject *timeout = nargs == 3 ? args[2] : Py_None;
    /* an infinite float is "no timeout" to kevents but an error to CPython's
     * _PyTime_FromSecondsObject (the version decides which): the Python method says */
    if (!kev_timeout_plain(timeout, &timeout_ns) ||
        (PyFloat_CheckExact(timeout) && isinf(PyFloat_AsDouble(timeout))))
        return compat_slow(self, args, nargs, kwnames);
    /* not self.closed: self._fd >= 0 and the queue open (else Python raises) */
    PyObject *fd = q_fd.get(q_fd.descr, self, (PyObject *)kev_compat_kq);
    if (fd == NULL)
        return NULL;
    long fdv = PyLong_AsLong(fd);
    Py_DECREF(fd);
    if (fdv == -1 && PyErr_Occurred())
        return NULL;
    PyObject *queue = q_queue.get(q_queue.descr, self, (PyObject *)kev_compat_kq);
    if (queue == NULL)
        return NULL;
    kev_core *core = (kev_core *)queue;
    if (fdv < 0 || !PyObject_TypeCheck(queue, kev_core_type) || core->fast == NULL ||
        core->engine == NULL || !kev_engine_check(core->engine) ||
        ((kev_engine_state *)core->engine)->closed) {
        Py_DECREF(queue);
        return compat_slow(self, args, nargs, kwnames);
    }
    /* got = self._queue.control(changes, maxevents, timeout) */
    PyObject *qargs[3] = {Py_None, maxev, nargs == 3 ? args[2] : Py_None};
    int built;
    PyObject *got = kev_engine_control_with(core, queue, qargs, 3, compat_event_new, &built);
    Py_DECREF(queue);
    if (got == NULL || built)
        return got;
    Py_ssize_t n = PyList_Size(got);
    PyObject *out = n < 0 ? NULL : PyList_New(n);
    allocfunc alloc = (allocfunc)PyType_GetSlot(kev_compat_ev, Py_tp_alloc);
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        PyObject *k = compat_event(PyList_GetItem(got, i), alloc);
        if (k == NULL)
            Py_CLEAR(out);
        else
            PyList_SetItem(out, i, k);
    }
    Py_DECREF(got);
    return out;
}

static PyMethodDef compat_def = {
    "control", (PyCFunction)(void (*)(void))compat_control, METH_FASTCALL | METH_KEYWORDS,
    "control($self, changelist, maxevents, timeout=None)\n--\n\n"
    "Apply changelist, then wait for at most maxevents events (select.kqueue.control)."};

/* route_compat(kqueue, kevent, Core): kqueue.control becomes compat_control */
PyObject *kev_route_compat(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3 || !PyType_Check(args[0]) || !PyType_Check(args[1]) ||
        !PyType_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "route_compat(kqueue, kevent, Core)");
        return NULL;
    }
    if (kev_slot_init(&q_fd, args[0], "_fd") < 0 ||
        kev_slot_init(&q_queue, args[0], "_queue") < 0 ||
        kev_slot_init(&k_ident, args[1], "ident") < 0 ||
        kev_slot_init(&k_filter, args[1], "filter") < 0 ||
        kev_slot_init(&k_flags, args[1], "flags") < 0 ||
        kev_slot_init(&k_fflags, args[1], "fflags") < 0 ||
        kev_slot_init(&k_data, args[1], "data") < 0 ||
        kev_slot_init(&k_udata, args[1], "udata") < 0)
        return NULL;
    PyObject *slow = PyObject_GetAttrString(args[0], "control");
    if (slow == NULL)
        return NULL;
    PyObject *descr = PyDescr_NewMethod((PyTypeObject *)args[0], &compat_def);
    if (descr == NULL || PyObject_SetAttrString(args[0], "control", descr) < 0) {
        Py_DECREF(slow);
        Py_XDECREF(descr);
        return NULL;
    }
    Py_DECREF(descr);
    Py_XDECREF(kev_compat_slow);
    Py_XDECREF((PyObject *)kev_compat_kq);
    Py_XDECREF((PyObject *)kev_compat_ev);
    Py_XDECREF((PyObject *)kev_core_type);
    kev_compat_slow = slow;
    kev_compat_alloc = (allocfunc)PyType_GetSlot((PyTypeObject *)args[1], Py_tp_alloc);
    if (kev_zero_int == NULL && (kev_zero_int = PyLong_FromLong(0)) == NULL)
        return NULL;
    kev_compat_direct = kev_kevent_type != NULL &&
                        PyType_IsSubtype((PyTypeObject *)args[1], kev_kevent_type) &&
                        kev_compat_alloc != NULL;
    kev_compat_kq = (PyTypeObject *)Py_NewRef(args[0]);
    kev_compat_ev = (PyTypeObject *)Py_NewRef(args[1]);
    kev_core_type = (PyTypeObject *)Py_NewRef(args[2]);
    Py_RETURN_NONE;
}
