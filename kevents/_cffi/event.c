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
 * of LinuxBackend.translate, from the fast table's (ident, filter, flags, udata, lowat). */
PyObject *kev_event_from_info(PyObject *info, int64_t data)
{
    PyObject *ev = kev_alloc(kev_type, 7);
    if (ev == NULL)
        return NULL;
    PyObject *d = PyLong_FromLongLong(data);
    if (d == NULL) {
        Py_DECREF(ev);
        return NULL;
    }
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
