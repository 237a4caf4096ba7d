/* common/codec/sr_defs_json_bulk.c - the body of POST .../targets-bulk/
 * (docs/definitions.md section 8): an array of device ids or targets
 * (or both), each item checked on its own, the invalid ones left out and
 * reported with their index, devices repeated in the body dropped after
 * their first; the item's fields are read by sr_defs_json.c's table of a
 * bulk Target (sr_defs_json__bulk_target()).
 */
#include "sr_defs_json_int.h"

#include "sr_utf8.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ bulk */

void sr_defs_bulk_fini(sr_defs_bulk_t *b)
{
        if (!b)
                return;
        for (uint32_t i = 0; i < b->n_items; i++) {
                free(b->items[i].device_meta_json);
                free(b->items[i].args_json);
        }
        free(b->items);
        free(b->index);
        free(b->errors);
        memset(b, 0, sizeof(*b));
}

struct bulk_build {
        sr_defs_bulk_t b;
        uint32_t cap_errors;
};

static sr_err_t add_error(struct bulk_build *bb, uint32_t index,
                          const json_t *device_id, const char *msg)
{
        sr_defs_bulk_error_t *e;
        sr_uuid_t u;

        if (bb->b.n_errors == bb->cap_errors) {
                uint32_t cap = bb->cap_errors ? bb->cap_errors * 2 : 16;
                sr_defs_bulk_error_t *p = realloc(bb->b.errors,
                                                  cap * sizeof(*p));

                if (!p)
                        return SR_ERR_NOMEM;
                bb->b.errors = p;
                bb->cap_errors = cap;
        }
        e = &bb->b.errors[bb->b.n_errors++];
        memset(e, 0, sizeof(*e));
        e->index = index;
        if (device_id && json_is_string(device_id)) {
                const char *s = json_string_value(device_id);
                size_t len = json_string_length(device_id);

                e->has_device_id = true;
                if (sr_uuid_parse(s, len, &u)) {
                        sr_uuid_fmt(&u, e->device_id);
                } else {
                        if (len > 60)
                                len = sr_utf8_cut(s, 60);
                        memcpy(e->device_id, s, len);
                        e->device_id[len] = '\0';
                }
        }
        snprintf(e->message, sizeof(e->message), "%s", msg);
        return SR_OK;
}

struct dup_key {
        sr_uuid_t id;
        uint32_t k; /* in items */
};

static int dup_cmp(const void *a, const void *b)
{
        const struct dup_key *x = a, *y = b;
        int c = memcmp(&x->id, &y->id, sizeof(x->id));

        return c ? c : (x->k > y->k) - (x->k < y->k);
}

static int err_cmp(const void *a, const void *b)
{
        const sr_defs_bulk_error_t *x = a, *y = b;

        return (x->index > y->index) - (x->index < y->index);
}

/* Items whose device is earlier in the body: errors, left out. */
static sr_err_t drop_duplicates(struct bulk_build *bb)
{
        sr_defs_bulk_t *b = &bb->b;
        struct dup_key *keys;
        bool *drop;
        uint32_t n = b->n_items, o = 0;
        char msg[200], id[SR_UUID_STR_LEN + 1];
        sr_err_t err = SR_OK;

        if (n < 2)
                return SR_OK;
        keys = malloc(n * sizeof(*keys));
        drop = calloc(n, sizeof(*drop));
        if (!keys || !drop) {
                free(keys);
                free(drop);
                return SR_ERR_NOMEM;
        }
        for (uint32_t k = 0; k < n; k++)
                keys[k] = (struct dup_key){ b->items[k].device_id, k };
        qsort(keys, n, sizeof(*keys), dup_cmp);
        for (uint32_t j = 1, first = 0; j < n && !err; j++) {
                if (memcmp(&keys[j - 1].id, &keys[j].id, sizeof(keys[j].id))) {
                        first = j; /* a new device */
                        continue;
                }
                sr_uuid_fmt(&keys[j].id, id);
                snprintf(msg, sizeof(msg), "device_id: device %s is already "
                         "item %u of this body; a device is at most once in "
                         "a list", id, b->index[keys[first].k]);
                drop[keys[j].k] = true;
                {
                        json_t *s = json_string(id);

                        err = s ? add_error(bb, b->index[keys[j].k], s, msg) :
                                  SR_ERR_NOMEM;
                        json_decref(s);
                }
        }
        for (uint32_t k = 0; k < n; k++) {
                if (drop[k]) {
                        free(b->items[k].device_meta_json);
                        free(b->items[k].args_json);
                        continue;
                }
                b->items[o] = b->items[k];
                b->index[o++] = b->index[k];
        }
        b->n_items = o;
        free(keys);
        free(drop);
        return err;
}

struct bulk_scan {
        const char *text;
        struct tspan (*spans)[2]; /* one an item */
        size_t n;
};

static bool bulk_item(size_t i, sr_jt_scan_t *s, void *arg)
{
        struct bulk_scan *b = arg;

        return i < b->n && sr_defs_json__scan_members(s, b->text, b->spans[i]);
}

sr_err_t sr_defs_json_bulk(const char *body, size_t len, uint32_t max_items,
                           sr_defs_bulk_t *out, sr_errctx_t *ec)
{
        struct bulk_build bb;
        struct tspan (*spans)[2] = NULL;
        sr_errctx_t item_ec;
        json_t *root = NULL, *v;
        size_t n, i;
        sr_err_t err;

        memset(&bb, 0, sizeof(bb));
        if (!body || len == 0)
                return sr_defs_json__bad(ec, "body",
                                         "empty; expected an array of device "
                                         "ids or of targets");
        err = sr_defs_json__load(body, len, &root, ec);
        if (err)
                return err;
        if (!json_is_array(root)) {
                err = sr_defs_json__bad_got(ec, "body",
                                            "an array of device ids or of "
                                            "targets", root);
                goto out;
        }
        n = json_array_size(root);
        if ((max_items && n > max_items) || n > UINT32_MAX) {
                err = sr_defs_json__bad(ec, "body",
                                        "%zu items, at most %u per call "
                                        "(gateway.bulk.max.items); send "
                                        "the rest in another call",
                                        n, max_items);
                goto out;
        }
        if (n == 0) {
                *out = bb.b;
                goto out;
        }
        spans = calloc(n, sizeof(*spans));
        bb.b.items = calloc(n, sizeof(*bb.b.items));
        bb.b.index = calloc(n, sizeof(*bb.b.index));
        if (!spans || !bb.b.items || !bb.b.index) {
                err = sr_defs_json__oom(ec, "bulk items");
                goto out;
        }
        {
                sr_jt_scan_t s = { body, body + len };
                struct bulk_scan bs = { body, spans, n };

                if (!sr_json_text_each_item(&s, bulk_item, &bs)) /* a defect */
                        memset(spans, 0, n * sizeof(*spans));
        }
        json_array_foreach(root, i, v) {
                sr_defcmd_target_t t;
                const json_t *id = NULL;

                memset(&t, 0, sizeof(t));
                t.is_active = true;
                err = SR_OK;
                memset(&item_ec, 0, sizeof(item_ec));
                if (json_is_string(v)) {
                        id = v;
                        if (!sr_uuid_parse(json_string_value(v),
                                           json_string_length(v),
                                           &t.device_id))
                                err = sr_defs_json__bad_got(&item_ec,
                                                            "device_id",
                                                            "a UUID string", v);
                } else if (json_is_object(v)) {
                        id = json_object_get(v, "device_id");
                        err = sr_defs_json__bulk_target(v, body, spans[i], &t,
                                                        &item_ec);
                } else {
                        err = sr_defs_json__bad_got(&item_ec, "item",
                                                    "a device id string "
                                                    "or a target object", v);
                }
                if (err == SR_ERR_NOMEM)
                        goto oom_item;
                if (err) {
                        free(t.device_meta_json);
                        free(t.args_json);
                        err = add_error(&bb, (uint32_t)i, id, item_ec.msg);
                        if (err)
                                goto oom_item;
                        continue;
                }
                bb.b.index[bb.b.n_items] = (uint32_t)i;
                bb.b.items[bb.b.n_items++] = t;
                continue;
oom_item:
                free(t.device_meta_json);
                free(t.args_json);
                err = sr_defs_json__oom(ec, "bulk item");
                goto out;
        }
        err = drop_duplicates(&bb);
        if (err) {
                err = sr_defs_json__oom(ec, "bulk duplicates");
                goto out;
        }
        if (bb.b.n_errors > 1)
                qsort(bb.b.errors, bb.b.n_errors, sizeof(*bb.b.errors),
                      err_cmp);
        *out = bb.b;
        memset(&bb, 0, sizeof(bb));
out:
        sr_defs_bulk_fini(&bb.b);
        free(spans);
        json_decref(root);
        return err;
}
