/* Compiled fast paths of the Part 10 element walk and of the canonical header digests.
 *
 * Optional: radguard.dicom.dataset and radguard.archive.digest use this module when it is importable
 * (and RADGUARD_NO_SPEEDUPS is unset) and their pure-Python code otherwise. It handles only the
 * success path: whenever an element is anything the Python code would report as an issue, or
 * anything unusual, the C code stops and hands that position back to the Python code, which then
 * produces exactly the result (and the issue) it always did. Every length is bounds-checked before
 * use; recursion is capped at the Python depth limits (DICOM PS3.5 §7.1, §7.5).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define UNDEF 0xFFFFFFFFu
#define ITEM 0xFFFEE000u
#define ITEM_DELIM 0xFFFEE00Du
#define SEQ_DELIM 0xFFFEE0DDu
#define MAX_DEPTH 32      /* radguard.dicom.dataset.MAX_DEPTH */
#define CANON_DEPTH 16    /* radguard.archive.digest._canonical */
#define PADDING_TAG 0xFFFCFFFCu

typedef struct { const char *name; int is_long; int swap; } vr_def;

/* PS3.5 Table 6.2-1; is_long: 12-byte explicit header (PS3.5 §7.1.2); swap: byte width of the
 * numeric values that big endian reverses (radguard.archive.digest._SWAP, PS3.5 §7.3) */
static const vr_def VRS[] = {
    {"OB", 1, 0}, {"OD", 1, 8}, {"OF", 1, 4}, {"OL", 1, 4}, {"OV", 1, 8}, {"OW", 1, 2}, {"SQ", 1, 0},
    {"UC", 1, 0}, {"UN", 1, 0}, {"UR", 1, 0}, {"UT", 1, 0}, {"SV", 1, 8}, {"UV", 1, 8}, {"AE", 0, 0},
    {"AS", 0, 0}, {"AT", 0, 2}, {"CS", 0, 0}, {"DA", 0, 0}, {"DS", 0, 0}, {"DT", 0, 0}, {"FL", 0, 4},
    {"FD", 0, 8}, {"IS", 0, 0}, {"LO", 0, 0}, {"LT", 0, 0}, {"PN", 0, 0}, {"SH", 0, 0}, {"SL", 0, 4},
    {"SS", 0, 2}, {"ST", 0, 0}, {"TM", 0, 0}, {"UI", 0, 0}, {"UL", 0, 4}, {"US", 0, 2},
};
#define NVRS ((int)(sizeof(VRS) / sizeof(VRS[0])))
enum { VR_NONE = -1 };
static PyObject *vr_str[NVRS];
static PyObject *empty_str;
static int VR_OB, VR_OW, VR_SQ, VR_UN;

static int vr_index(const unsigned char *p) {
    for (int i = 0; i < NVRS; i++)
        if (VRS[i].name[0] == (char)p[0] && VRS[i].name[1] == (char)p[1]) return i;
    return VR_NONE;
}

static inline uint32_t u16(const unsigned char *p, int little) {
    return little ? (uint32_t)p[0] | ((uint32_t)p[1] << 8) : ((uint32_t)p[0] << 8) | (uint32_t)p[1];
}
static inline uint32_t u32(const unsigned char *p, int little) {
    return little ? (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24)
                  : ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}
static inline int is_pixel(uint32_t tag) { return tag == 0x7FE00010u || tag == 0x7FE00008u || tag == 0x7FE00009u; }

typedef struct { const unsigned char *b; int64_t n; } buf_t;

/* Walker.header: 0 on success, -1 where the Python code raises */
static int header(const buf_t *B, int explicit, int little, int64_t pos, int64_t end,
                  uint32_t *tag, int *vr, uint32_t *len, int64_t *vpos) {
    if (pos + 8 > end) return -1;
    const unsigned char *p = B->b + pos;
    uint32_t g = u16(p, little), e = u16(p + 2, little);
    *tag = (g << 16) | e;
    if (!explicit || g == 0xFFFE) {
        *vr = VR_NONE;
        *len = u32(p + 4, little);
        *vpos = pos + 8;
        return 0;
    }
    int k = vr_index(p + 4);
    if (k == VR_NONE) return -1;
    *vr = k;
    if (VRS[k].is_long) {
        if (pos + 12 > end) return -1;
        *len = u32(p + 8, little);
        *vpos = pos + 12;
    } else {
        *len = u16(p + 6, little);
        *vpos = pos + 8;
    }
    return 0;
}

static int64_t skip_sequence(const buf_t *B, int explicit, int little, int64_t pos, int64_t end, int depth);

/* Walker.skip_items_elements / skip_value: the end position, or -1 */
static int64_t skip_value(const buf_t *B, int explicit, int little, uint32_t tag, int vr, uint32_t len,
                          int64_t vpos, int64_t end, int depth) {
    if (len == UNDEF) {
        if (vr == VR_UN && explicit) return skip_sequence(B, 0, 1, vpos, end, depth + 1);
        if (vr == VR_SQ || vr == VR_UN || vr == VR_NONE || is_pixel(tag) || vr == VR_OB || vr == VR_OW)
            return skip_sequence(B, explicit, little, vpos, end, depth + 1);
        return -1;
    }
    if (vpos + (int64_t)len > end) return -1;
    return vpos + (int64_t)len;
}

static int64_t skip_items_elements(const buf_t *B, int explicit, int little, int64_t pos, int64_t end, int depth) {
    for (;;) {
        uint32_t tag, len; int vr; int64_t vpos;
        if (header(B, explicit, little, pos, end, &tag, &vr, &len, &vpos)) return -1;
        if (tag == ITEM_DELIM) return vpos;
        pos = skip_value(B, explicit, little, tag, vr, len, vpos, end, depth);
        if (pos < 0) return -1;
    }
}

static int64_t skip_sequence(const buf_t *B, int explicit, int little, int64_t pos, int64_t end, int depth) {
    if (depth > MAX_DEPTH) return -1;
    for (;;) {
        uint32_t tag, len; int vr; int64_t vpos;
        if (header(B, explicit, little, pos, end, &tag, &vr, &len, &vpos)) return -1;
        if (tag == SEQ_DELIM) return vpos;
        if (tag != ITEM) return -1;
        if (len == UNDEF) {
            pos = skip_items_elements(B, explicit, little, vpos, end, depth + 1);
            if (pos < 0) return -1;
        } else {
            if (vpos + (int64_t)len > end) return -1;
            pos = vpos + (int64_t)len;
        }
    }
}

static PyObject *new_element(PyTypeObject *et, uint32_t tag, int vr, int64_t pos, int64_t vpos, int64_t len,
                             int undefined);

/* walk(buf, pos, explicit, little, last, out, Element) -> (pos, last, seen_pixel)
 * Appends the well-formed top-level elements from ``pos`` to ``out``; stops at the first element
 * the Python walk_dataset must look at itself (issue, trailing data) or at the end. */
static PyObject *py_walk(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer view;
    Py_ssize_t start;
    int explicit, little;
    long long last;
    PyObject *out, *etype;
    if (!PyArg_ParseTuple(args, "y*nppLO!O!", &view, &start, &explicit, &little, &last, &PyList_Type, &out,
                          &PyType_Type, &etype))
        return NULL;
    buf_t B = {(const unsigned char *)view.buf, (int64_t)view.len};
    PyTypeObject *et = (PyTypeObject *)etype;
    int64_t pos = start, end = B.n;
    int seen_pixel = 0;
    while (pos >= 0 && pos < end) {
        if (end - pos < 8) break;
        const unsigned char *p = B.b + pos;
        uint32_t g = u16(p, little), e = u16(p + 2, little), tag = (g << 16) | e, len;
        int vr = VR_NONE;
        int64_t vpos, nxt;
        if ((long long)tag <= last || g == 0xFFFE) break;
        if (g == 0x0002 && PyList_GET_SIZE(out) > 0) break;
        if (header(&B, explicit, little, pos, end, &tag, &vr, &len, &vpos) < 0) break;  /* not FFFE: see above */
        if (len == UNDEF) {
            nxt = skip_value(&B, explicit, little, tag, vr, len, vpos, end, 0);
            if (nxt < 0) break;
        } else {
            if ((len & 1) && vr != VR_UN && vr != VR_NONE) break;
            nxt = vpos + (int64_t)len;
            if (nxt > end) break;
        }
        PyObject *el = new_element(et, tag, vr, pos, vpos, nxt - vpos, len == UNDEF);
        if (el == NULL || PyList_Append(out, el) < 0) {
            Py_XDECREF(el);
            PyBuffer_Release(&view);
            return NULL;
        }
        Py_DECREF(el);
        if (is_pixel(tag)) seen_pixel = 1;
        last = tag;
        pos = nxt;
    }
    PyBuffer_Release(&view);
    return Py_BuildValue("LLO", (long long)pos, last, seen_pixel ? Py_True : Py_False);
}

/* seek(buf, pos, explicit, little, wanted, last) -> pos
 * radguard.dicom.dataset.find's fast path: skips the top-level elements that loop would only step
 * over (tag not in the tuple ``wanted``, at most ``last``, defined length, within the buffer, a valid
 * VR in explicit VR; no objects made) and stops at the first other one, which the Python loop reads
 * itself as it always did, or at the end. Tag order is not checked: find does not check it either. */
#define SEEK_WANTED 8
static PyObject *py_seek(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer view;
    Py_ssize_t start;
    int explicit, little;
    PyObject *wanted_tuple;
    long long last;
    if (!PyArg_ParseTuple(args, "y*nppO!L", &view, &start, &explicit, &little, &PyTuple_Type, &wanted_tuple,
                          &last))
        return NULL;
    Py_ssize_t nwanted = PyTuple_GET_SIZE(wanted_tuple);
    long long wanted[SEEK_WANTED];
    if (nwanted > SEEK_WANTED) nwanted = -1; /* too many: skip nothing */
    for (Py_ssize_t i = 0; i < nwanted; i++) {
        wanted[i] = PyLong_AsLongLong(PyTuple_GET_ITEM(wanted_tuple, i));
        if (wanted[i] == -1 && PyErr_Occurred()) {
            PyBuffer_Release(&view);
            return NULL;
        }
    }
    buf_t B = {(const unsigned char *)view.buf, (int64_t)view.len};
    int64_t pos = start, end = B.n;
    while (nwanted >= 0 && pos >= 0 && end - pos >= 8) {
        const unsigned char *p = B.b + pos;
        uint32_t tag = (u16(p, little) << 16) | u16(p + 2, little), len;
        int64_t vpos;
        int hit = (long long)tag > last;
        for (Py_ssize_t i = 0; i < nwanted && !hit; i++) hit = (long long)tag == wanted[i];
        if (hit || (tag >> 16) == 0xFFFE) break;  /* an item at the top level: the Python loop decides */
        int vr;
        if (header(&B, explicit, little, pos, end, &tag, &vr, &len, &vpos) < 0) break;
        if (len == UNDEF || vpos + (int64_t)len > end) break;
        pos = vpos + (int64_t)len;
    }
    PyBuffer_Release(&view);
    return PyLong_FromLongLong((long long)pos);
}

/* candidates(buf, elements, first, text, prefix2, document) -> list | None
 * radguard.inspect.checks.active_content._candidates' fast path: the elements (tag, vr, offset,
 * value_offset, length, ...) whose tag is ``document``, or whose value has 4+ bytes, is opaque (private
 * tag, or VR "OB", "UN", "OW" or "" (implicit)) and starts with a byte marked in the 256-byte table
 * ``first`` and then either marked in ``text`` or, with the next byte, in the 65536-byte table
 * ``prefix2`` (index byte0 * 256 + byte1). None (the Python comprehension decides) for anything
 * unusual: an element that is no such tuple, a number that does not fit, a value offset outside ``buf``. */
static int opaque_vr(PyObject *vr) {
    if (!PyUnicode_Check(vr)) return -1;
    if (PyUnicode_GET_LENGTH(vr) == 0) return 1;
    return PyUnicode_CompareWithASCIIString(vr, "OB") == 0 || PyUnicode_CompareWithASCIIString(vr, "UN") == 0 ||
           PyUnicode_CompareWithASCIIString(vr, "OW") == 0;
}

static PyObject *py_candidates(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer view, first, text, prefix2;
    PyObject *elements;
    long long document;
    if (!PyArg_ParseTuple(args, "y*O!y*y*y*L", &view, &PyList_Type, &elements, &first, &text, &prefix2, &document))
        return NULL;
    PyObject *out = NULL;
    if (first.len != 256 || text.len != 256 || prefix2.len != 65536) {
        PyErr_SetString(PyExc_ValueError, "candidates: tables of 256, 256 and 65536 bytes expected");
        goto done;
    }
    const unsigned char *b = (const unsigned char *)view.buf, *f = (const unsigned char *)first.buf,
                        *t = (const unsigned char *)text.buf, *p2 = (const unsigned char *)prefix2.buf;
    out = PyList_New(0);
    if (out == NULL) goto done;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(elements); i++) {
        PyObject *e = PyList_GET_ITEM(elements, i);
        if (!PyTuple_Check(e) || PyTuple_GET_SIZE(e) < 5 || !PyLong_CheckExact(PyTuple_GET_ITEM(e, 0)) ||
            !PyLong_CheckExact(PyTuple_GET_ITEM(e, 3)) || !PyLong_CheckExact(PyTuple_GET_ITEM(e, 4)))
            goto fallback;
        int overflow = 0;
        long long tag = PyLong_AsLongLongAndOverflow(PyTuple_GET_ITEM(e, 0), &overflow);
        if (overflow) goto fallback;
        long long vo = PyLong_AsLongLongAndOverflow(PyTuple_GET_ITEM(e, 3), &overflow);
        if (overflow) goto fallback;
        long long len = PyLong_AsLongLongAndOverflow(PyTuple_GET_ITEM(e, 4), &overflow);
        if (overflow) goto fallback;
        int take = tag == document;
        if (!take && len >= 4) {
            if (vo < 0 || vo + 2 > (long long)view.len) goto fallback;
            unsigned char c0 = b[vo], c1 = b[vo + 1];
            if (f[c0]) {
                int opaque = (tag >> 16) & 1;
                if (!opaque) {
                    opaque = opaque_vr(PyTuple_GET_ITEM(e, 1));
                    if (opaque < 0) goto fallback;
                }
                take = opaque && (t[c0] || p2[c0 * 256 + c1]);
            }
        }
        if (take && PyList_Append(out, e) < 0) {
            Py_CLEAR(out);
            goto done;
        }
    }
    goto done;
fallback:
    Py_CLEAR(out);
    out = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&view);
    PyBuffer_Release(&first);
    PyBuffer_Release(&text);
    PyBuffer_Release(&prefix2);
    return out;
}

static PyObject *new_element(PyTypeObject *et, uint32_t tag, int vr, int64_t pos, int64_t vpos, int64_t len,
                             int undefined) {
    PyObject *el = et->tp_alloc(et, 6);
    if (el == NULL) return NULL;
    PyObject *vs = vr == VR_NONE ? empty_str : vr_str[vr], *u = undefined ? Py_True : Py_False;
    Py_INCREF(vs);
    Py_INCREF(u);
    PyTuple_SET_ITEM(el, 0, PyLong_FromUnsignedLong(tag));
    PyTuple_SET_ITEM(el, 1, vs);
    PyTuple_SET_ITEM(el, 2, PyLong_FromLongLong(pos));
    PyTuple_SET_ITEM(el, 3, PyLong_FromLongLong(vpos));
    PyTuple_SET_ITEM(el, 4, PyLong_FromLongLong(len));
    PyTuple_SET_ITEM(el, 5, u);
    for (int i = 0; i < 5; i++)
        if (PyTuple_GET_ITEM(el, i) == NULL) { Py_DECREF(el); return NULL; }
    return el;
}

/* meta(buf, pos, out, Element) -> pos
 * The well-formed file meta elements (group 0002, explicit VR little endian, PS3.10 §7.1) from
 * ``pos`` into the dict ``out``; radguard.dicom.dataset.walk_meta reads whatever stops it. */
static PyObject *py_meta(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer view;
    Py_ssize_t start;
    PyObject *out, *etype;
    if (!PyArg_ParseTuple(args, "y*nO!O!", &view, &start, &PyDict_Type, &out, &PyType_Type, &etype)) return NULL;
    buf_t B = {(const unsigned char *)view.buf, (int64_t)view.len};
    int64_t pos = start, end = B.n;
    while (pos >= 0 && pos + 8 <= end && u16(B.b + pos, 1) == 0x0002) {
        uint32_t tag, len; int vr; int64_t vpos;
        if (header(&B, 1, 1, pos, end, &tag, &vr, &len, &vpos) || len == UNDEF || vpos + (int64_t)len > end) break;
        PyObject *el = new_element((PyTypeObject *)etype, tag, vr, pos, vpos, len, 0), *key = PyLong_FromUnsignedLong(tag);
        if (el == NULL || key == NULL || PyDict_SetItem(out, key, el) < 0) {
            Py_XDECREF(el);
            Py_XDECREF(key);
            PyBuffer_Release(&view);
            return NULL;
        }
        Py_DECREF(el);
        Py_DECREF(key);
        pos = vpos + (int64_t)len;
    }
    PyBuffer_Release(&view);
    return PyLong_FromLongLong(pos);
}

/* ---- canonical header (radguard.archive.digest, little endian only) ---- */

typedef struct { unsigned char *p; size_t n, cap; int oom; } out_t;

static int grow(out_t *o, size_t add) {
    if (o->n + add <= o->cap) return 0;
    size_t cap = o->cap ? o->cap : 4096;
    while (cap < o->n + add) cap *= 2;
    unsigned char *np = realloc(o->p, cap);
    if (np == NULL) { o->oom = 1; return -1; }
    o->p = np;
    o->cap = cap;
    return 0;
}
static int put(out_t *o, const void *src, size_t n) {
    if (grow(o, n)) return -1;
    memcpy(o->p + o->n, src, n);
    o->n += n;
    return 0;
}
static int put_be32(out_t *o, uint32_t v) {
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v};
    return put(o, b, 4);
}
static const unsigned char ITEM_LE[4] = {0xfe, 0xff, 0x00, 0xe0};
static const unsigned char ITEM_BE[4] = {0xff, 0xfe, 0xe0, 0x00};

static int item_at(const buf_t *B, int64_t pos) {
    return pos >= 0 && pos + 4 <= B->n && (!memcmp(B->b + pos, ITEM_LE, 4) || !memcmp(B->b + pos, ITEM_BE, 4));
}

static int canonical(const buf_t *B, out_t *o, int explicit, int little, uint32_t tag, int vr, int64_t vpos,
                     int64_t end, int undefined, int depth);

/* _items_canonical_slow (big endian): 0, or -1 where the Python code raises */
static int items_canonical_be(const buf_t *B, out_t *o, int explicit, int64_t start, int64_t end, int depth) {
    int64_t pos = start, limit = B->n;
    while (pos < end) {
        uint32_t itag, length; int ivr; int64_t vpos;
        if (header(B, explicit, 0, pos, limit, &itag, &ivr, &length, &vpos)) return -1;
        if (itag == SEQ_DELIM) break;
        if (itag != ITEM) return -1;
        int64_t item_end = length == UNDEF ? limit : vpos + (int64_t)length;
        if (put(o, ITEM_LE, 4)) return -1;
        pos = vpos;
        int delimited = 0;
        while (pos < item_end) {
            uint32_t etag, elen; int vr; int64_t epos;
            if (header(B, explicit, 0, pos, limit, &etag, &vr, &elen, &epos)) return -1;
            if (etag == ITEM_DELIM) { pos = epos; delimited = 1; break; }
            int64_t nxt = skip_value(B, explicit, 0, etag, vr, elen, epos, limit, depth + 1);
            if (nxt < 0) return -1;
            if (canonical(B, o, explicit, 0, etag, vr, epos, nxt, elen == UNDEF, depth + 1)) return -1;
            pos = nxt;
        }
        if (!delimited) pos = item_end;
    }
    return 0;
}

/* _items_canonical: 0, or -1 where the Python code raises (_Stop / struct.error) */
static int items_canonical(const buf_t *B, out_t *o, int explicit, int64_t start, int64_t end, int depth) {
    int64_t pos = start, limit = B->n;
    while (pos < end) {
        if (pos + 8 > limit) return -1;
        const unsigned char *p = B->b + pos;
        uint32_t g = u16(p, 1), e = u16(p + 2, 1), length = u32(p + 4, 1);
        if (g != 0xFFFE) return -1;
        if (e == 0xE0DD) break;
        if (e != 0xE000) return -1;
        int64_t item_end = length == UNDEF ? limit : pos + 8 + (int64_t)length;
        if (put(o, ITEM_LE, 4)) return -1;
        pos += 8;
        int delimited = 0;
        while (pos < item_end) {
            if (pos + 8 > limit) return -1;
            p = B->b + pos;
            uint32_t eg = u16(p, 1), ee = u16(p + 2, 1), tag = (eg << 16) | ee, elen;
            int vr = VR_NONE;
            int64_t epos;
            if (tag == ITEM_DELIM) { pos += 8; delimited = 1; break; }
            if (explicit && eg != 0xFFFE) {
                vr = vr_index(p + 4);
                if (vr == VR_NONE) return -1;
                if (VRS[vr].is_long) {
                    if (pos + 12 > limit) return -1;
                    elen = u32(p + 8, 1);
                    epos = pos + 12;
                } else {
                    elen = u16(p + 6, 1);
                    epos = pos + 8;
                }
            } else {
                elen = u32(p + 4, 1);
                epos = pos + 8;
            }
            int undefined = elen == UNDEF;
            int64_t nxt;
            if (!undefined && vr != VR_SQ && !((vr == VR_NONE || vr == VR_UN) && item_at(B, epos))) {
                nxt = epos + (int64_t)elen;
                if (nxt > limit) return -1;
                if (put_be32(o, tag) || put_be32(o, elen) || put(o, B->b + epos, (size_t)elen)) return -1;
            } else {
                nxt = skip_value(B, explicit, 1, tag, vr, elen, epos, limit, depth + 1);
                if (nxt < 0) return -1;
                if (canonical(B, o, explicit, 1, tag, vr, epos, nxt, undefined, depth + 1)) return -1;
            }
            pos = nxt;
        }
        if (!delimited) pos = item_end;
    }
    return 0;
}

/* _canonical: tag (4, BE) || length (4, BE) || value; -1 only when out of memory */
static int canonical(const buf_t *B, out_t *o, int explicit, int little, uint32_t tag, int vr, int64_t vpos,
                     int64_t end, int undefined, int depth) {
    if (put_be32(o, tag) || put_be32(o, 0)) return -1;
    size_t mark = o->n;
    int done = 0;
    int sq = vr == VR_SQ || ((vr == VR_NONE || vr == VR_UN) && (undefined || item_at(B, vpos)));
    if (depth < CANON_DEPTH && sq) {
        if ((little ? items_canonical(B, o, explicit, vpos, end, depth)
                    : items_canonical_be(B, o, explicit, vpos, end, depth)) == 0)
            done = 1;
        else if (o->oom) return -1;
        else o->n = mark;
    }
    if (!done) {
        int64_t a = vpos < 0 ? 0 : vpos, b = end > B->n ? B->n : end;
        if (b > a && put(o, B->b + a, (size_t)(b - a))) return -1;
        int w = vr >= 0 ? VRS[vr].swap : 0;
        if (!little && w > 0 && b > a) { /* _value_bytes: each full value reversed, a tail kept */
            unsigned char *v = o->p + o->n - (size_t)(b - a);
            size_t usable = (size_t)(b - a) - (size_t)(b - a) % (size_t)w;
            for (size_t i = 0; i < usable; i += (size_t)w)
                for (int j = 0; j < w / 2; j++) {
                    unsigned char t = v[i + (size_t)j];
                    v[i + (size_t)j] = v[i + (size_t)(w - 1 - j)];
                    v[i + (size_t)(w - 1 - j)] = t;
                }
        }
    }
    size_t vlen = o->n - mark;
    if (vlen > 0xFFFFFFFFu) { o->oom = 1; return -1; }
    unsigned char *lp = o->p + mark - 4;
    lp[0] = (unsigned char)(vlen >> 24); lp[1] = (unsigned char)(vlen >> 16);
    lp[2] = (unsigned char)(vlen >> 8); lp[3] = (unsigned char)vlen;
    return 0;
}

static uint32_t crc_table[8][256];

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[0][i] = c;
    }
    for (int t = 1; t < 8; t++)
        for (int i = 0; i < 256; i++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xFF];
}

/* CRC-32 as zlib.crc32 (ISO 3309), slicing by 8 */
static uint32_t crc32_of(const unsigned char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    while (n >= 8) {
        uint32_t lo = c ^ ((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24));
        c = crc_table[7][lo & 0xFF] ^ crc_table[6][(lo >> 8) & 0xFF] ^ crc_table[5][(lo >> 16) & 0xFF]
            ^ crc_table[4][lo >> 24] ^ crc_table[3][p[4]] ^ crc_table[2][p[5]] ^ crc_table[1][p[6]]
            ^ crc_table[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n--) c = crc_table[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static int vr_of(PyObject *s) {
    if (!PyUnicode_Check(s)) return -2;
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    if (n == 0) return VR_NONE;
    const char *u = PyUnicode_AsUTF8(s);
    if (u == NULL || n != 2) return -2;
    int k = vr_index((const unsigned char *)u);
    return k == VR_NONE ? -2 : k;
}

/* digest(buf, elements, explicit, little, phi, keyed) -> (canonical header bytes, {"GGGGEEEE": "8 hex"})
 * radguard.archive.digest.header_digests; ``keyed(bytes) -> str`` gives
 * the digest of a patient-identifying element (tags in the set ``phi``). */
/* ``f"{x:08X}"`` (digits "0123456789ABCDEF") or ``f"{x:08x}"`` as an ASCII str, without snprintf */
static PyObject *hex8(uint32_t x, const char *digits) {
    PyObject *s = PyUnicode_New(8, 127);
    if (s == NULL) return NULL;
    Py_UCS1 *d = PyUnicode_1BYTE_DATA(s);
    for (int i = 7; i >= 0; i--, x >>= 4) d[i] = (Py_UCS1)digits[x & 0xF];
    return s;
}

static PyObject *py_digest(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer view;
    int explicit, little;
    PyObject *elements, *phi, *keyed;
    if (!PyArg_ParseTuple(args, "y*OppOO", &view, &elements, &explicit, &little, &phi, &keyed)) return NULL;
    buf_t B = {(const unsigned char *)view.buf, (int64_t)view.len};
    out_t o = {NULL, 0, 0, 0};
    PyObject *crcs = PyDict_New(), *seq = PySequence_Fast(elements, "elements must be a sequence");
    PyObject *result = NULL;
    if (crcs == NULL || seq == NULL) goto done;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *el = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyTuple_Check(el) || PyTuple_GET_SIZE(el) < 6) { PyErr_SetString(PyExc_TypeError, "bad element"); goto done; }
        unsigned long tag = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(el, 0));
        long long vo = PyLong_AsLongLong(PyTuple_GET_ITEM(el, 3));
        long long length = PyLong_AsLongLong(PyTuple_GET_ITEM(el, 4));
        int undefined = PyObject_IsTrue(PyTuple_GET_ITEM(el, 5));
        if (PyErr_Occurred() || undefined < 0) goto done;
        if ((tag >> 16) == 0x0002 || is_pixel((uint32_t)tag) || tag == PADDING_TAG) continue;
        int vr = vr_of(PyTuple_GET_ITEM(el, 1));
        if (vr == -2 || vo < 0 || length < 0 || vo + length > B.n || length > 0xFFFFFFFFLL || tag > 0xFFFFFFFFul) {
            PyErr_SetString(PyExc_ValueError, "element outside the buffer");
            goto done;
        }
        size_t mark = o.n;
        if (little && vr != VR_SQ && !undefined && !((vr == VR_NONE || vr == VR_UN) && item_at(&B, vo))) {
            if (put_be32(&o, (uint32_t)tag) || put_be32(&o, (uint32_t)length) || put(&o, B.b + vo, (size_t)length))
                goto nomem;
        } else if (canonical(&B, &o, explicit, little, (uint32_t)tag, vr, vo, vo + length, undefined, 0)) {
            goto nomem;
        }
        PyObject *k = hex8((uint32_t)tag, "0123456789ABCDEF"), *v = NULL, *tg = PyLong_FromUnsignedLong(tag);
        int is_phi = tg == NULL ? -1 : PySet_Contains(phi, tg);
        Py_XDECREF(tg);
        if (k != NULL && is_phi == 1) {
            PyObject *seg = PyBytes_FromStringAndSize((const char *)o.p + mark, (Py_ssize_t)(o.n - mark));
            if (seg != NULL) v = PyObject_CallOneArg(keyed, seg);
            Py_XDECREF(seg);
        } else if (k != NULL && is_phi == 0) {
            v = hex8(crc32_of(o.p + mark, o.n - mark), "0123456789abcdef");
        }
        if (k == NULL || v == NULL || PyDict_SetItem(crcs, k, v) < 0) {
            Py_XDECREF(k);
            Py_XDECREF(v);
            goto done;
        }
        Py_DECREF(k);
        Py_DECREF(v);
    }
    {
        PyObject *joined = PyBytes_FromStringAndSize(o.n ? (const char *)o.p : "", (Py_ssize_t)o.n);
        if (joined != NULL) result = Py_BuildValue("NO", joined, crcs);
    }
    goto done;
nomem:
    PyErr_NoMemory();
done:
    free(o.p);
    Py_XDECREF(seq);
    Py_XDECREF(crcs);
    PyBuffer_Release(&view);
    return result;
}

/* Column sums of one frame of native pixels (radguard.archive.digest.native_layout): per column of
   ``width`` samples the sum and the row-weighted sum (rows numbered from 1) as int64, interleaved
   [s0, w0, s1, w1, ...], the bytes of numpy's ``(weights @ arr).T`` as int64. Arithmetic modulo 2**64
   (numpy's int64 wraps the same way; within 2**53 both are exact). ``bits`` 8, 16 or 32, little endian. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("tree-vectorize")))
#endif
static PyObject *py_colsums(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer view;
    Py_ssize_t rows, width;
    int bits, is_signed;
    if (!PyArg_ParseTuple(args, "y*nnii:colsums", &view, &rows, &width, &bits, &is_signed)) return NULL;
    PyObject *result = NULL;
    int bytes = bits / 8;
    if ((bits != 8 && bits != 16 && bits != 32) || rows < 0 || width < 0 ||
        (width > 0 && rows > view.len / bytes / width)) {
        PyErr_SetString(PyExc_ValueError, "colsums: buffer shorter than rows * width samples");
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, width * 16);
    if (result == NULL) goto done;
    /* rows from the last: tail[c] is the sum of the rows seen so far, and adding it once per row adds each
       sample (row r, from 0) r + 1 times: the row-weighted sum without a multiplication */
    uint64_t *tail = calloc((size_t)width * 2 + 1, sizeof(uint64_t));
    if (tail == NULL) {
        Py_CLEAR(result);
        PyErr_NoMemory();
        goto done;
    }
    uint64_t *restrict acc = tail, *restrict wsum = tail + width;
    const unsigned char *p = (const unsigned char *)view.buf;
    size_t stride = (size_t)width * (size_t)bytes;
    void *aligned = NULL; /* samples are read as T: from an address T may not have, a copy */
    if ((uintptr_t)p % (uintptr_t)bytes != 0) {
        aligned = malloc(stride * (size_t)rows + 1);
        if (aligned == NULL) {
            free(tail);
            Py_CLEAR(result);
            PyErr_NoMemory();
            goto done;
        }
        memcpy(aligned, p, stride * (size_t)rows);
        p = (const unsigned char *)aligned;
    }
#define COLSUMS(T)                                                  \
    for (Py_ssize_t r = rows - 1; r >= 0; r--) {                    \
        const T *restrict row = (const T *)(p + (size_t)r * stride); \
        for (Py_ssize_t c = 0; c < width; c++) {                    \
            acc[c] += (uint64_t)(int64_t)row[c];                    \
            wsum[c] += acc[c];                                      \
        }                                                           \
    }
    if (bits == 8 && is_signed) { COLSUMS(int8_t) }
    else if (bits == 8) { COLSUMS(uint8_t) }
    else if (bits == 16 && is_signed) { COLSUMS(int16_t) }
    else if (bits == 16) { COLSUMS(uint16_t) }
    else if (is_signed) { COLSUMS(int32_t) }
    else { COLSUMS(uint32_t) }
#undef COLSUMS
    {
        uint64_t *out = (uint64_t *)PyBytes_AS_STRING(result);
        for (Py_ssize_t c = 0; c < width; c++) {
            out[2 * c] = tail[c];
            out[2 * c + 1] = wsum[c];
        }
    }
    free(tail);
    free(aligned);
done:
    PyBuffer_Release(&view);
    return result;
}

/* crc32_combine of zlib (its x^(2^n) mod p method): the CRC-32 of A || B from crc(A), crc(B) and len(B).
   native_layout gives a frame's CRC from its row bands' instead of reading the frame twice. */
#define CRC_POLY 0xedb88320u
static uint32_t x2n_table[32];

static uint32_t multmodp(uint32_t a, uint32_t b) {
    uint32_t m = (uint32_t)1 << 31, p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0) break;
        }
        m >>= 1;
        b = b & 1 ? (b >> 1) ^ CRC_POLY : b >> 1;
    }
    return p;
}

static void x2n_init(void) {
    uint32_t p = (uint32_t)1 << 30; /* x^1 */
    x2n_table[0] = p;
    for (int n = 1; n < 32; n++) x2n_table[n] = p = multmodp(p, p);
}

static PyObject *py_crc32_combine(PyObject *Py_UNUSED(self), PyObject *args) {
    unsigned long crc1, crc2;
    unsigned long long len2;
    if (!PyArg_ParseTuple(args, "kkK:crc32_combine", &crc1, &crc2, &len2)) return NULL;
    uint32_t p = (uint32_t)1 << 31; /* x^0 */
    unsigned k = 3;                 /* bytes: x^(8 * len2) */
    for (unsigned long long n = len2; n; n >>= 1, k++)
        if (n & 1) p = multmodp(x2n_table[k & 31], p);
    return PyLong_FromUnsignedLong((unsigned long)(multmodp(p, (uint32_t)crc1) ^ (uint32_t)crc2));
}

static PyMethodDef methods[] = {
    {"walk", py_walk, METH_VARARGS, "Top-level element walk fast path (radguard.dicom.dataset.walk_dataset)."},
    {"meta", py_meta, METH_VARARGS, "File meta group fast path (radguard.dicom.dataset.walk_meta)."},
    {"seek", py_seek, METH_VARARGS, "Skip to a tag, the fast path of radguard.dicom.dataset.find."},
    {"candidates", py_candidates, METH_VARARGS, "Active-content candidate elements (inspect.checks.active_content)."},
    {"digest", py_digest, METH_VARARGS, "Canonical header and element digests (radguard.archive.digest)."},
    {"crc32_combine", py_crc32_combine, METH_VARARGS, "zlib's crc32_combine (radguard.archive.digest.native_layout)."},
    {"colsums", py_colsums, METH_VARARGS, "Column sums of native pixels (radguard.archive.digest.native_layout)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "radguard.dicom._speedups",
                                    "Compiled fast paths of radguard's Part 10 walk and header digests.", -1,
                                    methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__speedups(void) {
    crc_init();
    x2n_init();
    for (int i = 0; i < NVRS; i++) {
        vr_str[i] = PyUnicode_InternFromString(VRS[i].name);
        if (vr_str[i] == NULL) return NULL;
        if (!strcmp(VRS[i].name, "OB")) VR_OB = i;
        if (!strcmp(VRS[i].name, "OW")) VR_OW = i;
        if (!strcmp(VRS[i].name, "SQ")) VR_SQ = i;
        if (!strcmp(VRS[i].name, "UN")) VR_UN = i;
    }
    empty_str = PyUnicode_InternFromString("");
    if (empty_str == NULL) return NULL;
    return PyModule_Create(&module);
}
