/* tests/fuzz/fuzz_http1.c - libFuzzer target: whole raw HTTP/1.1 requests
 * through the server's protocol engine (sr_h1_conn: parser, framing,
 * early answers, HEAD, 413, 100-continue, pipelining, refusals) into the
 * gateway's pure request path (fuzz_gw_run: routing, query, auth, bodies,
 * envelopes), without sockets.
 *
 * Input: 4 bytes choosing where the rest is split (piece i is
 * 1 + byte[i % 4] % 64 bytes long), then the bytes a client sends on one
 * connection (any number of pipelined requests). The application mimics
 * sr-gateway: on_head answers writes and requests with a body from the
 * head checks (route, token, Content-Type, declared size), writes are
 * blocking (handled through sr_h1_conn_handle, as the pool does), and the
 * answer's status is what fuzz_gw_run() decides, with the envelope.
 *
 * Checks:
 *   - the bytes sent back are the same whether the input arrives whole or
 *     split as chosen (the engine's output cannot depend on TCP segments);
 *   - the output is a sequence of well-formed answers: status line with a
 *     known reason, Content-Length, the body of that length (none for a
 *     HEAD request), each body an envelope whose code is the status;
 *   - at most one answer more than parsed heads (the final refusal);
 *   - a GET of the watch API (a 200 of GET .../events/) is streamed
 *     (sr_h1_stream_t: two messages, pulled as the server would): no
 *     Content-Length, Connection: close, the messages exactly, and it is
 *     the last answer (nothing read after it is answered);
 *   - nothing reads past the input (ASan), nothing leaks (LSan).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_gwpath.h"
#include "sr_h1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_options(void);

/* See fuzz_http.c: avro-c's unions hold pointers at 4-byte boundaries. */
const char *__lsan_default_options(void)
{
        return "use_unaligned=1";
}

#define BODY_MAX 4096
#define HEADS_MAX 4096
#define SPLIT_BYTES 4

typedef struct run {
        bool is_head[HEADS_MAX];
        int n_heads;
        char *out;
        size_t len, cap;
} run_t;

static void respond(sr_h1_response_t *resp, int status, const char *msg)
{
        sr_http_problem_t prob = { 0 };
        sr_buf_t b = { 0 };

        if (status == 200) {
                if (sr_http_envelope(200, "ok", NULL, &b) != SR_OK)
                        fuzz_fail("envelope", "failed");
        } else {
                prob.status = status;
                snprintf(prob.message, sizeof(prob.message), "%s", msg);
                if (sr_http_problem_envelope(&prob, &b) != SR_OK)
                        fuzz_fail("envelope", "failed");
        }
        resp->status = status;
        resp->body = b;
}

/* The watch API's answers: two messages, the second with the end. */
static const char stream_msgs[] = "id: 1\nevent: status\ndata: {}\n\n"
                                  "event: end\ndata: {}\n\n";
#define STREAM_MSG1 30 /* bytes of the first message */

static sr_h1_pull_t fs_pull(void *arg, char *out, size_t room, size_t *n)
{
        int *pulls = arg;
        const char *m = *pulls ? stream_msgs + STREAM_MSG1 : stream_msgs;
        size_t len = *pulls ? sizeof(stream_msgs) - 1 - STREAM_MSG1 :
                              STREAM_MSG1;

        *n = 0;
        if (len <= room) {
                memcpy(out, m, len);
                *n = len;
        }
        return ++*pulls >= 2 ? SR_H1_PULL_END : SR_H1_PULL_WAIT;
}

static void fs_close(void *arg, bool stalled)
{
        (void)stalled;
        free(arg);
}

static bool is_watch(const sr_h1_request_t *r)
{
        sr_http_problem_t prob = { 0 };
        sr_route_t route;

        return sr_http_route(r->method, r->target, &route, &prob) == SR_OK &&
               (route.id == SR_ROUTE_RUN_EVENTS ||
                route.id == SR_ROUTE_EVENTS);
}

static void to_req(const sr_h1_request_t *r, fuzz_gw_req_t *g)
{
        memset(g, 0, sizeof(*g));
        g->method = r->method;
        g->target = r->target;
        g->authorization = sr_h1_head_get(r->head, "Authorization");
        g->content_type = sr_h1_head_get(r->head, "Content-Type");
        g->idempotency_key = sr_h1_head_get(r->head, "Idempotency-Key");
        g->host = sr_h1_head_get(r->head, "Host");
        g->body = r->body;
        g->body_len = r->body_len;
}

static bool app_head(void *arg, const sr_h1_request_t *r,
                     sr_h1_response_t *resp, bool *blocking)
{
        run_t *run = arg;
        sr_http_problem_t first;
        fuzz_gw_req_t g;
        bool write = !strcmp(r->method, "PUT") || !strcmp(r->method, "POST");
        int status;

        if (r->body || r->body_len)
                fuzz_fail("on_head", "a body before on_request");
        if (strlen(r->target) != r->head->target_len)
                fuzz_fail("on_head", "target length");
        if (run->n_heads < HEADS_MAX)
                run->is_head[run->n_heads] = r->is_head;
        run->n_heads++;
        *blocking = write;
        if (!write && !r->has_body)
                return false;
        /* The head checks only: the body is not here yet. */
        to_req(r, &g);
        g.body = "";
        g.body_len = 0;
        status = fuzz_gw_run(&g, &first);
        if (status == 404 || status == 405 || status == 401 ||
            status == 415) {
                respond(resp, status, first.message);
                snprintf(resp->allow, sizeof(resp->allow), "%s", first.allow);
                return true;
        }
        if (r->body_too_large) {
                respond(resp, 413, "request body too large");
                return true;
        }
        return false;
}

static void app_request(void *arg, const sr_h1_request_t *r,
                        sr_h1_response_t *resp)
{
        sr_http_problem_t first;
        fuzz_gw_req_t g;
        int status;

        (void)arg;
        if (r->body_len > BODY_MAX)
                fuzz_fail("on_request", "a body over the limit");
        if (r->body_len && !r->has_body)
                fuzz_fail("on_request", "a body without framing");
        to_req(r, &g);
        status = fuzz_gw_run(&g, &first);
        if (status == 200 && is_watch(r)) {
                int *pulls = calloc(1, sizeof(*pulls));

                if (!pulls)
                        abort();
                resp->status = 200;
                resp->content_type = "text/event-stream";
                resp->stream = (sr_h1_stream_t){ .pull = fs_pull,
                                                 .close = fs_close,
                                                 .arg = pulls };
                return;
        }
        respond(resp, status, first.message);
        snprintf(resp->allow, sizeof(resp->allow), "%s", first.allow);
}

static void out_add(run_t *run, const void *p, size_t n)
{
        if (run->len + n + 1 > run->cap) {
                run->cap = (run->len + n + 1) * 2;
                run->out = realloc(run->out, run->cap);
                if (!run->out)
                        abort();
        }
        memcpy(run->out + run->len, p, n);
        run->len += n;
        run->out[run->len] = '\0';
}

/* Run the engine until it waits for input; blocking requests are handled
 * at once, output is "sent" in full. */
static sr_h1_phase_t pump(sr_h1_conn_t *c, run_t *run)
{
        for (;;) {
                sr_h1_phase_t ph = sr_h1_conn_run(c);
                sr_slice_t s[2];
                int n;

                if (ph == SR_H1_PHASE_APP) {
                        sr_h1_conn_handle(c);
                        continue;
                }
                if (ph != SR_H1_PHASE_WRITE)
                        return ph;
                n = sr_h1_conn_output(c, s);
                if (n == 0)
                        fuzz_fail("engine", "WRITE with nothing to send");
                for (int i = 0; i < n; i++) {
                        out_add(run, s[i].ptr, s[i].len);
                        sr_h1_conn_sent(c, s[i].len);
                }
        }
}

static void drive(const uint8_t *split, const uint8_t *in, size_t len,
                  bool whole, run_t *run)
{
        static const sr_h1_app_t app_tmpl = {
                .on_head = app_head, .on_request = app_request,
        };
        sr_h1_app_t app = app_tmpl;
        sr_h1_conn_t *c = malloc(sizeof(*c));
        sr_h1_phase_t ph;
        size_t off = 0;
        int piece = 0;

        if (!c)
                abort();
        app.arg = run;
        sr_h1_conn_init(c, &app, BODY_MAX, "Thu, 01 Jan 2026 00:00:00 GMT");
        ph = pump(c, run);
        while (off < len && ph != SR_H1_PHASE_CLOSE) {
                size_t space, n = len - off;
                char *at = sr_h1_conn_rbuf(c, &space);

                if (!whole && n > 1u + split[piece % SPLIT_BYTES] % 64u)
                        n = 1u + split[piece % SPLIT_BYTES] % 64u;
                piece++;
                if (n > space)
                        n = space;
                if (n == 0)
                        fuzz_fail("engine", "no room to read in a read phase");
                memcpy(at, in + off, n);
                sr_h1_conn_received(c, n);
                off += n;
                ph = pump(c, run);
        }
        if (ph != SR_H1_PHASE_CLOSE) {
                sr_h1_conn_eof(c);
                ph = pump(c, run);
        }
        if (ph != SR_H1_PHASE_CLOSE)
                fuzz_fail("engine", "not closed after EOF");
        sr_h1_conn_fini(c);
        free(c);
}

/* The output is a sequence of well-formed answers. */
static void check_output(const run_t *run)
{
        const char *p = run->out, *end;
        int answers = 0;

        if (!run->len)
                return;
        end = p + run->len;
        while (p < end) {
                const char *head_end, *cl;
                unsigned long len = 0;
                int status = 0, consumed = 0;
                bool is_head;
                json_t *j;

                if (sscanf(p, "HTTP/1.1 %3d %n", &status, &consumed) != 1 ||
                    consumed != 13 || !*sr_h1_reason(status) ||
                    strncmp(p + 13, sr_h1_reason(status),
                            strlen(sr_h1_reason(status))))
                        fuzz_fail("output", "bad status line");
                head_end = strstr(p, "\r\n\r\n");
                if (!head_end)
                        fuzz_fail("output", "no end of head");
                head_end += 4;
                if (status == 100) {
                        if (head_end - p != 25)
                                fuzz_fail("output", "100 with headers");
                        p = head_end;
                        continue;
                }
                cl = strstr(p, "\r\nContent-Type: text/event-stream\r\n");
                if (cl && cl < head_end) { /* streamed: the last answer */
                        const char *cc = strstr(p, "\r\nConnection: close"
                                                   "\r\n");
                        size_t rest = (size_t)(end - head_end);

                        if (!cc || cc > head_end)
                                fuzz_fail("output", "a stream without "
                                          "Connection: close");
                        cl = strstr(p, "\r\nContent-Length: ");
                        if (cl && cl < head_end)
                                fuzz_fail("output", "a stream with a length");
                        is_head = answers < run->n_heads &&
                                  answers < HEADS_MAX &&
                                  run->is_head[answers];
                        if (is_head ? rest != 0 :
                                      rest != sizeof(stream_msgs) - 1 ||
                                      memcmp(head_end, stream_msgs, rest))
                                fuzz_fail("output", "not the stream's "
                                          "messages, or more after them");
                        answers++;
                        break;
                }
                cl = strstr(p, "\r\nContent-Length: ");
                if (!cl || cl > head_end ||
                    sscanf(cl + 18, "%lu", &len) != 1)
                        fuzz_fail("output", "no Content-Length");
                is_head = answers < run->n_heads && answers < HEADS_MAX &&
                          run->is_head[answers];
                answers++;
                if (is_head) {
                        p = head_end;
                        continue;
                }
                if ((size_t)(end - head_end) < len)
                        fuzz_fail("output", "body shorter than its length");
                j = json_loadb(head_end, len, 0, NULL);
                if (!j || json_integer_value(json_object_get(j, "code")) !=
                                  status)
                        fuzz_fail("output", "body is not the envelope");
                json_decref(j);
                p = head_end + len;
        }
        if (answers > run->n_heads + 1)
                fuzz_fail("output", "more answers than requests");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        run_t whole = { 0 }, split = { 0 };
        uint8_t *in;

        if (size < SPLIT_BYTES)
                return 0;
        /* an exactly-sized copy: a read past the end is an ASan report */
        in = malloc(size - SPLIT_BYTES + 1);
        if (!in)
                abort();
        memcpy(in, data + SPLIT_BYTES, size - SPLIT_BYTES);
        drive(data, in, size - SPLIT_BYTES, true, &whole);
        drive(data, in, size - SPLIT_BYTES, false, &split);
        if (whole.len != split.len ||
            (whole.len && memcmp(whole.out, split.out, whole.len)) ||
            whole.n_heads != split.n_heads)
                fuzz_fail("engine", "the output depends on the split");
        check_output(&whole);
        free(whole.out);
        free(split.out);
        free(in);
        return 0;
}
