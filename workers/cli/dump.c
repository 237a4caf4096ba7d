/* workers/cli/dump.c - `sr-cli dump TOPIC`: every record of a topic, all
 * partitions from the beginning up to the end offsets seen at start, one
 * JSON line each (format: tests/model/README.md).
 *
 * Through sr_kafka: the end offsets of every partition first, then one
 * partition after the other with a group-less reader, every header of
 * every record included.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "dump.h"
#include "recjson.h"
#include "sr_codec.h"
#include "sr_kafka.h"

#define DUMP_STALL_MS 30000 /* no progress for this long: give up */
#define DUMP_META_MS 10000

/* "commands" or "<prefix>commands" -> the kind. */
static bool topic_kind(const sr_conf_t *conf, const char *arg,
                       sr_topic_kind_t *out)
{
        char name[256];

        for (int t = 0; t < SR_TOPIC__COUNT; t++) {
                sr_kafka_topic_name(conf, (sr_topic_kind_t)t, name,
                                    sizeof(name));
                if (!strcmp(arg, sr_topic_suffix((sr_topic_kind_t)t)) ||
                    !strcmp(arg, name)) {
                        *out = (sr_topic_kind_t)t;
                        return true;
                }
        }
        return false;
}

static void set_bytes(json_t *o, const char *k, const char *flag,
                      const void *p, size_t n)
{
        int b64 = 0;

        if (!p) {
                json_object_set_new(o, k, json_null());
                json_object_set_new(o, flag, json_false());
                return;
        }
        json_object_set_new(o, k, sr_recjson_bytes(p, n, &b64));
        json_object_set_new(o, flag, json_boolean(b64));
}

/* The value decoded by its schema id (not by topic: sr.commands carries
 * forwarded results, sr.dlq anything). */
static void decode_value(sr_codec_t *codec, const sr_inrec_t *m, json_t *o)
{
        sr_slice_t in = m->value;
        static const char *types[] = { NULL,       "command",  "result",
                                       "event",    "changelog", "dispatch",
                                       "reply",    "definition_event" };
        _Static_assert(sizeof(types) / sizeof(types[0]) == SR_SCHEMA__MAX,
                       "a type name for every schema slot");
        sr_errctx_t ec = { 0 };
        json_t *v = NULL;
        int32_t id;
        sr_err_t err;
        int kind;

        if (!in.ptr) {
                json_object_set_new(o, "schema_id", json_null());
                json_object_set_new(o, "type", json_string("tombstone"));
                json_object_set_new(o, "value", json_null());
                return;
        }
        err = sr_codec_peek_schema_id(in, &id, &ec);
        json_object_set_new(o, "schema_id", err ? json_null() :
                                                  json_integer(id));
        kind = err ? 0 : sr_codec_kind_of(codec, id);
        if (kind)
                json_object_set_new(o, "type", json_string(types[kind]));
        else
                json_object_set_new(o, "type", json_null());
        if (!err) {
                switch (kind) {
                case SR_SCHEMA_COMMAND: {
                        sr_command_t c;

                        err = sr_codec_decode_command(codec, in, &c, &ec);
                        if (!err) {
                                v = sr_recjson_command(&c);
                                sr_command_fini(&c);
                        }
                        break;
                }
                case SR_SCHEMA_RESULT: {
                        sr_result_t r;

                        err = sr_codec_decode_result(codec, in, &r, &ec);
                        if (!err)
                                v = sr_recjson_result(&r);
                        break;
                }
                case SR_SCHEMA_EVENT: {
                        sr_event_t e;

                        err = sr_codec_decode_event(codec, in, &e, &ec);
                        if (!err)
                                v = sr_recjson_event(&e);
                        break;
                }
                case SR_SCHEMA_DISPATCH: {
                        sr_dispatch_t d;
                        char *args = NULL;

                        err = sr_codec_decode_dispatch(codec, in, &d, &args,
                                                       &ec);
                        if (!err) {
                                v = sr_recjson_dispatch(&d);
                                free(args);
                        }
                        break;
                }
                case SR_SCHEMA_REPLY: {
                        sr_reply_t r;

                        err = sr_codec_decode_reply(codec, in, &r, &ec);
                        if (!err)
                                v = sr_recjson_reply(&r);
                        break;
                }
                case SR_SCHEMA_CHANGELOG: {
                        sr_changelog_t cl;

                        err = sr_codec_decode_changelog(codec, in, &cl, &ec);
                        if (!err) {
                                v = sr_recjson_changelog(&cl);
                                sr_changelog_fini(&cl);
                        }
                        break;
                }
                case SR_SCHEMA_DEF_EVENT: {
                        sr_def_event_t de;

                        err = sr_codec_decode_def_event(codec, in, &de, &ec);
                        if (!err)
                                v = sr_recjson_def_event(&de);
                        break;
                }
                default:
                        err = sr_errctx_set(&ec, SR_ERR_SCHEMA,
                                            "unknown schema id %" PRId32, id);
                        break;
                }
        }
        if (!err && !v)
                err = sr_errctx_set(&ec, SR_ERR_NOMEM, "out of memory");
        json_object_set_new(o, "value", v ? v : json_null());
        if (err)
                json_object_set_new(o, "error", json_string(ec.msg));
}

/* sr_dlq_* headers, parsed, for convenience (they are in "headers" too). */
static void dlq_summary(const sr_inrec_t *m, json_t *o)
{
        static const char *names[] = { "sr_dlq_topic", "sr_dlq_partition",
                                       "sr_dlq_offset", "sr_dlq_reason",
                                       "sr_dlq_error" };
        json_t *d = json_object();

        for (int i = 0; i < 5; i++) {
                sr_slice_t val;
                char buf[512];
                size_t size;

                if (!sr_inrec_header(m, names[i], &val) || !val.ptr)
                        continue;
                size = val.len < sizeof(buf) - 1 ? val.len : sizeof(buf) - 1;
                memcpy(buf, val.ptr, size);
                buf[size] = '\0';
                if (i == 1 || i == 2)
                        json_object_set_new(d, names[i] + 7,
                                            json_integer(strtoll(buf, NULL,
                                                                 10)));
                else
                        json_object_set_new(d, names[i] + 7,
                                            json_stringn(buf, size));
        }
        json_object_set_new(o, "dlq", d);
}

static int print_record(sr_codec_t *codec, const char *topic,
                        const sr_inrec_t *m, FILE *out)
{
        static const char *const ts_types[] = {
                [SR_TS_NONE] = "none",
                [SR_TS_CREATE] = "create",
                [SR_TS_LOG_APPEND] = "log_append",
        };
        json_t *o = json_object(), *ha = json_array();
        char *raw, *text;
        const char *name;
        sr_slice_t val;

        if (!o || !ha) {
                json_decref(o);
                json_decref(ha);
                return -1;
        }
        json_object_set_new(o, "topic", json_string(topic));
        json_object_set_new(o, "partition", json_integer(m->partition));
        json_object_set_new(o, "offset", json_integer(m->offset));
        json_object_set_new(o, "timestamp", json_integer(m->timestamp));
        json_object_set_new(o, "timestamp_type",
                            json_string(ts_types[m->timestamp_type]));
        set_bytes(o, "key", "key_b64", m->key.ptr, m->key.len);
        for (size_t i = 0; sr_inrec_header_at(m, i, &name, &val); i++) {
                json_t *h = json_object();

                json_object_set_new(h, "name", json_string(name));
                set_bytes(h, "value", "b64", val.ptr, val.len);
                json_array_append_new(ha, h);
        }
        json_object_set_new(o, "headers", ha);
        raw = m->value.ptr ? sr_recjson_base64(m->value.ptr, m->value.len) :
                             NULL;
        json_object_set_new(o, "raw", raw ? json_string(raw) : json_null());
        free(raw);
        decode_value(codec, m, o);
        if (m->topic == SR_TOPIC_DLQ)
                dlq_summary(m, o);
        text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
        json_decref(o);
        if (!text)
                return -1;
        fputs(text, out);
        fputc('\n', out);
        free(text);
        return 0;
}

/* EX_NOPERM when the broker refused us (credentials, trust): retrying
 * would not help; EX_UNAVAILABLE otherwise. */
static int fail(const char *what, const char *detail, sr_err_t err)
{
        fprintf(stderr, "sr-cli dump: %s: %s\n", what, detail);
        return err == SR_ERR_AUTH ? EX_NOPERM : EX_UNAVAILABLE;
}

struct dump {
        sr_codec_t *codec;
        const char *name;
        FILE *out;
};

static int dump_one(const sr_inrec_t *rec, void *arg)
{
        const struct dump *d = arg;

        return print_record(d->codec, d->name, rec, d->out);
}

int sr_cli_dump(const sr_conf_t *conf, sr_codec_t *codec, const char *topic,
                FILE *out)
{
        char name[256];
        sr_errctx_t ec = { 0 };
        sr_topic_kind_t kind;
        struct dump d = { codec, name, out };
        int64_t *lo = NULL, *hi = NULL;
        int32_t n_parts = 0;
        sr_err_t err;
        int rc = 0;

        if (!topic_kind(conf, topic, &kind)) {
                fprintf(stderr, "sr-cli dump: unknown topic \"%s\" (one of "
                        "commands results events dispatch changelog replies "
                        "dlq idempotency definition-events, with or without "
                        "the prefix)\n",
                        topic);
                return EX_USAGE;
        }
        sr_kafka_topic_name(conf, kind, name, sizeof(name));
        err = sr_kafka_partitions(conf, kind, &n_parts, DUMP_META_MS, &ec);
        if (err)
                return fail(name, ec.msg, err);
        lo = calloc((size_t)n_parts + 1, sizeof(*lo));
        hi = calloc((size_t)n_parts + 1, sizeof(*hi));
        if (!lo || !hi)
                rc = EX_OSERR;
        /* End offsets first, for every partition: the dump is the topic as
         * it was when the command started. */
        for (int32_t p = 0; rc == 0 && p < n_parts; p++)
                if ((err = sr_kafka_watermarks(conf, kind, p, &lo[p], &hi[p],
                                               DUMP_META_MS, &ec)))
                        rc = fail(name, ec.msg, err);
        for (int32_t p = 0; rc == 0 && p < n_parts; p++) {
                if (hi[p] <= lo[p])
                        continue;
                err = sr_kafka_read_partition_all(conf, kind, p, hi[p],
                                                  dump_one, &d, DUMP_STALL_MS,
                                                  &ec);
                if (err == SR_ERR_INVALID)
                        rc = EX_OSERR; /* print_record failed */
                else if (err)
                        rc = fail(name, ec.msg, err);
        }
        free(lo);
        free(hi);
        if (fflush(out) && rc == 0)
                rc = EX_IOERR;
        return rc;
}
