/* kevents/_cffi/event.c: KEvent tuples built without a Python-level call
 * (mirrors the KEvent NamedTuple of kevents/_event.py): the events the C paths make,
 * and KEvent.__new__ itself. */
#include "core.h"

static PyTypeObject *kev_type;  /* kevents.KEvent, a tuple subclass */
static allocfunc kev_alloc;
static PyObject *kev_zero;

#define KEV_NFIELDS 7
static const char *const kev_field_names[KEV_NFIELDS] = {"ident", "filter", "flags", "fflags",
                                                         "data",  "udata",  "ext"};
static PyObject *kev_field_defaults[KEV_NFIELDS]; /* KEvent._field_defaults; [0] none */

int kev_event_setup(PyObject *kevent_type)
{
    if (!PyType_Check(kevent_type)) {
        PyErr_SetString(PyExc_TypeError, "KEvent must be a type");
        return -1;
    }
    if (kev_zero == NULL && (kev_zero = PyLong_FromLong(0)) == NULL)
        return -1;
    Py_INCREF(kevent_type);
    Py_XDECREF((PyObject *)kev_type);
    kev_type = (PyTypeObject *)kevent_type;
    kev_alloc = (allocfunc)PyType_GetSlot(kev_type, Py_tp_alloc);
    if (kev_alloc == NULL)
        return -1;
    PyObject *defaults = PyObject_GetAttrString(kevent_type, "_field_defaults");
    if (defaults == NULL)
        return -1;
    for (int i = 1; i < KEV_NFIELDS; i++) {
        PyObject *d = PyDict_GetItemString(defaults, kev_field_names[i]); /* borrowed */
        if (d == NULL) {
            Py_DECREF(defaults);
            PyErr_Format(PyExc_TypeError, "KEvent has no default for %s", kev_field_names[i]);
            return -1;
        }
        Py_INCREF(d);
        Py_XDECREF(kev_field_defaults[i]);
        kev_field_defaults[i] = d;
    }
    Py_DECREF(defaults);
    return 0;
}

/* KEvent.__new__(cls, ident, filter=Filter.READ, flags=Flag.ADD, fflags=0, data=0,
 * udata=None, ext=None): the NamedTuple's own __new__, with its messages.
 *
 * Story: the NamedTuple's __new__ is a Python function reached through type_call's
 * slot_tp_new: about 4,200 instructions per KEvent on 3.11, more than half of a
 * one-change control() call, and programs build a KEvent per change. This one is the
 * same signature in C (installed over it by kevents/_core.py under speedups). */
PyObject *kev_event_make(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames)
{
    (void)self;
    PyObject *v[KEV_NFIELDS] = {NULL};
    if (nargs < 1 || !PyType_Check(args[0]) ||
        !PyType_IsSubtype((PyTypeObject *)args[0], kev_type)) {
        PyErr_SetString(PyExc_TypeError, "KEvent.__new__(X): X is not a subtype of KEvent");
        return NULL;
    }
    PyTypeObject *cls = (PyTypeObject *)args[0];
    if (nargs - 1 > KEV_NFIELDS) {
        PyErr_Format(PyExc_TypeError,
                     "KEvent.__new__() takes from 2 to 8 positional arguments but %zd were "
                     "given",
                     nargs);
        return NULL;
    }
    for (Py_ssize_t i = 1; i < nargs; i++)
        v[i - 1] = args[i];
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_Size(kwnames);
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *name = PyTuple_GetItem(kwnames, k);
        int j = 0;
        while (j < KEV_NFIELDS && PyUnicode_CompareWithASCIIString(name, kev_field_names[j]))
            j++;
        if (j == KEV_NFIELDS) {
            PyErr_Format(PyExc_TypeError,
                         "KEvent.__new__() got an unexpected keyword argument '%U'", name);
            return NULL;
        }
        if (v[j] != NULL) {
            PyErr_Format(PyExc_TypeError,
                         "KEvent.__new__() got multiple values for argument '%s'",
                         kev_field_names[j]);
            return NULL;
        }
        v[j] = args[nargs + k];
    }
    if (v[0] == NULL) {
        PyErr_SetString(PyExc_TypeError,
                        "KEvent.__new__() missing 1 required positional argument: 'ident'");
        return NULL;
    }
    allocfunc alloc = cls == kev_type ? kev_alloc : (allocfunc)PyType_GetSlot(cls, Py_tp_alloc);
    PyObject *ev = alloc(cls, KEV_NFIELDS);
    if (ev == NULL)
        return NULL;
    for (int i = 0; i < KEV_NFIELDS; i++)
        PyTuple_SetItem(ev, i, Py_NewRef(v[i] != NULL ? v[i] : kev_field_defaults[i]));
    return ev;
}

PyObject *kev_event_type(void) { return (PyObject *)kev_type; }

/* KEvent(kn.ident, kn.filter, flags, 0, data, kn.udata, None): the plain-knote event
 * of LinuxBackend.translate. */
PyObject *kev_event_new(PyObject *ident, PyObject *filter, PyObject *flags, int64_t data,
                        PyObject *udata)
{
    PyObject *ev = kev_alloc(kev_type, 7);
    if (ev == NULL)
        return NULL;
    PyObject *d = PyLong_FromLongLong(data);
    if (d == NULL) {
        Py_DECREF(ev);
        return NULL;
    }
    PyTuple_SetItem(ev, 0, Py_NewRef(ident));
    PyTuple_SetItem(ev, 1, Py_NewRef(filter));
    PyTuple_SetItem(ev, 2, Py_NewRef(flags));
    PyTuple_SetItem(ev, 3, Py_NewRef(kev_zero));
    PyTuple_SetItem(ev, 4, d);
    PyTuple_SetItem(ev, 5, Py_NewRef(udata));
    PyTuple_SetItem(ev, 6, Py_NewRef(Py_None));
    return ev;
}
