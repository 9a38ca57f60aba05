/* kevents/_cffi/timer.c: TimerSource.attach for plain TIMER ADDs (kevents/_filters/
 * timer.py), and UserSource.attach for USER ADDs that do not trigger
 * (kevents/_filters/user.py), called by the change-list pass of engine.c (D77): the
 * user-space filters whose knotes the pass can make.
 *
 * Plain: a relative timer (no NOTE_ABSTIME), one unit or none, data >= 0, not due at
 * once, and a heap whose earliest timer is not due either, so attach's expire() has
 * nothing to expire: the knote is pushed on the same indexed heap (D45) the Python
 * source keeps, with the same (deadline, seq) order. The kernel timer is re-armed once
 * per change list, by TimerSource.expire() after the pass, not once per timer. Every
 * other timer change is the Python engine's. */
#include "core.h"
#include <limits.h>
#include <time.h>

#if LONG_MAX < (1LL << 62)
#error "timer.c reads 64-bit deadlines with PyLong_AsLong"
#endif

#define KEV_NEVER_NS (1LL << 62) /* timer.py's _NEVER_NS: the clamp of huge periods */

/* a _Timer's (deadline, seq) */
static int kev_timer_key(PyObject *kn, long long *deadline, long long *seq)
{
    PyObject *st = PyObject_TypeCheck(kn, (PyTypeObject *)kev_knote_type)
                       ? ((kev_knote *)kn)->priv
                       : NULL;
    if (st == NULL || !PyObject_TypeCheck(st, (PyTypeObject *)kev_timer_type)) {
        PyErr_SetString(PyExc_TypeError, "a TIMER heap entry without its _Timer");
        return -1;
    }
    *deadline = ((kev_timer *)st)->deadline;
    *seq = ((kev_timer *)st)->seq;
    return 0;
}

/* _schedule for a knote not in the heap: append, then _up (each _place: heap[i] = kn,
 * kn.priv.index = i). The path is found first, so a failure leaves the heap as it
 * was. */
static int kev_timer_push(PyObject *heap, PyObject *kn, long long deadline, long long seq)
{
    Py_ssize_t n = PyList_Size(heap), i = n;
    while (i) {
        Py_ssize_t parent = (i - 1) >> 1;
        long long pd, ps;
        if (kev_timer_key(PyList_GetItem(heap, parent), &pd, &ps) < 0)
            return -1;
        if (pd < deadline || (pd == deadline && ps <= seq))
            break;
        i = parent;
    }
    if (PyList_Append(heap, kn) < 0)
        return -1;
    for (Py_ssize_t at = n; at > i; at = (at - 1) >> 1) { /* the path's entries move down */
        PyObject *p = Py_NewRef(PyList_GetItem(heap, (at - 1) >> 1));
        ((kev_timer *)((kev_knote *)p)->priv)->index = at;
        PyList_SetItem(heap, at, p); /* steals p; the old item there is referenced elsewhere */
    }
    ((kev_timer *)((kev_knote *)kn)->priv)->index = i;
    PyList_SetItem(heap, i, Py_NewRef(kn));
    return 0;
}

static long long kev_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* heap[0]'s (deadline, seq), and time.monotonic_ns(): expire()'s question, for
 * engine.c */
int kev_timer_top(kev_plain *p, long long *deadline, long long *seq)
{
    return kev_timer_key(PyList_GetItem(p->heap, 0), deadline, seq);
}

long long kev_timer_now(void)
{
    return kev_monotonic_ns();
}

/* NoteTimer's units (kevents/_event.py, FreeBSD's numbers) */
#define KEV_NOTE_SECONDS 0x01
#define KEV_NOTE_MSECONDS 0x02
#define KEV_NOTE_USECONDS 0x04
#define KEV_NOTE_NSECONDS 0x08

int kev_timer_add(kev_plain *p, PyObject *key, long long flags, long long fflags,
                  long long data, PyObject *udata)
{
    /* _interval_ns: one unit at most (milliseconds by default), no NOTE_ABSTIME here */
    long long unit;
    switch (fflags) {
    case KEV_NOTE_SECONDS: unit = 1000000000LL; break;
    case KEV_NOTE_MSECONDS: case 0: unit = 1000000LL; break;
    case KEV_NOTE_USECONDS: unit = 1000LL; break;
    case KEV_NOTE_NSECONDS: unit = 1; break;
    default: return 0; /* ABSTIME, several units, unknown bits: Python's */
    }
    long long d = data;
    if (d < 0)
        return 0; /* EINVAL */
    int oneshot = (flags & KEV_EV_ONESHOT) != 0;
    if (d == 0 && !oneshot)
        d = 1;
    long long ns = d > KEV_NEVER_NS / unit ? KEV_NEVER_NS : d * unit;
    if (ns > KEV_NEVER_NS)
        ns = KEV_NEVER_NS;
    long long now = kev_monotonic_ns();
    if (ns <= 0)
        return 0; /* due at once: attach's expire() queues it, in Python */
    Py_ssize_t n = PyList_Size(p->heap);
    if (n > 0) {
        long long top, seq;
        if (kev_timer_key(PyList_GetItem(p->heap, 0), &top, &seq) < 0)
            return -1;
        if (top <= now)
            return 0; /* another timer is due: expire() has work, in Python */
    }
    /* Knote(...) with attach's EV_CLEAR; _Timer: count 0, the period unless one-shot,
     * the deadline now + ns, the next seq; kn.data = 0; _schedule */
    long long kflags = (flags & KEV_PERSISTENT_FLAGS) | KEV_EV_CLEAR;
    kev_knote *kn = (kev_knote *)kev_slots_alloc(p->knote_cls);
    kev_timer *st = (kev_timer *)kev_slots_alloc(p->timer_cls);
    if (kn == NULL || st == NULL)
        goto fail;
    kn->ident = Py_NewRef(PyTuple_GetItem(key, 0));
    kn->filter = Py_NewRef(p->tfilt);
    kn->flags = kflags;
    kn->sfflags = fflags;
    kn->sdata = data;
    kn->udata = Py_NewRef(udata);
    kev_knote_fresh(kn);
    kn->identity = Py_NewRef(Py_None);
    kn->source = Py_NewRef(p->timers);
    long long seq = p->seq + 1;
    st->count = 0;
    st->period = oneshot ? 0 : ns;
    st->deadline = now + ns;
    st->seq = seq;
    st->index = -1;
    kn->priv = Py_NewRef((PyObject *)st);
    /* Story: a _Timer holds ints only (C fields, knote.c), so it can be in no cycle;
     * untracked, as CPython untracks a tuple of ints, it costs the collector nothing
     * (walking the fresh objects once after the pass was a third of a 20,000-timer
     * list's instructions). Its Python class is a heap type, so it is tracked at birth. */
    PyObject_GC_UnTrack((PyObject *)st);
    /* engine: knotes[key] = kn (first here, so a failed push can take it back);
     * src.event(kn) is count > 0: no, it is not queued */
    if (PyDict_SetItem(p->knotes, key, (PyObject *)kn) < 0)
        goto fail;
    if (kev_timer_push(p->heap, (PyObject *)kn, now + ns, seq) < 0) {
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        if (PyDict_DelItem(p->knotes, key) < 0)
            PyErr_Clear();
        PyErr_Restore(et, ev, tb);
        goto fail;
    }
    p->seq = seq;
    p->timed = 1;
    Py_DECREF(st);
    Py_DECREF(kn);
    return 1;
fail:
    if (kn != NULL)
        kn->alive = 0;
    Py_XDECREF((PyObject *)st);
    Py_XDECREF((PyObject *)kn);
    if (!PyErr_Occurred())
        PyErr_NoMemory();
    return -1;
}

/* -- USER (kevents/_filters/user.py) ------------------------------------------------- */

#define KEV_NOTE_TRIGGER 0x01000000LL
#define KEV_NOTE_FFCTRLMASK 0xC0000000LL
#define KEV_NOTE_FFLAGSMASK 0x00FFFFFFLL
#define KEV_NOTE_FFOR 0x80000000LL
#define KEV_NOTE_FFCOPY 0xC0000000LL

/* _apply_ctrl(0, fflags): AND gives 0, OR and COPY the bits, NOP 0 */
static long long kev_user_ctrl0(long long fflags)
{
    long long op = fflags & KEV_NOTE_FFCTRLMASK;
    return op == KEV_NOTE_FFOR || op == KEV_NOTE_FFCOPY ? fflags & KEV_NOTE_FFLAGSMASK : 0;
}

int kev_user_add(kev_plain *p, PyObject *key, long long flags, long long fflags,
                 long long data, PyObject *udata)
{
    /* NOTE_TRIGGER at EV_ADD queues the knote at once (D27): Python's; so is any bit
     * outside the user flags and their control */
    if (fflags & KEV_NOTE_TRIGGER || fflags & ~(KEV_NOTE_FFCTRLMASK | KEV_NOTE_FFLAGSMASK))
        return 0;
    kev_knote *kn = (kev_knote *)kev_slots_alloc(p->knote_cls);
    if (kn == NULL)
        return -1;
    /* Knote(...); attach: priv = False (no trigger), fflags = _apply_ctrl(0, sfflags),
     * data = sdata; the engine: event(kn) is priv: not queued */
    kn->ident = Py_NewRef(PyTuple_GetItem(key, 0));
    kn->filter = Py_NewRef(p->ufilt);
    kn->flags = flags & KEV_PERSISTENT_FLAGS;
    kn->sfflags = fflags;
    kn->sdata = kn->data = data;
    kn->fflags = kev_user_ctrl0(fflags);
    kn->udata = Py_NewRef(udata);
    kev_knote_fresh(kn);
    kn->identity = Py_NewRef(Py_None);
    kn->source = Py_NewRef(p->users);
    kn->priv = Py_NewRef(Py_False);
    int rc = PyDict_SetItem(p->knotes, key, (PyObject *)kn) == 0 ? 1 : -1;
    if (rc < 0)
        kn->alive = 0;
    Py_DECREF(kn);
    return rc;
}
