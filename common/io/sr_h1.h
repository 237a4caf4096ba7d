/* common/io/sr_h1.h - HTTP/1.1 requests without sockets (RFC 9112, RFC 9110):
 * a strict request parser (sr_h1_parser_t) and the per-connection protocol
 * engine of sr_httpd (sr_h1_conn_t), which turns received bytes into
 * application calls and answers into bytes to send.
 *
 * Pure: no I/O, no clock, no logging, no threads. One parser or connection
 * is used by one thread at a time; the application callbacks run on the
 * thread that drives the connection, except on_request of a request the
 * application marked blocking, which runs where sr_h1_conn_handle() is
 * called. Every input byte is untrusted (and fuzzed): nothing is read
 * beyond the lengths given, and every malformed or ambiguous request is
 * refused with a status and a message, after which the connection closes.
 */
#ifndef SR_H1_H
#define SR_H1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_slice.h"

/* ------------------------------------------------------------ limits */

#define SR_H1_LINE_MAX 8192          /* request line without CRLF: 414 */
#define SR_H1_FIELDS_BYTES_MAX 16384 /* header section with CRLFs: 431 */
#define SR_H1_FIELDS_MAX 100         /* header fields: 431 above */
#define SR_H1_EMPTY_LINES_MAX 8      /* CRLFs tolerated before a request */
#define SR_H1_CHUNK_LINE_MAX 4096    /* chunk-size line with extensions */
#define SR_H1_TRAILER_BYTES_MAX 16384 /* trailer section (ignored): 431 */
#define SR_H1_MSG_MAX 160            /* a refusal's message, NUL included */

/* ------------------------------------------------------------ parser */

/* One header field; both NUL-terminated, in the parser's buffer. */
typedef struct sr_h1_field {
        const char *name;  /* as sent (compare case-insensitively) */
        const char *value; /* without leading and trailing SP/HTAB */
        size_t name_len, value_len;
} sr_h1_field_t;

typedef enum sr_h1_framing {
        SR_H1_FRAMING_NONE,    /* no body */
        SR_H1_FRAMING_LENGTH,  /* Content-Length bytes (may be 0) */
        SR_H1_FRAMING_CHUNKED, /* Transfer-Encoding: chunked */
} sr_h1_framing_t;

/* A parsed request head. Every pointer is borrowed from the parser: valid
 * until the parser starts on the next request (the first sr_h1_parse()
 * after SR_H1_END) or is initialised again. */
typedef struct sr_h1_head {
        const char *method; /* NUL-terminated token, case as sent */
        const char *target; /* NUL-terminated, origin-form ("/..."), */
        size_t target_len;  /* query included, as sent */
        int minor_version;  /* 0 or 1 (HTTP/1.2-1.9 are read as 1.1) */
        sr_h1_field_t fields[SR_H1_FIELDS_MAX];
        size_t n_fields;
        sr_h1_framing_t framing;
        uint64_t content_length; /* SR_H1_FRAMING_LENGTH only */
        bool keep_alive;      /* the connection may carry more requests */
        bool expect_continue; /* HTTP/1.1 "Expect: 100-continue" */
} sr_h1_head_t;

typedef enum sr_h1_event {
        SR_H1_MORE,  /* every byte given was taken; feed more */
        SR_H1_HEAD,  /* a request head is complete: see .head */
        SR_H1_BODY,  /* body bytes (de-chunked), in the slice */
        SR_H1_END,   /* the request (body and trailers) is complete */
        SR_H1_ERROR, /* refused: see .status and .message; final */
} sr_h1_event_t;

/* Parser state. A value type (about 28 KiB: it holds the head's bytes);
 * initialise with sr_h1_parser_init(). Fields other than head, status and
 * message are private. */
typedef struct sr_h1_parser {
        int state;
        int status;                 /* SR_H1_ERROR: 400, 414, ... */
        char message[SR_H1_MSG_MAX]; /* SR_H1_ERROR: what was wrong */
        sr_h1_head_t head;          /* valid from SR_H1_HEAD on */
        /* private */
        size_t len, line_start, fields_bytes, trailer_bytes, chunk_line;
        unsigned empty_lines, seen, hex_digits;
        uint64_t remaining;
        const char *te, *expect;
        bool conn_close, conn_keep_alive;
        char buf[SR_H1_LINE_MAX + SR_H1_FIELDS_BYTES_MAX + 8];
} sr_h1_parser_t;

/** @brief Ready @p p for the first request of a connection. */
void sr_h1_parser_init(sr_h1_parser_t *p);

/**
 * @brief Take bytes of a connection's input, up to the next event.
 *
 * Requests follow each other on a connection: after SR_H1_END the next
 * call starts on the next request. The request line, each header field
 * and each chunk-size line are checked when their CRLF arrives; a line or
 * section growing over its limit is refused at once (414, 431), without
 * waiting for its end. Rules (each refusal is final, and the connection
 * must be closed after answering it):
 *   - request line: method token, one SP, an origin-form target without
 *     CTL or SP, one SP, "HTTP/1.x" (400); another HTTP major version or
 *     HTTP/0.x: 505; "*" and absolute-form targets: 400. Lines end with
 *     CRLF (a bare LF or CR: 400); up to SR_H1_EMPTY_LINES_MAX empty lines
 *     before a request are skipped.
 *   - header fields: token name directly followed by ':' (400), value of
 *     visible characters, SP, HTAB and obs-text (NUL or any other control
 *     character: 400), obs-fold refused (400); more than SR_H1_FIELDS_MAX
 *     fields or SR_H1_FIELDS_BYTES_MAX bytes: 431.
 *   - a repeated Content-Length, Transfer-Encoding, Host, Authorization,
 *     Content-Type, Idempotency-Key or Expect: 400 naming it.
 *   - Content-Length: 1*DIGIT up to INT64_MAX, else 400.
 *   - Transfer-Encoding: with Content-Length, or in HTTP/1.0: 400; exactly
 *     "chunked" (any case) is served; codings before a final chunked: 501;
 *     a final coding other than chunked: 400 (RFC 9112 §6.3: the length
 *     cannot be known).
 *   - HTTP/1.1 without Host: 400. Expect other than 100-continue in
 *     HTTP/1.1: 417 (HTTP/1.0: Expect is ignored, RFC 9110 §10.1.1).
 *   - chunked bodies: hex sizes up to 2^60 (400 above), extensions and
 *     trailers checked and ignored, CRLF exactly where due (400).
 * @param[in]  in   borrowed, @p len bytes (may be 0).
 * @param[out] used how many bytes of @p in were taken (the rest is for the
 *                  next call).
 * @param[out] body SR_H1_BODY: the body bytes, a slice of @p in.
 * @returns the event; SR_H1_ERROR again on every call after a refusal.
 */
sr_h1_event_t sr_h1_parse(sr_h1_parser_t *p, const char *in, size_t len,
                          size_t *used, sr_slice_t *body);

/** @brief True while no byte of the next request was taken (leading empty
 *  lines count as taken). */
bool sr_h1_parser_is_idle(const sr_h1_parser_t *p);

/**
 * @brief The value of the first field named @p name (any case) in
 * @p head, or NULL. The value is borrowed like the head.
 */
const char *sr_h1_head_get(const sr_h1_head_t *head, const char *name);

/* ------------------------------------------------------------ requests */

/* What the application sees of a request. */
typedef struct sr_h1_request {
        const char *method; /* "GET" for a HEAD request */
        bool is_head;       /* HEAD: answer as GET; the body is not sent */
        const char *target; /* as in the request line */
        const sr_h1_head_t *head; /* every field */
        bool has_body;            /* Content-Length > 0, or chunked */
        uint64_t declared_length; /* Content-Length, else 0 */
        bool body_too_large;      /* Content-Length over its body limit */
        size_t body_max;          /* that limit (app's body_max, or the
                                     connection's) */
        const void *body;         /* on_request only: the whole body */
        size_t body_len;
} sr_h1_request_t;

/* What a streamed answer's pull returns. */
typedef enum sr_h1_pull {
        SR_H1_PULL_WAIT, /* nothing more for now: pull again when woken */
        SR_H1_PULL_END,  /* the answer is complete once this is sent */
} sr_h1_pull_t;

#define SR_H1_STREAM_BUF 65536  /* a streamed answer's output buffer */
#define SR_H1_STREAM_RESERVE 512 /* of it, kept for sr_h1_conn_stall()'s
                                  * last message */

/* A streamed answer (e.g. Server-Sent Events): its body is pulled from the
 * application while the connection lives, into one bounded buffer, and
 * ends when the connection closes (no Content-Length; Connection: close).
 * Both callbacks run on the thread that drives the connection and must
 * not block. */
typedef struct sr_h1_stream {
        /* Append at most @p room bytes at @p out (whole messages only: a
         * message that does not fit waits for the next pull) and set
         * *n to how many were written. Called when the buffer is empty
         * and the connection is woken (sr_httpd_wake_streams()). */
        sr_h1_pull_t (*pull)(void *arg, char *out, size_t room, size_t *n);
        /* The connection is done with the stream (sent to the end, the
         * client gone, stopped or stalled): called exactly once, by
         * sr_h1_conn_fini(); frees arg. @p stalled: dropped because the
         * client did not read (sr_h1_conn_stall()). */
        void (*close)(void *arg, bool stalled);
        void *arg;
        /* Static; what a client that stopped reading gets after what is
         * buffered (sr_h1_conn_stall()), at most SR_H1_STREAM_RESERVE
         * bytes; NULL: nothing. */
        const char *stalled_last;
} sr_h1_stream_t;

/* An answer. The engine adds Content-Length, Cache-Control: no-store,
 * Date, Connection, and HEAD next to GET in Allow. */
typedef struct sr_h1_response {
        int status;
        sr_buf_t body;            /* owned: the engine frees it */
        /* pull not NULL: a streamed answer (body ignored), owned by the
         * engine from then on (its close is always called). */
        sr_h1_stream_t stream;
        const char *content_type; /* static; NULL: application/json */
        char allow[48];           /* "GET, PUT" or "" */
        int retry_after;          /* seconds; 0: none */
        const char *headers;      /* static extra header lines, each ending
                                     "\r\n"; NULL: none */
} sr_h1_response_t;

/* The application: both callbacks write @p resp in full (status, body)
 * when they answer. Borrowed by the engine. */
typedef struct sr_h1_app {
        /* Once the head is parsed, before any body byte is read. Return
         * true after answering in @p resp: the body is then never read,
         * and the connection closes after the answer if the request has
         * one. Otherwise set *blocking to have on_request called through
         * sr_h1_conn_handle() (e.g. from a thread pool) instead of inline.
         * NULL: never answers, never blocking. */
        bool (*on_head)(void *arg, const sr_h1_request_t *req,
                        sr_h1_response_t *resp, bool *blocking);
        /* Once the head of a request with a body is parsed, before
         * on_head: the largest body it may have (e.g. by its route),
         * which body_too_large and the 413 of a body growing past it
         * then use. NULL, or 0: the connection's body_max. */
        size_t (*body_max)(void *arg, const sr_h1_request_t *req);
        /* The whole request, body included. */
        void (*on_request)(void *arg, const sr_h1_request_t *req,
                           sr_h1_response_t *resp);
        void *arg;
} sr_h1_app_t;

/* ------------------------------------------------------------ engine */

#define SR_H1_IN_MAX 16384   /* input buffered ahead of the parser */
#define SR_H1_OUT_HEAD_MAX 1024

typedef enum sr_h1_phase {
        SR_H1_PHASE_IDLE,  /* no byte of a request yet: read */
        SR_H1_PHASE_HEAD,  /* part of a request head received: read */
        SR_H1_PHASE_BODY,  /* receiving the body: read */
        SR_H1_PHASE_APP,   /* blocking request: call sr_h1_conn_handle() */
        SR_H1_PHASE_WRITE, /* output pending: sr_h1_conn_output() */
        SR_H1_PHASE_STREAM, /* a streamed answer waits for data: run
                             * again when woken; read (and drop) input to
                             * see the client's end */
        SR_H1_PHASE_CLOSE, /* finished: close the connection */
} sr_h1_phase_t;

/* One connection's state (about 50 KiB). Private: use the functions. */
typedef struct sr_h1_conn {
        const sr_h1_app_t *app;
        size_t body_max;
        const char *date; /* IMF-fixdate to send, borrowed; NULL: none */
        sr_h1_parser_t parser;
        sr_h1_phase_t phase;
        sr_h1_request_t req;
        sr_h1_response_t resp;
        sr_buf_t body;
        size_t body_cap;
        bool in_request, blocking, answered, close_after, eof, stopping;
        char in[SR_H1_IN_MAX];
        size_t in_off, in_len;
        char out_head[SR_H1_OUT_HEAD_MAX];
        size_t oh_off, oh_len;
        const char *ob;  /* body to send: resp.body or err_body */
        size_t ob_off, ob_len;
        sr_buf_t out_owned;
        bool err_answer; /* the answer's body is err_body */
        sr_h1_stream_t stream; /* the streamed answer; pull NULL: none */
        bool stream_end;       /* pull said END, or stalled */
        bool stalled;          /* sr_h1_conn_stall() was called */
        char err_body[512];
        size_t err_len;
} sr_h1_conn_t;

/**
 * @brief Ready @p c for a new connection.
 * @param app      borrowed; must outlive the connection.
 * @param body_max largest body read; a larger Content-Length or a chunked
 *                 body growing past it gets 413 (unless on_head answered).
 * @param date     borrowed, read whenever an answer is made; may be NULL.
 */
void sr_h1_conn_init(sr_h1_conn_t *c, const sr_h1_app_t *app,
                     size_t body_max, const char *date);

/** @brief Free what @p c holds (bodies). The struct itself is the
 *  caller's. */
void sr_h1_conn_fini(sr_h1_conn_t *c);

/**
 * @brief Where to put received bytes: *space bytes at the returned
 * address (0 while the engine holds back, e.g. until an answer is sent).
 * Call sr_h1_conn_received() with how many were written there.
 */
char *sr_h1_conn_rbuf(sr_h1_conn_t *c, size_t *space);

/** @brief @p n bytes (at most the space given) were written at the
 *  address sr_h1_conn_rbuf() returned. Then call sr_h1_conn_run(). */
void sr_h1_conn_received(sr_h1_conn_t *c, size_t n);

/** @brief The peer will send nothing more (EOF): a partial request is
 *  dropped; an answer under way is still sent, then the connection
 *  closes. */
void sr_h1_conn_eof(sr_h1_conn_t *c);

/**
 * @brief Process what was received, as far as possible: parse, call the
 * application (inline requests), make answers. Requests are handled one
 * at a time and in order: the next one is not parsed before the answer to
 * this one was sent.
 * @returns what the connection waits for.
 */
sr_h1_phase_t sr_h1_conn_run(sr_h1_conn_t *c);

/** @brief The current phase (as sr_h1_conn_run() last returned it). */
sr_h1_phase_t sr_h1_conn_phase(const sr_h1_conn_t *c);

/**
 * @brief SR_H1_PHASE_APP: call the application's on_request for the
 * request. Any thread may call it while no other call on @p c runs; then
 * call sr_h1_conn_run() (on the connection's thread) to make the answer.
 */
void sr_h1_conn_handle(sr_h1_conn_t *c);

/**
 * @brief Answer the request in progress (or the one to come) with the
 * envelope {"code":status,"message":...,"content":{}} and close after it:
 * for deadlines (408) and for a server that stops (503). In
 * SR_H1_PHASE_IDLE the connection just closes; in SR_H1_PHASE_WRITE the
 * connection closes once the answer under way is sent. @p retry_after 0:
 * no Retry-After. Then call sr_h1_conn_run().
 */
void sr_h1_conn_fail(sr_h1_conn_t *c, int status, int retry_after,
                     const char *message);

/** @brief Finish what is under way (an answer being made or sent), then
 *  close; no further request is read. Then call sr_h1_conn_run(). */
void sr_h1_conn_stop(sr_h1_conn_t *c);

/**
 * @brief SR_H1_PHASE_WRITE: the bytes to send next, in up to 2 pieces.
 * @returns the number of pieces filled (0: nothing to send).
 */
int sr_h1_conn_output(const sr_h1_conn_t *c, sr_slice_t out[2]);

/** @brief @p n bytes of the output were sent. Then call sr_h1_conn_run(). */
void sr_h1_conn_sent(sr_h1_conn_t *c, size_t n);

/**
 * @brief A streamed answer whose client reads nothing: what is buffered
 * and not yet sent is kept (the client gets whole messages), followed by
 * the stream's stalled_last (e.g. an SSE message saying why), and the
 * connection closes once that is sent; no further pull. No-op unless an
 * answer is streamed, or after the first call. Then call
 * sr_h1_conn_run().
 */
void sr_h1_conn_stall(sr_h1_conn_t *c);

/** @brief True once sr_h1_conn_stall() was called on the answer. */
bool sr_h1_conn_is_stalled(const sr_h1_conn_t *c);

/**
 * @brief A streamed answer waiting for data (SR_H1_PHASE_STREAM): queue
 * @p text (e.g. an SSE comment, so that idle proxies and clients see the
 * connection alive; at most SR_H1_STREAM_RESERVE bytes). Then call
 * sr_h1_conn_run().
 */
void sr_h1_conn_stream_note(sr_h1_conn_t *c, const char *text);

/** @brief True while the answer in progress is streamed. */
bool sr_h1_conn_is_streaming(const sr_h1_conn_t *c);

/** @brief "Bad Request" for 400 etc.; "" for an unknown status. */
const char *sr_h1_reason(int status);

#endif /* SR_H1_H */
