/* heapdump.h: the private contract between the C files of heapdump._heapdump.
 *
 * A folder per stage (README.rst, "Layout"; tools/deps.py checks that no
 * two files depend on each other):
 *
 *   module.c       the module: multi-phase init, each file's hook below
 *   format.h/.c    the format's numbers, names and field types, once;
 *                  constants.c exports them to Python
 *   writer/        a dump, a one-way stack (each calls only those below):
 *                  dump.c (the stages: the freeze, META, THREAD, ROOT,
 *                  TRAILER, the rename), unreached.c (the heap scope's
 *                  unreached objects), tasks.c (TASK, tasks.h), pack.c
 *                  (one object, one record; drains the queue) with
 *                  natives.c (NATIVE, natives.h; the families
 *                  natives_datetime/decimal/re/seq/lock/buffer/future.c),
 *                  sources.c (SOURCE, kept across dumps), frozen.c,
 *                  walk.c (identity, queue, budget, layouts; ERROR),
 *                  encode.c (scalars, markers), kinds.c (kinds, sizes)
 *                  with classes.c and natives_types.c, container.c
 *                  (MIME header, zstd, atomic file: tmp + rename, 0600)
 *                  with wthread.c (the writer thread) and names.c (the
 *                  file names, names.h)
 *   secrets/       redact.c (names that look secret); the hider, values
 *                  hidden wherever they are met (hide.h: hide_build.c
 *                  from the program's values, hide_ac.c the automaton,
 *                  hide_rules.c the rules, hide.c the lookups and the
 *                  Hider type); srcmask.c (secret literals masked in the
 *                  embedded source text)
 *   triggers/      signals.c: the signal dump thread, the fatal handler
 *   pyversion/     pyversion.c: every CPython-version-specific access
 *                  (thread states, frames, code objects, instance dicts,
 *                  generators); shims.c: the differences the public
 *                  API covers (the GC switch, exception groups);
 *                  asyncio.c (the tasks), locks.c (lock structs),
 *                  stdlib.c (deque, array, datetime pieces, re.Match);
 *                  compat.h: small shims (Py_NewRef on 3.9 ...)
 *   reader/        mpread.c (the bounds-checked msgpack reader, mpread.h,
 *                  no Python, fuzzed alone), stream.c (zstd stream ->
 *                  framed records, stream.h), the loader (loader.h:
 *                  decode.c, records.c, shells.c, fill.c, load.c;
 *                  records -> the object table, heapdump._load drives
 *                  it), frames.c (frames pdb accepts)
 *   analysis/      graph.h, no Python but in graph*.c beside graph_py.h:
 *                  graph_build.c (records -> the object graph, one
 *                  streaming pass; graph_build.h: graph_roots.c the
 *                  roots and the build's end, graph_store.c the
 *                  arrays), dominators.c (SEMI-NCA, retained
 *                  sizes, paths), graph.c (heapdump._heapdump.Graph),
 *                  graph_query.c (its queries), graph_fetch.c (records
 *                  read again), graph_py.c (their helpers)
 *
 * Error rules: functions return 0 / -1 or a pointer / NULL.  During the walk
 * nothing may run Python code, allocate Python objects or release the GIL;
 * failures there are C-level (out of memory, a write error) and are recorded
 * in the dumper (hd_dumper.error) rather than raised, so the walk can stop
 * cleanly and dump.c turns them into one exception at the end.
 */
#ifndef HEAPDUMP_H
#define HEAPDUMP_H

#include "pyversion/compat.h"

#include <stdint.h>
#include <stdio.h>

#include <msgpack.h>
#include <structmember.h>

#include "format.h"

/* ------------------------------------------------------------------------
 * container.c: the file.  A writer owns a temporary file next to the final
 * name, a zstd stream and two fixed buffers; memory does not grow with the
 * output.  Not thread-safe: one dump at a time (module.c guards).
 */
typedef struct hd_writer {
    int fd;           /* the temporary file, or -1 */
    char *tmp_path;   /* malloc'd */
    char *final_path; /* malloc'd */
    void *cctx;       /* ZSTD_CCtx * */
    char *in;         /* uncompressed msgpack waiting for zstd */
    size_t in_len;
    size_t in_cap;
    char *out; /* compressed bytes waiting for write(2) */
    size_t out_cap;
    uint64_t raw_bytes;    /* uncompressed body bytes so far */
    uint64_t flushes;      /* times the input buffer went to zstd */
    uint64_t file_bytes;   /* bytes written to the file so far */
    int err_no;            /* errno of the first failure, or 0 */
    const char *err_what;  /* what failed (static string), or NULL */
    struct hd_wthread *wt; /* the writer thread (wthread.c), or NULL:
                              compressed inline */
    int thread_wanted;     /* start wt when the first buffer fills */
    int threaded;          /* wt was started for this dump */
    int level;             /* the zstd level of the dump's frames */
    int in_raw;            /* in holds compressed frames, not msgpack */
    int zopen;             /* msgpack went to the current zstd frame
                              (in or the stream) since it began */
} hd_writer;

/* Create the temporary file for final_path (mode 0600) and the zstd
 * stream.  Returns 0, or -1 with w->err_what / w->err_no set (nothing
 * raised: the signal modes call it too). */
int hd_container_open(hd_writer *w, const char *final_path, int level);
/* Write the MIME header block (already formatted, ASCII). */
int hd_container_header(hd_writer *w, const char *text, size_t len);
/* Append body bytes; msgpack-c's packer callback.  Never raises: a failure
 * is remembered in w->err_no / w->err_what and later writes are dropped. */
int hd_container_append(void *w, const char *buf, size_t len);
/* Append body bytes already compressed: frame (len bytes) is one or more
 * whole zstd frames, with content checksums, that decompress to raw_len
 * bytes of records.  The frame the body's msgpack was going into ends
 * before them, and the msgpack appended next starts a new one.  Never
 * raises (as hd_container_append). */
void hd_container_frame(hd_writer *w, const void *frame, size_t len,
                        uint64_t raw_len);
/* Flush and end the zstd stream, fsync, rename into place.  Returns 0, or
 * -1 with w->err_what set and the temporary file removed. */
int hd_container_close(hd_writer *w);
/* Raise the writer's failure as an OSError naming the file (GIL held). */
void hd_container_raise(const hd_writer *w, PyObject *filename);
/* Remove the temporary file and free everything; safe to call twice. */
void hd_container_abort(hd_writer *w);
/* In normal mode only (never in a signal mode), after the header: the
 * body compressed and written on a writer thread (wthread.c), started
 * when the first input buffer fills.  A body that fits in one buffer (a
 * web request's dump) is compressed once, inline, at the close: a thread
 * would cost more than it saves, and the pause would wait for the
 * scheduler to run it.  When no thread can be made the dump compresses
 * inline. */
void hd_container_thread(hd_writer *w);

/* What is done with an input buffer's bytes: given to zstd (the frame
 * goes on), given to zstd and the frame ended, or written as they are
 * (whole zstd frames compressed beforehand). */
enum hd_zhow { HD_Z_CONTINUE, HD_Z_END, HD_Z_RAW };

/* wthread.c, called by container.c only.  compress: do with w->in
 * (w->in_len bytes) what how says (enum hd_zhow) and write what comes
 * out, touching no Python object.  hd_wthread_start starts the thread
 * (-1: none).  hd_wthread_submit hands w->in over and gives w an empty
 * buffer (none after the last); it waits while every buffer is in flight.
 * hd_wthread_finish waits for the thread (abandon: what is left is
 * dropped), joins it and hands the counters and the first failure back to
 * w; 0 or -1. */
typedef int (*hd_wthread_compress)(hd_writer *w, int how);
int hd_wthread_start(hd_writer *w, hd_wthread_compress compress);
int hd_wthread_submit(hd_writer *w, int how, int last);
int hd_wthread_finish(hd_writer *w, int abandon);
/* Append to dst (size cap) value escaped as docs/format.rst says for header
 * values, cut at max characters.  Returns the new length. */
size_t hd_container_escape(char *dst, size_t cap, size_t len, PyObject *value,
                           size_t max);

/* ------------------------------------------------------------------------
 * pyversion.c: version-specific reads.  All of them: caller holds the GIL,
 * no Python code runs, no Python object is created, nothing is decref'd.
 *
 * A frame handle (hd_frame) is an opaque pointer: a PyFrameObject * on 3.9
 * and 3.10, a _PyInterpreterFrame * on 3.11 and later.
 */
typedef void hd_frame;

typedef struct hd_frame_info {
    PyCodeObject *code;
    PyObject *globals;   /* borrowed, may be NULL */
    PyObject *locals;    /* non-optimized frames' mapping, or NULL */
    PyObject *frame_obj; /* the frame object if one exists, else NULL */
    void *slots;         /* the fast slots (read with
                            hd_pyversion_frame_slot), nvalues of them */
    Py_ssize_t nvalues;
    int lineno;
    int lasti;                    /* byte offset, or -1 */
    int end_lineno, col, end_col; /* -1 when unknown */
} hd_frame_info;

/* Heap scope (at the end of pyversion.c): what sys.getsizeof adds to
 * __sizeof__ (the GC header, 3.11+'s managed pointers); the bytes of an
 * instance's attribute values kept outside __sizeof__ and outside a dict;
 * every GC-tracked object, to visit(obj, extra, arg) until it returns 0
 * (extra: references the iteration holds on obj meanwhile). */
Py_ssize_t hd_pyversion_preheader_size(PyObject *obj);
/* str.__sizeof__ without the int it makes; -1 for a legacy str. */
Py_ssize_t hd_pyversion_str_sizeof(PyObject *s);
/* __sizeof__ of a frame, generator, coroutine or async generator, without
 * calling it; -1 for any other object. */
Py_ssize_t hd_pyversion_frame_sizeof(PyObject *obj);
Py_ssize_t hd_pyversion_values_bytes(PyObject *obj);
typedef int (*hd_gc_visit)(PyObject *obj, int extra, void *arg);
void hd_pyversion_gc_visit(hd_gc_visit visit, void *arg);
/* shims.c: version differences through the public API (may run Python).
 * The cyclic GC (gc.disable / enable on 3.9, PyGC_* after): init looks up
 * what is needed (module init; a dump never imports); disable returns
 * whether it was on, or -1 with an exception; enable keeps the caller's
 * exception. */
int hd_shims_gc_init(void);
int hd_shims_gc_disable(void);
void hd_shims_gc_enable(void);
/* Loader: when base is an exception group type (3.11+), make *out an
 * empty one of class cls (NULL on error) and return 1; else 0.  And give a
 * loaded group its message and members: 0, or -1 with TypeError. */
int hd_shims_group_shell(PyTypeObject *cls, PyTypeObject *base,
                         PyObject *empty_tuple, PyObject **out);
int hd_shims_set_group(PyObject *exc, PyObject *msg, PyObject *excs);

/* Threads of the interpreter of tstate. */
PyThreadState *hd_pyversion_thread_first(PyInterpreterState *interp);
unsigned long hd_pyversion_thread_native_id(PyThreadState *ts);
/* Innermost complete Python frame of ts, or NULL. */
hd_frame *hd_pyversion_thread_frame(PyThreadState *ts);
/* The next complete frame out, or NULL. */
hd_frame *hd_pyversion_frame_back(hd_frame *f);
/* The frame handle of a frame object (traceback, generator). NULL if the
 * frame has been cleared. */
hd_frame *hd_pyversion_frame_of(PyObject *frame_obj);
/* Identity of a frame for the walk: its frame object when it has one, else
 * the handle with its low bit set (HD_TAG_FRAME). */
void *hd_pyversion_frame_key(hd_frame *f);
int hd_pyversion_frame_info(hd_frame *f, hd_frame_info *info);
/* Fast slot i of a frame read by hd_pyversion_frame_info: HD_SLOT_OBJECT
 * with *value borrowed, HD_SLOT_EMPTY (unbound), or HD_SLOT_INT with *ival
 * (3.14+ may keep a tagged int, no object, in a slot). */
#define HD_SLOT_EMPTY 0
#define HD_SLOT_OBJECT 1
#define HD_SLOT_INT 2
int hd_pyversion_frame_slot(const hd_frame_info *info, Py_ssize_t i,
                            PyObject **value, int64_t *ival);
/* Where the instruction at byte offset lasti of co is: its line, and
 * (3.11+) end line and columns.  0 when the columns are known; -1 when
 * not (*lineno may still be, else -1; the others are -1). */
int hd_pyversion_code_position(PyCodeObject *co, int lasti, int *lineno,
                               int *end_lineno, int *col, int *end_col);

/* Code objects: names in frame-slot order and their HD_CK_* kinds; the
 * names tuple is borrowed when *owned is 0. name/qualname are borrowed. */
Py_ssize_t hd_pyversion_code_nnames(PyCodeObject *co);
PyObject *hd_pyversion_code_name_at(PyCodeObject *co, Py_ssize_t i, int *kind);
PyObject *hd_pyversion_code_qualname(PyCodeObject *co);

/* Generators and coroutines: the suspended frame handle (NULL when
 * finished) and a state name ("created", "suspended", "running",
 * "closed"). */
hd_frame *hd_pyversion_gen_frame(PyObject *gen, const char **state);
/* Their __name__ and __qualname__ (borrowed, may be NULL). */
void hd_pyversion_gen_names(PyObject *gen, PyObject **name,
                            PyObject **qualname);
/* Their code (borrowed, NULL when unreadable), finished or not. */
PyCodeObject *hd_pyversion_gen_code(PyObject *gen);

/* Instance __dict__ read without materializing it (3.11+ inline values).
 * Calls visit(key, value, arg) for each attribute in iteration order.
 * Returns 0, or -1 if the layout could not be read (nothing raised). */
typedef int (*hd_pair_visit)(PyObject *key, PyObject *value, void *arg);
int hd_pyversion_instance_dict(PyObject *obj, hd_pair_visit visit, void *arg);
/* obj's materialized instance dict (borrowed), or NULL. */
PyObject *hd_pyversion_dict_object(PyObject *obj);
/* The keys of the OrderedDict (or subclass) od in its order, which
 * move_to_end changes without touching the dict table: at most max of them
 * into keys.  Returns their number, or -1 when the order cannot be read
 * (an unknown layout, more than max).  Reads memory only. */
Py_ssize_t hd_pyversion_odict_keys(PyObject *od, PyObject **keys,
                                   Py_ssize_t max);

/* Sets: the next element after *pos (borrowed), 0 at the end. */
int hd_pyversion_set_next(PyObject *set, Py_ssize_t *pos, PyObject **key);
/* An int as little-endian two's complement in as few bytes as hold it,
 * into buf (cap bytes).  Returns the length, or -1 if cap is too small. */
Py_ssize_t hd_pyversion_long_bytes(PyObject *v, unsigned char *buf,
                                   size_t cap);
/* An int's shallow size, as int.__sizeof__ computes it. */
Py_ssize_t hd_pyversion_long_sizeof(PyObject *v);
/* Bytes an int needs in that form. */
size_t hd_pyversion_long_nbytes(PyObject *v);

/* The loader's frames (frames.c), on frames it made with PyFrame_New:
 * the bytes of co's bytecode; point f at the instruction at byte offset
 * lasti (even, in range); make back (a new reference is taken, or NULL)
 * f's caller; the fast slots f_locals is synchronized from (*n of them, 0
 * where f_locals does not read them). */
Py_ssize_t hd_pyversion_code_nbytes(PyCodeObject *co);
void hd_pyversion_frame_set_lasti(PyFrameObject *f, int lasti);
void hd_pyversion_frame_set_back(PyFrameObject *f, PyFrameObject *back);
PyObject **hd_pyversion_frame_fast_slots(PyFrameObject *f, Py_ssize_t *n);

/* The loader's tuple subclass instances: one of cls (a tuple subclass)
 * with n items, all NULL, as tuple's tp_new leaves it before filling it.
 * New reference, or NULL with an exception set.  Caller holds the GIL. */
PyObject *hd_pyversion_tuple_alloc(PyTypeObject *cls, Py_ssize_t n);

/* 1 while the interpreter is finalizing (no thread may take the GIL). */
int hd_pyversion_finalizing(void);
/* The struct offsets pyversion.c was compiled with against the running
 * interpreter's _Py_DebugOffsets (3.13+): field i's name and both values.
 * Returns how many fields there are (0 before 3.13), or -1 when the
 * interpreter publishes no offsets; fills the outputs only for i in
 * range. */
Py_ssize_t hd_pyversion_layout_field(Py_ssize_t i, const char **name,
                                     uint64_t *built, uint64_t *running);

/* 1 in a free-threaded build (3.13t, 3.14t: Py_GIL_DISABLED), which
 * module.c refuses at import. */
int hd_pyversion_gil_disabled(void);

/* Tag bit for frame keys that are not objects. */
#define HD_TAG_FRAME ((uintptr_t)1)

/* ------------------------------------------------------------------------
 * The hider: values hidden wherever they are met (see hide.c; a hider is
 * made by the Hider type, hd_hide_of gives it).
 */
/* flags of a hide entry, (value, flags) */
#define HD_HIDE_IDENTITY 1  /* the object itself */
#define HD_HIDE_WHOLE 2     /* an equal str, bytes or bytearray */
#define HD_HIDE_SUBSTRING 4 /* wherever it appears inside one */
#define HD_HIDE_ENVIRON 8   /* a value of the environment */
/* A secret given by value is hidden inside longer values when it has at
 * least this many characters (bytes for bytes), else where an equal value
 * is met: heapdump/_secrets.py applies the rule. */
#define HD_HIDE_MIN_SUBSTRING 8
typedef struct hd_hider hd_hider;

/* Pieces of a value to hide, [start, end): code points of a str, bytes
 * otherwise; sorted, disjoint. */
typedef struct hd_hide_range {
    Py_ssize_t start, end;
    int why;
} hd_hide_range;
#define HD_HIDE_MAX_RANGES 32
typedef struct hd_hide_ranges {
    size_t n;
    int overflow;
    hd_hide_range r[HD_HIDE_MAX_RANGES];
} hd_hide_ranges;

/* what hd_hide_value found */
enum { HD_HIDE_NONE = 0, HD_HIDE_ALL = 1, HD_HIDE_PARTS = 2 };

/* Whether h hides anything at all. */
int hd_hide_active(const hd_hider *h);
/* The reason (HD_WHY_*) obj is hidden by identity, or 0.  A few
 * instructions when it is not: a filter answers most objects. */
int hd_hide_object(const hd_hider *h, const void *obj);
/* What to hide of a str, bytes or bytearray (anything else: NONE):
 * HD_HIDE_ALL (out->r[0] says why), HD_HIDE_PARTS (out's ranges) or
 * HD_HIDE_NONE.  limit: only the first limit units are written (<0: all),
 * pieces past them are not looked for.  More pieces than
 * HD_HIDE_MAX_RANGES, or a value the rules would read more than a linear
 * number of times, hide it all.  Reads memory only. */
int hd_hide_value(const hd_hider *h, PyObject *obj, hd_hide_ranges *out,
                  Py_ssize_t limit);
/* The pieces of raw bytes (a source file) to hide: the SUBSTRING values
 * and the rules (not the WHOLE values: a file is no value).  visit returns
 * 0, or -1 to stop. */
typedef int (*hd_hide_visit)(void *arg, size_t start, size_t end, int why);
int hd_hide_bytes(const hd_hider *h, const unsigned char *p, size_t n,
                  hd_hide_visit visit, void *arg);
/* What hd_hide_bytes depends on in h, as bytes: two hiders with the same
 * key find the same pieces in any text.  Writes at most cap bytes of it
 * into out and returns its whole length (call again with a buffer that
 * large when it is more than cap).  Reads memory only. */
size_t hd_hide_text_key(const hd_hider *h, unsigned char *out, size_t cap);
/* s (a str) with its hidden pieces as HD_REDACTED_TEXT: a new reference.
 * GIL held, normal mode. */
PyObject *hd_hide_mask_text(const hd_hider *h, PyObject *s);
/* The hider of a heapdump._heapdump.Hider object (NULL for None or
 * anything else); whether obj is one (or None). */
const hd_hider *hd_hide_of(PyObject *obj);
int hd_hide_check(PyObject *obj);

/* ------------------------------------------------------------------------
 * writer/: the dumper, the state its files share.
 */
typedef struct hd_limits {
    Py_ssize_t max_objects; /* object records; <0 unlimited */
    Py_ssize_t max_bytes;   /* uncompressed body bytes; <0 unlimited */
    Py_ssize_t max_string;  /* str chars, bytes bytes; <0 unlimited */
    Py_ssize_t max_items;   /* container elements; <0 unlimited */
} hd_limits;

/* One attribute source of a layout: a dict key object or a C member. */
typedef struct hd_slot {
    void *key;           /* PyObject * (dict key) or PyMemberDef * */
    uintptr_t is_member; /* pointer-sized: no padding, so that layouts can
                            be compared with memcmp */
} hd_slot;

typedef struct hd_layout {
    PyTypeObject *type;
    uint32_t number;
    uint32_t nslots;
    uint64_t hash;
    hd_slot *slots;        /* into the dumper's slot arena */
    unsigned char *secret; /* per slot: 1 when its name looks secret */
} hd_layout;

/* redact.c: names that look secret. */
typedef struct hd_redactor {
    char **patterns; /* normalized (see redact.c), malloc'd, sorted by
                        their first byte */
    size_t n;
    size_t *lens;         /* strlen of each, malloc'd */
    uint32_t bucket[257]; /* patterns [bucket[c], bucket[c + 1]) begin
                             with byte c */
    size_t min_letters;   /* a name with fewer letters and digits than
                             the shortest pattern matches none */
    /* the verdicts of the names met (redact.c), malloc'd; NULL: none */
    struct hd_redact_seen *seen;
} hd_redactor;

/* Load the patterns (a sequence of str; None for none).  0 / -1 with an
 * exception set.  Caller holds the GIL. */
int hd_redact_init(hd_redactor *r, PyObject *patterns);
void hd_redact_free(hd_redactor *r);
/* Whether a name (a str; anything else is not secret) looks secret. */
int hd_redact_name(const hd_redactor *r, PyObject *name);
int hd_redact_cname(const hd_redactor *r, const char *name);
/* The same for n bytes (ASCII, or UTF-8 read a byte at a time). */
int hd_redact_bytes(const hd_redactor *r, const char *name, size_t n);
/* Whether a header name looks secret: a str, bytes or bytearray (the
 * first element of a (name, value) pair). */
int hd_redact_header(const hd_redactor *r, PyObject *name);

/* A set of pointers (unreached.c). */
typedef struct hd_pset {
    uintptr_t *slots;
    size_t cap, n;
} hd_pset;

typedef struct hd_dumper {
    /* output */
    hd_writer w;
    msgpack_packer pk;
    hd_limits limits;
    hd_redactor redact;
    /* what is hidden by value (borrowed; NULL: nothing), and the pieces
     * of the value being classified or written */
    const hd_hider *hide;
    hd_hide_ranges hide_ranges;
    /* tuple subclasses (namedtuples) and the bits of their fields whose
     * names look secret: a direct-mapped cache, no allocation */
    struct {
        PyTypeObject *type;
        uint64_t secret;
    } field_cache[64];

    /* identity and the BFS queue: queue[id] is the object (or tagged frame
     * handle) with that id; ids are assigned at discovery, records written
     * in id order.  The table maps a pointer to its id. */
    void **queue;
    size_t nqueued;
    size_t queue_cap;
    uint64_t *table; /* (id + 1) | (hash tag << 32); 0 = empty */
    size_t table_mask;
    /* object records beyond the budget are not queued */
    int budget_exhausted;

    /* layouts of instances, keyed by (type, slots) */
    hd_layout **layouts; /* open-addressing table */
    size_t layouts_mask;
    size_t nlayouts;
    hd_slot *slot_arena; /* current chunk */
    size_t slot_arena_used, slot_arena_cap;
    void **arena_chunks; /* every chunk, to free */
    size_t narena_chunks;

    /* scratch for reading one object's attributes / referents */
    hd_slot *scratch_slots;
    PyObject **scratch_vals;
    size_t scratch_n, scratch_cap;
    PyObject **refs;
    size_t nrefs, refs_cap;
    /* scratch for one container's elements and how each is written */
    PyObject **elems;
    int64_t *hows;
    size_t elems_cap;

    /* source files wanted: filename objects of dumped code, deduplicated
     * by content (walk.c: files_hash[i] is files[i]'s; files_set an open
     * addressing set of index + 1, 0 empty, files_set_cap slots; recent
     * a direct-mapped memo of filename objects already seen) */
    PyObject **files;
    size_t nfiles, files_cap;
    uint64_t *files_hash;
    size_t *files_set;
    size_t files_set_cap;
    PyObject *files_recent[64];

    /* the kind of the last class met by hd_kinds_of (classes are
     * never freed during a dump: the world stands still) */
    PyTypeObject *kind_cache_type;
    int kind_cache_kind;

    /* addr delta base */
    uintptr_t last_addr;
    /* the next queue entry whose record hd_pack_run writes */
    size_t next_record;

    /* heap scope (walk.c, "unreached"): the object the GC iteration holds
     * an extra reference on while its record may be written, and the ids
     * of unreached roots not yet written in a ROOTS record */
    int scope;
    PyObject *visiting;
    Py_ssize_t visiting_extra;
    uint32_t roots_buf[1024];
    size_t nroots_buf;
    uint64_t n_unreached;
    hd_pset folded;  /* dicts written as their owners' attributes */
    hd_pset marked;  /* objects an unwritten object refers to */
    PyObject **left; /* what is left after the entries, borrowed */
    size_t nleft, left_cap;

    /* inline values of the record being written: bytes per
     * hd_inline_type (the INLINE record after it) */
    uint64_t inline_bytes[HD_INL_N];
    /* sum of the object records' sizes and the inline values' */
    uint64_t shallow_bytes;

    /* stats for the trailer */
    uint64_t n_records;
    uint64_t n_inline;
    uint64_t n_cuts;
    uint64_t n_omitted;
    uint64_t n_errors;
    uint64_t n_redacted;
    uint64_t n_source_redacted; /* pieces masked in SOURCE texts */
    uint64_t n_sources_kept;    /* SOURCE records copied as kept frames */
    uint64_t n_frames;

    /* the thread that dumps, shown as current (NULL: none) */
    PyThreadState *tstate;
    /* modes (dump.c): no Python object may be created; frames only; in a
     * fatal signal handler (faults while reading abandon the object) */
    int no_alloc;
    int stacks_only;
    int fatal;
    /* set when a fault stopped the walk for good */
    int stopped;

    /* a C-level failure (out of memory) that stops the walk */
    const char *error;
} hd_dumper;

/* dump.c: one dump, in one of three modes (see dump.c). */
enum hd_mode {
    HD_MODE_NORMAL = 0,
    HD_MODE_STACKS = 1,
    HD_MODE_FATAL = 2,
};

typedef struct hd_request {
    const char *path; /* the final file name */
    int mode;
    PyInterpreterState *interp;  /* whose threads to dump */
    PyThreadState *tstate;       /* the thread shown as current, or NULL */
    PyThreadState *exclude;      /* a thread state to leave out, or NULL */
    unsigned long exclude_ident; /* a thread ident to leave out, or 0 */
    int skip;                    /* innermost frames of tstate to skip */
    PyObject *exc;               /* the exception, or NULL */
    PyObject *roots;             /* more named roots: dict str -> object,
                                    or NULL (ROOT records, after exc) */
    PyObject *reason;            /* a str, or NULL (then reason_c) */
    const char *reason_c;
    PyObject *facts;           /* META facts: dict or NULL */
    PyObject *headers;         /* PySequence_Fast of (name, value) */
    const char *extra_headers; /* preformatted "Name: value\n" lines */
    hd_limits limits;
    Py_ssize_t max_source;
    int level;                 /* zstd level */
    const hd_redactor *redact; /* borrowed, or NULL */
    const hd_hider *hide;      /* borrowed, or NULL */
    int scope;                 /* enum hd_scope */
} hd_request;

typedef struct hd_result {
    uint64_t objects, inline_, records, bytes, file_bytes, cuts, omitted,
        errors, redacted;
    Py_ssize_t threads;
    uint64_t sources_kept; /* SOURCE records written from the cache's
                              frames (sources.c) */
    int writer_thread;     /* the body was compressed on a writer thread */
    int64_t walk_ns;
    const char *error; /* why it failed (static), or NULL */
    int err_no;
} hd_result;

int hd_dump_init(void);
/* Write one dump.  Returns 0, or -1: in normal mode with a Python
 * exception set, in the others with res->error set. */
int hd_dump_run(const hd_request *req, hd_result *res);

/* signals.c: while a fatal dump reads one object, the jump buffer that a
 * second fault returns to (NULL otherwise). */
#include <setjmp.h>
extern sigjmp_buf *volatile hd_fault_jmp;
/* The thread state of heapdump's signal-dump thread while it dumps (left
 * out of the dump's threads), or NULL. */
extern PyThreadState *volatile hd_signals_tstate;
int hd_signals_init_module(PyObject *m);

/* The writer is a one-way stack: each file calls only the ones below it.
 *
 *   dump.c       the stages (META, THREAD, ROOT, TRAILER)
 *   unreached.c  the heap scope's last stage: unreached objects as roots
 *   pack.c       one object -> its record (and LAYOUT, CLASS, MORE);
 *                hd_pack_run drains the walk's queue
 *   sources.c    the SOURCE records
 *   walk.c       identity, the queue, the budget, layouts, values as
 *                references; ERROR records
 *   encode.c     scalars, inline values, the OMITTED / REDACTED markers
 *   kinds.c      record kind, shallow size, readable C members
 *   container.c  the file
 */

/* walk.c */
int hd_walk_init(hd_dumper *d);
void hd_walk_free(hd_dumper *d);
/* Remember the first failure: out of memory. */
void hd_walk_oom(hd_dumper *d);
/* A tp_traverse visit function that appends each referent to d->refs
 * (the caller sets d->nrefs first). */
int hd_walk_collect_ref(PyObject *o, void *arg);
/* Write a value: inline, a reference (queuing the object when new), or
 * OMITTED past the budget.  The same in two steps: classify (which queues)
 * then write, for records that must know their values before writing. */
void hd_walk_value(hd_dumper *d, PyObject *obj);
#define HD_DIRECT (-1)
#define HD_OMITTED (-2)
#define HD_REDACTED (-3) /* under a secret-looking name */
#define HD_MASKED (-4)   /* a str/bytes/bytearray with hidden pieces */
/* hidden whole by value: HD_HIDDEN - why (hd_why) */
#define HD_HIDDEN (-16)
int64_t hd_walk_classify(hd_dumper *d, PyObject *obj);
/* How a value under a secret-looking name is written: REDACTED when it is
 * plain data (a scalar, or containers of scalars: a credential pair, a
 * dict of settings), else as any value (a rich object is walked, its own
 * secrets caught at their names). */
int64_t hd_walk_secret(hd_dumper *d, PyObject *obj);
/* The bits (i < 64) of the fields of a tuple subclass whose names look
 * secret (a namedtuple's _fields), cached per type. */
uint64_t hd_walk_field_secrets(hd_dumper *d, PyTypeObject *type);
void hd_walk_write(hd_dumper *d, PyObject *obj, int64_t how);
/* Queue a root frame handle (and its callers are queued as the walk meets
 * them).  Returns its id, or -1. */
int64_t hd_walk_frame_root(hd_dumper *d, hd_frame *f);
/* Queue an object root regardless of the budget; returns its id or -1
 * (also when the hider hides it: it is written hidden where it is met). */
int64_t hd_walk_root(hd_dumper *d, PyObject *obj);
/* The same for a root named name (heapdump.set_context's): not queued
 * when it is plain data under a secret-looking name; and how its ROOT
 * record writes it. */
int64_t hd_walk_named_root(hd_dumper *d, PyObject *name, PyObject *obj);
int64_t hd_walk_named_how(hd_dumper *d, PyObject *name, PyObject *obj);
/* Queue obj (force: even past the budget); its id, or -1 past the budget
 * or out of memory. */
int64_t hd_walk_discover(hd_dumper *d, PyObject *obj, int force);
/* Whether the hider hides obj whole (a root so hidden is not queued). */
int hd_walk_root_hidden(hd_dumper *d, PyObject *obj);
/* Id of an already queued object, or -1. */
int64_t hd_walk_id(hd_dumper *d, const void *key);
/* The layout for obj's attributes (dict items, slots, C members), and in
 * *values their values (the layout's nslots of them; walker-owned, valid
 * until the next call); *is_new when the layout is new (its LAYOUT record
 * is still to be written: pack.c writes it).  NULL when obj has no
 * attributes. */
hd_layout *hd_walk_layout(hd_dumper *d, PyObject *obj, PyTypeObject *type,
                          PyObject *const **values, int *is_new);
/* Note that code's file is wanted in the SOURCE records. */
void hd_walk_want_source(hd_dumper *d, PyObject *filename);
/* Record a non-fatal read error (ERROR record). */
void hd_walk_note_error(hd_dumper *d, const char *fmt, ...);

/* pack.c */
/* Write records until the queue is empty (from the first one not written
 * yet: it may be called again after more roots were queued); in a fatal
 * dump each under a guard against faults (UNREADABLE records). */
void hd_pack_run(hd_dumper *d);
/* Write a reference to a frame handle (queuing it), or nil. */
void hd_pack_frame_ref(hd_dumper *d, hd_frame *f);

/* unreached.c: heap scope, after the walk from the other roots: every
 * GC-tracked object not written yet becomes a root (ROOTS records,
 * "unreached"), and what it reaches is walked right after it. */
void hd_unreached_run(hd_dumper *d);

/* sources.c: write the SOURCE records of the files in d->files; exc (the
 * dumped exception, or NULL): the frozen modules its traceback runs in get
 * their source (frozen.c). */
void hd_sources_write(hd_dumper *d, Py_ssize_t max_bytes, PyObject *exc);

/* frozen.c: the file a "<frozen NAME>" code file name was frozen from,
 * into path (cap bytes): 1 when it is such a name, a frame of the
 * traceback of exc (the dumped exception, or NULL) or of its chain runs
 * that code, and the standard library has the file; else 0.  Never in a
 * fatal signal handler. */
int hd_frozen_path(hd_dumper *d, PyObject *exc, PyObject *filename, char *path,
                   size_t cap);
/* frozen.c too: the value under an exact-str key of a dict (borrowed), found
 * by scanning it, so that no stored key's __eq__ or __hash__ can run; NULL
 * when dict is NULL, not a dict, or has no such key.  Caller holds the GIL;
 * dump.c reads sys.modules and threading's globals with it. */
PyObject *hd_frozen_dict_get(PyObject *dict, const char *name);

/* classes.c: take subtype_dealloc (0, or -1 with an exception); whether a
 * type itself is a class defined in Python (a C heap type is not). */
int hd_classes_init(void);
int hd_classes_python_class(PyTypeObject *tp);

/* encode.c */
/* Write an inline value (str/bytes/int/float) */
void hd_encode_inline(hd_dumper *d, PyObject *obj);
/* Write a C string as msgpack str. */
void hd_encode_cstr(hd_dumper *d, const char *s);
/* Write a str object as msgpack str (surrogatepass UTF-8), at most max
 * characters (<0: all). */
void hd_encode_str(hd_dumper *d, PyObject *s, Py_ssize_t max);
/* A metadata string: a str object written inline, or nil. */
void hd_encode_name(hd_dumper *d, PyObject *s);
/* Write an int object as ext INT. */
void hd_encode_int(hd_dumper *d, PyObject *v);
void hd_encode_int64(hd_dumper *d, int64_t v);
/* Write a float as float 32 when exact, else float 64. */
void hd_encode_double(hd_dumper *d, double v);
/* The module (want_module) or qualname of a type, as type.__module__ /
 * __qualname__ would say, read from its C layout. */
void hd_encode_type_qualname(hd_dumper *d, PyTypeObject *tp, int want_module);
/* Write the ext 3 OMITTED marker for obj. */
void hd_encode_omitted(hd_dumper *d, PyObject *obj, int ext);
/* Write the ext 4 REDACTED marker for obj, hidden whole for why
 * (HD_WHY_*), or with ranges (not NULL) its other pieces kept. */
void hd_encode_redacted(hd_dumper *d, PyObject *obj, int why,
                        const hd_hide_ranges *ranges);
/* The REDACTED marker of an int that is no object (a tagged frame slot,
 * 3.14+), hidden for why. */
void hd_encode_redacted_int(hd_dumper *d, int why);
/* Write plain data (None, bool, int, float, str, bytes, list, tuple, dict
 * of those) built by heapdump itself: the META record's facts. */
void hd_encode_plain(hd_dumper *d, PyObject *obj, int depth);

/* kinds.c */
/* Find the builtin C __sizeof__ functions (module init). */
int hd_kinds_init(void);
/* The record kind obj is written as (by its exact or base type). */
int hd_kinds_of(hd_dumper *d, PyObject *obj);
/* The kind instances of tp are written as (TYPE records' base_kind). */
int hd_kinds_of_type(PyTypeObject *tp);
/* Whether obj, written as kind, is an instance of a subclass of the
 * builtin type of that kind (its record is preceded by CLASS). */
int hd_kinds_is_subclass(PyObject *obj, int kind);
/* Whether a C member of this type can be read and written as a value. */
int hd_kinds_member_readable(const PyMemberDef *m);
/* Shallow size of obj as sys.getsizeof reports it, from its C layout (no
 * __sizeof__ override is called): the C __sizeof__ of its builtin type
 * plus the GC pre-header. */
Py_ssize_t hd_kinds_sizeof(PyObject *obj);
/* hd_kinds_sizeof, or in the signal modes (no Python object created) the
 * generic size plus the pre-header. */
Py_ssize_t hd_kinds_size(hd_dumper *d, PyObject *obj);
/* The bytes of obj's attribute storage its own size leaves out. */
Py_ssize_t hd_kinds_attr_storage(hd_dumper *d, PyObject *obj);

/* A pointer's hash, for the identity table and the pointer sets. */
static inline uint64_t
hd_ptr_hash(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

/* ------------------------------------------------------------------------
 * srcmask.c: secret literals masked in a source file's text.
 */
typedef struct hd_srcmask {
    /* one per masked piece: 1-based lines, 0-based code point columns,
     * the end exclusive, and why (HD_WHY_*) */
    struct hd_srcmask_piece {
        int32_t line, col, end_line, end_col;
        int why;
    } * pieces;
    size_t n, cap;
} hd_srcmask;

/* Mask, in text (len bytes, changed in place; *len may shrink), the
 * string literals assigned to secret-looking names (r) and what h hides
 * in it (h may be NULL): every masked code point becomes '*' but quotes,
 * backslashes, braces of f-strings and line breaks, so lines and columns
 * stay where they were.  The pieces go into out (malloc'd; free with
 * hd_srcmask_free).  Returns 0, or -1 out of memory (text unchanged).
 * No Python object is touched: the signal modes call it. */
int hd_srcmask_run(const hd_redactor *r, const hd_hider *h, char *text,
                   size_t *len, hd_srcmask *out);
void hd_srcmask_free(hd_srcmask *m);

/* ------------------------------------------------------------------------
 * Module hooks: each adds its functions and types to the module at init
 * (multi-phase init, called from module.c's exec slot).  Return 0 / -1.
 */
int hd_constants_init_module(PyObject *m); /* constants.c: format.h's
                                              facts */
int hd_load_init_module(PyObject *m);      /* load.c */
int hd_frames_init_module(PyObject *m);    /* frames.c (the loader's frame
                                              rebuilding for pdb) */
int hd_dump_init_module(PyObject *m);      /* module.c's dump functions */
int hd_hide_init_module(PyObject *m);      /* hide.c: the Hider type */
int hd_redact_init_module(PyObject *m);    /* redact.c: looks_secret() */
int hd_srcmask_init_module(PyObject *m);   /* srcmask.c: mask_source() */
int hd_graph_init_module(PyObject *m);     /* graph.c: the heap analysis */
#endif                                     /* HEAPDUMP_H */
