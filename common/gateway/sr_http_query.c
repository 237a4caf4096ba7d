/* common/gateway/sr_http_query.c - the query parameters of the list
 * routes: which keys, statuses and orderings each list takes, their
 * parsing and percent-decoding, and the `ordering` key names. */
#include "sr_http_int.h"

#include <stdio.h>
#include <string.h>

#include "sr_slice.h"

#define VALUE_MAX 512  /* decoded query value, incl. NUL */
#define KEY_MAX 32     /* decoded query key, incl. NUL */

/* Query keys, in alphabetical order: links list them in this order. */
enum qkey {
        QK_CURSOR = 0,
        QK_DEFAULT,
        QK_LIMIT,
        QK_NAME,
        QK_OFFSET,
        QK_OPERATION_TYPE,
        QK_ORDERING,
        QK_PIPELINE_NAME,
        QK_OPERATION_ID,
        QK_STATUS,
        QK_TYPE,
        QK__COUNT
};

static const char *const qkey_names[QK__COUNT] = {
        [QK_CURSOR] = "cursor",
        [QK_DEFAULT] = "default",
        [QK_LIMIT] = "limit",
        [QK_NAME] = "name",
        [QK_OFFSET] = "offset",
        [QK_OPERATION_TYPE] = "operation_type",
        [QK_ORDERING] = "ordering",
        [QK_PIPELINE_NAME] = "pipeline_name",
        [QK_OPERATION_ID] = "stage_run_operation_id",
        [QK_STATUS] = "status",
        [QK_TYPE] = "type",
};

static const char *const order_names[SR_HTTP_ORDER__COUNT] = {
        [SR_HTTP_ORDER_RUN_NUMBER] = "run_number",
        [SR_HTTP_ORDER_STATUS] = "status",
        [SR_HTTP_ORDER_PIPELINE_NAME] = "pipeline__name",
        [SR_HTTP_ORDER_STARTED_AT] = "started_at",
        [SR_HTTP_ORDER_ENDED_AT] = "ended_at",
        [SR_HTTP_ORDER_NAME] = "name",
};

const char *sr_http_order_key_name(sr_http_order_key_t key)
{
        return (unsigned)key < SR_HTTP_ORDER__COUNT ? order_names[key] :
                                                      "unknown";
}

#define QK(k) BIT(QK_##k)
#define ORD(o) BIT(SR_HTTP_ORDER_##o)

struct list_def {
        uint32_t keys;     /* QK bits */
        uint32_t statuses; /* filterable statuses */
        uint32_t orders;   /* orderable fields */
};

/* The parameters of each list route (reference §6.8-6.10). */
static const struct list_def *list_def(sr_route_id_t route)
{
        static const struct list_def runs = {
                QK(CURSOR) | QK(LIMIT) | QK(OFFSET) | QK(STATUS) | QK(PIPELINE_NAME) |
                        QK(ORDERING),
                PIPELINE_RUN_STATUSES,
                ORD(RUN_NUMBER) | ORD(STATUS) | ORD(PIPELINE_NAME) |
                        ORD(STARTED_AT) | ORD(ENDED_AT),
        };
        static const struct list_def pipeline_runs = {
                QK(CURSOR) | QK(LIMIT) | QK(OFFSET) | QK(STATUS) | QK(ORDERING),
                PIPELINE_RUN_STATUSES,
                ORD(RUN_NUMBER) | ORD(STATUS) | ORD(STARTED_AT) |
                        ORD(ENDED_AT),
        };
        static const struct list_def stage_runs = {
                QK(CURSOR) | QK(LIMIT) | QK(OFFSET) | QK(STATUS), STAGE_RUN_STATUSES, 0,
        };
        static const struct list_def operations = {
                QK(CURSOR) | QK(LIMIT) | QK(OFFSET), 0, 0,
        };
        static const struct list_def target_runs = {
                QK(CURSOR) | QK(LIMIT) | QK(OFFSET) | QK(STATUS) | QK(OPERATION_ID) |
                        QK(ORDERING),
                TARGET_RUN_STATUSES, ORD(STATUS),
        };
        /* An open stage's appended targets: by device id only. */
        static const struct list_def stage_targets = {
                QK(CURSOR) | QK(LIMIT) | QK(OFFSET), 0, 0,
        };
        /* Stored definitions (reference section 6.1-6.2): pipelines
         * filter on name and default and order by name; stages are in
         * their order. */
        static const struct list_def def_pipelines = {
                QK(LIMIT) | QK(OFFSET) | QK(NAME) | QK(DEFAULT) |
                        QK(ORDERING),
                0, ORD(NAME),
        };
        static const struct list_def def_plain = {
                QK(LIMIT) | QK(OFFSET), 0, 0,
        };
        static const struct list_def def_stage_lists = {
                QK(LIMIT) | QK(OFFSET) | QK(TYPE), 0, 0,
        };
        static const struct list_def def_operations = {
                QK(LIMIT) | QK(OFFSET) | QK(OPERATION_TYPE), 0, 0,
        };
        /* a list's targets: keyset pages (cursor) or offset */
        static const struct list_def def_targets = {
                QK(CURSOR) | QK(LIMIT) | QK(OFFSET), 0, 0,
        };
        static const struct list_def none = { 0, 0, 0 };

        switch (route) {
        case SR_ROUTE_RUNS_LIST:
                return &runs;
        case SR_ROUTE_PIPELINE_RUNS_LIST:
                return &pipeline_runs;
        case SR_ROUTE_STAGE_RUNS_LIST:
                return &stage_runs;
        case SR_ROUTE_OPERATIONS_LIST:
                return &operations;
        case SR_ROUTE_TARGET_RUNS_LIST:
                return &target_runs;
        case SR_ROUTE_STAGE_TARGETS_LIST:
                return &stage_targets;
        case SR_ROUTE_DEF_PIPELINES_LIST:
                return &def_pipelines;
        case SR_ROUTE_DEF_STAGES_LIST:
        case SR_ROUTE_DEF_TARGETLISTS_LIST:
        case SR_ROUTE_DEF_OPLISTS_LIST:
        case SR_ROUTE_DEF_GROUPS_LIST:
                return &def_plain;
        case SR_ROUTE_DEF_STAGE_TARGETLISTS_LIST:
                return &def_stage_lists;
        case SR_ROUTE_DEF_OPERATIONS_LIST:
                return &def_operations;
        case SR_ROUTE_DEF_TARGETS_LIST:
        case SR_ROUTE_DEF_GROUP_DEVICES:
                return &def_targets;
        default:
                return &none;
        }
}

/* "pending, queued, ..." for the statuses in @p mask. */
void sr_http__list_statuses(char *out, size_t size, uint32_t mask)
{
        size_t len = 0;

        out[0] = '\0';
        for (int st = 0; st < SR_ST__COUNT; st++) {
                int w;

                if (!(mask & BIT(st)))
                        continue;
                w = snprintf(out + len, size - len, "%s%s", len ? ", " : "",
                             sr_status_name((sr_status_t)st));
                if (w < 0 || len + (size_t)w >= size)
                        return;
                len += (size_t)w;
        }
}

static void list_orders(char *out, size_t size, uint32_t mask)
{
        size_t len = 0;

        out[0] = '\0';
        for (int k = 0; k < SR_HTTP_ORDER__COUNT; k++) {
                int w;

                if (!(mask & BIT(k)))
                        continue;
                w = snprintf(out + len, size - len, "%s%s", len ? ", " : "",
                             order_names[k]);
                if (w < 0 || len + (size_t)w >= size)
                        return;
                len += (size_t)w;
        }
}

/* A status of @p mask from @p s (any case). */
bool sr_http__parse_status_in(const char *s, size_t len, uint32_t mask,
                              sr_status_t *out)
{
        sr_status_t st;

        if (memchr(s, '\0', len) || !sr_status_parse(s, len, &st) ||
            !(mask & BIT(st)))
                return false;
        *out = st;
        return true;
}

/* Decimal digits only (no sign, no space), at most @p max. */
static bool parse_uint(const char *s, size_t len, uint64_t max,
                       uint64_t *out)
{
        uint64_t v = 0;

        if (len == 0)
                return false;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                if (v > (max - (uint64_t)(s[i] - '0')) / 10)
                        return false;
                v = v * 10 + (uint64_t)(s[i] - '0');
        }
        *out = v;
        return true;
}

/* Lowercase hex, as the projection writes cursors. */
static bool is_cursor(const char *s, size_t len)
{
        for (size_t i = 0; i < len; i++)
                if (!((s[i] >= '0' && s[i] <= '9') ||
                      (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

static sr_err_t parse_ordering(sr_http_query_t *q, uint32_t allowed,
                               const char *s, size_t len,
                               sr_http_problem_t *prob)
{
        char shown[QUOTE_MAX], names[128];
        size_t i = 0, start, n;
        uint32_t used = 0;
        const char *f;
        bool desc;
        int k;

        q->n_order = 0;
        while (i <= len) {
                start = i;
                while (i < len && s[i] != ',')
                        i++;
                f = s + start;
                n = i - start;
                i++;
                desc = n > 0 && f[0] == '-';
                if (desc) {
                        f++;
                        n--;
                }
                for (k = 0; k < SR_HTTP_ORDER__COUNT; k++)
                        if ((allowed & BIT(k)) &&
                            strlen(order_names[k]) == n &&
                            !memcmp(order_names[k], f, n))
                                break;
                if (k == SR_HTTP_ORDER__COUNT) {
                        sr_http__quote(shown, s + start, n + (desc ? 1 : 0));
                        list_orders(names, sizeof(names), allowed);
                        return sr_http__refuse(prob, 400, "ordering: unknown "
                                               "field %s; allowed: %s, each "
                                               "optionally prefixed with \"-\"",
                                               shown, names);
                }
                if (used & BIT(k))
                        return sr_http__refuse(prob, 400, "ordering: \"%s\" "
                                               "given more than once",
                                               order_names[k]);
                used |= BIT(k);
                q->order[q->n_order].key = (sr_http_order_key_t)k;
                q->order[q->n_order].desc = desc;
                q->n_order++;
        }
        return SR_OK;
}

static int find_qkey(const char *key, size_t klen)
{
        for (int k = 0; k < QK__COUNT; k++)
                if (strlen(qkey_names[k]) == klen &&
                    !memcmp(qkey_names[k], key, klen))
                        return k;
        return -1;
}

void sr_http_query_init(sr_http_query_t *q)
{
        memset(q, 0, sizeof(*q));
        q->limit = SR_HTTP_LIMIT_DEFAULT;
        q->status = SR_ST_NONE;
}

sr_err_t sr_http_query_add(sr_http_query_t *q, sr_route_id_t route,
                           const char *key, size_t klen, const char *value,
                           size_t vlen, sr_http_problem_t *prob)
{
        const struct list_def *def = list_def(route);
        char shown[QUOTE_MAX], names[160];
        uint64_t v;
        int k = key ? find_qkey(key, klen) : -1;

        if (k < 0 || !(def->keys & BIT(k)))
                return SR_OK; /* not ours: ignored */
        if (q->seen & BIT(k))
                return sr_http__refuse(prob, 400, "%s: given more than once; "
                                       "give each query parameter once",
                                       qkey_names[k]);
        q->seen |= BIT(k);
        if (!value || vlen == 0)
                return SR_OK; /* empty: as if absent */
        sr_http__quote(shown, value, vlen);

        switch ((enum qkey)k) {
        case QK_LIMIT:
                if (!parse_uint(value, vlen, SR_HTTP_LIMIT_MAX, &v))
                        return sr_http__refuse(prob, 400, "limit: expected an "
                                               "integer 0..%u, got %s",
                                               SR_HTTP_LIMIT_MAX, shown);
                q->limit = (uint32_t)v;
                break;
        case QK_CURSOR:
                if (vlen >= sizeof(q->cursor) || !is_cursor(value, vlen))
                        return sr_http__refuse(prob, 400, "cursor: expected "
                                               "the cursor of a `next` link, "
                                               "unchanged; got %s", shown);
                memcpy(q->cursor, value, vlen);
                q->cursor[vlen] = '\0';
                break;
        case QK_OFFSET:
                if (!parse_uint(value, vlen, SR_HTTP_OFFSET_MAX, &v))
                        return sr_http__refuse(
                                prob, 400,
                                "offset: expected an integer 0..%llu, got %s",
                                (unsigned long long)SR_HTTP_OFFSET_MAX, shown);
                q->offset = v;
                break;
        case QK_STATUS:
                if (!sr_http__parse_status_in(value, vlen, def->statuses,
                                              &q->status)) {
                        sr_http__list_statuses(names, sizeof(names),
                                               def->statuses);
                        return sr_http__refuse(prob, 400, "status: expected "
                                               "one of %s (any case), got %s",
                                               names, shown);
                }
                break;
        case QK_PIPELINE_NAME:
                if (vlen >= sizeof(q->pipeline_name))
                        return sr_http__refuse(prob, 400, "pipeline_name: too "
                                               "long (%zu bytes, at most %zu)",
                                               vlen,
                                               sizeof(q->pipeline_name) - 1);
                if (memchr(value, '\0', vlen))
                        return sr_http__refuse(prob, 400, "pipeline_name: must "
                                               "not contain a NUL byte, got %s",
                                               shown);
                memcpy(q->pipeline_name, value, vlen);
                q->pipeline_name[vlen] = '\0';
                break;
        case QK_OPERATION_ID:
                if (!sr_http__parse_uuid(value, vlen,
                                         &q->stage_run_operation_id))
                        return sr_http__refuse(prob, 400,
                                               "stage_run_operation_id: "
                                               "expected a UUID, got %s",
                                               shown);
                q->has_operation_id = true;
                break;
        case QK_ORDERING:
                return parse_ordering(q, def->orders, value, vlen, prob);
        case QK_NAME:
                if (vlen >= sizeof(q->name))
                        return sr_http__refuse(prob, 400, "name: too long "
                                               "(%zu bytes, at most %zu)",
                                               vlen, sizeof(q->name) - 1);
                if (memchr(value, '\0', vlen))
                        return sr_http__refuse(prob, 400, "name: must not "
                                               "contain a NUL byte, got %s",
                                               shown);
                memcpy(q->name, value, vlen);
                q->name[vlen] = '\0';
                break;
        case QK_TYPE:
                if (!((vlen == 6 && !memcmp(value, "groups", 6)) ||
                      (vlen == 7 && !memcmp(value, "devices", 7)) ||
                      (vlen == 11 && !memcmp(value, "collections", 11))))
                        return sr_http__refuse(prob, 400, "type: expected "
                                               "groups, devices or "
                                               "collections (lower case), "
                                               "got %s", shown);
                memcpy(q->tl_type, value, vlen);
                q->tl_type[vlen] = '\0';
                break;
        case QK_OPERATION_TYPE:
                if (vlen >= sizeof(q->operation_type) ||
                    memchr(value, '\0', vlen))
                        return sr_http__refuse(prob, 400, "operation_type: "
                                               "expected an operation type "
                                               "(at most %zu bytes), got %s",
                                               sizeof(q->operation_type) - 1,
                                               shown);
                memcpy(q->operation_type, value, vlen);
                q->operation_type[vlen] = '\0';
                break;
        case QK_DEFAULT:
                /* django-filter's BooleanFilter: true/false (and the
                 * Python spellings it also takes). */
                if ((vlen == 4 && !memcmp(value, "true", 4)) ||
                    (vlen == 4 && !memcmp(value, "True", 4)) ||
                    (vlen == 1 && value[0] == '1'))
                        q->is_default = 2;
                else if ((vlen == 5 && !memcmp(value, "false", 5)) ||
                         (vlen == 5 && !memcmp(value, "False", 5)) ||
                         (vlen == 1 && value[0] == '0'))
                        q->is_default = 1;
                else
                        return sr_http__refuse(prob, 400, "default: expected "
                                               "true or false, got %s",
                                               shown);
                break;
        case QK__COUNT:
                break;
        }
        return SR_OK;
}

/* application/x-www-form-urlencoded decoding of @p len bytes into @p out
 * (@p cap bytes, NUL added). @returns the decoded length, or SIZE_MAX when
 * it does not fit. */
static size_t pct_decode(const char *s, size_t len, char *out, size_t cap)
{
        size_t o = 0;
        int hi, lo;

        for (size_t i = 0; i < len; i++) {
                if (o + 1 >= cap)
                        return SIZE_MAX;
                if (s[i] == '+') {
                        out[o++] = ' ';
                } else if (s[i] == '%' && i + 2 < len &&
                           (hi = sr_hex_value(s[i + 1])) >= 0 &&
                           (lo = sr_hex_value(s[i + 2])) >= 0) {
                        out[o++] = (char)(hi << 4 | lo);
                        i += 2;
                } else {
                        out[o++] = s[i];
                }
        }
        out[o] = '\0';
        return o;
}

sr_err_t sr_http_query_parse(sr_route_id_t route, const char *qs, size_t len,
                             sr_http_query_t *out, sr_http_problem_t *prob)
{
        const struct list_def *def = list_def(route);
        char key[KEY_MAX], value[VALUE_MAX];
        size_t i = 0, start, eq, klen, vlen;
        sr_http_query_t q;
        sr_err_t err;
        int k;

        sr_http_query_init(&q);
        if (!qs)
                len = 0;
        while (i < len) {
                start = i;
                while (i < len && qs[i] != '&')
                        i++;
                if (i == start) {
                        i++;
                        continue; /* "a=1&&b=2" */
                }
                for (eq = start; eq < i && qs[eq] != '='; eq++)
                        ;
                klen = pct_decode(qs + start, eq - start, key, sizeof(key));
                k = klen == SIZE_MAX ? -1 : find_qkey(key, klen);
                if (k < 0 || !(def->keys & BIT(k))) {
                        i++;
                        continue; /* not ours: not even decoded */
                }
                if (eq == i) {
                        err = sr_http_query_add(&q, route, key, klen, NULL, 0,
                                                prob);
                } else {
                        vlen = pct_decode(qs + eq + 1, i - eq - 1, value,
                                          sizeof(value));
                        if (vlen == SIZE_MAX)
                                return sr_http__refuse(prob, 400, "%s: value "
                                                       "too long (more than %d "
                                                       "bytes)", qkey_names[k],
                                                       VALUE_MAX - 1);
                        err = sr_http_query_add(&q, route, key, klen, value,
                                                vlen, prob);
                }
                if (err)
                        return err;
                i++;
        }
        *out = q;
        return SR_OK;
}
