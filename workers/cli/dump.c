/* workers/cli/dump.c - `sr-cli dump TOPIC`: every record of a topic, all
 * partitions from the beginning up to the end offsets seen at start, one
 * JSON line each (format: tests/model/README.md).
 *
 * It reads with librdkafka directly (one group-less assigned consumer, one
 * partition after the other) because it needs what sr_kafka hides: the
 * topic's partition count and every header of every record.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "dump.h"
#include "recjson.h"
#include "sr_clock.h"
#include "sr_codec.h"
#include "sr_kafka.h"

#define DUMP_STALL_MS 30000 /* no progress for this long: give up */

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
static void decode_value(sr_codec_t *codec, const rd_kafka_message_t *m,
                         json_t *o)
{
        sr_slice_t in = sr_slice(m->payload, m->len);
        static const char *types[] = { NULL,       "command",  "result",
                                       "event",    "changelog", "dispatch",
                                       "reply" };
        sr_errctx_t ec = { 0 };
        json_t *v = NULL;
        int32_t id;
        sr_err_t err;

        if (!m->payload) {
                json_object_set_new(o, "schema_id", json_null());
                json_object_set_new(o, "type", json_string("tombstone"));
                json_object_set_new(o, "value", json_null());
                return;
        }
        err = sr_codec_peek_schema_id(in, &id, &ec);
        json_object_set_new(o, "schema_id", err ? json_null() :
                                                  json_integer(id));
        if (!err && id > 0 && id < SR_SCHEMA__MAX)
                json_object_set_new(o, "type", json_string(types[id]));
        else
                json_object_set_new(o, "type", json_null());
        if (!err) {
                switch (id) {
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
                                if (cl.kind == SR_CL_ENTITY)
                                        sr_entity_fini(&cl.u.entity);
                        }
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
static void dlq_summary(rd_kafka_headers_t *hdrs, json_t *o)
{
        static const char *names[] = { "sr_dlq_topic", "sr_dlq_partition",
                                       "sr_dlq_offset", "sr_dlq_reason",
                                       "sr_dlq_error" };
        json_t *d = json_object();

        for (int i = 0; i < 5; i++) {
                const void *val;
                size_t size;
                char buf[512];

                if (!hdrs ||
                    rd_kafka_header_get_last(hdrs, names[i], &val, &size) ||
                    !val)
                        continue;
                if (size >= sizeof(buf))
                        size = sizeof(buf) - 1;
                memcpy(buf, val, size);
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

static int print_record(sr_codec_t *codec, sr_topic_kind_t kind,
                        const rd_kafka_message_t *m, FILE *out)
{
        rd_kafka_timestamp_type_t tstype;
        rd_kafka_headers_t *hdrs = NULL;
        json_t *o = json_object(), *ha = json_array();
        int64_t ts = rd_kafka_message_timestamp(m, &tstype);
        char *raw, *text;
        const char *name;
        const void *val;
        size_t size;

        if (!o || !ha) {
                json_decref(o);
                json_decref(ha);
                return -1;
        }
        json_object_set_new(o, "topic", json_string(rd_kafka_topic_name(
                                                m->rkt)));
        json_object_set_new(o, "partition", json_integer(m->partition));
        json_object_set_new(o, "offset", json_integer(m->offset));
        json_object_set_new(o, "timestamp", json_integer(ts));
        json_object_set_new(o, "timestamp_type", json_string(
                tstype == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME ? "log_append" :
                tstype == RD_KAFKA_TIMESTAMP_CREATE_TIME ? "create" :
                                                           "none"));
        set_bytes(o, "key", "key_b64", m->key, m->key_len);
        if (rd_kafka_message_headers(m, &hdrs))
                hdrs = NULL;
        for (size_t i = 0; hdrs && !rd_kafka_header_get_all(hdrs, i, &name,
                                                            &val, &size);
             i++) {
                json_t *h = json_object();

                json_object_set_new(h, "name", json_string(name));
                set_bytes(h, "value", "b64", val, size);
                json_array_append_new(ha, h);
        }
        json_object_set_new(o, "headers", ha);
        raw = m->payload ? sr_recjson_base64(m->payload, m->len) : NULL;
        json_object_set_new(o, "raw", raw ? json_string(raw) : json_null());
        free(raw);
        decode_value(codec, m, o);
        if (kind == SR_TOPIC_DLQ)
                dlq_summary(hdrs, o);
        text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
        json_decref(o);
        if (!text)
                return -1;
        fputs(text, out);
        fputc('\n', out);
        free(text);
        return 0;
}

static int fail(const char *what, const char *detail)
{
        fprintf(stderr, "sr-cli dump: %s: %s\n", what, detail);
        return EX_UNAVAILABLE;
}

/* Read partition @p part of @p name from @p lo to @p hi (excluded). */
static int dump_partition(rd_kafka_t *rk, sr_codec_t *codec,
                          sr_topic_kind_t kind, const char *name,
                          int32_t part, int64_t lo, int64_t hi, FILE *out)
{
        rd_kafka_topic_partition_list_t *list;
        rd_kafka_resp_err_t kerr;
        int64_t next = lo, last_progress = sr_clock_mono_ms();
        int rc = 0;

        list = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(list, name, part)->offset = lo;
        kerr = rd_kafka_assign(rk, list);
        rd_kafka_topic_partition_list_destroy(list);
        if (kerr)
                return fail("assign", rd_kafka_err2str(kerr));
        while (next < hi && rc == 0) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);

                if (!m) {
                        if (sr_clock_mono_ms() - last_progress > DUMP_STALL_MS) {
                                fprintf(stderr, "sr-cli dump: %s [%d]: no "
                                        "progress at offset %" PRId64 " of %"
                                        PRId64 "\n", name, (int)part, next,
                                        hi);
                                rc = EX_UNAVAILABLE;
                        }
                        continue;
                }
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        /* Compaction or retention removed the rest. */
                        if (m->offset >= hi)
                                next = hi;
                } else if (m->err) {
                        fprintf(stderr, "sr-cli dump: %s [%d]: %s\n", name,
                                (int)part, rd_kafka_message_errstr(m));
                        if (m->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
                            m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                                rc = EX_UNAVAILABLE;
                } else if (m->partition == part && m->offset >= next) {
                        if (m->offset < hi &&
                            print_record(codec, kind, m, out))
                                rc = EX_OSERR;
                        next = m->offset + 1;
                        last_progress = sr_clock_mono_ms();
                }
                rd_kafka_message_destroy(m);
        }
        rd_kafka_assign(rk, NULL);
        return rc;
}

int sr_cli_dump(const sr_conf_t *conf, sr_codec_t *codec, const char *topic,
                FILE *out)
{
        const struct rd_kafka_metadata *md = NULL;
        char name[256], group[64], id[SR_UUID_STR_LEN + 1], errstr[512];
        rd_kafka_topic_t *rkt = NULL;
        rd_kafka_resp_err_t kerr;
        rd_kafka_conf_t *kc;
        sr_topic_kind_t kind;
        rd_kafka_t *rk;
        int32_t n_parts = 0;
        sr_uuid_t u;
        int rc = 0;

        if (!topic_kind(conf, topic, &kind)) {
                fprintf(stderr, "sr-cli dump: unknown topic \"%s\" (one of "
                        "commands results events dispatch changelog replies "
                        "dlq, with or without the prefix)\n", topic);
                return EX_USAGE;
        }
        sr_kafka_topic_name(conf, kind, name, sizeof(name));
        sr_uuid_v4(&u);
        sr_uuid_fmt(&u, id);
        snprintf(group, sizeof(group), "sr-cli-dump-%s", id);
        kc = conf->kafka ? rd_kafka_conf_dup(conf->kafka) : rd_kafka_conf_new();
        if (!kc ||
            rd_kafka_conf_set(kc, "group.id", group, errstr, sizeof(errstr)) ||
            rd_kafka_conf_set(kc, "enable.auto.commit", "false", errstr,
                              sizeof(errstr)) ||
            rd_kafka_conf_set(kc, "enable.partition.eof", "true", errstr,
                              sizeof(errstr))) {
                if (kc)
                        rd_kafka_conf_destroy(kc);
                return fail("kafka conf", errstr);
        }
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, sizeof(errstr));
        if (!rk) {
                rd_kafka_conf_destroy(kc);
                return fail("kafka", errstr);
        }
        rd_kafka_poll_set_consumer(rk);
        rkt = rd_kafka_topic_new(rk, name, NULL);
        kerr = rkt ? rd_kafka_metadata(rk, 0, rkt, &md, 10000) :
                     RD_KAFKA_RESP_ERR__FAIL;
        if (!kerr && md->topic_cnt == 1 && !md->topics[0].err)
                n_parts = md->topics[0].partition_cnt;
        else
                rc = fail(name, kerr ? rd_kafka_err2str(kerr) :
                                md->topic_cnt == 1 ?
                                rd_kafka_err2str(md->topics[0].err) :
                                "no metadata");
        if (md)
                rd_kafka_metadata_destroy(md);
        if (rkt)
                rd_kafka_topic_destroy(rkt);
        /* End offsets first, for every partition: the dump is the topic as
         * it was when the command started. */
        int64_t *lo = calloc((size_t)n_parts + 1, sizeof(*lo));
        int64_t *hi = calloc((size_t)n_parts + 1, sizeof(*hi));

        if (!lo || !hi)
                rc = EX_OSERR;
        for (int32_t p = 0; rc == 0 && p < n_parts; p++) {
                kerr = rd_kafka_query_watermark_offsets(rk, name, p, &lo[p],
                                                        &hi[p], 10000);
                if (kerr)
                        rc = fail(name, rd_kafka_err2str(kerr));
        }
        for (int32_t p = 0; rc == 0 && p < n_parts; p++)
                if (hi[p] > lo[p])
                        rc = dump_partition(rk, codec, kind, name, p, lo[p],
                                            hi[p], out);
        free(lo);
        free(hi);
        if (fflush(out) && rc == 0)
                rc = EX_IOERR;
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return rc;
}
