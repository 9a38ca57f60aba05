/* kevents/_cffi/event.c: KEvent tuples built without a Python-level call
 * (mirrors the KEvent NamedTuple of kevents/_event.py). */
#include "core.h"

static PyTypeObject *kev_type;  /* kevents.KEvent, a tuple subclass */
static allocfunc kev_alloc;
static PyObject *kev_zero;

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
    return kev_alloc == NULL ? -1 : 0;
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
