/* kevents._speedups: the module (see core.h for the map of the C files to the Python
 * modules they mirror, and D42 for the design).
 *
 *   Core        the C base of kevents.Queue (queue.c)
 *   EngineBase  the C base of kevents._engine.Engine: closed, pending (engine.c)
 *   KnoteBase, RegBase   the layouts of Knote and _Reg (knote.c)
 *   materialise          Engine's _materialise for plain change lists (engine.c)
 *   FastTable   LinuxBackend.fast, the C view of plain READ/WRITE knotes
 *               (linux_read_write.c)
 *   fast_wait   one LinuxBackend.wait building KEvents in C (linux_read_write.c)
 *   identify, fstat, epoll_ctl, inotify_init, inotify_add, inotify_rm
 *               registration calls that keep the GIL (linux_read_write.c)
 *   kevent_new  KEvent.__new__ (event.c)
 *   setup(KEvent, slow_control)   the Python objects the C side needs, once
 *   VERSION     the package version this binary was built for
 */
#include "core.h"

static PyObject *kev_setup(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "setup(KEvent, slow_control)");
        return NULL;
    }
    if (kev_event_setup(args[0]) < 0)
        return NULL;
    Py_INCREF(args[1]);
    Py_XDECREF(kev_slow_control);
    kev_slow_control = args[1];
    Py_RETURN_NONE;
}

static PyMethodDef kev_methods[] = {
    {"fast_wait", (PyCFunction)(void (*)(void))kev_fast_wait, METH_FASTCALL,
     "fast_wait(epfd, innerfd, room, timeout_ns, fast, counts) -> list | tuple"},
    {"identify", kev_identify, METH_O,
     "identify(fd) -> (st_dev, st_ino, S_IFMT(st_mode)), holding the GIL"},
    {"epoll_ctl", (PyCFunction)(void (*)(void))kev_epoll_ctl_gil, METH_FASTCALL,
     "epoll_ctl(epfd, op, fd, events, token) -> 0 or -errno, holding the GIL"},
    {"inotify_add", (PyCFunction)(void (*)(void))kev_inotify_add_gil, METH_FASTCALL,
     "inotify_add(ifd, path, mask) -> wd or -errno, holding the GIL"},
    {"fstat", kev_fstat_gil, METH_O, "fstat(fd) -> os.stat_result's ten fields, holding the GIL"},
    {"inotify_init", kev_inotify_init_gil, METH_NOARGS,
     "inotify_init() -> fd or -errno, holding the GIL"},
    {"inotify_rm", (PyCFunction)(void (*)(void))kev_inotify_rm_gil, METH_FASTCALL,
     "inotify_rm(ifd, wd) -> 0 or -errno, holding the GIL"},
    {"materialise", kev_materialise, METH_O,
     "materialise(changes) -> list | None: _materialise's plain case (engine.c)"},
    {"route_compat", (PyCFunction)(void (*)(void))kev_route_compat, METH_FASTCALL,
     "route_compat(kqueue, kevent, Core): compat.select's control() in C (compat_select.c)"},
    {"kevent_new", (PyCFunction)(void (*)(void))kev_event_make, METH_FASTCALL | METH_KEYWORDS,
     "kevent_new($module, cls, /, ident, filter=-1, flags=1, fflags=0, data=0, udata=None,\n"
     "           ext=None)\n--\n\nKEvent.__new__ in C (event.c)"},
    {"setup", (PyCFunction)(void (*)(void))kev_setup, METH_FASTCALL,
     "setup(KEvent, slow_control): the event type and the Python Queue.control"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef kev_module = {
    PyModuleDef_HEAD_INIT, "kevents._speedups", "The C fast core of kevents (D42).", -1,
    kev_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__speedups(void)
{
    if (kev_engine_setup() < 0)
        return NULL;
    PyObject *m = PyModule_Create(&kev_module);
    if (m == NULL)
        return NULL;
    /* PyModule_AddObjectRef never steals: each type is released once, here, whether
     * it was added or not (the stealing PyModule_AddObject made an early failure
     * release an added one twice) */
    PyObject *types[] = {kev_core_type_new(m), kev_fast_type_new(), kev_engine_type_new(),
                         kev_waiters_type_new(), kev_lock_type_new(), kev_kevent_type_new()};
    static const char *const names[] = {"Core",    "FastTable", "EngineBase",
                                        "Waiters", "Lock",      "KeventBase"};
    int rc = 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (rc == 0 && (types[i] == NULL || PyModule_AddObjectRef(m, names[i], types[i]) < 0))
            rc = -1;
        Py_XDECREF(types[i]);
    }
    if (rc < 0 || kev_knote_types_new(m) < 0 ||
        PyModule_AddStringConstant(m, "VERSION", KEV_PACKAGE_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
