/* kevents/_cffi/knote.c: the C layouts of kevents._knote.Knote (KnoteBase), of
 * read_write.py's _Reg (RegBase) and of timer.py's _Timer (TimerBase), so that the
 * change-list pass (engine.c) builds and reads them with plain stores and loads.
 *
 * Story: a knote made in C through the Python classes needs one setattr per slot, 25
 * for a READ knote and its _Reg, each a type lookup and a descriptor call. Under
 * speedups the Python classes derive from these types with empty __slots__: the
 * attributes are the same member descriptors a __slots__ class has, so Python code
 * reads and writes them at the same speed, and C sees a struct (D76). An object field
 * holds exactly what Python stored (the Filter member, the udata...), and one never
 * set raises AttributeError, as an empty slot does; a knote's ints and bools are C
 * fields (D86), as a _Timer's are.
 */
#include "core.h"
#include <stddef.h>

#define KEV_MEMBER(type, name) {#name, Py_T_OBJECT_EX, offsetof(type, name), 0, NULL}
#define KEV_LONG_MEMBER(type, name) {#name, Py_T_LONGLONG, offsetof(type, name), 0, NULL}
#define KEV_BOOL_MEMBER(type, name) {#name, Py_T_BOOL, offsetof(type, name), 0, NULL}

/* Story: twelve of a knote's fields only ever hold ints and True/False (SCALARS), and
 * as objects a READ ADD made or stored each, the pass converted them back to read
 * them, dealloc released each, and the collector checked each for a container on
 * every walk. They are C fields: Python reads them as int and bool and writes any int
 * in the 64-bit range (every value the engine computes is: tokens are 63 bits, and
 * data and fflags come from changes and kernels in that range) and True or False, as
 * it always did; a None or a container there is now a TypeError, where it was a rule
 * (D86). */
static PyMemberDef kev_knote_members[] = {
    KEV_BOOL_MEMBER(kev_knote, alive),    KEV_LONG_MEMBER(kev_knote, data),
    KEV_BOOL_MEMBER(kev_knote, disabled), KEV_MEMBER(kev_knote, ext),
    KEV_LONG_MEMBER(kev_knote, fflags),   KEV_MEMBER(kev_knote, filter),
    KEV_LONG_MEMBER(kev_knote, flags),    KEV_BOOL_MEMBER(kev_knote, forced),
    KEV_MEMBER(kev_knote, ident),         KEV_MEMBER(kev_knote, identity),
    KEV_BOOL_MEMBER(kev_knote, nodata),   KEV_LONG_MEMBER(kev_knote, oflags),
    KEV_MEMBER(kev_knote, priv),
    KEV_BOOL_MEMBER(kev_knote, queued),   KEV_LONG_MEMBER(kev_knote, sdata),
    KEV_LONG_MEMBER(kev_knote, sfflags),  KEV_MEMBER(kev_knote, source),
    KEV_LONG_MEMBER(kev_knote, token),    KEV_MEMBER(kev_knote, udata),
    {NULL, 0, 0, 0, NULL},
};

/* Story: a _Timer holds five ints (timer.py stores nothing else in it). As objects, a
 * TIMER ADD made four of them and the heap's sift read each key back through
 * PyLong_AsLong, ~800 of the ~2,200 instructions of a plain timer's attach
 * (callgrind). They are C fields: Python code reads and writes them as ints in the
 * 64-bit range, which every value timer.py computes is (deadlines clamp at 2**62 from
 * now, D23). */
static PyMemberDef kev_timer_members[] = {
    KEV_LONG_MEMBER(kev_timer, count),  KEV_LONG_MEMBER(kev_timer, deadline),
    KEV_LONG_MEMBER(kev_timer, index),  KEV_LONG_MEMBER(kev_timer, period),
    KEV_LONG_MEMBER(kev_timer, seq),    {NULL, 0, 0, 0, NULL},
};

static PyMemberDef kev_reg_members[] = {
    KEV_MEMBER(kev_reg, armed),     KEV_MEMBER(kev_reg, below),
    KEV_MEMBER(kev_reg, countable),
    KEV_MEMBER(kev_reg, events),    KEV_MEMBER(kev_reg, lowat),
    KEV_MEMBER(kev_reg, old_lowat), KEV_MEMBER(kev_reg, registered),
    KEV_MEMBER(kev_reg, source),
    {NULL, 0, 0, 0, NULL},
};

/* Both structs start with PyObject_HEAD and their object fields, so traverse, clear and
 * dealloc walk those as an array: traverse its first `n` (those that may hold any
 * object, core.h), clear and dealloc all of them (a knote's: the 7 before its C ints;
 * a _Reg's: all 8). */
#define KEV_FIELDS(op) ((PyObject **)((char *)(op) + sizeof(PyObject)))
#define KEV_NFIELDS(type) ((Py_ssize_t)((sizeof(type) - sizeof(PyObject)) / sizeof(PyObject *)))
_Static_assert(offsetof(kev_knote, data) ==
                   sizeof(PyObject) + KEV_KNOTE_OBJECTS * sizeof(PyObject *),
               "KEV_KNOTE_OBJECTS: the object fields before the C ints");
_Static_assert(offsetof(kev_reg, armed) == sizeof(PyObject) + KEV_REG_OBJECTS * sizeof(PyObject *),
               "KEV_REG_OBJECTS: the fields before armed");

PyObject *kev_knote_type, *kev_reg_type, *kev_timer_type, *kev_timer_source_type;

/* Story: a knote's fields are mostly ints, True/False and None, which can be in no
 * cycle; visiting each was half of what the collector spent on a knote, and a list of
 * 50,000 TIMER ADDs spent an eighth of its instructions there (callgrind). Checking
 * each of the 19 fields for one was still a tenth of a TIMER ADD's instructions and a
 * fifteenth of a one-timer control()'s, since every young collection, and every full
 * one, walks each knote twice. Only the first `n` fields are visited: a knote's 7
 * object fields (its ints and bools are C fields), and a _Reg's source, since the code
 * of both implementations stores only ints, True/False and None in the others (D86;
 * the differential driver checks it on every _Reg it makes). gc.get_referents lists
 * what is visited. */
static int kev_fields_traverse(PyObject *op, Py_ssize_t n, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(op));
    PyObject **f = KEV_FIELDS(op);
    for (Py_ssize_t i = 0; i < n; i++)
        if (f[i] != NULL && !PyLong_CheckExact(f[i]) && f[i] != Py_None && f[i] != Py_True &&
            f[i] != Py_False)
            Py_VISIT(f[i]);
    return 0;
}

static void kev_fields_clear(PyObject *op, Py_ssize_t n)
{
    PyObject **f = KEV_FIELDS(op);
    for (Py_ssize_t i = 0; i < n; i++)
        Py_CLEAR(f[i]);
}

static void kev_fields_dealloc(PyObject *op, Py_ssize_t n)
{
    PyTypeObject *tp = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    kev_fields_clear(op, n);
    ((freefunc)PyType_GetSlot(tp, Py_tp_free))(op);
    Py_DECREF(tp);
}

#define KEV_FIELD_FUNCS(prefix, visited, objects)                                          \
    static int prefix##_traverse(PyObject *op, visitproc visit, void *arg)                 \
    {                                                                                      \
        return kev_fields_traverse(op, visited, visit, arg);                               \
    }                                                                                      \
    static int prefix##_clear(PyObject *op)                                                \
    {                                                                                      \
        kev_fields_clear(op, objects);                                                     \
        return 0;                                                                          \
    }                                                                                      \
    static void prefix##_dealloc(PyObject *op) { kev_fields_dealloc(op, objects); }

KEV_FIELD_FUNCS(kev_knote, KEV_KNOTE_OBJECTS, KEV_KNOTE_OBJECTS)
KEV_FIELD_FUNCS(kev_reg, KEV_REG_OBJECTS, KEV_NFIELDS(kev_reg))

static PyType_Slot kev_knote_slots[] = {
    {Py_tp_doc, (void *)"The C layout of kevents._knote.Knote (knote.c)."},
    {Py_tp_members, kev_knote_members},
    {Py_tp_traverse, (void *)kev_knote_traverse},
    {Py_tp_clear, (void *)kev_knote_clear},
    {Py_tp_dealloc, (void *)kev_knote_dealloc},
    {Py_tp_new, (void *)PyType_GenericNew},
    {0, NULL},
};

static PyType_Slot kev_reg_slots[] = {
    {Py_tp_doc, (void *)"The C layout of read_write.py's _Reg (knote.c)."},
    {Py_tp_members, kev_reg_members},
    {Py_tp_traverse, (void *)kev_reg_traverse},
    {Py_tp_clear, (void *)kev_reg_clear},
    {Py_tp_dealloc, (void *)kev_reg_dealloc},
    {Py_tp_new, (void *)PyType_GenericNew},
    {0, NULL},
};

static PyType_Slot kev_timer_slots[] = {
    {Py_tp_doc, (void *)"The C layout of timer.py's _Timer (knote.c)."},
    {Py_tp_members, kev_timer_members},
    {Py_tp_dealloc, (void *)kev_plain_dealloc},
    {Py_tp_new, (void *)PyType_GenericNew},
    {0, NULL},
};

/* Story: a change list read TimerSource.seq and .armed and wrote seq back, three
 * instance-dict lookups, ~600 of a one-timer control()'s ~6,000 instructions
 * (callgrind). Under speedups they are two C fields of TimerSource's base: Python
 * reads and writes them as attributes (ints in the 64-bit range, as both are), the
 * pass as a struct. */
static PyMemberDef kev_timer_source_members[] = {
    KEV_LONG_MEMBER(kev_timer_source, seq),
    KEV_LONG_MEMBER(kev_timer_source, armed),
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot kev_timer_source_slots[] = {
    {Py_tp_doc, (void *)"The C layout of timer.py's TimerSource counters (knote.c)."},
    {Py_tp_members, kev_timer_source_members},
    {Py_tp_dealloc, (void *)kev_plain_dealloc},
    {Py_tp_new, (void *)PyType_GenericNew},
    {0, NULL},
};

static PyType_Spec kev_timer_source_spec = {
    "kevents._speedups.TimerSourceBase", sizeof(kev_timer_source), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, kev_timer_source_slots,
};

static PyType_Spec kev_timer_spec = {
    "kevents._speedups.TimerBase", sizeof(kev_timer), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, kev_timer_slots,
};

static PyType_Spec kev_knote_spec = {
    "kevents._speedups.KnoteBase", sizeof(kev_knote), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, kev_knote_slots,
};

static PyType_Spec kev_reg_spec = {
    "kevents._speedups.RegBase", sizeof(kev_reg), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, kev_reg_slots,
};

int kev_knote_types_new(PyObject *module)
{
    kev_knote_type = PyType_FromSpec(&kev_knote_spec);
    kev_reg_type = PyType_FromSpec(&kev_reg_spec);
    kev_timer_type = PyType_FromSpec(&kev_timer_spec);
    kev_timer_source_type = PyType_FromSpec(&kev_timer_source_spec);
    if (kev_knote_type == NULL || kev_reg_type == NULL || kev_timer_type == NULL ||
        kev_timer_source_type == NULL)
        return -1;
    if (PyModule_AddObjectRef(module, "KnoteBase", kev_knote_type) < 0 ||
        PyModule_AddObjectRef(module, "RegBase", kev_reg_type) < 0 ||
        PyModule_AddObjectRef(module, "TimerBase", kev_timer_type) < 0 ||
        PyModule_AddObjectRef(module, "TimerSourceBase", kev_timer_source_type) < 0)
        return -1;
    return 0;
}

/* The fields every new knote starts with, as Knote.__init__ sets them: oflags 0, ext
 * None, not disabled, queued, forced or NODATA (a plain change has no Flag.NODATA),
 * alive. */
void kev_knote_fresh(kev_knote *kn)
{
    kn->oflags = 0;
    kn->ext = Py_NewRef(Py_None);
    kn->disabled = kn->queued = kn->forced = kn->nodata = 0;
    kn->alive = 1;
}

/* A new instance of `tp` (the Python Knote, _Reg or _Timer class, a subclass with no
 * fields of its own): every object field unset, every C field 0. */
PyObject *kev_slots_alloc(PyObject *tp)
{
    allocfunc alloc = (allocfunc)PyType_GetSlot((PyTypeObject *)tp, Py_tp_alloc);
    return alloc((PyTypeObject *)tp, 0);
}
