/* common/sr_http.c - routing, query and body validation, envelope and
 * pagination for sr-gateway (design/api.md), with no sockets.
 *
 * Every byte that reaches a message comes from the client, so it is quoted
 * with quote() (printable ASCII, the rest as \xNN, shortened): a message
 * is always short, printable and valid UTF-8. Routes, query keys and
 * status sets are tables; the functions only walk them.
 */
#include "sr_http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sr_json.h"
#include "sr_spec_json.h"

#define QUOTE_SHOWN 40 /* bytes of client input shown in a message */
#define QUOTE_MAX (QUOTE_SHOWN * 4 + 8)
#define VALUE_MAX 512  /* decoded query value, incl. NUL */
#define KEY_MAX 32     /* decoded query key, incl. NUL */

/* ------------------------------------------------------------ problems */

void sr_http_problem_set(sr_http_problem_t *prob, int status,
                         const char *fmt, ...)
{
        va_list ap;

        if (!prob)
                return;
        prob->status = status;
        prob->allow[0] = '\0';
        va_start(ap, fmt);
        vsnprintf(prob->message, sizeof(prob->message), fmt, ap);
        va_end(ap);
}

/* Fill @p prob; @returns the sr_err_t matching @p status. */
static sr_err_t refuse(sr_http_problem_t *prob, int status, const char *fmt,
                       ...) SR_PRINTF(3, 4);

static sr_err_t refuse(sr_http_problem_t *prob, int status, const char *fmt,
                       ...)
{
        va_list ap;

        if (prob) {
                prob->status = status;
                prob->allow[0] = '\0';
                va_start(ap, fmt);
                vsnprintf(prob->message, sizeof(prob->message), fmt, ap);
                va_end(ap);
        }
        return status == 404 ? SR_ERR_NOT_FOUND : SR_ERR_INVALID;
}

static sr_err_t out_of_memory(sr_http_problem_t *prob)
{
        refuse(prob, 500, "out of memory");
        return SR_ERR_NOMEM;
}

/* "<s>" with printable ASCII kept, '"' and '\' escaped, other bytes as
 * \xNN, and "..." after QUOTE_SHOWN bytes. */
static void quote(char out[QUOTE_MAX], const char *s, size_t len)
{
        static const char hex[] = "0123456789abcdef";
        size_t o = 0, n = len < QUOTE_SHOWN ? len : QUOTE_SHOWN;
        unsigned char c;

        out[o++] = '"';
        for (size_t i = 0; i < n; i++) {
                c = (unsigned char)s[i];
                if (c == '"' || c == '\\') {
                        out[o++] = '\\';
                        out[o++] = (char)c;
                } else if (c >= 0x20 && c < 0x7f) {
                        out[o++] = (char)c;
                } else {
                        out[o++] = '\\';
                        out[o++] = 'x';
                        out[o++] = hex[c >> 4];
                        out[o++] = hex[c & 15];
                }
        }
        if (len > n) {
                memcpy(out + o, "...", 3);
                o += 3;
        }
        out[o++] = '"';
        out[o] = '\0';
}

/* A JSON value as compact ASCII text, shortened: for "got <value>". */
static void show_json(char out[QUOTE_MAX], const json_t *v)
{
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT |
                                   JSON_ENSURE_ASCII);

        if (!text) {
                snprintf(out, QUOTE_MAX, "%s", "(unprintable)");
                return;
        }
        if (strlen(text) > QUOTE_SHOWN)
                snprintf(out, QUOTE_MAX, "%.*s...", QUOTE_SHOWN, text);
        else
                snprintf(out, QUOTE_MAX, "%s", text);
        free(text);
}

/* ------------------------------------------------------------ routing */

static const char *const route_names[] = {
#define SR_ROUTE_TEXT(name, text) [SR_ROUTE_##name] = text,
        SR_ROUTE_MAP(SR_ROUTE_TEXT)
#undef SR_ROUTE_TEXT
};

_Static_assert(sizeof(route_names) / sizeof(route_names[0]) ==
               SR_ROUTE__COUNT, "route_names out of sync with SR_ROUTE_MAP");

const char *sr_route_name(sr_route_id_t id)
{
        return (unsigned)id < SR_ROUTE__COUNT ? route_names[id] : "unknown";
}

bool sr_route_needs_auth(sr_route_id_t id)
{
        return id > SR_ROUTE_OPENAPI && id < SR_ROUTE__COUNT;
}

bool sr_route_is_list(sr_route_id_t id)
{
        return id == SR_ROUTE_RUNS_LIST || id == SR_ROUTE_PIPELINE_RUNS_LIST ||
               id == SR_ROUTE_STAGE_RUNS_LIST ||
               id == SR_ROUTE_OPERATIONS_LIST ||
               id == SR_ROUTE_TARGET_RUNS_LIST;
}

bool sr_route_has_body(sr_route_id_t id)
{
        return id == SR_ROUTE_RUNS_CREATE ||
               id == SR_ROUTE_PIPELINE_RUNS_CREATE ||
               id == SR_ROUTE_PIPELINE_RUN_PUT ||
               id == SR_ROUTE_STAGE_RUN_PUT || id == SR_ROUTE_TARGET_RUN_PUT;
}

/* What an id segment of a path template fills in. */
enum slot {
        LIT = 0,
        PIPELINE_ID,
        PIPELINE_RUN_ID,
        STAGE_RUN_ID,
        OPERATION_ID,
        TARGET_RUN_ID,
};

#define MAX_SEGS 4

struct method_route {
        const char *method;
        sr_route_id_t id;
};

/* One path template after the "/v0" prefix: a literal segment has its
 * text, an id segment a NULL text and its slot. */
struct path_def {
        unsigned n_segs;
        const char *lit[MAX_SEGS];
        enum slot slot[MAX_SEGS];
        struct method_route m[2];
};

static const struct path_def api_paths[] = {
        { 1, { "runs" }, { LIT },
          { { "GET", SR_ROUTE_RUNS_LIST }, { "POST", SR_ROUTE_RUNS_CREATE } } },
        { 3, { "runs", NULL, "stageruns" }, { LIT, PIPELINE_RUN_ID, LIT },
          { { "GET", SR_ROUTE_STAGE_RUNS_LIST } } },
        { 4, { "runs", NULL, "stageruns", NULL },
          { LIT, PIPELINE_RUN_ID, LIT, STAGE_RUN_ID },
          { { "GET", SR_ROUTE_STAGE_RUN_GET },
            { "PUT", SR_ROUTE_STAGE_RUN_PUT } } },
        { 3, { "pipelines", NULL, "runs" }, { LIT, PIPELINE_ID, LIT },
          { { "GET", SR_ROUTE_PIPELINE_RUNS_LIST },
            { "POST", SR_ROUTE_PIPELINE_RUNS_CREATE } } },
        { 4, { "pipelines", NULL, "runs", NULL },
          { LIT, PIPELINE_ID, LIT, PIPELINE_RUN_ID },
          { { "GET", SR_ROUTE_PIPELINE_RUN_GET },
            { "PUT", SR_ROUTE_PIPELINE_RUN_PUT } } },
        { 3, { "stageruns", NULL, "operations" }, { LIT, STAGE_RUN_ID, LIT },
          { { "GET", SR_ROUTE_OPERATIONS_LIST } } },
        { 4, { "stageruns", NULL, "operations", NULL },
          { LIT, STAGE_RUN_ID, LIT, OPERATION_ID },
          { { "GET", SR_ROUTE_OPERATION_GET } } },
        { 3, { "stageruns", NULL, "targetruns" }, { LIT, STAGE_RUN_ID, LIT },
          { { "GET", SR_ROUTE_TARGET_RUNS_LIST } } },
        { 4, { "stageruns", NULL, "targetruns", NULL },
          { LIT, STAGE_RUN_ID, LIT, TARGET_RUN_ID },
          { { "GET", SR_ROUTE_TARGET_RUN_GET },
            { "PUT", SR_ROUTE_TARGET_RUN_PUT } } },
};

static const struct {
        const char *path;
        sr_route_id_t id;
} ops_paths[] = {
        { "/livez", SR_ROUTE_LIVEZ },
        { "/readyz", SR_ROUTE_READYZ },
        { "/metrics", SR_ROUTE_METRICS },
        { "/openapi.json", SR_ROUTE_OPENAPI },
};

static const char *const api_prefixes[] = { "/api/pipelines/v0", "/v0" };

struct seg {
        const char *p;
        size_t len;
};

/* Checked before libuuid sees the text: only hex digits and the dashes. */
static bool parse_uuid(const char *s, size_t len, sr_uuid_t *out)
{
        static const char hexdigits[] = "0123456789abcdefABCDEF";

        if (len != SR_UUID_STR_LEN)
                return false;
        for (size_t i = 0; i < len; i++) {
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (s[i] != '-')
                                return false;
                } else if (!s[i] || !strchr(hexdigits, s[i])) {
                        return false;
                }
        }
        return sr_uuid_parse(s, len, out);
}

static sr_uuid_t *slot_field(sr_route_t *r, enum slot slot)
{
        switch (slot) {
        case PIPELINE_ID:
                return &r->pipeline_id;
        case PIPELINE_RUN_ID:
                return &r->pipeline_run_id;
        case STAGE_RUN_ID:
                return &r->stage_run_id;
        case OPERATION_ID:
                return &r->stage_run_operation_id;
        case TARGET_RUN_ID:
                return &r->target_run_id;
        case LIT:
                break;
        }
        return NULL;
}

static bool match_def(const struct path_def *def, const struct seg *segs,
                      unsigned n, sr_route_t *r)
{
        if (n != def->n_segs)
                return false;
        for (unsigned i = 0; i < n; i++) {
                if (def->slot[i] == LIT) {
                        if (strlen(def->lit[i]) != segs[i].len ||
                            memcmp(def->lit[i], segs[i].p, segs[i].len))
                                return false;
                } else if (!parse_uuid(segs[i].p, segs[i].len,
                                       slot_field(r, def->slot[i]))) {
                        return false;
                }
        }
        return true;
}

/* Split "/a/b/c/" (the part after the prefix) into segments; one trailing
 * slash is allowed, an empty segment anywhere else is not. */
static bool split_segs(const char *p, size_t len, struct seg *segs,
                       unsigned *n)
{
        size_t i = 0, start;

        *n = 0;
        if (len == 0 || p[0] != '/')
                return false;
        if (p[len - 1] == '/')
                len--;
        i = 1;
        while (i <= len) {
                start = i;
                while (i < len && p[i] != '/')
                        i++;
                if (i == start || *n == MAX_SEGS)
                        return false;
                segs[*n].p = p + start;
                segs[*n].len = i - start;
                (*n)++;
                i++;
        }
        return *n > 0;
}

static sr_err_t method_not_allowed(const struct method_route *m, size_t n,
                                   sr_http_problem_t *prob)
{
        size_t len = 0;

        if (!prob)
                return SR_ERR_INVALID;
        prob->status = 405;
        prob->allow[0] = '\0';
        for (size_t i = 0; i < n && m[i].method; i++) {
                int w = snprintf(prob->allow + len, sizeof(prob->allow) - len,
                                 "%s%s", i ? ", " : "", m[i].method);

                if (w > 0 && len + (size_t)w < sizeof(prob->allow))
                        len += (size_t)w;
        }
        snprintf(prob->message, sizeof(prob->message),
                 "method not allowed on this path; allowed: %s",
                 prob->allow);
        return SR_ERR_INVALID;
}

sr_err_t sr_http_route(const char *method, const char *path, sr_route_t *out,
                       sr_http_problem_t *prob)
{
        static const struct method_route get_only[] = { { "GET", 0 } };
        struct seg segs[MAX_SEGS];
        sr_route_t r;
        size_t plen, pre;
        unsigned n;

        method = method ? method : "";
        path = path ? path : "";
        plen = strcspn(path, "?#");
        memset(&r, 0, sizeof(r));

        for (size_t i = 0; i < sizeof(ops_paths) / sizeof(ops_paths[0]);
             i++) {
                if (strlen(ops_paths[i].path) != plen ||
                    memcmp(ops_paths[i].path, path, plen))
                        continue;
                if (strcmp(method, "GET"))
                        return method_not_allowed(get_only, 1, prob);
                r.id = ops_paths[i].id;
                *out = r;
                return SR_OK;
        }

        for (size_t i = 0; i < sizeof(api_prefixes) / sizeof(api_prefixes[0]);
             i++) {
                pre = strlen(api_prefixes[i]);
                if (plen <= pre || memcmp(path, api_prefixes[i], pre))
                        continue;
                if (!split_segs(path + pre, plen - pre, segs, &n))
                        break;
                for (size_t d = 0; d < sizeof(api_paths) / sizeof(api_paths[0]);
                     d++) {
                        const struct path_def *def = &api_paths[d];

                        memset(&r, 0, sizeof(r));
                        if (!match_def(def, segs, n, &r))
                                continue;
                        for (size_t k = 0; k < 2 && def->m[k].method; k++) {
                                if (!strcmp(method, def->m[k].method)) {
                                        r.id = def->m[k].id;
                                        *out = r;
                                        return SR_OK;
                                }
                        }
                        return method_not_allowed(def->m, 2, prob);
                }
                break;
        }
        return refuse(prob, 404, "unknown path or id");
}

void sr_http_stored_definition_problem(const sr_uuid_t *pipeline_id,
                                       sr_http_problem_t *prob)
{
        char id[SR_UUID_STR_LEN + 1];

        sr_uuid_fmt(pipeline_id, id);
        sr_http_problem_set(prob, 501,
                            "pipeline %s: starting a stored pipeline "
                            "definition is not supported, sr keeps no "
                            "definitions; POST the run spec to /v0/runs/",
                            id);
}

/* ------------------------------------------------------------ queries */

/* Query keys, in alphabetical order: links list them in this order. */
enum qkey {
        QK_LIMIT = 0,
        QK_OFFSET,
        QK_ORDERING,
        QK_PIPELINE_NAME,
        QK_OPERATION_ID,
        QK_STATUS,
        QK__COUNT
};

static const char *const qkey_names[QK__COUNT] = {
        [QK_LIMIT] = "limit",
        [QK_OFFSET] = "offset",
        [QK_ORDERING] = "ordering",
        [QK_PIPELINE_NAME] = "pipeline_name",
        [QK_OPERATION_ID] = "stage_run_operation_id",
        [QK_STATUS] = "status",
};

static const char *const order_names[SR_HTTP_ORDER__COUNT] = {
        [SR_HTTP_ORDER_RUN_NUMBER] = "run_number",
        [SR_HTTP_ORDER_STATUS] = "status",
        [SR_HTTP_ORDER_PIPELINE_NAME] = "pipeline__name",
        [SR_HTTP_ORDER_STARTED_AT] = "started_at",
        [SR_HTTP_ORDER_ENDED_AT] = "ended_at",
};

const char *sr_http_order_key_name(sr_http_order_key_t key)
{
        return (unsigned)key < SR_HTTP_ORDER__COUNT ? order_names[key] :
                                                      "unknown";
}

#define BIT(n) (1u << (n))
#define QK(k) BIT(QK_##k)
#define ST(s) BIT(SR_ST_##s)
#define ORD(o) BIT(SR_HTTP_ORDER_##o)

/* Esper's enums (reference §4): list filters and PUT bodies. */
#define PIPELINE_RUN_STATUSES                                             \
        (ST(PENDING) | ST(QUEUED) | ST(PROCESSING) | ST(RUNNING) |        \
         ST(WAITING) | ST(COMPLETE) | ST(SUCCESS) | ST(FAILURE) |         \
         ST(CANCELLED) | ST(TIMEOUT) | ST(INVALID))
#define STAGE_RUN_STATUSES (PIPELINE_RUN_STATUSES & ~ST(WAITING))
#define TARGET_RUN_STATUSES (STAGE_RUN_STATUSES | ST(DISPATCHED))
#define TARGET_RUN_PUT_STATUSES (TARGET_RUN_STATUSES & ~ST(TIMEOUT))

_Static_assert(SR_ST__COUNT <= 32, "status sets are 32-bit masks");

struct list_def {
        uint32_t keys;     /* QK bits */
        uint32_t statuses; /* filterable statuses */
        uint32_t orders;   /* orderable fields */
};

/* The parameters of each list route (reference §6.8-6.10). */
static const struct list_def *list_def(sr_route_id_t route)
{
        static const struct list_def runs = {
                QK(LIMIT) | QK(OFFSET) | QK(STATUS) | QK(PIPELINE_NAME) |
                        QK(ORDERING),
                PIPELINE_RUN_STATUSES,
                ORD(RUN_NUMBER) | ORD(STATUS) | ORD(PIPELINE_NAME) |
                        ORD(STARTED_AT) | ORD(ENDED_AT),
        };
        static const struct list_def pipeline_runs = {
                QK(LIMIT) | QK(OFFSET) | QK(STATUS) | QK(ORDERING),
                PIPELINE_RUN_STATUSES,
                ORD(RUN_NUMBER) | ORD(STATUS) | ORD(STARTED_AT) |
                        ORD(ENDED_AT),
        };
        static const struct list_def stage_runs = {
                QK(LIMIT) | QK(OFFSET) | QK(STATUS), STAGE_RUN_STATUSES, 0,
        };
        static const struct list_def operations = {
                QK(LIMIT) | QK(OFFSET), 0, 0,
        };
        static const struct list_def target_runs = {
                QK(LIMIT) | QK(OFFSET) | QK(STATUS) | QK(OPERATION_ID) |
                        QK(ORDERING),
                TARGET_RUN_STATUSES, ORD(STATUS),
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
        default:
                return &none;
        }
}

/* "pending, queued, ..." for the statuses in @p mask. */
static void list_statuses(char *out, size_t size, uint32_t mask)
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
static bool parse_status_in(const char *s, size_t len, uint32_t mask,
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
                        quote(shown, s + start, n + (desc ? 1 : 0));
                        list_orders(names, sizeof(names), allowed);
                        return refuse(prob, 400,
                                      "ordering: unknown field %s; allowed: "
                                      "%s, each optionally prefixed with "
                                      "\"-\"", shown, names);
                }
                if (used & BIT(k))
                        return refuse(prob, 400,
                                      "ordering: \"%s\" given more than once",
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
                return refuse(prob, 400, "%s: given more than once; give "
                              "each query parameter once", qkey_names[k]);
        q->seen |= BIT(k);
        if (!value || vlen == 0)
                return SR_OK; /* empty: as if absent */
        quote(shown, value, vlen);

        switch ((enum qkey)k) {
        case QK_LIMIT:
                if (!parse_uint(value, vlen, SR_HTTP_LIMIT_MAX, &v))
                        return refuse(prob, 400, "limit: expected an integer "
                                      "0..%u, got %s", SR_HTTP_LIMIT_MAX,
                                      shown);
                q->limit = (uint32_t)v;
                break;
        case QK_OFFSET:
                if (!parse_uint(value, vlen, SR_HTTP_OFFSET_MAX, &v))
                        return refuse(prob, 400, "offset: expected an integer "
                                      "0..%llu, got %s",
                                      (unsigned long long)SR_HTTP_OFFSET_MAX,
                                      shown);
                q->offset = v;
                break;
        case QK_STATUS:
                if (!parse_status_in(value, vlen, def->statuses,
                                     &q->status)) {
                        list_statuses(names, sizeof(names), def->statuses);
                        return refuse(prob, 400, "status: expected one of "
                                      "%s (any case), got %s", names, shown);
                }
                break;
        case QK_PIPELINE_NAME:
                if (vlen >= sizeof(q->pipeline_name))
                        return refuse(prob, 400, "pipeline_name: too long "
                                      "(%zu bytes, at most %zu)", vlen,
                                      sizeof(q->pipeline_name) - 1);
                if (memchr(value, '\0', vlen))
                        return refuse(prob, 400, "pipeline_name: must not "
                                      "contain a NUL byte, got %s", shown);
                memcpy(q->pipeline_name, value, vlen);
                q->pipeline_name[vlen] = '\0';
                break;
        case QK_OPERATION_ID:
                if (!parse_uuid(value, vlen, &q->stage_run_operation_id))
                        return refuse(prob, 400, "stage_run_operation_id: "
                                      "expected a UUID, got %s", shown);
                q->has_operation_id = true;
                break;
        case QK_ORDERING:
                return parse_ordering(q, def->orders, value, vlen, prob);
        case QK__COUNT:
                break;
        }
        return SR_OK;
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
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
                           (hi = hexval(s[i + 1])) >= 0 &&
                           (lo = hexval(s[i + 2])) >= 0) {
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
                                return refuse(prob, 400, "%s: value too long "
                                              "(more than %d bytes)",
                                              qkey_names[k], VALUE_MAX - 1);
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

/* ------------------------------------------------------------ bodies */

sr_err_t sr_http_check_content_type(const char *ct, sr_http_problem_t *prob)
{
        static const char type[] = "application/json";
        char shown[QUOTE_MAX];
        const char *p = ct, *name, *val;
        size_t nlen, vlen;

        if (!ct)
                return refuse(prob, 415, "Content-Type missing; a write must "
                              "send application/json");
        quote(shown, ct, strlen(ct));
        while (*p == ' ' || *p == '\t')
                p++;
        if (strncasecmp(p, type, sizeof(type) - 1))
                goto refused;
        p += sizeof(type) - 1;
        /* parameters = *( OWS ";" OWS [ name "=" value ] ), RFC 9110 */
        for (;;) {
                while (*p == ' ' || *p == '\t')
                        p++;
                if (!*p)
                        return SR_OK;
                if (*p != ';')
                        goto refused;
                p++;
                while (*p == ' ' || *p == '\t')
                        p++;
                if (!*p || *p == ';')
                        continue;
                name = p;
                while (*p && *p != '=' && *p != ';' && *p != ' ' &&
                       *p != '\t')
                        p++;
                nlen = (size_t)(p - name);
                if (*p != '=' || nlen != 7 || strncasecmp(name, "charset", 7))
                        goto refused;
                p++;
                if (*p == '"') {
                        val = ++p;
                        while (*p && *p != '"')
                                p++;
                        if (*p != '"')
                                goto refused;
                        vlen = (size_t)(p - val);
                        p++;
                } else {
                        val = p;
                        while (*p && *p != ';' && *p != ' ' && *p != '\t')
                                p++;
                        vlen = (size_t)(p - val);
                }
                if (vlen != 5 || strncasecmp(val, "utf-8", 5))
                        goto refused;
        }
refused:
        return refuse(prob, 415, "Content-Type must be application/json "
                      "(optionally with charset=utf-8), got %s", shown);
}

sr_err_t sr_http_check_idempotency_key(const char *key,
                                       sr_http_problem_t *prob)
{
        char shown[QUOTE_MAX];
        size_t len;

        if (!key)
                return SR_OK;
        len = strlen(key);
        if (len == 0 || len > SR_HTTP_IDEM_KEY_MAX)
                goto refused;
        for (size_t i = 0; i < len; i++)
                if (key[i] < '!' || key[i] > '~')
                        goto refused;
        return SR_OK;
refused:
        quote(shown, key, len);
        return refuse(prob, 400, "Idempotency-Key: expected 1 to %d visible "
                      "ASCII characters (no space), e.g. a UUID; got %s (%zu "
                      "bytes)", SR_HTTP_IDEM_KEY_MAX, shown, len);
}

/* Deepest nesting of arrays and objects in @p s, counted outside strings;
 * stops counting once past @p max. Malformed text is left to jansson. */
static size_t json_text_depth(const void *text, size_t len, size_t max)
{
        const char *s = text;
        size_t depth = 0, deepest = 0;
        bool in_str = false;

        for (size_t i = 0; i < len && deepest <= max; i++) {
                char c = s[i];

                if (in_str) {
                        if (c == '\\')
                                i++;
                        else if (c == '"')
                                in_str = false;
                } else if (c == '"') {
                        in_str = true;
                } else if (c == '[' || c == '{') {
                        if (++depth > deepest)
                                deepest = depth;
                } else if ((c == ']' || c == '}') && depth > 0) {
                        depth--;
                }
        }
        return deepest;
}

sr_err_t sr_http_load_object(const void *body, size_t len, size_t max_len,
                             json_t **out, sr_http_problem_t *prob)
{
        char shown[QUOTE_MAX];
        json_error_t jerr;
        json_t *root;

        if (max_len == 0)
                max_len = SR_HTTP_BODY_MAX_DEFAULT;
        if (len > max_len)
                return refuse(prob, 413, "body too large (%zu bytes, at most "
                              "%zu)", len, max_len);
        if (!body || len == 0)
                return refuse(prob, 400, "body: empty; expected a JSON "
                              "object");
        if (json_text_depth(body, len, SR_HTTP_MAX_DEPTH) >
            SR_HTTP_MAX_DEPTH)
                return refuse(prob, 400, "body: nested too deeply (at most "
                              "%d levels of arrays and objects)",
                              SR_HTTP_MAX_DEPTH);
        root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                          &jerr);
        /* An integer past int64 (say in a run spec's args, which keep its
         * digits): read it as a real rather than refuse the body. */
        if (!root && json_error_code(&jerr) == json_error_numeric_overflow)
                root = json_loadb(body, len,
                                  JSON_REJECT_DUPLICATES | JSON_DECODE_ANY |
                                          JSON_DECODE_INT_AS_REAL,
                                  &jerr);
        if (!root) {
                if (json_error_code(&jerr) == json_error_out_of_memory)
                        return out_of_memory(prob);
                return refuse(prob, 400, "body: malformed JSON at line %d "
                              "column %d: %s", jerr.line, jerr.column,
                              jerr.text);
        }
        if (!json_is_object(root)) {
                show_json(shown, root);
                json_decref(root);
                return refuse(prob, 400, "body: expected a JSON object, got "
                              "%s", shown);
        }
        *out = root;
        return SR_OK;
}

static uint32_t put_statuses(sr_route_id_t route)
{
        switch (route) {
        case SR_ROUTE_PIPELINE_RUN_PUT:
                return PIPELINE_RUN_STATUSES;
        case SR_ROUTE_STAGE_RUN_PUT:
                return STAGE_RUN_STATUSES;
        case SR_ROUTE_TARGET_RUN_PUT:
                return TARGET_RUN_PUT_STATUSES;
        default:
                return 0;
        }
}

static sr_err_t put_field(sr_route_id_t route, const char *key,
                          const json_t *v, sr_http_put_t *put,
                          bool *have_status, sr_http_problem_t *prob)
{
        bool target = route == SR_ROUTE_TARGET_RUN_PUT;
        uint32_t mask = put_statuses(route);
        char shown[QUOTE_MAX], names[160];
        size_t len;

        if (!strcmp(key, "status")) {
                if (!json_is_string(v)) {
                        show_json(shown, v);
                        return refuse(prob, 400, "status: expected a string, "
                                      "got %s", shown);
                }
                if (!parse_status_in(json_string_value(v),
                                     json_string_length(v), mask,
                                     &put->status)) {
                        show_json(shown, v);
                        list_statuses(names, sizeof(names), mask);
                        return refuse(prob, 400, "status: expected one of %s "
                                      "(any case), got %s", names, shown);
                }
                *have_status = true;
                return SR_OK;
        }
        if (target && !strcmp(key, "device_name")) {
                if (json_is_null(v))
                        return SR_OK;
                if (!json_is_string(v)) {
                        show_json(shown, v);
                        return refuse(prob, 400, "device_name: expected a "
                                      "string or null, got %s", shown);
                }
                len = json_string_length(v);
                if (len >= sizeof(put->device_name))
                        return refuse(prob, 400, "device_name: too long (%zu "
                                      "bytes, at most %zu)", len,
                                      sizeof(put->device_name) - 1);
                memcpy(put->device_name, json_string_value(v), len + 1);
                put->has_device_name = true;
                return SR_OK;
        }
        quote(shown, key, strlen(key));
        return refuse(prob, 400, "unknown field %s; allowed: %s", shown,
                      target ? "status, device_name" : "status");
}

sr_err_t sr_http_parse_put(sr_route_id_t route, const void *body, size_t len,
                           size_t max_len, sr_http_put_t *out,
                           sr_http_problem_t *prob)
{
        bool have_status = false;
        sr_http_put_t put;
        const char *key;
        json_t *root, *v;
        sr_err_t err;

        if (!put_statuses(route))
                return refuse(prob, 500, "internal: route %s has no PUT body",
                              sr_route_name(route));
        err = sr_http_load_object(body, len, max_len, &root, prob);
        if (err)
                return err;
        memset(&put, 0, sizeof(put));
        json_object_foreach(root, key, v) {
                err = put_field(route, key, v, &put, &have_status, prob);
                if (err)
                        goto out_decref;
        }
        if (!have_status) {
                err = refuse(prob, 400, "status: required field missing");
                goto out_decref;
        }
        *out = put;
out_decref:
        json_decref(root);
        return err;
}

sr_err_t sr_http_parse_run_spec(const void *body, size_t len, size_t max_len,
                                sr_runspec_t *out, sr_http_problem_t *prob)
{
        sr_errctx_t ec = { 0 };
        json_t *root;
        sr_err_t err;

        if (max_len == 0)
                max_len = SR_HTTP_BODY_MAX_DEFAULT;
        if (max_len > SR_SPEC_MAX_TEXT)
                max_len = SR_SPEC_MAX_TEXT;
        err = sr_http_load_object(body, len, max_len, &root, prob);
        if (err)
                return err;
        /* sr_spec_json takes 600.0 as the integer it is (JSON Schema) */
        err = sr_spec_json_from_parsed(root, body, len, out, &ec);
        json_decref(root);
        if (err == SR_ERR_NOMEM)
                return out_of_memory(prob);
        if (err)
                return refuse(prob, 400, "%s", ec.msg);
        return SR_OK;
}

/* ------------------------------------------------------------ answers */

/* A growing text buffer; after a failed allocation it stays failed. */
struct tbuf {
        char *p;
        size_t len, cap;
        bool oom;
};

static void tb_add(struct tbuf *b, const char *s, size_t n)
{
        size_t cap;
        char *p;

        if (b->oom)
                return;
        if (b->len + n + 1 > b->cap) {
                cap = b->cap ? b->cap : 128;
                while (cap < b->len + n + 1)
                        cap *= 2;
                p = realloc(b->p, cap);
                if (!p) {
                        b->oom = true;
                        return;
                }
                b->p = p;
                b->cap = cap;
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
}

static void tb_str(struct tbuf *b, const char *s)
{
        tb_add(b, s, strlen(s));
}

/* Percent-encode every byte but the unreserved ones (and @p keep). */
static void tb_pct(struct tbuf *b, const char *s, size_t n, const char *keep)
{
        static const char hex[] = "0123456789ABCDEF";
        unsigned char c;
        char esc[3];

        for (size_t i = 0; i < n; i++) {
                c = (unsigned char)s[i];
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                    c == '_' || c == '~' || (c && strchr(keep, c))) {
                        tb_add(b, (const char *)&c, 1);
                } else {
                        esc[0] = '%';
                        esc[1] = hex[c >> 4];
                        esc[2] = hex[c & 15];
                        tb_add(b, esc, 3);
                }
        }
}

sr_err_t sr_http_base_url(const char *scheme, const char *host, char *out,
                          size_t size, sr_http_problem_t *prob)
{
        static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "0123456789-._~:[]";
        char shown[QUOTE_MAX];
        size_t len = host ? strlen(host) : 0;
        int w;

        if (!host || len == 0 || len > 255 || strspn(host, ok) != len) {
                quote(shown, host ? host : "", len);
                return refuse(prob, 400, "Host header malformed: %s", shown);
        }
        if (!scheme || (strcmp(scheme, "http") && strcmp(scheme, "https")))
                return refuse(prob, 500, "internal: scheme must be http or "
                              "https");
        w = snprintf(out, size, "%s://%s", scheme, host);
        if (w < 0 || (size_t)w >= size)
                return refuse(prob, 500, "internal: base URL buffer too "
                              "small");
        return SR_OK;
}

/* <base><path>?limit=..[&offset=..][&ordering=..]... as a JSON string. */
static json_t *page_link(const char *base, const char *path,
                         const sr_http_query_t *q, uint64_t offset)
{
        char num[24], id[SR_UUID_STR_LEN + 1];
        struct tbuf b = { NULL, 0, 0, false };
        json_t *v;

        /* Printable ASCII only: a JSON string can always hold it. */
        tb_pct(&b, base, strlen(base), ":/[]@!$&'()*+,;=%");
        tb_pct(&b, path, strcspn(path, "?#"), "/:@!$&'()*+,;=");
        snprintf(num, sizeof(num), "%u", q->limit);
        tb_str(&b, "?limit=");
        tb_str(&b, num);
        if (offset) {
                snprintf(num, sizeof(num), "%llu", (unsigned long long)offset);
                tb_str(&b, "&offset=");
                tb_str(&b, num);
        }
        if (q->n_order) {
                tb_str(&b, "&ordering=");
                for (uint32_t i = 0; i < q->n_order && i < SR_HTTP_MAX_ORDER;
                     i++) {
                        if (i)
                                tb_str(&b, "%2C");
                        if (q->order[i].desc)
                                tb_str(&b, "-");
                        tb_str(&b, sr_http_order_key_name(q->order[i].key));
                }
        }
        if (q->pipeline_name[0]) {
                tb_str(&b, "&pipeline_name=");
                tb_pct(&b, q->pipeline_name,
                       strnlen(q->pipeline_name, sizeof(q->pipeline_name)),
                       "");
        }
        if (q->has_operation_id) {
                sr_uuid_fmt(&q->stage_run_operation_id, id);
                tb_str(&b, "&stage_run_operation_id=");
                tb_str(&b, id);
        }
        if (q->status != SR_ST_NONE) {
                tb_str(&b, "&status=");
                tb_str(&b, sr_status_name(q->status));
        }
        v = b.oom ? NULL : sr_json_string_lossy(b.p, b.len);
        free(b.p);
        return v;
}

/* Takes @p v in every case; a NULL @p v is an earlier allocation failure. */
static bool put(json_t *obj, const char *key, json_t *v)
{
        return v && json_object_set_new(obj, key, v) == 0;
}

json_t *sr_http_page(const char *base_url, const char *path,
                     const sr_http_query_t *q, uint64_t count,
                     json_t *results)
{
        uint64_t limit = q->limit, offset = q->offset, prev;
        json_t *page, *next_v, *prev_v;

        if (!json_is_array(results)) {
                json_decref(results);
                return NULL;
        }
        base_url = base_url ? base_url : "";
        path = path ? path : "";
        if (limit && offset + limit < count)
                next_v = page_link(base_url, path, q, offset + limit);
        else
                next_v = json_null();
        if (limit && offset) {
                prev = offset > limit ? offset - limit : 0;
                if (count < limit)
                        prev = 0;
                else if (prev > count - limit)
                        prev = count - limit;
                prev_v = page_link(base_url, path, q, prev);
        } else {
                prev_v = json_null();
        }
        page = json_object();
        if (!page || !put(page, "count",
                          json_integer(count > (uint64_t)INT64_MAX ?
                                       INT64_MAX : (json_int_t)count))) {
                json_decref(next_v);
                json_decref(prev_v);
                goto err_results;
        }
        if (!put(page, "previous", prev_v)) {
                json_decref(next_v);
                goto err_results;
        }
        if (!put(page, "next", next_v))
                goto err_results;
        if (!put(page, "results", results)) {
                json_decref(page);
                return NULL;
        }
        return page;

err_results:
        json_decref(results);
        json_decref(page);
        return NULL;
}

sr_err_t sr_http_envelope(int code, const char *message,
                          const json_t *content, sr_buf_t *out)
{
        struct tbuf b = { NULL, 0, 0, false };
        char *msg_text = NULL, *content_text;
        char num[16];
        json_t *msg;

        msg = sr_json_string_lossy(message ? message : "",
                                   message ? strlen(message) : 0);
        if (msg)
                msg_text = json_dumps(msg, JSON_ENCODE_ANY);
        json_decref(msg);
        content_text = content ? json_dumps(content, JSON_COMPACT |
                                                     JSON_ENCODE_ANY) :
                                 NULL;
        if (!msg_text || (content && !content_text)) {
                free(msg_text);
                free(content_text);
                return SR_ERR_NOMEM;
        }
        snprintf(num, sizeof(num), "%d", code);
        tb_str(&b, "{\"code\":");
        tb_str(&b, num);
        tb_str(&b, ",\"message\":");
        tb_str(&b, msg_text);
        tb_str(&b, ",\"content\":");
        tb_str(&b, content_text ? content_text : "{}");
        tb_str(&b, "}");
        free(msg_text);
        free(content_text);
        if (b.oom) {
                free(b.p);
                return SR_ERR_NOMEM;
        }
        out->ptr = b.p;
        out->len = b.len;
        return SR_OK;
}

sr_err_t sr_http_problem_envelope(const sr_http_problem_t *prob,
                                  sr_buf_t *out)
{
        char msg[SR_HTTP_MSG_MAX];

        /* The message may fill its array; never read past it. */
        snprintf(msg, sizeof(msg), "%.*s", (int)(sizeof(msg) - 1),
                 prob->message);
        return sr_http_envelope(prob->status, msg, NULL, out);
}
