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

/* -- FastTable: LinuxBackend.fast ----------------------------------------------------
 * The C view of the kernel-armed READ/WRITE knotes whose events need no bookkeeping
 * (read_write.py's _EpollSource.publish keeps it current): token -> (ident, filter,
 * flags, udata, lowat), and an EV_DISPATCH knote itself, which its event disables
 * here as Engine.kernel_event does. Story: as a dict keyed by token, each event cost a PyLong for
 * the key and a hash lookup (about 400 instructions, a quarter of a select.epoll
 * wait); a token holds its fd and role, so here it indexes an array directly, and the
 * stored token (with its serial) tells a current knote from an old one. */
typedef struct {
    uint64_t token; /* 0: empty */
    PyObject *ident, *filter, *flags, *udata;
    PyObject *knote; /* an EV_DISPATCH knote, which its event disables; else NULL */
    int64_t lowat;
} kev_fast_entry;

typedef struct {
    PyObject_HEAD
    kev_fast_entry *slots;
    Py_ssize_t cap, len;
} kev_fast;

static PyTypeObject *kev_fast_type;

static int kev_rw_publish(kev_plain *p, kev_knote *kn, kev_reg *reg, uint64_t token);

static Py_ssize_t kev_fast_slot(uint64_t token)
{
    int role = (int)((token >> 32) & 0xf);
    if (role != KEV_ROLE_READ && role != KEV_ROLE_WRITE)
        return -1;
    return (Py_ssize_t)(token & 0x7fffffffu) * 2 + (role - 1);
}

static void kev_fast_entry_clear(kev_fast_entry *e)
{
    e->token = 0;
    Py_CLEAR(e->ident);
    Py_CLEAR(e->filter);
    Py_CLEAR(e->flags);
    Py_CLEAR(e->udata);
    Py_CLEAR(e->knote);
}

static const kev_fast_entry *kev_fast_find(PyObject *table, uint64_t token)
{
    kev_fast *t = (kev_fast *)table;
    Py_ssize_t i = kev_fast_slot(token);
    if (i < 0 || i >= t->cap || t->slots[i].token != token)
        return NULL;
    return &t->slots[i];
}

static int kev_fast_token(PyObject *key, uint64_t *token)
{
    unsigned long long v = PyLong_AsUnsignedLongLong(key);
    if (v == (unsigned long long)-1 && PyErr_Occurred())
        return -1;
    if (v == 0 || kev_fast_slot(v) < 0) {
        PyErr_SetString(PyExc_KeyError, "not a READ/WRITE knote token");
        return -1;
    }
    *token = v;
    return 0;
}

static int kev_fast_remove(kev_fast *t, uint64_t token)
{
    Py_ssize_t i = kev_fast_slot(token);
    if (i < 0 || i >= t->cap || t->slots[i].token != token)
        return 0;
    kev_fast_entry_clear(&t->slots[i]);
    t->len--;
    return 1;
}

static int kev_fast_put(kev_fast *t, uint64_t token, PyObject *ident, PyObject *filter,
                        PyObject *flags, PyObject *udata, int64_t lowat, PyObject *knote);

/* fast[token] = (ident, filter, flags, udata, lowat[, knote]); del fast[token] */
static int kev_fast_ass(PyObject *self, PyObject *key, PyObject *value)
{
    kev_fast *t = (kev_fast *)self;
    uint64_t token;
    if (kev_fast_token(key, &token) < 0)
        return -1;
    if (value == NULL) {
        if (kev_fast_remove(t, token))
            return 0;
        PyErr_SetObject(PyExc_KeyError, key);
        return -1;
    }
    Py_ssize_t size = PyTuple_Check(value) ? PyTuple_Size(value) : 0;
    PyObject *knote = size == 6 ? PyTuple_GetItem(value, 5) : NULL;
    if ((size != 5 && size != 6) ||
        (knote != NULL && !PyObject_TypeCheck(knote, (PyTypeObject *)kev_knote_type))) {
        PyErr_SetString(PyExc_TypeError,
                        "(ident, filter, flags, udata, lowat[, dispatch knote]) expected");
        return -1;
    }
    long long lowat = PyLong_AsLongLong(PyTuple_GetItem(value, 4));
    if (lowat == -1 && PyErr_Occurred())
        return -1;
    return kev_fast_put(t, token, PyTuple_GetItem(value, 0), PyTuple_GetItem(value, 1),
                        PyTuple_GetItem(value, 2), PyTuple_GetItem(value, 3), lowat, knote);
}

/* the store of fast[token] = (ident, filter, flags, udata, lowat[, knote]) (also
 * engine.c's change-list pass, through kev_rw_add) */
static int kev_fast_put(kev_fast *t, uint64_t token, PyObject *ident, PyObject *filter,
                        PyObject *flags, PyObject *udata, int64_t lowat, PyObject *knote)
{
    Py_ssize_t i = kev_fast_slot(token);
    if (i >= t->cap) {
        Py_ssize_t cap = t->cap ? t->cap : 64;
        while (cap <= i)
            cap *= 2;
        kev_fast_entry *slots = PyMem_Realloc(t->slots, sizeof *slots * (size_t)cap);
        if (slots == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        memset(slots + t->cap, 0, sizeof *slots * (size_t)(cap - t->cap));
        t->slots = slots;
        t->cap = cap;
    }
    kev_fast_entry *e = &t->slots[i];
    kev_fast_entry old = *e;
    e->token = token;
    e->ident = Py_NewRef(ident);
    e->filter = Py_NewRef(filter);
    e->flags = Py_NewRef(flags);
    e->udata = Py_NewRef(udata);
    e->knote = knote == NULL ? NULL : Py_NewRef(knote);
    e->lowat = lowat;
    if (old.token == 0)
        t->len++;
    kev_fast_entry_clear(&old); /* last: releasing udata may run Python code */
    return 0;
}

static PyObject *kev_fast_get(PyObject *self, PyObject *key)
{
    uint64_t token;
    if (kev_fast_token(key, &token) < 0)
        return NULL;
    const kev_fast_entry *e = kev_fast_find(self, token);
    if (e == NULL) {
        PyErr_SetObject(PyExc_KeyError, key);
        return NULL;
    }
    if (e->knote != NULL)
        return Py_BuildValue("(OOOOLO)", e->ident, e->filter, e->flags, e->udata,
                             (long long)e->lowat, e->knote);
    return Py_BuildValue("(OOOOL)", e->ident, e->filter, e->flags, e->udata,
                         (long long)e->lowat);
}

static Py_ssize_t kev_fast_len(PyObject *self) { return ((kev_fast *)self)->len; }

/* fast.pop(token, None): forget a knote (returns None; the C side keeps no tuple) */
static PyObject *kev_fast_pop(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    uint64_t token;
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "pop(token, default=None)");
        return NULL;
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(args[0]);
    if (v == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    token = v;
    kev_fast_remove((kev_fast *)self, token);
    Py_RETURN_NONE;
}

static void kev_fast_clear_all(kev_fast *t)
{
    for (Py_ssize_t i = 0; i < t->cap; i++)
        if (t->slots[i].token)
            kev_fast_entry_clear(&t->slots[i]);
    t->len = 0;
}

static PyObject *kev_fast_clear_m(PyObject *self, PyObject *unused)
{
    (void)unused;
    kev_fast_clear_all((kev_fast *)self);
    Py_RETURN_NONE;
}

static int kev_fast_traverse(PyObject *self, visitproc visit, void *arg)
{
    kev_fast *t = (kev_fast *)self;
    Py_VISIT(Py_TYPE(self));
    for (Py_ssize_t i = 0; i < t->cap; i++)
        if (t->slots[i].token) {
            Py_VISIT(t->slots[i].udata); /* ident, filter, flags: ints */
            Py_VISIT(t->slots[i].knote);
        }
    return 0;
}

static int kev_fast_gc_clear(PyObject *self)
{
    kev_fast_clear_all((kev_fast *)self);
    return 0;
}

static void kev_fast_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    kev_fast_clear_all((kev_fast *)self);
    PyMem_Free(((kev_fast *)self)->slots);
    ((freefunc)PyType_GetSlot(tp, Py_tp_free))(self);
    Py_DECREF(tp);
}

static PyMethodDef kev_fast_methods[] = {
    {"pop", (PyCFunction)(void (*)(void))kev_fast_pop, METH_FASTCALL,
     "pop(token, default=None): forget the knote of `token` (returns None)"},
    {"clear", kev_fast_clear_m, METH_NOARGS, "forget every knote"},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot kev_fast_slots[] = {
    {Py_tp_doc, (void *)"LinuxBackend.fast in C: token -> (ident, filter, flags, udata, "
                        "lowat) for plain kernel-armed READ/WRITE knotes."},
    {Py_tp_traverse, (void *)kev_fast_traverse},
    {Py_tp_clear, (void *)kev_fast_gc_clear},
    {Py_tp_dealloc, (void *)kev_fast_dealloc},
    {Py_tp_methods, kev_fast_methods},
    {Py_tp_new, (void *)PyType_GenericNew},
    {Py_mp_ass_subscript, (void *)kev_fast_ass},
    {Py_mp_subscript, (void *)kev_fast_get},
    {Py_mp_length, (void *)kev_fast_len},
    {0, NULL},
};

static PyType_Spec kev_fast_spec = {
    "kevents._speedups.FastTable", sizeof(kev_fast), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, kev_fast_slots,
};

PyObject *kev_fast_type_new(void)
{
    return kev_type_kept(&kev_fast_spec, &kev_fast_type);
}

int kev_fast_check(PyObject *obj)
{
    return kev_fast_type != NULL && PyObject_TypeCheck(obj, kev_fast_type);
}

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
PyObject *kev_records_to_events(const int64_t *out, int n, PyObject *fast, int counts,
                                kev_build_fn build)
{
    PyObject *events = PyList_New(0);
    int dispatched = 0; /* an EV_DISPATCH knote's event is in the batch */
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
        const kev_fast_entry *e = kev_fast_find(fast, (uint64_t)r[0]);
        if (e == NULL)
            goto raw; /* an internal fd, a one-shot or disabled knote, a stale token */
        dispatched |= e->knote != NULL;
        /* data < st.lowat: nothing (or too little) to read, st.source.stale (D12); a
         * NODATA knote's record has no count to check (D78) */
        if (counts && !((uint64_t)r[0] & KEV_TOKEN_NODATA) && r[2] < e->lowat)
            goto raw;
        /* own the fields across build(): its allocation may run the cyclic GC, whose
         * finalizers may delete this very knote (and free its udata) */
        PyObject *f[4] = {Py_NewRef(e->ident), Py_NewRef(e->filter), Py_NewRef(e->flags),
                          Py_NewRef(e->udata)};
        PyObject *kev = build(f[0], f[1], f[2], r[2], f[3]);
        for (int j = 0; j < 4; j++)
            Py_DECREF(f[j]);
        if (kev == NULL)
            goto fail;
        int rc = PyList_Append(events, kev);
        Py_DECREF(kev);
        if (rc < 0)
            goto fail;
    }
    /* Engine.kernel_event's EV_DISPATCH, once the whole batch is built here (a batch
     * sent back to Python must find every knote as the kernel left it): the kernel's
     * EPOLLONESHOT disarmed the registration (translate: st.armed = False), and the
     * knote is disabled (kn.disabled = True; disable(): out of the fast table, no DEL) */
    for (int i = 0; dispatched && i < n; i++) {
        const kev_fast_entry *e = kev_fast_find(fast, (uint64_t)out[KEV_OUT_WIDTH * i]);
        if (e == NULL || e->knote == NULL)
            continue;
        kev_knote *kn = (kev_knote *)Py_NewRef(e->knote);
        kn->disabled = 1;
        if (kn->priv != NULL && PyObject_TypeCheck(kn->priv, (PyTypeObject *)kev_reg_type))
            kev_set_bool(&((kev_reg *)kn->priv)->armed, 0);
        kev_fast_remove((kev_fast *)fast, (uint64_t)out[KEV_OUT_WIDTH * i]);
        Py_DECREF((PyObject *)kn);
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

    if (nargs != 6 || !kev_fast_check(args[4])) {
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
    result = kev_records_to_events(out, n, args[4], counts, kev_event_new);
    if (result == NULL && !PyErr_Occurred())
        result = kev_raw_records(out, n);
done:
    if (out != sout)
        PyMem_Free(out);
    return result;
}

/* -- registration calls that keep the GIL (issue 20 item 3) ---------------------------
 * Story: cffi releases the GIL around every call, and os.fstat does too, so between the
 * start of a change list and the kernel registration of a knote another Python thread
 * could run, and a file change it made "after" the registration started was lost (a
 * watcher thread lost it 20 times out of 20; CPython's kqueue holds the GIL until its one
 * kevent() call). These calls are short and never block, so they keep the GIL: from
 * the first change to the last registration, no other Python thread runs. */
#include <sys/inotify.h>
#include <sys/stat.h>

/* fstat of the descriptor `arg`; -1 with OSError set (as os.fstat raises it) */
static int kev_fstat_of(PyObject *arg, struct stat *st)
{
    int fd = (int)PyLong_AsLong(arg);
    if (fd == -1 && PyErr_Occurred())
        return -1;
    if (fstat(fd, st) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return 0;
}

/* identify(fd) -> (st_dev, st_ino, S_IFMT(st_mode)), as read_write.identify */
PyObject *kev_identify(PyObject *self, PyObject *arg)
{
    struct stat st;
    (void)self;
    if (kev_fstat_of(arg, &st) < 0)
        return NULL;
    return Py_BuildValue("(KKi)", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
                         (int)(st.st_mode & S_IFMT));
}

/* epoll_ctl(epfd, op, fd, events, token) -> 0 or -errno, as lib.kev_epoll_ctl */
PyObject *kev_epoll_ctl_gil(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    struct epoll_event ev;
    (void)self;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "epoll_ctl(epfd, op, fd, events, token)");
        return NULL;
    }
    int epfd = (int)PyLong_AsLong(args[0]);
    int op = (int)PyLong_AsLong(args[1]);
    int fd = (int)PyLong_AsLong(args[2]);
    unsigned long events = PyLong_AsUnsignedLong(args[3]);
    unsigned long long token = PyLong_AsUnsignedLongLong(args[4]);
    if (PyErr_Occurred())
        return NULL;
    memset(&ev, 0, sizeof ev);
    ev.events = (uint32_t)events;
    ev.data.u64 = token;
    return PyLong_FromLong(epoll_ctl(epfd, op, fd, &ev) < 0 ? -errno : 0);
}

/* inotify_add(ifd, path: bytes, mask) -> wd or -errno, as lib.kev_inotify_add */
PyObject *kev_inotify_add_gil(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 3 || !PyBytes_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "inotify_add(ifd, path, mask)");
        return NULL;
    }
    int ifd = (int)PyLong_AsLong(args[0]);
    unsigned long mask = PyLong_AsUnsignedLong(args[2]);
    const char *path = PyBytes_AsString(args[1]);
    if (path == NULL || PyErr_Occurred())
        return NULL;
    int wd = inotify_add_watch(ifd, path, (uint32_t)mask);
    return PyLong_FromLong(wd < 0 ? -errno : wd);
}

/* fstat(fd) -> the ten os.stat_result fields (times in whole seconds), as os.fstat */
PyObject *kev_fstat_gil(PyObject *self, PyObject *arg)
{
    struct stat st;
    (void)self;
    if (kev_fstat_of(arg, &st) < 0)
        return NULL;
    return Py_BuildValue("(iKKKkkLLLL)", (int)st.st_mode, (unsigned long long)st.st_ino,
                         (unsigned long long)st.st_dev, (unsigned long long)st.st_nlink,
                         (unsigned long)st.st_uid, (unsigned long)st.st_gid,
                         (long long)st.st_size, (long long)st.st_atime,
                         (long long)st.st_mtime, (long long)st.st_ctime);
}

/* inotify_init() -> fd or -errno, as lib.kev_inotify_init */
PyObject *kev_inotify_init_gil(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    return PyLong_FromLong(fd < 0 ? -errno : fd);
}

/* inotify_rm(ifd, wd) -> 0 or -errno, as lib.kev_inotify_rm (a stale knote dropped on
 * the way to a registration must not open the window either) */
PyObject *kev_inotify_rm_gil(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "inotify_rm(ifd, wd)");
        return NULL;
    }
    int ifd = (int)PyLong_AsLong(args[0]);
    int wd = (int)PyLong_AsLong(args[1]);
    if (PyErr_Occurred())
        return NULL;
    return PyLong_FromLong(inotify_rm_watch(ifd, wd) < 0 ? -errno : 0);
}

/* -- attach and delete of plain READ/WRITE knotes (read_write.py, D77) ----------------
 * The change-list pass of engine.c calls these for READ/WRITE changes with no notes;
 * each step below names the Python line it mirrors. */

/* LinuxBackend.owns(fd): one of the queue's own descriptors (D48) */
static int kev_owns(kev_plain *p, PyObject *ident, long fd)
{
    if (fd == p->innerfd || fd == p->ringfd)
        return 1;
    int r = PyDict_Contains(p->internal, ident);
    if (r != 0)
        return r;
    return PySet_Contains(p->private_, ident);
}

/* identify's (st_dev, st_ino, S_IFMT(st_mode)) */
static PyObject *kev_identity_of(const struct stat *st)
{
    PyObject *t = PyTuple_New(3);
    if (t == NULL)
        return NULL;
    PyObject *v[3] = {PyLong_FromUnsignedLongLong((unsigned long long)st->st_dev),
                      PyLong_FromUnsignedLongLong((unsigned long long)st->st_ino),
                      PyLong_FromLong((long)(st->st_mode & S_IFMT))};
    for (int i = 0; i < 3; i++) {
        if (v[i] == NULL) {
            for (int j = i + 1; j < 3; j++)
                Py_XDECREF(v[j]);
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SetItem(t, i, v[i]);
    }
    return t;
}

/* a bool field: kn.alive = False... (the old value may be anything Python stored) */
void kev_set_bool(PyObject **field, int v)
{
    PyObject *old = *field;
    *field = Py_NewRef(v ? Py_True : Py_False);
    Py_XDECREF(old);
}

/* new_token(ident, role): the next serial after *serial whose token is free, and
 * *wrapped once the serial has gone round (then, and only then, a token may be taken);
 * both are kept (p->serial, p->wrapped) only by a caller whose registration is made
 * (D85: new_token's story) */
int kev_rw_token(kev_plain *p, int i, long fd, long long *serial, int *wrapped,
                 uint64_t *token, PyObject **tok)
{
    uint64_t role = (uint64_t)(i + 1);
    for (;;) {
        *serial = (*serial + 1) & 0x7FFFFF;
        *wrapped |= *serial == 0;
        *token = ((uint64_t)*serial << 40) | (role << 32) | (uint64_t)fd;
        if ((*tok = PyLong_FromUnsignedLongLong(*token)) == NULL)
            return -1;
        if (!*wrapped)
            return 0;
        int used = PyDict_Contains(p->bknotes, *tok);
        if (used == 0)
            used = PyDict_Contains(p->handlers, *tok);
        if (used == 0)
            return 0;
        Py_DECREF(*tok);
        if (used < 0)
            return -1;
    }
}

/* _events(kn): the epoll mask of a new knote with these flags */
uint32_t kev_rw_events(int i, long long flags)
{
    uint32_t events = i == 0 ? EPOLLIN | EPOLLRDHUP : EPOLLOUT;
    if (flags & KEV_EV_CLEAR)
        events |= EPOLLET;
    if (flags & (KEV_EV_ONESHOT | KEV_EV_DISPATCH))
        events |= EPOLLONESHOT;
    return events;
}

/* FdSource.identify's own fds (EBADF, D48) and attach's "a queue cannot watch itself"
 * (EINVAL): 1 for either, which the Python path answers; -1 an exception */
int kev_rw_refused(kev_plain *p, PyObject *ident, long fd)
{
    int own = kev_owns(p, ident, fd);
    return own != 0 ? own : fd == p->epfd;
}

int kev_rw_add(kev_plain *p, int i, PyObject *key, long fd, long long flags, long long sdata,
               PyObject *udata)
{
    /* No fstat: the registration is the knote's identity (D80), and a closed fd (EBADF)
     * or an object epoll refuses (EPERM) is the Python path's, which asks fstat */
    int refused = kev_rw_refused(p, PyTuple_GetItem(key, 0), fd);
    if (refused != 0)
        return refused < 0 ? -1 : 0;
    long long serial = p->serial;
    int wrapped = p->wrapped;
    uint64_t token;
    PyObject *tok;
    if (kev_rw_token(p, i, fd, &serial, &wrapped, &token, &tok) < 0)
        return -1;
    /* backend.register: READ in the queue's epoll, WRITE in the inner one; a refusal
     * (EPERM: a regular file...) is the Python path's to handle, and the token it takes
     * there is this one (the serial is not kept) */
    uint32_t events = kev_rw_events(i, flags);
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = token;
    if (epoll_ctl(i == 0 ? p->epfd : p->innerfd, EPOLL_CTL_ADD, (int)fd, &ev) < 0) {
        Py_DECREF(tok);
        return 0;
    }
    p->serial = serial;
    p->wrapped = wrapped;
    int rc = kev_rw_adopt(p, i, key, fd, flags, sdata, udata, token, tok, events);
    Py_DECREF(tok);
    return rc;
}

/* _Reg.events of a new knote: one int per (filter, EPOLLET, EPOLLONESHOT), made once
 * (a READ mask, EPOLLIN | EPOLLRDHUP, is no cached small int: each knote made its own) */
static PyObject *kev_events_int(int i, uint32_t events)
{
    static PyObject *made[2][4];
    int j = (events & EPOLLET ? 2 : 0) | (events & EPOLLONESHOT ? 1 : 0);
    if (made[i][j] == NULL)
        made[i][j] = PyLong_FromUnsignedLong(events);
    return Py_XNewRef(made[i][j]);
}

/* The knote of a registration the kernel made (attach after backend.register, or
 * batch.py's _adopt): 1, or -1 with the registration taken back */
int kev_rw_adopt(kev_plain *p, int i, PyObject *key, long fd, long long flags,
                 long long sdata, PyObject *udata, uint64_t token, PyObject *tok,
                 uint32_t events)
{
    PyObject *ident = PyTuple_GetItem(key, 0);
    int epfd = i == 0 ? p->epfd : p->innerfd;
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    /* Knote(ident, _FILTERS[filt], flags, fflags, data, udata), identity None (D80),
     * source, token, and _Reg(source, events, countable(filter, None)) registered and
     * armed */
    PyObject *countable = i == 0 ? Py_None : Py_False;
    long long kflags = flags & KEV_PERSISTENT_FLAGS;
    int64_t lowat = countable == Py_False ? 0 : 1;
    kev_knote *kn = (kev_knote *)kev_slots_alloc(p->knote_cls);
    kev_reg *reg = (kev_reg *)kev_slots_alloc(p->reg_cls);
    if (kn == NULL || reg == NULL)
        goto undo;
    kn->ident = Py_NewRef(ident);
    kn->filter = Py_NewRef(p->filt[i]);
    kn->flags = kflags;
    kn->sdata = sdata;
    kn->udata = Py_NewRef(udata);
    kev_knote_fresh(kn);
    kn->identity = Py_NewRef(Py_None);
    kn->source = Py_NewRef(p->src[i]);
    kn->token = (long long)token;
    reg->source = Py_NewRef(p->src[i]);
    reg->events = kev_events_int(i, events);
    reg->countable = Py_NewRef(countable);
    reg->lowat = PyLong_FromLongLong(lowat);
    reg->old_lowat = PyLong_FromLong(-1);
    reg->registered = Py_NewRef(Py_True);
    reg->armed = Py_NewRef(Py_True);
    reg->below = Py_NewRef(Py_False);
    kn->priv = Py_NewRef((PyObject *)reg);
    if (!reg->events || !reg->lowat || !reg->old_lowat)
        goto undo;
    /* backend.knotes[kn.token] = kn; apply_lowat (no NOTE_LOWAT: the _Reg's lowat);
     * publish; engine.knotes[key] = kn */
    if (PyDict_SetItem(p->bknotes, tok, (PyObject *)kn) < 0)
        goto undo;
    if (kev_rw_publish(p, kn, reg, token) < 0)
        goto undo_table;
    if (PyDict_SetItem(p->knotes, key, (PyObject *)kn) < 0)
        goto undo_table;
    Py_DECREF(reg);
    Py_DECREF(kn);
    return 1;
undo_table: /* attach's "no registration outlives the refusal" */
    kev_fast_remove((kev_fast *)p->fast, token);
    if (PyDict_DelItem(p->bknotes, tok) < 0)
        PyErr_Clear();
undo:
    epoll_ctl(epfd, EPOLL_CTL_DEL, (int)fd, &ev);
    if (kn != NULL)
        kn->alive = 0;
    Py_XDECREF((PyObject *)reg);
    Py_XDECREF((PyObject *)kn);
    if (!PyErr_Occurred())
        PyErr_NoMemory();
    return -1;
}

/* zombies.add(token): a registration whose EPOLL_CTL_DEL failed (it may outlive its
 * fd); 0, or -1 with an exception */
static int kev_zombie(kev_plain *p, uint64_t token)
{
    PyObject *tok = PyLong_FromUnsignedLongLong(token);
    int rc = tok == NULL ? -1 : PySet_Add(p->zombies, tok);
    Py_XDECREF(tok);
    return rc;
}

/* EV_DELETE of a kernel-armed knote: delete_checked, then engine.drop. A knote that is
 * queued (EV_FORCEONESHOT), disabled (no registration), in user space (FileSource) or
 * holding a socket's SO_RCVLOWAT goes to Python untouched. */
int kev_rw_delete(kev_plain *p, int i, PyObject *key, PyObject *obj)
{
    if (!PyObject_TypeCheck(obj, (PyTypeObject *)kev_knote_type))
        return 0;
    kev_knote *kn = (kev_knote *)obj;
    if (kn->source != p->src[i] || kn->queued || !kn->alive || kn->priv == NULL ||
        !PyObject_TypeCheck(kn->priv, (PyTypeObject *)kev_reg_type))
        return 0;
    kev_reg *reg = (kev_reg *)kn->priv;
    if (reg->registered != Py_True || reg->old_lowat == NULL || !PyLong_Check(reg->old_lowat) ||
        PyLong_AsLong(reg->old_lowat) != -1 || reg->below != Py_False)
        return 0; /* (below: waiting EPOLLET under a NOTE_LOWAT mark, Python's state) */
    long fd = PyLong_AsLong(kn->ident);
    uint64_t token = (uint64_t)kn->token;
    if (PyErr_Occurred())
        return -1;
    /* backend.unregister(kn): 0 while closing; an own fd is EBADF (D48); a failed DEL
     * remembers the token (a zombie registration may outlive the fd) */
    int ret = 0;
    if (!p->closing) {
        int own = kev_owns(p, kn->ident, fd);
        if (own < 0)
            return -1;
        if (own)
            ret = -EBADF;
        else {
            struct epoll_event ev;
            memset(&ev, 0, sizeof ev);
            ret = epoll_ctl(i == 0 ? p->epfd : p->innerfd, EPOLL_CTL_DEL, (int)fd, &ev) < 0
                      ? -errno
                      : 0;
        }
        if (ret < 0 && kev_zombie(p, token) < 0)
            return -1;
    }
    /* st.registered = st.armed = False; fast.pop(kn.token) */
    kev_set_bool(&reg->registered, 0);
    kev_set_bool(&reg->armed, 0);
    kev_fast_remove((kev_fast *)p->fast, token);
    if (ret != 0)
        return 0; /* EBADF, ENOENT: the Python path goes on from here (fstat decides) */
    /* engine.drop(kn): alive = False, (not queued), knotes.pop(key), source.detach(kn):
     * backend.knotes.pop(token), fast.pop(token); no registration, no SO_RCVLOWAT left */
    PyObject *tok = PyLong_FromUnsignedLongLong(token);
    if (tok == NULL)
        return -1;
    kn->alive = 0;
    int rc = PyDict_DelItem(p->knotes, key);
    if (rc == 0 && PyDict_DelItem(p->bknotes, tok) < 0) {
        if (PyErr_ExceptionMatches(PyExc_KeyError))
            PyErr_Clear();
        else
            rc = -1;
    }
    Py_DECREF(tok);
    return rc < 0 ? -1 : 1;
}

/* _EpollSource.detach with the backend closing (Engine.close, D44), for a knote that
 * holds no socket's SO_RCVLOWAT (old_lowat -1): its _Reg is marked unregistered and
 * nothing else, since the closing descriptors take the registration and the tables go
 * whole. 1 done; 0 the Python detach runs (another source, or a mark to put back). */
int kev_rw_detach_closing(kev_plain *p, kev_knote *kn)
{
    if (!p->closing || (kn->source != p->src[0] && kn->source != p->src[1]) ||
        kn->priv == NULL || !PyObject_TypeCheck(kn->priv, (PyTypeObject *)kev_reg_type))
        return 0;
    kev_reg *reg = (kev_reg *)kn->priv;
    if (reg->old_lowat == NULL || !PyLong_CheckExact(reg->old_lowat))
        return 0;
    int overflow;
    if (PyLong_AsLongAndOverflow(reg->old_lowat, &overflow) != -1 || overflow)
        return 0;
    kev_set_bool(&reg->registered, 0);
    kev_set_bool(&reg->armed, 0);
    return 1;
}

/* publish(kn): armed, enabled and not EV_ONESHOT -> the fast table (with the knote
 * when EV_DISPATCH), else out of it */
static int kev_rw_publish(kev_plain *p, kev_knote *kn, kev_reg *reg, uint64_t token)
{
    long long kflags = kn->flags, lowat = PyLong_AsLongLong(reg->lowat);
    if (PyErr_Occurred())
        return -1;
    if (reg->armed == Py_True && !kn->disabled && !(kflags & KEV_EV_ONESHOT)) {
        PyObject *flags = PyLong_FromLongLong(kflags); /* (a small int: no allocation) */
        int rc = flags == NULL ? -1
                               : kev_fast_put((kev_fast *)p->fast, token, kn->ident, kn->filter,
                                              flags, kn->udata, lowat,
                                              kflags & KEV_EV_DISPATCH ? (PyObject *)kn : NULL);
        Py_XDECREF(flags);
        return rc;
    }
    kev_fast_remove((kev_fast *)p->fast, token);
    return 0;
}

static int kev_rw_ctl(kev_plain *p, int i, int op, long fd, kev_reg *reg, uint64_t token)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = (uint32_t)PyLong_AsUnsignedLong(reg->events);
    ev.data.u64 = token;
    return epoll_ctl(i == 0 ? p->epfd : p->innerfd, op, (int)fd, &ev) < 0 ? -errno : 0;
}

/* A change of an existing kernel-armed knote with no notes (a re-add, EV_ENABLE,
 * EV_DISABLE): the touch branch of Engine._apply_one with _EpollSource.touch, enable
 * and disable. A knote that is queued, holds a socket's SO_RCVLOWAT or is not the
 * READ/WRITE source's goes to Python untouched. */
int kev_rw_touch(kev_plain *p, int i, PyObject *obj, long long flags, long long data,
                 PyObject *udata)
{
    if (!PyObject_TypeCheck(obj, (PyTypeObject *)kev_knote_type))
        return 0;
    kev_knote *kn = (kev_knote *)obj;
    if (kn->source != p->src[i] || kn->queued || !kn->alive || kn->priv == NULL ||
        !PyObject_TypeCheck(kn->priv, (PyTypeObject *)kev_reg_type))
        return 0;
    kev_reg *reg = (kev_reg *)kn->priv;
    if (reg->old_lowat == NULL || !PyLong_Check(reg->old_lowat) || reg->below != Py_False ||
        PyLong_AsLong(reg->old_lowat) != -1 || reg->events == NULL || reg->lowat == NULL ||
        (reg->armed != Py_True && reg->armed != Py_False) ||
        (reg->registered != Py_True && reg->registered != Py_False))
        return 0;
    long fd = PyLong_AsLong(kn->ident);
    uint64_t token = (uint64_t)kn->token;
    if (PyErr_Occurred())
        return -1;
    /* _apply_one: own fds are EBADF (identify, D48); then the identity check (D13),
     * and a different file under the number drops the knote: Python's */
    int own = kev_owns(p, kn->ident, fd);
    if (own != 0)
        return own < 0 ? -1 : 0;
    int enable = flags & KEV_EV_ENABLE && kn->disabled, modded = 0;
    if (kn->identity == Py_None) {
        /* vouch (D80), with one system call this change makes anyway where it can:
         * a MOD of the key succeeds exactly when the fd still names the registered
         * file, and it is the re-arm of an armed knote (touch) or of an EV_DISPATCH
         * knote that fired (enable), so it is not made again below. Otherwise the
         * side-effect-free ADD probe of read_write.vouch. Any other answer: Python's
         * vouch and fstat decide. */
        if (reg->registered != Py_True)
            return 0;
        if (reg->armed == Py_True || enable) {
            if (kev_rw_ctl(p, i, EPOLL_CTL_MOD, fd, reg, token) != 0)
                return 0;
            modded = 1;
        } else {
            int ret = kev_rw_ctl(p, i, EPOLL_CTL_ADD, fd, reg, token);
            if (ret == 0)
                kev_rw_ctl(p, i, EPOLL_CTL_DEL, fd, reg, token);
            if (ret != -EEXIST)
                return 0;
        }
    } else {
        struct stat st;
        if (fstat((int)fd, &st) < 0)
            return 0;
        PyObject *identity = kev_identity_of(&st);
        if (identity == NULL)
            return -1;
        int same = kn->identity == NULL ? 0
                                        : PyObject_RichCompareBool(kn->identity, identity, Py_EQ);
        Py_DECREF(identity);
        if (same <= 0)
            return same < 0 ? -1 : 0;
    }
    PyObject *lowat = PyLong_FromLong(reg->countable == Py_False ? 0 : 1);
    if (PyErr_Occurred() || lowat == NULL) {
        Py_XDECREF(lowat);
        return -1;
    }
    /* if not KEEPUDATA: kn.udata = ch.udata; touch: kn.sfflags, kn.sdata = 0, data;
     * apply_lowat without NOTE_LOWAT: st.lowat = 0 if countable is False else 1 */
    PyObject *old[2] = {NULL, reg->lowat};
    if (!(flags & KEV_EV_KEEPUDATA)) {
        old[0] = kn->udata;
        kn->udata = Py_NewRef(udata);
    }
    kn->sfflags = 0;
    kn->sdata = data;
    reg->lowat = lowat;
    /* if st.armed: backend.rearm (BSD re-runs the filter on every change); publish */
    if (reg->armed == Py_True && !modded)
        kev_rw_ctl(p, i, EPOLL_CTL_MOD, fd, reg, token);
    int rc = kev_rw_publish(p, kn, reg, token);
    if (rc == 0 && enable) { /* EV_ENABLE */
        kn->disabled = 0;
        int ret = modded ? 0
                         : kev_rw_ctl(p, i,
                                      reg->registered == Py_True ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
                                      fd, reg, token);
        if (ret == 0) {
            kev_set_bool(&reg->registered, 1);
            kev_set_bool(&reg->armed, 1);
        }
        rc = kev_rw_publish(p, kn, reg, token);
    } else if (rc == 0 && flags & KEV_EV_DISABLE && !kn->disabled) {
        kn->disabled = 1; /* (not queued: no dequeue) */
        kev_fast_remove((kev_fast *)p->fast, token);
        if (reg->armed == Py_True) { /* disable: an armed registration is deleted */
            struct stat st;
            if (kn->identity == Py_None && fstat((int)fd, &st) == 0) {
                /* no registration to vouch for it from now on (D80): its identity */
                PyObject *identity = kev_identity_of(&st), *none = kn->identity;
                if (identity == NULL)
                    rc = -1;
                else {
                    kn->identity = identity;
                    Py_DECREF(none);
                }
            }
            kev_set_bool(&reg->registered, 0);
            kev_set_bool(&reg->armed, 0);
            if (!p->closing) { /* backend.unregister */
                int own = kev_owns(p, kn->ident, fd), ret = own ? -EBADF : 0;
                if (own < 0)
                    rc = -1;
                else if (!own)
                    ret = kev_rw_ctl(p, i, EPOLL_CTL_DEL, fd, reg, token);
                if (rc == 0 && ret < 0 && kev_zombie(p, token) < 0)
                    rc = -1;
            }
        }
    }
    for (int j = 0; j < 2; j++) /* last: releasing the old udata may run Python code */
        Py_XDECREF(old[j]);
    return rc < 0 ? -1 : 1;
}
