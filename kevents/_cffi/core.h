#ifndef KEV_CORE_H
#define KEV_CORE_H
/* kevents._speedups: the C mirror of the Python engine's steady state (D42).
 *
 * One CPython extension module (limited API, one abi3 binary for 3.11+), built from
 * files that mirror the Python modules one for one, so each rule can be found in both:
 *
 *   speedups.c          module init                      (kevents/_core.py loads it)
 *   queue.c             kevents.Queue's C base, Core     kevents/_queue.py, _core.py
 *   engine.c            Engine.control/_collect, and     kevents/_engine.py
 *                       _materialise/_apply_one for
 *                       plain changes (D77)
 *   event.c             building KEvent tuples           kevents/_event.py
 *   knote.c             the Knote, _Reg, _Timer layouts  kevents/_knote.py, read_write.py,
 *                                                        _filters/timer.py
 *   timer.c             TimerSource.attach (plain)       kevents/_filters/timer.py
 *                       and UserSource.attach (no         kevents/_filters/user.py
 *                       trigger)
 *   linux_read_write.c  LinuxBackend.wait/translate for  kevents/_backends/linux/
 *                       kernel-armed READ/WRITE knotes,  __init__.py, read_write.py
 *                       their attach and delete
 *   linux_batch.c       Batcher.run_end/results: runs   kevents/_backends/linux/batch.py
 *                       of new READ/WRITE registrations
 *                       through io_uring (with
 *                       linux_uring.c's ring code)
 *   compat_select.c     kqueue.control's steady state    kevents/compat/select.py
 *
 * (These files have no .cdef: the cffi build of kevents._native ignores them.)
 * Anything these files do not handle goes back to the Python engine, which stays the
 * reference implementation (KEVENTS_SPEEDUPS=0 runs it alone).
 */
#define Py_LIMITED_API 0x030B0000
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* The member types by their 3.12 names (the limited API of 3.11 has them only in
 * structmember.h, under their old ones). T_OBJECT has no new name: it comes from
 * structmember.h on every version. */
#ifndef Py_T_OBJECT
#include "structmember.h"
#define Py_T_OBJECT T_OBJECT
#endif
#ifndef Py_T_OBJECT_EX
#define Py_T_OBJECT_EX T_OBJECT_EX
#define Py_T_BOOL T_BOOL
#define Py_T_SHORT T_SHORT
#define Py_T_USHORT T_USHORT
#define Py_T_UINT T_UINT
#define Py_T_LONGLONG T_LONGLONG
#define Py_T_ULONGLONG T_ULONGLONG
#endif

/* Queue's C base. `engine` is Queue._engine; the rest is the fast state set by
 * Core._fast_setup() when the queue's backend is Linux with speedups on: without it
 * every control() call goes to the Python engine. */
typedef struct {
    PyObject_HEAD
    PyObject *engine;   /* kevents._engine.Engine (or a pass-through backend), or NULL */
    PyObject *fast;     /* LinuxBackend.fast, a FastTable (linux_read_write.c) */
    PyObject *ready;    /* Engine.ready (a deque) */
    PyObject *heap;     /* TimerSource.heap (a list) */
    PyObject *waiting;  /* Engine.waiting (a Waiters: how many threads wait) */
    int epfd, innerfd;  /* both keep their numbers for the queue's life (rebuild dup3s) */
    int counts;         /* LinuxBackend.counts: compute READ/WRITE data (D43) */
    /* engine.lock (a Lock, below) and the engine it is of */
    PyObject *lock_of, *lock;
    /* engine.plain, checked and unpacked by the first change list (a kev_plain) */
    PyObject *plain_of;
    void *plain;
} kev_core;
int kev_core_lock_setup(kev_core *c); /* (engine.c) */

/* event.c */
int kev_event_setup(PyObject *kevent_type);
PyObject *kev_event_type(void);
PyObject *kev_event_make(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames); /* KEvent.__new__ */
PyObject *kev_event_new(PyObject *ident, PyObject *filter, PyObject *flags, int64_t data,
                        PyObject *udata);

/* How an event is built from a plain knote's fields: KEvent (event.c) or, for
 * compat.select, its kevent (compat_select.c). */
typedef PyObject *(*kev_build_fn)(PyObject *ident, PyObject *filter, PyObject *flags,
                                  int64_t data, PyObject *udata);

/* the EV_* flags (FreeBSD's numbers, kevents/_event.py Flag), for every C file */
#define KEV_EV_ADD 0x0001
#define KEV_EV_DELETE 0x0002
#define KEV_EV_ENABLE 0x0004
#define KEV_EV_DISABLE 0x0008
#define KEV_EV_ONESHOT 0x0010
#define KEV_EV_CLEAR 0x0020
#define KEV_EV_RECEIPT 0x0040
#define KEV_EV_DISPATCH 0x0080
#define KEV_EV_KEEPUDATA 0x0200
/* the filters the C pass applies (FreeBSD's numbers, kevents/_event.py Filter) */
#define KEV_FILT_READ (-1)
#define KEV_FILT_WRITE (-2)
#define KEV_FILT_TIMER (-7)
#define KEV_FILT_USER (-11)
/* kevents/_knote.py PERSISTENT_FLAGS: what a knote keeps of its creating change */
#define KEV_PERSISTENT_FLAGS (KEV_EV_ONESHOT | KEV_EV_CLEAR | KEV_EV_RECEIPT | KEV_EV_DISPATCH)

/* knote.c: kevents._knote.Knote and read_write.py's _Reg as structs (D76); the Python
 * classes derive from these with empty __slots__. A knote's fields that may hold any
 * object come first, and only those are the collector's to visit; its ints and bools
 * (_knote.py's SCALARS) are C fields, which Python reads and writes as int and bool
 * (D86). A _Reg's fields are objects, `source` first, and the others hold ints,
 * True/False and None only (read_write.py's REG_SCALARS). */
typedef struct {
    PyObject_HEAD
    PyObject *ext, *filter, *ident, *identity, *priv, *source, *udata;
    long long data, fflags, flags, oflags, sdata, sfflags, token;
    char alive, disabled, forced, nodata, queued;
} kev_knote;
#define KEV_KNOTE_OBJECTS 7 /* ext ... udata */

typedef struct {
    PyObject_HEAD
    PyObject *source;
    PyObject *armed, *below, *countable, *events, *lowat, *old_lowat, *registered;
} kev_reg;
#define KEV_REG_OBJECTS 1 /* source */

/* timer.py's _Timer: ints only, so C fields (knote.c) */
typedef struct {
    PyObject_HEAD
    long long count, deadline, index, period, seq;
} kev_timer;

/* timer.py's TimerSource counters: the last seq given, the deadline the kernel timer
 * is armed at (-1: none) */
typedef struct {
    PyObject_HEAD
    long long seq, armed;
} kev_timer_source;

extern PyObject *kev_knote_type, *kev_reg_type, *kev_timer_type, *kev_timer_source_type;
int kev_knote_types_new(PyObject *module);
/* a bool field set to True/False (linux_read_write.c) */
void kev_set_bool(PyObject **field, int v);
PyObject *kev_slots_alloc(PyObject *tp);
void kev_knote_fresh(kev_knote *kn);

/* A change's ints as kev_materialise checked them (engine.c): the pass reads these
 * instead of converting the KEvent's fields again */
typedef struct {
    long long ident, filter, flags, fflags, data;
} kev_change;

/* What the change-list path reads of a Linux queue: LinuxBackend.plain_state(engine),
 * unpacked once per queue (engine.c: kev_plain_cached) */
typedef struct {
    PyObject *knotes;               /* Engine.knotes */
    PyObject *backend;              /* the LinuxBackend (serial, closing, _batcher) */
    PyObject *src[2];               /* the READ and WRITE sources */
    PyObject *filt[2];              /* Filter.READ, Filter.WRITE */
    PyObject *bknotes;              /* LinuxBackend.knotes: token -> knote */
    PyObject *fast;                 /* LinuxBackend.fast, a FastTable */
    PyObject *zombies;              /* LinuxBackend.zombies (a set) */
    PyObject *internal, *private_;  /* LinuxBackend.internal (dict), .private (set) */
    PyObject *handlers;             /* LinuxBackend.handlers */
    PyObject *knote_cls, *reg_cls;  /* kevents._knote.Knote, read_write._Reg */
    PyObject *timers, *tfilt;       /* the TIMER source, Filter.TIMER */
    PyObject *timer_cls, *heap;     /* timer.py's _Timer, TimerSource.heap */
    PyObject *users, *ufilt;        /* the USER source, Filter.USER */
    int epfd, innerfd;
    void *ring;                     /* the batcher's ring, when this pass batches (else NULL) */
    const kev_change *parsed;       /* the changes' ints, one per change (else NULL) */
    /* read on the pass's first timer (kev_plain_timers) */
    int timed;                      /* timers were added: TimerSource.expire() after */
    long long seq;                  /* TimerSource.seq, written back at the end */
    /* read on the pass's first READ/WRITE change (kev_plain_rw) */
    int rw;                         /* they are read */
    int ringfd;                     /* the batcher's ring, or -1 */
    int closing;                    /* LinuxBackend.closing */
    long long serial, serial0;      /* LinuxBackend.serial, written back at the end */
    int wrapped, wrapped0;          /* LinuxBackend.wrapped, likewise */
} kev_plain;
int kev_plain_rw(kev_plain *p);
void kev_core_plain_drop(kev_core *c);

/* linux_read_write.c */
#define KEV_STACK_ROOM 256  /* records on the stack; larger waits use the heap */
#define KEV_RECORD_WIDTH 4  /* KEV_OUT_WIDTH of epoll_wait.h */
#define KEV_MAX_ROOM 65536
int kev_wait_records(int epfd, int innerfd, int room, int64_t timeout_ns, int counts,
                     int64_t *out);
PyObject *kev_records_to_events(const int64_t *out, int n, PyObject *fast, int counts,
                                kev_build_fn build);
PyObject *kev_raw_records(const int64_t *out, int n);
PyObject *kev_fast_wait(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *kev_fast_type_new(void);
PyObject *kev_identify(PyObject *self, PyObject *arg);
PyObject *kev_epoll_ctl_gil(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *kev_inotify_add_gil(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *kev_fstat_gil(PyObject *self, PyObject *arg);
PyObject *kev_inotify_init_gil(PyObject *self, PyObject *unused);
PyObject *kev_inotify_rm_gil(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
int kev_fast_check(PyObject *obj);
/* the plain cases of _EpollSource.attach and of EV_DELETE (delete_checked + drop):
 * 1 done; 0 the Python engine applies the change, from a state its own path passes
 * through too (nothing changed, or delete_checked's unregister done); -1 an exception.
 * `i` is 0 for READ, 1 for WRITE; `key` is (ident, filter) as the change has them. */
int kev_rw_add(kev_plain *p, int i, PyObject *key, long fd, long long flags, long long sdata,
               PyObject *udata);
int kev_rw_delete(kev_plain *p, int i, PyObject *key, PyObject *kn);
/* _EpollSource.detach during close() for a knote with no SO_RCVLOWAT to put back: 1
 * done, 0 the Python detach is needed */
int kev_rw_detach_closing(kev_plain *p, kev_knote *kn);
/* the steps of kev_rw_add, which linux_batch.c takes too: the own-fd and queue-fd
 * refusals, new_token, _events, and the knote of a registration the kernel made */
int kev_rw_refused(kev_plain *p, PyObject *ident, long fd);
int kev_rw_token(kev_plain *p, int i, long fd, long long *serial, int *wrapped,
                 uint64_t *token, PyObject **tok);
uint32_t kev_rw_events(int i, long long flags);
int kev_rw_adopt(kev_plain *p, int i, PyObject *key, long fd, long long flags,
                 long long sdata, PyObject *udata, uint64_t token, PyObject *tok,
                 uint32_t events);

/* linux_batch.c: batch.py's Batcher for the pass Core.control drives (p->ring set):
 * the end of the run of batchable changes from `i`, and the run applied through the
 * ring (the index the run reached: the first change the kernel refused is the Python
 * path's, and what was registered after it is taken back), or -1 an exception */
Py_ssize_t kev_batch_run_end(kev_plain *p, PyObject *changes, Py_ssize_t i, PyObject ***keys);
Py_ssize_t kev_batch_apply(kev_plain *p, PyObject *changes, Py_ssize_t i, Py_ssize_t end,
                           PyObject **keys);
void kev_batch_keys_free(PyObject **keys, Py_ssize_t n); /* (NULL entries: none) */
int kev_rw_touch(kev_plain *p, int i, PyObject *kn, long long flags, long long data,
                 PyObject *udata);

/* timer.c: the plain case of TimerSource.attach (1 done, 0 Python's, -1 exception) */
int kev_timer_top(kev_plain *p, long long *deadline, long long *seq);
long long kev_timer_now(void);
int kev_timer_add(kev_plain *p, PyObject *key, long long flags, long long fflags,
                  long long data, PyObject *udata);

/* the plain case of UserSource.attach: an EV_ADD without NOTE_TRIGGER (timer.c) */
int kev_user_add(kev_plain *p, PyObject *key, long long flags, long long fflags,
                 long long data, PyObject *udata);

/* engine.c: EngineBase, the C base of kevents._engine.Engine, holds the two flags the
 * C core reads on every call, so reading them costs a load, not a dict lookup */
typedef struct {
    PyObject_HEAD
    char closed;  /* Engine.closed */
    char pending; /* Engine.pending */
} kev_engine_state;

/* engine.c: Waiters, Engine.waiting under speedups: a list's append(None), pop() and
 * len(), as a count the core changes with a store */
typedef struct {
    PyObject_HEAD
    Py_ssize_t n; /* the threads inside control()'s wait */
} kev_waiters;

/* engine.c: Lock, Engine.lock under speedups: threading.Lock's acquire, release and
 * context manager for the Python engine, and a plain call for the core */
typedef struct {
    PyObject_HEAD
    void *lock;  /* a PyThread_type_lock */
    char locked; /* acquired and not yet released */
} kev_lock;
int kev_lock_try(PyObject *lock); /* a non-blocking acquire: 1 taken, 0 held elsewhere */
void kev_lock_release(PyObject *lock);

/* tp_dealloc of a type whose instances hold no references and are not tracked by the
 * collector (EngineBase, Waiters, TimerBase, TimerSourceBase, KeventBase) */
static inline void kev_plain_dealloc(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    ((freefunc)PyType_GetSlot(tp, Py_tp_free))(op);
    Py_DECREF(tp);
}

/* PyType_FromSpec, the new type also kept in *kept (what its type check reads; a
 * second module init replaces the first's): a new reference, or NULL */
static inline PyObject *kev_type_kept(PyType_Spec *spec, PyTypeObject **kept)
{
    PyObject *tp = PyType_FromSpec(spec);
    if (tp != NULL) {
        Py_XDECREF((PyObject *)*kept);
        *kept = (PyTypeObject *)Py_NewRef(tp);
    }
    return tp;
}

int kev_engine_setup(void);
PyObject *kev_engine_type_new(void);
PyObject *kev_waiters_type_new(void);
int kev_waiters_check(PyObject *obj);
PyObject *kev_lock_type_new(void);
int kev_lock_check(PyObject *obj);
int kev_engine_check(PyObject *obj);
PyObject *kev_engine_drop_all(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *kev_engine_control(kev_core *core, PyObject *self, PyObject *const *args,
                             Py_ssize_t nargs, PyObject *kwnames);
/* the same with events made by `build`; *built says whether the result's items are
 * (else they are KEvents, from the Python engine) */
PyObject *kev_engine_control_with(kev_core *core, PyObject *self, PyObject *const *args,
                                  Py_ssize_t nargs, kev_build_fn build, int *built);
int kev_timeout_plain(PyObject *t, int64_t *ns);
PyObject *kev_engine_apply_plain(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *kev_materialise(PyObject *self, PyObject *arg);
PyObject *kev_call_python(PyObject *fn, PyObject *self, PyObject *const *args,
                          Py_ssize_t nargs, PyObject *kwnames);

/* compat_select.c */
PyObject *kev_route_compat(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *kev_kevent_type_new(void); /* kevent's C layout, KeventBase */

/* queue.c */
PyObject *kev_core_type_new(PyObject *module);
extern PyObject *kev_slow_control; /* kevents._core.PyCore.control */

#endif /* KEV_CORE_H */
