/* common/gateway/sr_http.c - the gateway's pure request/response layer
 * (design/api.md), with no sockets: problems, answers, envelopes and
 * pages. Routing is in sr_http_route.c, query parameters in
 * sr_http_query.c, request headers and bodies in sr_http_body.c.
 *
 * Every byte that reaches a message comes from the client, so it is quoted
 * with sr_http__quote() (printable ASCII, the rest as \xNN, shortened): a
 * message is always short, printable and valid UTF-8. Routes, query keys
 * and status sets are tables; the functions only walk them.
 */
#include "sr_http_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_entity_json.h"
#include "sr_utf8.h"

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
        sr_utf8_vformat(prob->message, sizeof(prob->message), fmt, ap);
        va_end(ap);
}

sr_err_t sr_http__refuse(sr_http_problem_t *prob, int status,
                         const char *fmt, ...)
{
        va_list ap;

        if (prob) {
                prob->status = status;
                prob->allow[0] = '\0';
                va_start(ap, fmt);
                sr_utf8_vformat(prob->message, sizeof(prob->message), fmt,
                                ap);
                va_end(ap);
        }
        return status == 404 ? SR_ERR_NOT_FOUND : SR_ERR_INVALID;
}

sr_err_t sr_http__out_of_memory(sr_http_problem_t *prob)
{
        sr_http__refuse(prob, 500, "out of memory");
        return SR_ERR_NOMEM;
}

/* "<s>" with printable ASCII kept, '"' and '\' escaped, other bytes as
 * \xNN, and "..." after QUOTE_SHOWN bytes. */
void sr_http__quote(char out[QUOTE_MAX], const char *s, size_t len)
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
void sr_http__show_json(char out[QUOTE_MAX], const json_t *v)
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

/* <base><path>?[cursor=..&]limit=..[&offset=..][&ordering=..]... as a
 * JSON string; @p cursor NULL: an offset link. */
static json_t *page_link(const char *base, const char *path,
                         const sr_http_query_t *q, uint64_t offset,
                         const char *cursor)
{
        char num[24], id[SR_UUID_STR_LEN + 1];
        struct tbuf b = { NULL, 0, 0, false };
        json_t *v;

        /* Printable ASCII only: a JSON string can always hold it. */
        tb_pct(&b, base, strlen(base), ":/[]@!$&'()*+,;=%");
        tb_pct(&b, path, strcspn(path, "?#"), "/:@!$&'()*+,;=");
        snprintf(num, sizeof(num), "%u", q->limit);
        tb_str(&b, "?");
        if (cursor) {
                tb_str(&b, "cursor=");
                tb_pct(&b, cursor, strlen(cursor), "");
                tb_str(&b, "&");
        }
        if (q->is_default)
                tb_str(&b, q->is_default == 2 ? "default=true&" :
                                           "default=false&");
        tb_str(&b, "limit=");
        tb_str(&b, num);
        if (q->name[0]) {
                tb_str(&b, "&name=");
                tb_pct(&b, q->name, strnlen(q->name, sizeof(q->name)), "");
        }
        if (offset) {
                snprintf(num, sizeof(num), "%llu", (unsigned long long)offset);
                tb_str(&b, "&offset=");
                tb_str(&b, num);
        }
        if (q->operation_type[0]) {
                tb_str(&b, "&operation_type=");
                tb_pct(&b, q->operation_type,
                       strnlen(q->operation_type, sizeof(q->operation_type)),
                       "");
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
        if (q->tl_type[0]) {
                tb_str(&b, "&type=");
                tb_pct(&b, q->tl_type, strnlen(q->tl_type, sizeof(q->tl_type)),
                       "");
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
        return sr_http_page_keyset(base_url, path, q, count, NULL, results);
}

json_t *sr_http_page_keyset(const char *base_url, const char *path,
                            const sr_http_query_t *q, uint64_t count,
                            const char *next_cursor, json_t *results)
{
        uint64_t limit = q->limit, offset = q->offset, prev;
        json_t *page, *next_v, *prev_v;

        if (!json_is_array(results)) {
                json_decref(results);
                return NULL;
        }
        base_url = base_url ? base_url : "";
        path = path ? path : "";
        if (next_cursor && limit && next_cursor[0])
                next_v = page_link(base_url, path, q, 0, next_cursor);
        else if (!next_cursor && limit && offset + limit < count)
                next_v = page_link(base_url, path, q, offset + limit, NULL);
        else
                next_v = json_null();
        if (limit && offset && !q->cursor[0]) {
                prev = offset > limit ? offset - limit : 0;
                if (count < limit)
                        prev = 0;
                else if (prev > count - limit)
                        prev = count - limit;
                prev_v = page_link(base_url, path, q, prev, NULL);
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
        size_t len;

        /* The message may fill its array; never read past it, and never
         * end inside a character. */
        len = sr_utf8_cut(prob->message,
                          strnlen(prob->message, sizeof(msg) - 1));
        memcpy(msg, prob->message, len);
        msg[len] = '\0';
        return sr_http_envelope(prob->status, msg, NULL, out);
}
