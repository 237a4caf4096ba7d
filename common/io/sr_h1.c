/* common/io/sr_h1.c - the strict HTTP/1.1 request parser (RFC 9112). Lines of
 * the head are collected into the parser's buffer and checked whole when
 * their CRLF arrives; the body is framed byte by byte (chunked) or counted
 * (Content-Length), so input split anywhere gives the same events. */
#include "sr_h1.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sr_slice.h"
#include <strings.h>

#include "sr_err.h"

enum {
        ST_START,         /* a new request: reset, then ST_LINE */
        ST_LINE,          /* collecting the request line */
        ST_FIELD,         /* collecting a header field line */
        ST_BODY_LEN,      /* Content-Length bytes left in .remaining */
        ST_CHUNK_SIZE,    /* hex digits of a chunk size */
        ST_CHUNK_BWS,     /* whitespace after the size: ';' must follow */
        ST_CHUNK_EXT,     /* chunk extensions, up to CR */
        ST_CHUNK_LF,      /* LF of the chunk-size line */
        ST_CHUNK_DATA,    /* chunk bytes left in .remaining */
        ST_CHUNK_DATA_CR, /* CRLF after the chunk's data */
        ST_CHUNK_DATA_LF,
        ST_TRAILER_START, /* a trailer field or the final CRLF */
        ST_TRAILER_NAME,
        ST_TRAILER_VALUE,
        ST_TRAILER_LF,
        ST_TRAILER_END_LF,
        ST_END,           /* report SR_H1_END, then ST_START */
        ST_ERROR,
};

#define CHUNK_SIZE_MAX ((uint64_t)1 << 60)

/* Fields a request may carry at most once: a repeat is ambiguous (which
 * one does a proxy in front of us use?) and refused. */
enum {
        F_CONTENT_LENGTH,
        F_TRANSFER_ENCODING,
        F_HOST,
        F_AUTHORIZATION,
        F_CONTENT_TYPE,
        F_IDEMPOTENCY_KEY,
        F_EXPECT,
        F_CONNECTION, /* a list: repeats are merged */
        F__COUNT
};

static const char *const field_names[F__COUNT] = {
        [F_CONTENT_LENGTH] = "Content-Length",
        [F_TRANSFER_ENCODING] = "Transfer-Encoding",
        [F_HOST] = "Host",
        [F_AUTHORIZATION] = "Authorization",
        [F_CONTENT_TYPE] = "Content-Type",
        [F_IDEMPOTENCY_KEY] = "Idempotency-Key",
        [F_EXPECT] = "Expect",
        [F_CONNECTION] = "Connection",
};

/* tchar of RFC 9110 §5.6.2 */
static bool is_tchar(unsigned char c)
{
        static const char extra[] = "!#$%&'*+-.^_`|~";

        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
               (c >= 'A' && c <= 'Z') || (c && strchr(extra, c));
}

/* field-vchar, SP and HTAB: what a field value may hold */
static bool is_value_char(unsigned char c)
{
        return c == '\t' || (c >= ' ' && c != 0x7f);
}

static bool is_ows(char c)
{
        return c == ' ' || c == '\t';
}

static sr_h1_event_t refuse(sr_h1_parser_t *p, int status, const char *fmt,
                            ...) SR_PRINTF(3, 4);

static sr_h1_event_t refuse(sr_h1_parser_t *p, int status, const char *fmt,
                            ...)
{
        va_list ap;

        p->state = ST_ERROR;
        p->status = status;
        va_start(ap, fmt);
        vsnprintf(p->message, sizeof(p->message), fmt, ap);
        va_end(ap);
        return SR_H1_ERROR;
}

void sr_h1_parser_init(sr_h1_parser_t *p)
{
        p->state = ST_START;
        p->status = 0;
        p->message[0] = '\0';
        memset(&p->head, 0, sizeof(p->head));
}

bool sr_h1_parser_is_idle(const sr_h1_parser_t *p)
{
        return p->state == ST_START ||
               (p->state == ST_LINE && p->len == 0 && !p->empty_lines);
}

const char *sr_h1_head_get(const sr_h1_head_t *head, const char *name)
{
        for (size_t i = 0; i < head->n_fields; i++)
                if (!strcasecmp(head->fields[i].name, name))
                        return head->fields[i].value;
        return NULL;
}

static void start_request(sr_h1_parser_t *p)
{
        p->len = p->line_start = p->fields_bytes = p->trailer_bytes = 0;
        p->chunk_line = 0;
        p->empty_lines = p->seen = p->hex_digits = 0;
        p->remaining = 0;
        p->te = p->expect = NULL;
        p->conn_close = p->conn_keep_alive = false;
        memset(&p->head, 0, offsetof(sr_h1_head_t, fields));
        p->head.n_fields = 0;
        p->head.framing = SR_H1_FRAMING_NONE;
        p->head.content_length = 0;
        p->head.keep_alive = p->head.expect_continue = false;
        p->state = ST_LINE;
}

/* ------------------------------------------------------------ the head */

/* "HTTP/" DIGIT "." DIGIT: 0 and *minor set, or the status to refuse. */
static int parse_version(const char *v, size_t n, int *minor)
{
        if (n != 8 || memcmp(v, "HTTP/", 5) || v[5] < '0' || v[5] > '9' ||
            v[6] != '.' || v[7] < '0' || v[7] > '9')
                return 400;
        if (v[5] != '1')
                return 505;
        /* RFC 9110 §6.2: a higher minor version of 1 is read as 1.1 */
        *minor = v[7] == '0' ? 0 : 1;
        return 0;
}

/* The request line, buf[0, n) without its CR. */
static sr_h1_event_t parse_request_line(sr_h1_parser_t *p, size_t n)
{
        char *b = p->buf;
        size_t m = 0, t, v;
        int status;

        while (m < n && is_tchar((unsigned char)b[m]))
                m++;
        if (m == 0 || m >= n || b[m] != ' ')
                return refuse(p, 400, "malformed request line: expected "
                              "\"METHOD /path HTTP/1.1\"");
        t = m + 1;
        for (v = t; v < n && b[v] != ' '; v++)
                if ((unsigned char)b[v] < 0x21 || b[v] == 0x7f)
                        return refuse(p, 400, "request target: control "
                                      "character 0x%02x",
                                      (unsigned char)b[v]);
        if (v == t || v >= n)
                return refuse(p, 400, "malformed request line: expected "
                              "\"METHOD /path HTTP/1.1\"");
        status = parse_version(b + v + 1, n - v - 1, &p->head.minor_version);
        if (status == 505)
                return refuse(p, 505, "HTTP version not supported: send "
                              "HTTP/1.1");
        if (status)
                return refuse(p, 400, "malformed request line: expected "
                              "\"METHOD /path HTTP/1.1\"");
        if (b[t] != '/')
                return refuse(p, 400, "request target: only a path "
                              "(origin-form, starting with /) is served");
        b[m] = '\0';
        b[v] = '\0';
        p->head.method = b;
        p->head.target = b + t;
        p->head.target_len = v - t;
        return SR_H1_MORE;
}

static bool parse_content_length(const char *v, uint64_t *out)
{
        uint64_t n = 0;

        if (!*v)
                return false;
        for (; *v; v++) {
                if (*v < '0' || *v > '9')
                        return false;
                if (n > ((uint64_t)INT64_MAX - (uint64_t)(*v - '0')) / 10)
                        return false;
                n = n * 10 + (uint64_t)(*v - '0');
        }
        *out = n;
        return true;
}

/* Connection: a list of tokens; only close and keep-alive matter. */
static void parse_connection(sr_h1_parser_t *p, const char *v)
{
        while (*v) {
                size_t n = strcspn(v, ",");
                size_t s = 0, e = n;

                while (s < e && is_ows(v[s]))
                        s++;
                while (e > s && is_ows(v[e - 1]))
                        e--;
                if (e - s == 5 && !strncasecmp(v + s, "close", 5))
                        p->conn_close = true;
                else if (e - s == 10 && !strncasecmp(v + s, "keep-alive", 10))
                        p->conn_keep_alive = true;
                v += n;
                if (*v == ',')
                        v++;
        }
}

/* A known field: its rules. */
static sr_h1_event_t note_field(sr_h1_parser_t *p, int f, const char *value)
{
        if (f != F_CONNECTION) {
                if (p->seen & (1u << f))
                        return refuse(p, 400, "repeated %s header: send it "
                                      "once", field_names[f]);
                p->seen |= 1u << f;
        }
        switch (f) {
        case F_CONTENT_LENGTH:
                if (!parse_content_length(value, &p->head.content_length))
                        return refuse(p, 400, "Content-Length: not a "
                                      "decimal number of bytes (0 to "
                                      "2^63-1)");
                break;
        case F_TRANSFER_ENCODING:
                p->te = value;
                break;
        case F_EXPECT:
                p->expect = value;
                break;
        case F_CONNECTION:
                parse_connection(p, value);
                break;
        default:
                break;
        }
        return SR_H1_MORE;
}

/* A header field line, buf[s, e) without its CR. */
static sr_h1_event_t parse_field(sr_h1_parser_t *p, size_t s, size_t e)
{
        char *b = p->buf;
        size_t colon = s, vs, ve;
        sr_h1_field_t *fld;

        if (is_ows(b[s]))
                return refuse(p, 400, "header line starting with whitespace "
                              "(obs-fold) is not accepted");
        while (colon < e && is_tchar((unsigned char)b[colon]))
                colon++;
        if (colon == s || colon >= e || b[colon] != ':')
                return refuse(p, 400, "malformed header line: expected "
                              "\"Name: value\" (no whitespace before ':')");
        vs = colon + 1;
        while (vs < e && is_ows(b[vs]))
                vs++;
        ve = e;
        while (ve > vs && is_ows(b[ve - 1]))
                ve--;
        for (size_t i = vs; i < ve; i++)
                if (!is_value_char((unsigned char)b[i]))
                        return refuse(p, 400, "header %.*s: invalid byte "
                                      "0x%02x in the value",
                                      (int)(colon - s > 40 ? 40 : colon - s),
                                      b + s, (unsigned char)b[i]);
        if (p->head.n_fields >= SR_H1_FIELDS_MAX)
                return refuse(p, 431, "more than %d header fields",
                              SR_H1_FIELDS_MAX);
        b[colon] = '\0';
        b[ve] = '\0';
        fld = &p->head.fields[p->head.n_fields++];
        fld->name = b + s;
        fld->name_len = colon - s;
        fld->value = b + vs;
        fld->value_len = ve - vs;
        for (int f = 0; f < F__COUNT; f++)
                if (!strcasecmp(fld->name, field_names[f]))
                        return note_field(p, f, fld->value);
        return SR_H1_MORE;
}

/* Transfer-Encoding: exactly "chunked" is served. */
static sr_h1_event_t check_transfer_encoding(sr_h1_parser_t *p)
{
        const char *last = strrchr(p->te, ',');

        if (!strcasecmp(p->te, "chunked"))
                return SR_H1_MORE;
        last = last ? last + 1 : p->te;
        while (is_ows(*last))
                last++;
        if (!strcasecmp(last, "chunked"))
                return refuse(p, 501, "Transfer-Encoding: only chunked "
                              "alone is supported");
        return refuse(p, 400, "Transfer-Encoding: the final coding must be "
                      "chunked (the body length cannot be known)");
}

/* The empty line: the head is complete. */
static sr_h1_event_t finish_head(sr_h1_parser_t *p)
{
        sr_h1_head_t *h = &p->head;

        if (h->minor_version == 1 && !(p->seen & (1u << F_HOST)))
                return refuse(p, 400, "missing Host header (required in "
                              "HTTP/1.1)");
        if (p->te) {
                if (h->minor_version == 0)
                        return refuse(p, 400, "Transfer-Encoding in an "
                                      "HTTP/1.0 request");
                if (p->seen & (1u << F_CONTENT_LENGTH))
                        return refuse(p, 400, "both Transfer-Encoding and "
                                      "Content-Length: send one");
                if (check_transfer_encoding(p) == SR_H1_ERROR)
                        return SR_H1_ERROR;
                h->framing = SR_H1_FRAMING_CHUNKED;
                p->hex_digits = 0;
                p->remaining = 0;
                p->state = ST_CHUNK_SIZE;
        } else if (p->seen & (1u << F_CONTENT_LENGTH)) {
                h->framing = SR_H1_FRAMING_LENGTH;
                p->remaining = h->content_length;
                p->state = h->content_length ? ST_BODY_LEN : ST_END;
        } else {
                p->state = ST_END;
        }
        if (p->expect && h->minor_version == 1) {
                if (strcasecmp(p->expect, "100-continue"))
                        return refuse(p, 417, "Expect: only 100-continue "
                                      "is supported");
                h->expect_continue = true;
        }
        h->keep_alive = !p->conn_close &&
                        (h->minor_version == 1 || p->conn_keep_alive);
        return SR_H1_HEAD;
}

/* Collect a line of the head from @p in; *used bytes taken. Returns true
 * when the line is complete (buf[line_start, len) holds it with its CR,
 * without its LF), false when more input is needed or after a refusal
 * (state ST_ERROR). @p room: bytes the line may still take, LF included. */
static bool collect_line(sr_h1_parser_t *p, const char *in, size_t n,
                         size_t room, size_t *used)
{
        size_t scan = n < room ? n : room;
        const char *lf = memchr(in, '\n', scan);
        size_t take = lf ? (size_t)(lf - in) : scan;

        memcpy(p->buf + p->len, in, take);
        p->len += take;
        *used = lf ? take + 1 : take;
        return lf != NULL;
}

static sr_h1_event_t parse_head(sr_h1_parser_t *p, const char *in, size_t n,
                                size_t *used)
{
        size_t off = 0;

        while (off < n) {
                size_t took, s, e, room;
                sr_h1_event_t ev;

                if (p->state == ST_LINE) {
                        room = SR_H1_LINE_MAX + 2 - p->len;
                        if (!collect_line(p, in + off, n - off, room,
                                          &took)) {
                                off += took;
                                if (p->len > SR_H1_LINE_MAX + 1 ||
                                    (p->len == SR_H1_LINE_MAX + 1 &&
                                     p->buf[p->len - 1] != '\r')) {
                                        *used = off;
                                        return refuse(p, 414, "request line "
                                                      "over %d bytes",
                                                      SR_H1_LINE_MAX);
                                }
                                continue;
                        }
                        off += took;
                        if (p->len == 0 || p->buf[p->len - 1] != '\r') {
                                *used = off;
                                return refuse(p, 400, "lines must end with "
                                              "CRLF");
                        }
                        if (p->len == 1) { /* an empty line before it */
                                p->len = 0;
                                if (++p->empty_lines > SR_H1_EMPTY_LINES_MAX) {
                                        *used = off;
                                        return refuse(p, 400, "more than %d "
                                                      "empty lines before "
                                                      "the request",
                                                      SR_H1_EMPTY_LINES_MAX);
                                }
                                continue;
                        }
                        if (p->len - 1 > SR_H1_LINE_MAX) {
                                *used = off;
                                return refuse(p, 414, "request line over %d "
                                              "bytes", SR_H1_LINE_MAX);
                        }
                        ev = parse_request_line(p, p->len - 1);
                        if (ev == SR_H1_ERROR) {
                                *used = off;
                                return ev;
                        }
                        p->line_start = p->len;
                        p->state = ST_FIELD;
                        continue;
                }
                /* ST_FIELD */
                room = SR_H1_FIELDS_BYTES_MAX - p->fields_bytes;
                if (room == 0) {
                        *used = off;
                        return refuse(p, 431, "header section over %d bytes",
                                      SR_H1_FIELDS_BYTES_MAX);
                }
                if (!collect_line(p, in + off, n - off, room, &took)) {
                        off += took;
                        p->fields_bytes += took;
                        if (p->fields_bytes >= SR_H1_FIELDS_BYTES_MAX) {
                                *used = off;
                                return refuse(p, 431, "header section over "
                                              "%d bytes",
                                              SR_H1_FIELDS_BYTES_MAX);
                        }
                        continue;
                }
                off += took;
                p->fields_bytes += took;
                s = p->line_start;
                e = p->len;
                *used = off;
                if (e == s || p->buf[e - 1] != '\r')
                        return refuse(p, 400, "lines must end with CRLF");
                e--;
                if (e == s)
                        return finish_head(p);
                ev = parse_field(p, s, e);
                if (ev == SR_H1_ERROR)
                        return ev;
                p->line_start = p->len;
        }
        *used = off;
        return SR_H1_MORE;
}

/* ------------------------------------------------------------ the body */

/* One byte of a chunk-size line, a chunk's CRLF or the trailers. */
static sr_h1_event_t chunk_byte(sr_h1_parser_t *p, char c)
{
        int d;

        switch (p->state) {
        case ST_CHUNK_SIZE:
                d = sr_hex_value(c);
                if (d >= 0) {
                        if (p->remaining > (CHUNK_SIZE_MAX >> 4))
                                return refuse(p, 400, "chunk size over "
                                              "2^60 bytes");
                        p->remaining = p->remaining * 16 + (uint64_t)d;
                        p->hex_digits++;
                        return SR_H1_MORE;
                }
                if (!p->hex_digits)
                        return refuse(p, 400, "chunked body: expected a "
                                      "hexadecimal chunk size");
                if (c == ';')
                        p->state = ST_CHUNK_EXT;
                else if (is_ows(c))
                        p->state = ST_CHUNK_BWS;
                else if (c == '\r')
                        p->state = ST_CHUNK_LF;
                else
                        return refuse(p, 400, "chunked body: invalid byte "
                                      "0x%02x in a chunk size",
                                      (unsigned char)c);
                return SR_H1_MORE;
        case ST_CHUNK_BWS:
                if (c == ';')
                        p->state = ST_CHUNK_EXT;
                else if (!is_ows(c))
                        return refuse(p, 400, "chunked body: whitespace "
                                      "after a chunk size must lead to "
                                      "an extension");
                return SR_H1_MORE;
        case ST_CHUNK_EXT:
                if (c == '\r')
                        p->state = ST_CHUNK_LF;
                else if (!is_value_char((unsigned char)c))
                        return refuse(p, 400, "chunked body: invalid byte "
                                      "0x%02x in a chunk extension",
                                      (unsigned char)c);
                return SR_H1_MORE;
        case ST_CHUNK_LF:
                if (c != '\n')
                        return refuse(p, 400, "chunked body: a chunk-size "
                                      "line must end with CRLF");
                p->chunk_line = 0;
                p->state = p->remaining ? ST_CHUNK_DATA : ST_TRAILER_START;
                return SR_H1_MORE;
        case ST_CHUNK_DATA_CR:
        case ST_CHUNK_DATA_LF:
                if (c != (p->state == ST_CHUNK_DATA_CR ? '\r' : '\n'))
                        return refuse(p, 400, "chunked body: chunk data "
                                      "must be followed by CRLF");
                if (p->state == ST_CHUNK_DATA_CR) {
                        p->state = ST_CHUNK_DATA_LF;
                } else {
                        p->state = ST_CHUNK_SIZE;
                        p->hex_digits = 0;
                        p->remaining = 0;
                }
                return SR_H1_MORE;
        case ST_TRAILER_START:
                if (c == '\r')
                        p->state = ST_TRAILER_END_LF;
                else if (is_tchar((unsigned char)c))
                        p->state = ST_TRAILER_NAME;
                else
                        return refuse(p, 400, "chunked body: malformed "
                                      "trailer field");
                return SR_H1_MORE;
        case ST_TRAILER_NAME:
                if (c == ':')
                        p->state = ST_TRAILER_VALUE;
                else if (!is_tchar((unsigned char)c))
                        return refuse(p, 400, "chunked body: malformed "
                                      "trailer field");
                return SR_H1_MORE;
        case ST_TRAILER_VALUE:
                if (c == '\r')
                        p->state = ST_TRAILER_LF;
                else if (!is_value_char((unsigned char)c))
                        return refuse(p, 400, "chunked body: invalid byte "
                                      "0x%02x in a trailer field",
                                      (unsigned char)c);
                return SR_H1_MORE;
        case ST_TRAILER_LF:
        case ST_TRAILER_END_LF:
                if (c != '\n')
                        return refuse(p, 400, "chunked body: trailer lines "
                                      "must end with CRLF");
                p->state = p->state == ST_TRAILER_LF ? ST_TRAILER_START :
                                                       ST_END;
                return SR_H1_MORE;
        default:
                return refuse(p, 500, "parser state %d", p->state);
        }
}

static sr_h1_event_t parse_body(sr_h1_parser_t *p, const char *in, size_t n,
                                size_t *used, sr_slice_t *body)
{
        size_t off = 0;

        while (off < n && p->state != ST_END) {
                if (p->state == ST_BODY_LEN || p->state == ST_CHUNK_DATA) {
                        size_t take = n - off;

                        if ((uint64_t)take > p->remaining)
                                take = (size_t)p->remaining;
                        p->remaining -= take;
                        if (!p->remaining)
                                p->state = p->state == ST_BODY_LEN ?
                                                   ST_END :
                                                   ST_CHUNK_DATA_CR;
                        *body = sr_slice(in + off, take);
                        *used = off + take;
                        return SR_H1_BODY;
                }
                if (p->state >= ST_TRAILER_START &&
                    p->state <= ST_TRAILER_END_LF) {
                        if (++p->trailer_bytes > SR_H1_TRAILER_BYTES_MAX) {
                                *used = off;
                                return refuse(p, 431, "chunked body: "
                                              "trailer section over %d "
                                              "bytes",
                                              SR_H1_TRAILER_BYTES_MAX);
                        }
                } else if (p->state <= ST_CHUNK_LF &&
                           ++p->chunk_line > SR_H1_CHUNK_LINE_MAX) {
                        *used = off;
                        return refuse(p, 400, "chunked body: chunk-size "
                                      "line over %d bytes",
                                      SR_H1_CHUNK_LINE_MAX);
                }
                if (chunk_byte(p, in[off++]) == SR_H1_ERROR) {
                        *used = off;
                        return SR_H1_ERROR;
                }
        }
        *used = off;
        if (p->state == ST_END) {
                p->state = ST_START;
                return SR_H1_END;
        }
        return SR_H1_MORE;
}

sr_h1_event_t sr_h1_parse(sr_h1_parser_t *p, const char *in, size_t len,
                          size_t *used, sr_slice_t *body)
{
        *used = 0;
        *body = sr_slice(NULL, 0);
        switch (p->state) {
        case ST_ERROR:
                return SR_H1_ERROR;
        case ST_START:
                if (!len)
                        return SR_H1_MORE;
                start_request(p);
                /* fall through */
        case ST_LINE:
        case ST_FIELD:
                return parse_head(p, in, len, used);
        default:
                return parse_body(p, in, len, used, body);
        }
}

/* ------------------------------------------------------------ reasons */

const char *sr_h1_reason(int status)
{
        switch (status) {
        case 100: return "Continue";
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 204: return "No Content";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 411: return "Length Required";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 415: return "Unsupported Media Type";
        case 417: return "Expectation Failed";
        case 422: return "Unprocessable Content";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        case 505: return "HTTP Version Not Supported";
        default: return "";
        }
}
