/* common/io/sr_h1_conn.c - one HTTP/1.1 connection without sockets: received
 * bytes through the parser into the application, answers into bytes to
 * send. Requests are handled strictly one at a time: the next one is not
 * parsed before the answer to this one was sent. */
#include "sr_h1.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";

void sr_h1_conn_init(sr_h1_conn_t *c, const sr_h1_app_t *app,
                     size_t body_max, const char *date)
{
        c->app = app;
        c->body_max = body_max;
        c->date = date;
        sr_h1_parser_init(&c->parser);
        c->phase = SR_H1_PHASE_IDLE;
        memset(&c->req, 0, sizeof(c->req));
        memset(&c->resp, 0, sizeof(c->resp));
        c->body = (sr_buf_t){ 0 };
        c->body_cap = 0;
        c->in_request = c->blocking = c->answered = false;
        c->close_after = c->eof = c->stopping = false;
        c->in_off = c->in_len = 0;
        c->oh_off = c->oh_len = 0;
        c->ob = NULL;
        c->ob_off = c->ob_len = 0;
        c->out_owned = (sr_buf_t){ 0 };
        c->err_answer = false;
        c->err_len = 0;
        c->stream = (sr_h1_stream_t){ 0 };
        c->stream_end = c->stalled = false;
}

/* Hand a stream back to the application, once. */
static void stream_release(sr_h1_stream_t *st, bool stalled)
{
        if (st->pull && st->close)
                st->close(st->arg, stalled);
        *st = (sr_h1_stream_t){ 0 };
}

void sr_h1_conn_fini(sr_h1_conn_t *c)
{
        sr_buf_free(&c->body);
        stream_release(&c->resp.stream, false);
        stream_release(&c->stream, c->stalled);
        sr_buf_free(&c->resp.body);
        sr_buf_free(&c->out_owned);
}

char *sr_h1_conn_rbuf(sr_h1_conn_t *c, size_t *space)
{
        if (c->in_off == c->in_len) {
                c->in_off = c->in_len = 0;
        } else if (c->in_off > SR_H1_IN_MAX / 2) {
                memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
                c->in_len -= c->in_off;
                c->in_off = 0;
        }
        *space = 0;
        if ((c->phase <= SR_H1_PHASE_BODY ||
             c->phase == SR_H1_PHASE_STREAM) && !c->eof && !c->stopping)
                *space = SR_H1_IN_MAX - c->in_len;
        return c->in + c->in_len;
}

void sr_h1_conn_received(sr_h1_conn_t *c, size_t n)
{
        if (c->phase == SR_H1_PHASE_STREAM)
                return; /* nothing is read after a streamed answer */
        c->in_len += n;
}

void sr_h1_conn_eof(sr_h1_conn_t *c)
{
        c->eof = true;
}

sr_h1_phase_t sr_h1_conn_phase(const sr_h1_conn_t *c)
{
        return c->phase;
}

/* ------------------------------------------------------------ answers */

/* {"code":status,"message":"...","content":{}} into err_body. */
static void error_envelope(sr_h1_conn_t *c, int status, const char *msg)
{
        size_t n, cap = sizeof(c->err_body);
        char *o = c->err_body;

        n = (size_t)snprintf(o, cap, "{\"code\":%d,\"message\":\"", status);
        for (; *msg && n + 16 < cap; msg++) {
                unsigned char ch = (unsigned char)*msg;

                if (ch == '"' || ch == '\\') {
                        o[n++] = '\\';
                        o[n++] = (char)ch;
                } else if (ch < 0x20 || ch >= 0x7f) {
                        n += (size_t)snprintf(o + n, cap - n, "\\u%04x", ch);
                } else {
                        o[n++] = (char)ch;
                }
        }
        n += (size_t)snprintf(o + n, cap - n, "\",\"content\":{}}");
        c->err_len = n < cap ? n : cap - 1;
}

/* The next element of a comma list, without surrounding spaces; false at
 * the end. */
static bool list_next(const char **p, const char **tok, size_t *len)
{
        size_t n = strcspn(*p, ","), s = 0, e = n;

        if (!**p)
                return false;
        while (s < e && (*p)[s] == ' ')
                s++;
        while (e > s && (*p)[e - 1] == ' ')
                e--;
        *tok = *p + s;
        *len = e - s;
        *p += n + ((*p)[n] == ',');
        return true;
}

static bool is_tok(const char *tok, size_t len, const char *word)
{
        return len == strlen(word) && !memcmp(tok, word, len);
}

/* Allow with HEAD next to GET: HEAD is served wherever GET is. */
static void allow_header(const char *allow, char *out, size_t size)
{
        bool get = false, head = false;
        const char *p = allow, *tok;
        size_t n = 0, len;

        while (list_next(&p, &tok, &len)) {
                get |= is_tok(tok, len, "GET");
                head |= is_tok(tok, len, "HEAD");
        }
        if (!get || head) {
                snprintf(out, size, "%s", allow);
                return;
        }
        out[0] = '\0';
        for (p = allow; list_next(&p, &tok, &len) && n < size;)
                if (len)
                        n += (size_t)snprintf(out + n, size - n, "%s%.*s%s",
                                              n ? ", " : "", (int)len, tok,
                                              is_tok(tok, len, "GET") ?
                                                      ", HEAD" :
                                                      "");
}

/* Appenders for the answer's head: snprintf was a tenth of the time of a
 * small read. The caller checked the room. */
static char *put(char *o, const char *s)
{
        size_t n = strlen(s);

        memcpy(o, s, n);
        return o + n;
}

static char *put_uint(char *o, uint64_t v)
{
        char tmp[24];
        int i = 0;

        do {
                tmp[i++] = (char)('0' + v % 10);
                v /= 10;
        } while (v);
        while (i)
                *o++ = tmp[--i];
        return o;
}

/* The answer in c->resp (or err_body) into the output: status line and
 * headers after any interim answer still unsent, then the body. */
static void make_answer(sr_h1_conn_t *c)
{
        const sr_h1_response_t *r = &c->resp;
        bool http10 = c->in_request && c->parser.head.minor_version == 0;
        const char *ctype = r->content_type ? r->content_type :
                                              "application/json";
        bool streamed = r->stream.pull && !c->err_answer;
        int status = r->status >= 100 && r->status <= 999 ? r->status : 500;
        char allow[sizeof(r->allow) + 8];
        const char *extra = r->headers;
        const char *body;
        size_t body_len;
        char *o;

        if (c->eof || c->stopping || !c->in_request ||
            !c->parser.head.keep_alive || streamed)
                c->close_after = true;
        if (streamed) {
                /* The body ends with the connection. */
                c->stream = c->resp.stream;
                c->resp.stream = (sr_h1_stream_t){ 0 };
                sr_buf_free(&c->resp.body);
                c->out_owned.ptr = c->req.is_head ? NULL :
                                                    malloc(SR_H1_STREAM_BUF);
                c->out_owned.len = 0;
                c->stream_end = !c->out_owned.ptr;
                body = c->out_owned.ptr;
                body_len = 0;
        } else if (c->err_answer) {
                body = c->err_body;
                body_len = c->err_len;
        } else {
                c->out_owned = c->resp.body;
                c->resp.body = (sr_buf_t){ 0 };
                body = c->out_owned.ptr;
                body_len = c->out_owned.len;
        }
        allow[0] = '\0';
        if (r->allow[0])
                allow_header(r->allow, allow, sizeof(allow));
        if (c->oh_off) {
                memmove(c->out_head, c->out_head + c->oh_off,
                        c->oh_len - c->oh_off);
                c->oh_len -= c->oh_off;
                c->oh_off = 0;
        }
        /* The fixed text, numbers and the variable strings must fit. */
        if (c->oh_len + 256 + strlen(ctype) + strlen(allow) +
                    (c->date ? strlen(c->date) : 0) +
                    (r->headers ? strlen(r->headers) : 0) >
            sizeof(c->out_head)) {
                ctype = "application/octet-stream"; /* a runaway type */
                body_len = 0;
                status = 500;
                allow[0] = '\0';
                extra = NULL;
        }
        o = c->out_head + c->oh_len;
        o = put(o, "HTTP/1.1 ");
        o = put_uint(o, (uint64_t)status);
        *o++ = ' ';
        o = put(o, sr_h1_reason(status));
        o = put(o, "\r\nContent-Type: ");
        o = put(o, ctype);
        if (!streamed) {
                o = put(o, "\r\nContent-Length: ");
                o = put_uint(o, body_len);
        }
        o = put(o, "\r\nCache-Control: no-store\r\n");
        if (c->date) {
                o = put(o, "Date: ");
                o = put(o, c->date);
                o = put(o, "\r\n");
        }
        if (allow[0]) {
                o = put(o, "Allow: ");
                o = put(o, allow);
                o = put(o, "\r\n");
        }
        if (extra)
                o = put(o, extra);
        if (r->retry_after > 0) {
                o = put(o, "Retry-After: ");
                o = put_uint(o, (uint64_t)r->retry_after);
                o = put(o, "\r\n");
        }
        if (c->close_after)
                o = put(o, "Connection: close\r\n");
        else if (http10)
                o = put(o, "Connection: keep-alive\r\n");
        o = put(o, "\r\n");
        c->oh_len = (size_t)(o - c->out_head);
        c->ob = body;
        c->ob_off = 0;
        c->ob_len = c->req.is_head ? 0 : body_len;
        /* the request is over */
        sr_buf_free(&c->body);
        c->body_cap = 0;
        c->in_request = c->answered = c->blocking = false;
        memset(&c->req, 0, sizeof(c->req));
        c->phase = SR_H1_PHASE_WRITE;
}

/* Record a refusal of ours as the answer; close after it. */
static void set_error(sr_h1_conn_t *c, int status, int retry_after,
                      const char *msg)
{
        stream_release(&c->resp.stream, false);
        sr_buf_free(&c->resp.body);
        memset(&c->resp, 0, sizeof(c->resp));
        c->resp.status = status;
        c->resp.retry_after = retry_after;
        c->err_answer = true;
        error_envelope(c, status, msg);
        c->close_after = true;
        c->answered = true;
}

void sr_h1_conn_fail(sr_h1_conn_t *c, int status, int retry_after,
                     const char *message)
{
        switch (c->phase) {
        case SR_H1_PHASE_IDLE:
                c->phase = SR_H1_PHASE_CLOSE;
                break;
        case SR_H1_PHASE_HEAD:
        case SR_H1_PHASE_BODY:
                set_error(c, status, retry_after, message);
                make_answer(c);
                break;
        case SR_H1_PHASE_APP:
                set_error(c, status, retry_after, message);
                break;
        case SR_H1_PHASE_WRITE:
                c->close_after = true;
                break;
        case SR_H1_PHASE_STREAM:
                c->phase = SR_H1_PHASE_CLOSE;
                break;
        case SR_H1_PHASE_CLOSE:
                break;
        }
}

void sr_h1_conn_stop(sr_h1_conn_t *c)
{
        c->stopping = true;
        if (c->phase <= SR_H1_PHASE_BODY)
                c->phase = SR_H1_PHASE_CLOSE;
        else if (c->phase != SR_H1_PHASE_CLOSE)
                c->close_after = true;
}

void sr_h1_conn_handle(sr_h1_conn_t *c)
{
        if (c->phase != SR_H1_PHASE_APP || c->answered)
                return;
        c->err_answer = false;
        c->app->on_request(c->app->arg, &c->req, &c->resp);
        c->answered = true;
}

int sr_h1_conn_output(const sr_h1_conn_t *c, sr_slice_t out[2])
{
        int n = 0;

        if (c->oh_off < c->oh_len)
                out[n++] = sr_slice(c->out_head + c->oh_off,
                                    c->oh_len - c->oh_off);
        if (c->ob_off < c->ob_len)
                out[n++] = sr_slice(c->ob + c->ob_off, c->ob_len - c->ob_off);
        return n;
}

void sr_h1_conn_sent(sr_h1_conn_t *c, size_t n)
{
        size_t h = c->oh_len - c->oh_off;

        if (n < h) {
                c->oh_off += n;
                return;
        }
        c->oh_off = c->oh_len = 0;
        n -= h;
        c->ob_off += n < c->ob_len - c->ob_off ? n : c->ob_len - c->ob_off;
}

/* ------------------------------------------------------------ requests */

static void refuse_too_large(sr_h1_conn_t *c)
{
        char msg[64];

        snprintf(msg, sizeof(msg), "request body over %zu bytes",
                 c->req.body_max);
        set_error(c, 413, 0, msg);
        make_answer(c);
}

static void begin_request(sr_h1_conn_t *c)
{
        const sr_h1_head_t *h = &c->parser.head;
        sr_h1_request_t *r = &c->req;
        bool blocking = false;

        memset(r, 0, sizeof(*r));
        memset(&c->resp, 0, sizeof(c->resp));
        c->err_answer = false;
        c->in_request = true;
        r->head = h;
        r->is_head = !strcmp(h->method, "HEAD");
        r->method = r->is_head ? "GET" : h->method;
        r->target = h->target;
        r->has_body = h->framing == SR_H1_FRAMING_CHUNKED ||
                      (h->framing == SR_H1_FRAMING_LENGTH &&
                       h->content_length > 0);
        r->declared_length = h->framing == SR_H1_FRAMING_LENGTH ?
                                     h->content_length :
                                     0;
        r->body_max = c->body_max;
        if (r->has_body && c->app->body_max) { /* none to bound else */
                size_t m = c->app->body_max(c->app->arg, r);

                if (m)
                        r->body_max = m;
        }
        r->body_too_large = r->declared_length > r->body_max;
        if (c->app->on_head &&
            c->app->on_head(c->app->arg, r, &c->resp, &blocking)) {
                /* Answered from the head: a body is never read. */
                if (r->has_body)
                        c->close_after = true;
                make_answer(c);
                return;
        }
        c->blocking = blocking;
        if (r->body_too_large) {
                refuse_too_large(c);
                return;
        }
        if (h->framing == SR_H1_FRAMING_LENGTH && h->content_length > 0) {
                c->body.ptr = malloc((size_t)h->content_length);
                if (!c->body.ptr) {
                        set_error(c, 503, 1, "out of memory for the body; "
                                  "retry");
                        make_answer(c);
                        return;
                }
                c->body_cap = (size_t)h->content_length;
        }
        if (h->expect_continue && r->has_body) {
                memcpy(c->out_head + c->oh_len, continue_line,
                       sizeof(continue_line) - 1);
                c->oh_len += sizeof(continue_line) - 1;
                c->phase = SR_H1_PHASE_WRITE;
        }
}

static void add_body(sr_h1_conn_t *c, sr_slice_t s)
{
        if (s.len > c->req.body_max - c->body.len) {
                refuse_too_large(c);
                return;
        }
        if (c->body.len + s.len > c->body_cap) {
                size_t cap = c->body_cap ? c->body_cap * 2 : 4096;
                void *p;

                while (cap < c->body.len + s.len)
                        cap *= 2;
                if (cap > c->req.body_max)
                        cap = c->req.body_max;
                p = realloc(c->body.ptr, cap);
                if (!p) {
                        set_error(c, 503, 1, "out of memory for the body; "
                                  "retry");
                        make_answer(c);
                        return;
                }
                c->body.ptr = p;
                c->body_cap = cap;
        }
        memcpy((char *)c->body.ptr + c->body.len, s.ptr, s.len);
        c->body.len += s.len;
}

static void end_request(sr_h1_conn_t *c)
{
        c->req.body = c->body.ptr ? c->body.ptr : "";
        c->req.body_len = c->body.len;
        if (c->blocking) {
                c->phase = SR_H1_PHASE_APP;
                return;
        }
        c->app->on_request(c->app->arg, &c->req, &c->resp);
        make_answer(c);
}

/* One parser step on the buffered input. False: wait (phase set). */
static bool step(sr_h1_conn_t *c)
{
        sr_slice_t body;
        size_t used;
        sr_h1_event_t ev;

        if (c->stopping && !c->in_request) {
                c->phase = SR_H1_PHASE_CLOSE;
                return true;
        }
        ev = sr_h1_parse(&c->parser, c->in + c->in_off, c->in_len - c->in_off,
                         &used, &body);
        c->in_off += used;
        switch (ev) {
        case SR_H1_MORE:
                if (c->eof) {
                        c->phase = SR_H1_PHASE_CLOSE;
                        return true;
                }
                c->phase = c->in_request ? SR_H1_PHASE_BODY :
                           sr_h1_parser_is_idle(&c->parser) ?
                                           SR_H1_PHASE_IDLE :
                                           SR_H1_PHASE_HEAD;
                return false;
        case SR_H1_HEAD:
                begin_request(c);
                return true;
        case SR_H1_BODY:
                add_body(c, body);
                return true;
        case SR_H1_END:
                if (c->in_request) /* else answered from the head */
                        end_request(c);
                return true;
        case SR_H1_ERROR:
        default:
                set_error(c, c->parser.status, 0, c->parser.message);
                make_answer(c);
                return true;
        }
}

/* ------------------------------------------------------------ streams */

bool sr_h1_conn_is_streaming(const sr_h1_conn_t *c)
{
        return c->stream.pull != NULL;
}

/* Pull into the (empty) stream buffer. False: nothing came and the
 * stream goes on (wait to be woken). */
static bool stream_fill(sr_h1_conn_t *c)
{
        size_t room = SR_H1_STREAM_BUF - SR_H1_STREAM_RESERVE, n = 0;
        sr_h1_pull_t r;

        c->ob_off = c->ob_len = 0;
        r = c->stream.pull(c->stream.arg, c->out_owned.ptr, room, &n);
        c->ob_len = n < room ? n : room;
        if (r == SR_H1_PULL_END)
                c->stream_end = true;
        return c->ob_len > 0 || c->stream_end;
}

/* Append @p text after what is left to send (within the reserve). */
static void stream_append(sr_h1_conn_t *c, const char *text)
{
        char *b = c->out_owned.ptr;
        size_t left = c->ob_len - c->ob_off, n = strlen(text);

        memmove(b, b + c->ob_off, left);
        if (n > SR_H1_STREAM_BUF - left)
                n = SR_H1_STREAM_BUF - left;
        memcpy(b + left, text, n);
        c->ob = b;
        c->ob_off = 0;
        c->ob_len = left + n;
        if (c->phase == SR_H1_PHASE_STREAM)
                c->phase = SR_H1_PHASE_WRITE;
}

void sr_h1_conn_stall(sr_h1_conn_t *c)
{
        if (!c->stream.pull || !c->out_owned.ptr || c->stalled)
                return;
        c->stalled = c->stream_end = true;
        stream_append(c, c->stream.stalled_last ? c->stream.stalled_last :
                                                  "");
}

bool sr_h1_conn_is_stalled(const sr_h1_conn_t *c)
{
        return c->stalled;
}

void sr_h1_conn_stream_note(sr_h1_conn_t *c, const char *text)
{
        if (c->phase != SR_H1_PHASE_STREAM || !c->out_owned.ptr)
                return;
        if (strlen(text) <= SR_H1_STREAM_RESERVE)
                stream_append(c, text);
}

sr_h1_phase_t sr_h1_conn_run(sr_h1_conn_t *c)
{
        sr_slice_t out[2];

        for (;;) {
                switch (c->phase) {
                case SR_H1_PHASE_CLOSE:
                        return c->phase;
                case SR_H1_PHASE_STREAM:
                        c->phase = SR_H1_PHASE_WRITE; /* pull again */
                        break;
                case SR_H1_PHASE_WRITE:
                        if (sr_h1_conn_output(c, out))
                                return c->phase;
                        if (c->stream.pull && !c->stream_end && !c->eof &&
                            !c->stopping) {
                                if (stream_fill(c))
                                        break; /* send it */
                                c->phase = SR_H1_PHASE_STREAM;
                                return c->phase;
                        }
                        sr_buf_free(&c->out_owned);
                        c->ob = NULL;
                        c->ob_off = c->ob_len = 0;
                        if (c->close_after) {
                                c->phase = SR_H1_PHASE_CLOSE;
                                return c->phase;
                        }
                        /* back to reading: the body after a 100 Continue,
                         * or the next request */
                        c->phase = c->in_request ? SR_H1_PHASE_BODY :
                                                   SR_H1_PHASE_IDLE;
                        break;
                case SR_H1_PHASE_APP:
                        if (!c->answered)
                                return c->phase;
                        make_answer(c);
                        break;
                default:
                        if (!step(c))
                                return c->phase;
                        break;
                }
        }
}
