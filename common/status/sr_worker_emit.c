/* common/status/sr_worker_emit.c - the records a batch derives: events
 * (with their CloudEvents headers), dispatch requests, replies, changelog
 * puts and markers, each measured against the output budget before it goes
 * to the outbox (docs/guarantee.md, "Sizes"). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_budget.h"
#include "sr_clock.h"
#include "sr_log.h"
#include "sr_worker_int.h"

/* The size a record is judged by: its wire size, with a changelog
 * record's batch id ("WRITER/N", longer as N grows) counted at its longest,
 * so that the verdict on an input, and the size its refusal names, do not
 * depend on which batch applied it. */
static size_t judged_size(const sr_worker_t *w, const sr_outrec_t *rec)
{
        static const char longest[sizeof(w->batch_id) - 1] = { 0 };
        sr_outrec_t r = *rec;

        for (uint32_t i = 0; i < r.n_headers && i < SR_OUTREC_MAX_HEADERS;
             i++)
                if (!strcmp(r.headers[i].name, BATCH_HEADER))
                        r.headers[i].value = sr_slice(longest,
                                                      sizeof(longest));
        return sr_budget_wire_size(&r);
}

/* A record of @p size bytes, derived from the input being applied, would
 * be over the output budget (docs/guarantee.md proves it cannot be for an
 * input within command.max.bytes; this is the safety net). The input is
 * refused and the batch redone without its changes: a verdict that only
 * depends on the run's state and the input, so reprocessing repeats it. */
static void over_budget(sr_worker_t *w, const char *what, size_t size)
{
        sr_errctx_t ec = { 0 };
        char why[200];

        snprintf(why, sizeof(why), "it leads to a %s of %zu bytes, over the "
                 "%zu-byte limit of a record (command.max.bytes + %d)", what,
                 size, w->out_max, SR_BUDGET_OVERHEAD);
        if (!sr_worker__refuse_current(w, SR_REJECT_TOO_LARGE, why)) {
                /* Not an input's doing (a marker), or its refusal itself
                 * does not fit: a defect, not a poison input. */
                sr_errctx_set(&ec, SR_ERR_FATAL, "%s of %zu bytes is over "
                              "the %zu-byte budget of a record", what, size,
                              w->out_max);
                sr_worker__set_fatal(w, &ec, "outbox");
        }
}

/* An output of the batch: measured against the output budget, then kept
 * by the outbox (sr_worker__outbox_add()). */
void sr_worker__emit(sr_worker_t *w, int32_t part, uint8_t phase,
                     const sr_outrec_t *rec)
{
        size_t size;

        if (w->fatal || w->redo)
                return;
        size = judged_size(w, rec);
        if (size > w->out_max) {
                char what[48];

                snprintf(what, sizeof(what), "%s record",
                         sr_topic_suffix(rec->topic));
                over_budget(w, what, size);
                return;
        }
        sr_worker__outbox_add(w, part, phase, rec);
}

/* The changelog record of an entity-keyed value (batch id header). */
static void changelog_rec(const sr_worker_t *w, int32_t part, sr_slice_t key,
                          sr_slice_t value, sr_outrec_t *rec)
{
        memset(rec, 0, sizeof(*rec));
        rec->topic = SR_TOPIC_CHANGELOG;
        rec->partition = part;
        rec->key = key;
        rec->value = value;
        rec->n_headers = 1;
        rec->headers[0].name = BATCH_HEADER;
        rec->headers[0].value = sr_slice(w->batch_id, strlen(w->batch_id));
}

/* Put an entity-keyed changelog value into the snapshot and the outbox. */
void sr_worker__changelog_put(sr_worker_t *w, int32_t part, sr_slice_t key,
                              sr_slice_t value)
{
        sr_outrec_t rec;
        sr_errctx_t ec = { 0 };

        if (w->fatal || w->redo)
                return;
        if (sr_store_put(w->txn, part, key, value, &ec) != SR_OK) {
                if (ec.code == SR_ERR_MAP_FULL) {
                        w->fatal = SR_ERR_MAP_FULL;
                        return;
                }
                sr_worker__set_fatal(w, &ec, "store put");
                return;
        }
        changelog_rec(w, part, key, value, &rec);
        sr_worker__emit(w, part, SR_STORE_PHASE_CHANGELOG, &rec);
}

/* A tombstone of @p key on the changelog (the caller deleted it from the
 * snapshot). */
void sr_worker__changelog_tombstone(sr_worker_t *w, int32_t part,
                                    sr_slice_t key)
{
        sr_outrec_t rec;

        changelog_rec(w, part, key, sr_slice(NULL, 0), &rec);
        sr_worker__emit(w, part, SR_STORE_PHASE_CHANGELOG, &rec);
}

typedef struct del_ctx {
        char (*keys)[SR_ENTITY_KEY_MAX];
        size_t *lens;
        size_t n, cap;
        bool nomem;
} del_ctx_t;

static int collect_key(sr_slice_t key, sr_slice_t value, void *arg)
{
        del_ctx_t *dc = arg;

        (void)value;
        if (key.len >= SR_ENTITY_KEY_MAX)
                return 0; /* not a key of ours */
        if (dc->n == dc->cap) {
                size_t cap = dc->cap ? 2 * dc->cap : 64;
                void *k, *l;

                k = realloc(dc->keys, cap * sizeof(*dc->keys));
                if (k)
                        dc->keys = k;
                l = k ? realloc(dc->lens, cap * sizeof(*dc->lens)) : NULL;
                if (l)
                        dc->lens = l;
                if (!k || !l) {
                        dc->nomem = true;
                        return 1;
                }
                dc->cap = cap;
        }
        memcpy(dc->keys[dc->n], key.ptr, key.len);
        dc->lens[dc->n++] = key.len;
        return 0;
}

/* Every key of the run, in key order, deleted and tombstoned: a restore
 * and the gateway's projection forget them too. */
void sr_worker__changelog_del_run(sr_worker_t *w, int32_t part,
                                  const sr_uuid_t *run)
{
        char prefix[SR_ENTITY_KEY_MAX];
        size_t pn = sr_run_key_prefix(run, prefix);
        del_ctx_t dc = { 0 };
        sr_errctx_t ec = { 0 };
        sr_outrec_t rec;

        if (w->fatal || w->redo)
                return;
        if (sr_store_scan(w->txn, part, sr_slice(prefix, pn), collect_key,
                          &dc, &ec) != SR_OK || dc.nomem) {
                if (dc.nomem)
                        sr_errctx_set(&ec, SR_ERR_NOMEM, "run keys");
                sr_worker__set_fatal(w, &ec, "retire run");
                goto out;
        }
        for (size_t i = 0; i < dc.n && !w->fatal && !w->redo; i++) {
                sr_slice_t key = sr_slice(dc.keys[i], dc.lens[i]);

                if (sr_store_del(w->txn, part, key, &ec) != SR_OK) {
                        if (ec.code == SR_ERR_MAP_FULL)
                                w->fatal = SR_ERR_MAP_FULL;
                        else
                                sr_worker__set_fatal(w, &ec, "store del");
                        break;
                }
                changelog_rec(w, part, key, sr_slice(NULL, 0), &rec);
                sr_worker__emit(w, part, SR_STORE_PHASE_CHANGELOG, &rec);
        }
out:
        free(dc.keys);
        free(dc.lens);
}

/* The batch's marker for partition @p p: the record that closes the batch
 * on the changelog, holding the input offsets after it (@p pm). */
void sr_worker__emit_marker(sr_worker_t *w, int32_t p,
                            const sr_store_pmeta_t *pm)
{
        sr_changelog_t cl;
        sr_outrec_t rec;
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };

        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_MARKER;
        snprintf(cl.u.marker.batch_id, sizeof(cl.u.marker.batch_id), "%s",
                 w->batch_id);
        cl.u.marker.partition = p;
        cl.u.marker.commands_offset = pm->commands_offset;
        cl.u.marker.results_offset = pm->results_offset;
        cl.u.marker.written_at = 0; /* deterministic content */
        if (sr_codec_encode_changelog(w->codec, &cl, &val, &ec)) {
                sr_worker__set_fatal(w, &ec, "encode marker");
                return;
        }
        /* The marker is outbox-only: it closes the batch on the
         * changelog; the snapshot keeps its offsets in pmeta. */
        changelog_rec(w, p, sr_slice(w->marker_key, strlen(w->marker_key)),
                      sr_buf_slice(&val), &rec);
        sr_worker__emit(w, p, SR_STORE_PHASE_CHANGELOG, &rec);
        sr_buf_free(&val);
}

/* RFC 3339 UTC with milliseconds (the ce_time header); "" before 1970. */
static void iso_time(int64_t ms, char out[32])
{
        if (ms < 0 || !sr_clock_iso8601(ms, out)) {
                out[0] = '\0';
                return;
        }
        out[SR_ISO8601_LEN] = '\0';
}

static void emit_event(sr_worker_t *w, int32_t part, const sr_event_t *ev)
{
        char schema_url[1100];
        char key[SR_UUID_STR_LEN + 1], id[SR_UUID_STR_LEN + 1];
        char subject[96], when[32], ent[SR_UUID_STR_LEN + 1];
        sr_outrec_t rec = { 0 };
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };

        if (sr_codec_encode_event(w->codec, ev, &val, &ec) != SR_OK) {
                sr_worker__set_fatal(w, &ec, "encode event");
                return;
        }
        sr_uuid_fmt(&ev->pipeline_run_id, key);
        sr_uuid_fmt(&ev->event_id, id);
        sr_uuid_fmt(&ev->entity_id, ent);
        snprintf(subject, sizeof(subject), "%s/%s",
                 sr_entity_type_name(ev->entity_type), ent);
        iso_time(ev->occurred_at, when);
        rec.topic = SR_TOPIC_EVENTS;
        rec.partition = -1;
        rec.key = sr_slice(key, SR_UUID_STR_LEN);
        rec.value = sr_buf_slice(&val);
        rec.timestamp = ev->occurred_at;
        /* CloudEvents Kafka protocol binding, binary mode. Every header is
         * derived from the event, so a re-published event is identical. */
        sr_outrec_add_header(&rec, "ce_specversion", "1.0");
        sr_outrec_add_header(&rec, "ce_id", id);
        sr_outrec_add_header(&rec, "ce_source", "/sr-status");
        sr_outrec_add_header(&rec, "ce_type", "io.sr.v1.StatusChanged");
        sr_outrec_add_header(&rec, "ce_subject", subject);
        sr_outrec_add_header(&rec, "ce_time", when);
        sr_outrec_add_header(&rec, "content-type", "application/avro");
        if (sr_conf_dataschema_url(w->conf,
                                   sr_codec_wire_id(w->codec,
                                                    SR_SCHEMA_EVENT),
                                   schema_url, sizeof(schema_url)))
                sr_outrec_add_header(&rec, "ce_dataschema", schema_url);
        sr_worker__emit(w, part, SR_STORE_PHASE_EMIT, &rec);
        sr_buf_free(&val);
}

/* A definition event (docs/definitions.md section 2) on
 * <prefix>definition-events, keyed by its pipeline, with the CloudEvents
 * headers of a run's events (type io.sr.definition.changed). */
void sr_worker__emit_def_event(sr_worker_t *w, int32_t part,
                               const sr_def_event_t *ev)
{
        char schema_url[1100];
        char key[SR_UUID_STR_LEN + 1], id[SR_UUID_STR_LEN + 1];
        char subject[96], when[32], ent[SR_UUID_STR_LEN + 1];
        sr_outrec_t rec = { 0 };
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };

        if (w->fatal || w->redo)
                return;
        if (sr_codec_encode_def_event(w->codec, ev, &val, &ec) != SR_OK) {
                sr_worker__set_fatal(w, &ec, "encode definition event");
                return;
        }
        sr_uuid_fmt(&ev->pipeline_id, key);
        sr_uuid_fmt(&ev->event_id, id);
        sr_uuid_fmt(&ev->entity_id, ent);
        snprintf(subject, sizeof(subject), "%s/%s",
                 sr_def_kind_name(ev->entity_type), ent);
        iso_time(ev->occurred_at, when);
        rec.topic = SR_TOPIC_DEF_EVENTS;
        rec.partition = -1;
        rec.key = sr_slice(key, SR_UUID_STR_LEN);
        rec.value = sr_buf_slice(&val);
        rec.timestamp = ev->occurred_at;
        sr_outrec_add_header(&rec, "ce_specversion", "1.0");
        sr_outrec_add_header(&rec, "ce_id", id);
        sr_outrec_add_header(&rec, "ce_source", "/sr-status");
        sr_outrec_add_header(&rec, "ce_type", "io.sr.definition.changed");
        sr_outrec_add_header(&rec, "ce_subject", subject);
        sr_outrec_add_header(&rec, "ce_time", when);
        sr_outrec_add_header(&rec, "content-type", "application/avro");
        if (sr_conf_dataschema_url(w->conf,
                                   sr_codec_wire_id(w->codec,
                                                    SR_SCHEMA_DEF_EVENT),
                                   schema_url, sizeof(schema_url)))
                sr_outrec_add_header(&rec, "ce_dataschema", schema_url);
        sr_worker__emit(w, part, SR_STORE_PHASE_EMIT, &rec);
        sr_buf_free(&val);
}

/* Append an encoded phase-1 record keyed by a uuid, to partition @p to
 * of @p topic (-1: the key's); takes @p val. */
static void emit_keyed(sr_worker_t *w, int32_t part, sr_topic_kind_t topic,
                       int32_t to, const sr_uuid_t *key_id, sr_buf_t *val,
                       int64_t ts)
{
        char key[SR_UUID_STR_LEN + 1];
        sr_outrec_t rec = { 0 };

        sr_uuid_fmt(key_id, key);
        rec.topic = topic;
        rec.partition = to;
        rec.key = sr_slice(key, SR_UUID_STR_LEN);
        rec.value = sr_buf_slice(val);
        rec.timestamp = ts;
        sr_worker__emit(w, part, SR_STORE_PHASE_EMIT, &rec);
        sr_buf_free(val);
}

static void emit_dispatch(sr_worker_t *w, int32_t part, const sr_dispatch_t *d)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };

        if (sr_codec_encode_dispatch(w->codec, d, &val, &ec) != SR_OK)
                sr_worker__set_fatal(w, &ec, "encode dispatch");
        else
                emit_keyed(w, part, SR_TOPIC_DISPATCH, -1, &d->device_id,
                           &val, d->issued_at);
}

void sr_worker__emit_command(sr_worker_t *w, int32_t part,
                             const sr_command_t *c, int32_t to)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };

        if (sr_codec_encode_command(w->codec, c, &val, &ec) != SR_OK)
                sr_worker__set_fatal(w, &ec, "encode command");
        else
                emit_keyed(w, part, SR_TOPIC_COMMANDS, to,
                           &c->pipeline_run_id, &val, c->issued_at);
}

void sr_worker__emit_reply(sr_worker_t *w, int32_t part, const sr_reply_t *r)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };

        if (sr_codec_encode_reply(w->codec, r, &val, &ec) != SR_OK)
                sr_worker__set_fatal(w, &ec, "encode reply");
        else
                emit_keyed(w, part, SR_TOPIC_REPLIES, -1, &r->command_id,
                           &val, r->occurred_at);
}

void sr_worker__emit_outputs(sr_worker_t *w, int32_t part)
{
        const sr_fsm_out_t *out = &w->out;

        for (uint32_t i = 0; i < out->n_events; i++) {
                const sr_event_t *ev = &out->events[i];
                char run[SR_UUID_STR_LEN + 1], ent[SR_UUID_STR_LEN + 1];

                emit_event(w, part, ev);
                w->bs.events++;
                w->bs.transitions[ev->entity_type][ev->to_status]++;
                if (sr_log_is_enabled(SR_LOG_INFO)) {
                        sr_uuid_fmt(&ev->pipeline_run_id, run);
                        sr_uuid_fmt(&ev->entity_id, ent);
                        SR_INFO("FSM",
                                "%s %s -> %s run=%s %s=%s seq=%" PRIu64
                                " reason=%s version=%u",
                                sr_entity_type_name(ev->entity_type),
                                sr_status_name(ev->from_status),
                                sr_status_name(ev->to_status), run,
                                ev->entity_type == SR_ENT_PIPELINE_RUN ?
                                        "pipeline_run" :
                                ev->entity_type == SR_ENT_STAGE_RUN ?
                                        "stage_run" :
                                        "target_run",
                                ent, ev->seq,
                                ev->reason[0] ? ev->reason : "-",
                                ev->version);
                }
        }
        for (uint32_t i = 0; i < out->n_dispatches; i++)
                emit_dispatch(w, part, &out->dispatches[i]);
        for (uint32_t i = 0; i < out->n_steps; i++)
                /* a StageStep: to the run's own partition */
                sr_worker__emit_command(w, part, &out->steps[i], part);
        if (out->has_reply) {
                sr_worker__emit_reply(w, part, &out->reply);
                if (!out->reply.accepted)
                        w->bs.rejections[out->reply.reason]++;
        }
}

/* After a create: its stage runs and operations are the records that
 * carry the spec (args included) and the only ones whose size depends on
 * the input; check them now, while the input is known. A stage run's
 * record still grows afterwards, by its status fields only (at most
 * SR_BUDGET_ENTITY_GROWTH bytes). */
void sr_worker__check_created(sr_worker_t *w, int32_t part, const sr_run_t *run)
{
        uint32_t total = run->pr.n_stages + run->n_ops;
        char key[SR_ENTITY_KEY_MAX];
        sr_changelog_t cl;
        sr_outrec_t rec;
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };

        for (uint32_t k = 0; k < total && !w->fatal && !w->redo; k++) {
                bool stage = k < run->pr.n_stages;
                size_t size, kn;

                memset(&cl, 0, sizeof(cl));
                cl.kind = SR_CL_ENTITY;
                cl.u.entity.type = stage ? SR_ENT_STAGE_RUN :
                                           SR_ENT_STAGE_RUN_OPERATION;
                if (stage)
                        cl.u.entity.u.sr = run->stages[k];
                else
                        cl.u.entity.u.op = run->ops[k - run->pr.n_stages];
                kn = sr_entity_key(&cl.u.entity, key);
                val.len = 0;
                if (sr_codec_encode_changelog(w->codec, &cl, &val, &ec)) {
                        sr_worker__set_fatal(w, &ec, "encode entity");
                        break;
                }
                changelog_rec(w, part, sr_slice(key, kn), sr_buf_slice(&val),
                              &rec);
                size = judged_size(w, &rec) +
                       (stage ? SR_BUDGET_ENTITY_GROWTH : 0);
                if (size > w->out_max)
                        over_budget(w, stage ? "stage_run changelog record" :
                                               "stage_run_operation "
                                               "changelog record",
                                    size);
                sr_buf_free(&val);
        }
        sr_buf_free(&val);
}
