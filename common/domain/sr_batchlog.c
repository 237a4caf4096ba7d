/* common/domain/sr_batchlog.c - which changelog records a restore may trust. */
#include "sr_batchlog.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define WRITER_MAX 63

typedef struct rec {
        size_t koff, klen, voff, vlen;
        bool tombstone;
} rec_t;

/* A writer's latest batch, not yet known complete. */
typedef struct writer {
        char id[WRITER_MAX + 1];
        size_t id_len;
        uint64_t n;
        bool open; /* holds batch n's records (possibly none yet) */
        rec_t *recs;
        size_t n_recs, cap_recs;
        uint8_t *bytes;
        size_t len, cap;
} writer_t;

struct sr_batchlog {
        sr_batchlog_apply_cb apply;
        void *arg;
        writer_t *w;
        size_t n_w, cap_w;
        size_t last; /* the writer used last: the usual next one */
        uint64_t applied;
        /* the writer of the last claim read; none before the first claim */
        char owner[WRITER_MAX + 1];
        size_t owner_len;
        bool claimed;
        uint64_t fenced; /* records and markers of others after a claim */
};

sr_err_t sr_batchlog_new(sr_batchlog_apply_cb apply, void *arg,
                         sr_batchlog_t **out, sr_errctx_t *ec)
{
        sr_batchlog_t *bl = calloc(1, sizeof(*bl));

        if (!bl)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "batchlog: calloc");
        bl->apply = apply;
        bl->arg = arg;
        *out = bl;
        return SR_OK;
}

void sr_batchlog_destroy(sr_batchlog_t *bl)
{
        if (!bl)
                return;
        for (size_t i = 0; i < bl->n_w; i++) {
                free(bl->w[i].recs);
                free(bl->w[i].bytes);
        }
        free(bl->w);
        free(bl);
}

sr_err_t sr_batchlog_parse_id(sr_slice_t id, sr_slice_t *writer, uint64_t *n,
                              sr_errctx_t *ec)
{
        const char *s = id.ptr;
        size_t slash = id.len;
        uint64_t v = 0;

        if (!s || id.len == 0 || id.len > WRITER_MAX)
                goto bad;
        while (slash > 0 && s[slash - 1] != '/')
                slash--;
        if (slash <= 1 || slash == id.len || id.len - slash > 20)
                goto bad;
        for (size_t i = slash; i < id.len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        goto bad;
                if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
                        goto bad;
                v = v * 10 + (uint64_t)(s[i] - '0');
        }
        *writer = sr_slice(s, slash - 1);
        *n = v;
        return SR_OK;
bad:
        return sr_errctx_set(ec, SR_ERR_CORRUPT,
                             "changelog: batch id \"%.*s\" is not WRITER/N",
                             (int)(id.len > 80 ? 80 : id.len),
                             s ? s : "");
}

static writer_t *find(sr_batchlog_t *bl, sr_slice_t id, sr_errctx_t *ec)
{
        writer_t *w;

        if (bl->last < bl->n_w && bl->w[bl->last].id_len == id.len &&
            !memcmp(bl->w[bl->last].id, id.ptr, id.len))
                return &bl->w[bl->last];
        for (size_t i = 0; i < bl->n_w; i++)
                if (bl->w[i].id_len == id.len &&
                    !memcmp(bl->w[i].id, id.ptr, id.len)) {
                        bl->last = i;
                        return &bl->w[i];
                }
        if (bl->n_w == bl->cap_w) {
                size_t cap = bl->cap_w ? bl->cap_w * 2 : 8;
                writer_t *nw = realloc(bl->w, cap * sizeof(*nw));

                if (!nw) {
                        sr_errctx_set(ec, SR_ERR_NOMEM, "batchlog: writers");
                        return NULL;
                }
                bl->w = nw;
                bl->cap_w = cap;
        }
        w = &bl->w[bl->n_w];
        memset(w, 0, sizeof(*w));
        memcpy(w->id, id.ptr, id.len);
        w->id_len = id.len;
        bl->last = bl->n_w++;
        return w;
}

/* The writer of batch id "WRITER/N", and N. */
static sr_err_t writer_of(sr_batchlog_t *bl, sr_slice_t batch_id,
                          writer_t **wp, uint64_t *n, sr_errctx_t *ec)
{
        sr_slice_t wid;
        sr_err_t err;

        err = sr_batchlog_parse_id(batch_id, &wid, n, ec);
        if (err)
                return err;
        *wp = find(bl, wid, ec);
        return *wp ? SR_OK : SR_ERR_NOMEM;
}

static void drop(writer_t *w)
{
        w->n_recs = 0;
        w->len = 0;
        w->open = false;
}

/* Hand a complete batch's records to the callback, in log order. */
static sr_err_t flush(sr_batchlog_t *bl, writer_t *w, sr_errctx_t *ec)
{
        for (size_t i = 0; i < w->n_recs; i++) {
                const rec_t *r = &w->recs[i];
                sr_err_t err;

                err = bl->apply(sr_slice(w->bytes + r->koff, r->klen),
                                r->tombstone ?
                                        sr_slice(NULL, 0) :
                                        sr_slice(w->bytes + r->voff, r->vlen),
                                bl->arg, ec);
                if (err)
                        return err;
                bl->applied++;
        }
        drop(w);
        return SR_OK;
}

static sr_err_t keep(writer_t *w, sr_slice_t key, sr_slice_t value,
                     sr_errctx_t *ec)
{
        size_t need = key.len + value.len;
        rec_t *r;

        if (w->n_recs == w->cap_recs) {
                size_t cap = w->cap_recs ? w->cap_recs * 2 : 64;
                rec_t *nr = realloc(w->recs, cap * sizeof(*nr));

                if (!nr)
                        return sr_errctx_set(ec, SR_ERR_NOMEM,
                                             "batchlog: records");
                w->recs = nr;
                w->cap_recs = cap;
        }
        if (need > w->cap - w->len) {
                size_t cap = w->cap ? w->cap : 16384;
                uint8_t *nb;

                while (cap - w->len < need) {
                        if (cap > SIZE_MAX / 2)
                                return sr_errctx_set(ec, SR_ERR_NOMEM,
                                                     "batchlog: bytes");
                        cap *= 2;
                }
                nb = realloc(w->bytes, cap);
                if (!nb)
                        return sr_errctx_set(ec, SR_ERR_NOMEM,
                                             "batchlog: bytes");
                w->bytes = nb;
                w->cap = cap;
        }
        r = &w->recs[w->n_recs++];
        r->koff = w->len;
        r->klen = key.len;
        if (key.len)
                memcpy(w->bytes + w->len, key.ptr, key.len);
        w->len += key.len;
        r->voff = w->len;
        r->vlen = value.len;
        r->tombstone = value.ptr == NULL;
        if (value.len)
                memcpy(w->bytes + w->len, value.ptr, value.len);
        w->len += value.len;
        return SR_OK;
}

sr_err_t sr_batchlog_claim(sr_batchlog_t *bl, sr_slice_t writer,
                           sr_errctx_t *ec)
{
        if (!writer.ptr || writer.len == 0 || writer.len > WRITER_MAX)
                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                     "changelog: claim of writer \"%.*s\" "
                                     "(1 to %d bytes)",
                                     (int)(writer.len > 80 ? 80 : writer.len),
                                     writer.ptr ? (const char *)writer.ptr :
                                                  "",
                                     WRITER_MAX);
        /* What the other writers left open is cut: it never completes. */
        for (size_t i = 0; i < bl->n_w; i++) {
                writer_t *w = &bl->w[i];

                if (w->id_len != writer.len ||
                    memcmp(w->id, writer.ptr, writer.len))
                        drop(w);
        }
        memcpy(bl->owner, writer.ptr, writer.len);
        bl->owner[writer.len] = '\0';
        bl->owner_len = writer.len;
        bl->claimed = true;
        return SR_OK;
}

bool sr_batchlog_trusted(const sr_batchlog_t *bl, sr_slice_t batch_id)
{
        sr_slice_t wid;
        uint64_t n;

        if (sr_batchlog_parse_id(batch_id, &wid, &n, NULL) != SR_OK)
                return false;
        return !bl->claimed || (wid.len == bl->owner_len &&
                                !memcmp(wid.ptr, bl->owner, wid.len));
}

uint64_t sr_batchlog_fenced(const sr_batchlog_t *bl)
{
        return bl->fenced;
}

sr_err_t sr_batchlog_record(sr_batchlog_t *bl, sr_slice_t batch_id,
                            sr_slice_t key, sr_slice_t value, sr_errctx_t *ec)
{
        writer_t *w;
        uint64_t n;
        sr_err_t err;

        err = writer_of(bl, batch_id, &w, &n, ec);
        if (err)
                return err;
        if (!sr_batchlog_trusted(bl, batch_id)) {
                bl->fenced++; /* a writer fenced by a later claim */
                return SR_OK;
        }
        if (w->open && n < w->n)
                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                     "changelog: batch %" PRIu64 " of writer "
                                     "%s after its batch %" PRIu64,
                                     n, w->id, w->n);
        if (w->open && n > w->n) {
                /* A later batch of the writer: the open one is complete. */
                err = flush(bl, w, ec);
                if (err)
                        return err;
        }
        w->open = true;
        w->n = n;
        return keep(w, key, value, ec);
}

sr_err_t sr_batchlog_marker(sr_batchlog_t *bl, sr_slice_t batch_id,
                            sr_errctx_t *ec)
{
        writer_t *w;
        uint64_t n;
        sr_err_t err;

        err = writer_of(bl, batch_id, &w, &n, ec);
        if (err)
                return err;
        if (!sr_batchlog_trusted(bl, batch_id)) {
                bl->fenced++;
                return SR_OK;
        }
        if (w->open && w->n <= n)
                return flush(bl, w, ec);
        return SR_OK;
}

uint64_t sr_batchlog_end(sr_batchlog_t *bl)
{
        uint64_t discarded = 0;

        for (size_t i = 0; i < bl->n_w; i++) {
                discarded += bl->w[i].n_recs;
                drop(&bl->w[i]);
        }
        return discarded;
}

uint64_t sr_batchlog_applied(const sr_batchlog_t *bl)
{
        return bl->applied;
}
