/* common/domain/sr_model.c - ids, status names and run-spec helpers.
 *
 * Deterministic ids are UUID v5 in the project namespace SR_NS below:
 *   stage run            v5(NS, "<run>/stage/<i>")
 *   stage-run operation  v5(NS, "<run>/stage/<i>/op/<j>")
 *   target run           v5(NS, "<run>/stage/<i>/op/<j>/target/<k>")
 *     of an open stage   v5(NS, "<run>/stage/<i>/device/<device>/op/<j>")
 *   target (nil in spec) v5(NS, "<run>/stage/<i>/target/<k>")
 *     of an open stage   v5(NS, "<run>/stage/<i>/device/<device>/target")
 *   device command       v5(NS, "<target_run>/command")
 *   event                v5(NS, "<run>/event/<seq>")
 */
#include "sr_model.h"
#include "sr_defs.h"
#include "sr_groups.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uuid/uuid.h>

#include "sr_sha1.h"

/* 5f1c0a52-7d7e-4c1e-9a53-3b2f0c9d5e11, chosen once; never change it:
 * every stored id is derived from it. */
const sr_uuid_t sr_ns = { { 0x5f, 0x1c, 0x0a, 0x52, 0x7d, 0x7e, 0x4c, 0x1e,
                            0x9a, 0x53, 0x3b, 0x2f, 0x0c, 0x9d, 0x5e, 0x11 } };

bool sr_uuid_is_nil(const sr_uuid_t *u)
{
        static const sr_uuid_t nil;
        return memcmp(u, &nil, sizeof(nil)) == 0;
}

bool sr_uuid_eq(const sr_uuid_t *a, const sr_uuid_t *b)
{
        return memcmp(a, b, sizeof(*a)) == 0;
}

static const char hex_lower[16] = "0123456789abcdef";

/* Byte i of the id is text[fmt_pos[i]], text[fmt_pos[i] + 1]. */
static const uint8_t fmt_pos[16] = { 0,  2,  4,  6,  9,  11, 14, 16,
                                     19, 21, 24, 26, 28, 30, 32, 34 };

void sr_uuid_hex(const sr_uuid_t *u, char out[SR_UUID_STR_LEN])
{
        out[8] = out[13] = out[18] = out[23] = '-';
        for (int i = 0; i < 16; i++) {
                out[fmt_pos[i]] = hex_lower[u->b[i] >> 4];
                out[fmt_pos[i] + 1] = hex_lower[u->b[i] & 15];
        }
}

void sr_uuid_fmt(const sr_uuid_t *u, char out[SR_UUID_STR_LEN + 1])
{
        sr_uuid_hex(u, out);
        out[SR_UUID_STR_LEN] = '\0';
}

size_t sr_put_uint(char *out, uint64_t v, size_t width)
{
        char d[20];
        size_t nd = 0, n = 0;

        do {
                d[nd++] = (char)('0' + v % 10);
                v /= 10;
        } while (v);
        while (n + nd < width)
                out[n++] = '0';
        while (nd)
                out[n++] = d[--nd];
        return n;
}

/* Value of a hex digit in any case, -1 for any other byte. */
static const int8_t hex_val[256] = {
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
         0,  1,  2,  3,  4,  5,  6,  7,  8,  9, -1, -1, -1, -1, -1, -1,
        -1, 10, 11, 12, 13, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, 10, 11, 12, 13, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

/* libuuid's uuid_parse() runs strtoul() per byte (~430 ns a call); this is
 * the same grammar (8-4-4-4-12 hex digits, any case) by table lookups. */
bool sr_uuid_parse(const char *s, size_t len, sr_uuid_t *out)
{
        const unsigned char *t = (const unsigned char *)s;
        sr_uuid_t u;
        int bad = 0;

        if (len != SR_UUID_STR_LEN || t[8] != '-' || t[13] != '-' ||
            t[18] != '-' || t[23] != '-')
                return false;
        /* A -1 anywhere makes bad negative: one test after the loop. */
        for (int i = 0; i < 16; i++) {
                int hi = hex_val[t[fmt_pos[i]]];
                int lo = hex_val[t[fmt_pos[i] + 1]];

                bad |= hi | lo;
                u.b[i] = (uint8_t)((unsigned)hi << 4 | (unsigned)lo);
        }
        if (bad < 0)
                return false;
        *out = u;
        return true;
}

/* RFC 4122 v5: SHA-1 of namespace then name, first 16 bytes, version and
 * variant bits set; byte for byte what libuuid's uuid_generate_sha1() gives. */
static void uuid_v5(sr_uuid_t *out, const sr_uuid_t *ns, const char *name,
                    size_t len)
{
        uint8_t d[SR_SHA1_LEN];

        sr_sha1_2(ns->b, sizeof(ns->b), name, len, d);
        memcpy(out->b, d, sizeof(out->b));
        out->b[6] = (uint8_t)((out->b[6] & 0x0f) | 0x50);
        out->b[8] = (uint8_t)((out->b[8] & 0x3f) | 0x80);
}

void sr_uuid_v5(sr_uuid_t *out, const sr_uuid_t *ns, const char *fmt, ...)
{
        char name[512];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(name, sizeof(name), fmt, ap);
        va_end(ap);
        if (n < 0)
                n = 0;
        if ((size_t)n >= sizeof(name))
                n = (int)sizeof(name) - 1;
        uuid_v5(out, ns, name, (size_t)n);
}

void sr_uuid_event_id(sr_uuid_t *out, const sr_uuid_t *run, uint64_t seq)
{
        static const char mid[] = "/event/";
        char name[SR_UUID_STR_LEN + sizeof(mid) + 20];
        size_t n = SR_UUID_STR_LEN;

        sr_uuid_hex(run, name);
        memcpy(name + n, mid, sizeof(mid) - 1);
        n += sizeof(mid) - 1;
        n += sr_put_uint(name + n, seq, 1);
        uuid_v5(out, &sr_ns, name, n);
}

void sr_uuid_open_target_id(sr_uuid_t *out, const sr_uuid_t *run,
                            uint32_t stage, const sr_uuid_t *device)
{
        char rid[SR_UUID_STR_LEN + 1], dev[SR_UUID_STR_LEN + 1];

        sr_uuid_fmt(run, rid);
        sr_uuid_fmt(device, dev);
        sr_uuid_v5(out, &sr_ns, "%s/stage/%u/device/%s/target", rid, stage,
                   dev);
}

void sr_uuid_v4(sr_uuid_t *out)
{
        uuid_generate_random(out->b);
}

/* ---------------------------------------------------------- names */

static const char *const status_names[] = {
#define SR_STATUS_TEXT(name, text) [SR_ST_##name] = text,
        SR_STATUS_MAP(SR_STATUS_TEXT)
#undef SR_STATUS_TEXT
};
_Static_assert(sizeof(status_names) / sizeof(status_names[0]) == SR_ST__COUNT,
               "status_names out of sync");

static const char *const cmdst_names[] = {
#define SR_CMDST_TEXT(name, text) [SR_CMDST_##name] = text,
        SR_CMDST_MAP(SR_CMDST_TEXT)
#undef SR_CMDST_TEXT
};

static const char *const entity_names[] = {
        [SR_ENT_PIPELINE_RUN] = "pipeline_run",
        [SR_ENT_STAGE_RUN] = "stage_run",
        [SR_ENT_STAGE_RUN_OPERATION] = "stage_run_operation",
        [SR_ENT_TARGET_RUN] = "target_run",
};

static const char *const reject_names[] = {
#define SR_REJECT_TEXT(name, text) [SR_REJECT_##name] = text,
        SR_REJECT_MAP(SR_REJECT_TEXT)
#undef SR_REJECT_TEXT
};

/* Case-insensitive lookup of @p s in @p names[0..n). */
static int find_name(const char *const *names, int n, const char *s,
                     size_t len)
{
        for (int i = 0; i < n; i++)
                if (strlen(names[i]) == len && !strncasecmp(names[i], s, len))
                        return i;
        return -1;
}

const char *sr_status_name(sr_status_t st)
{
        return (unsigned)st < SR_ST__COUNT ? status_names[st] : "unknown";
}

bool sr_status_parse(const char *s, size_t len, sr_status_t *out)
{
        int i = find_name(status_names, SR_ST__COUNT, s, len);

        if (i <= 0) /* "none" is not a status anyone may send */
                return false;
        *out = (sr_status_t)i;
        return true;
}

bool sr_status_is_terminal(sr_status_t st)
{
        return st == SR_ST_SUCCESS || st == SR_ST_FAILURE ||
               st == SR_ST_CANCELLED || st == SR_ST_TIMEOUT ||
               st == SR_ST_INVALID;
}

const char *sr_cmdst_name(sr_cmdst_t cs)
{
        return (unsigned)cs < SR_CMDST__COUNT ? cmdst_names[cs] : "UNKNOWN";
}

bool sr_cmdst_parse(const char *s, size_t len, sr_cmdst_t *out)
{
        int i = find_name(cmdst_names, SR_CMDST__COUNT, s, len);

        if (i < 0)
                return false;
        *out = (sr_cmdst_t)i;
        return true;
}

const char *sr_entity_type_name(sr_entity_type_t t)
{
        return (unsigned)t < SR_ENT__COUNT ? entity_names[t] : "unknown";
}

bool sr_entity_type_parse(const char *s, size_t len, sr_entity_type_t *out)
{
        int i = find_name(entity_names, SR_ENT__COUNT, s, len);

        if (i < 0)
                return false;
        *out = (sr_entity_type_t)i;
        return true;
}

const char *sr_reject_name(sr_reject_t r)
{
        return (unsigned)r < SR_REJECT__COUNT ? reject_names[r] : "unknown";
}

/* ---------------------------------------------------------- run spec */

static void ops_free(sr_spec_op_t *ops, uint32_t n)
{
        for (uint32_t i = 0; ops && i < n; i++)
                free(ops[i].args_json);
        free(ops);
}

void sr_runspec_fini(sr_runspec_t *spec)
{
        if (!spec)
                return;
        for (uint32_t i = 0; spec->stages && i < spec->n_stages; i++) {
                ops_free(spec->stages[i].ops, spec->stages[i].n_ops);
                free(spec->stages[i].targets);
        }
        free(spec->stages);
        spec->stages = NULL;
        spec->n_stages = 0;
}

bool sr_spec_ops_copy(sr_spec_op_t **dst, const sr_spec_op_t *src, uint32_t n)
{
        sr_spec_op_t *ops;

        *dst = NULL;
        if (n == 0)
                return true;
        ops = calloc(n, sizeof(*ops));
        if (!ops)
                return false;
        for (uint32_t i = 0; i < n; i++) {
                ops[i] = src[i];
                ops[i].args_json = NULL;
                if (src[i].args_json &&
                    !(ops[i].args_json = strdup(src[i].args_json))) {
                        ops_free(ops, n);
                        return false;
                }
        }
        *dst = ops;
        return true;
}

bool sr_spec_targets_copy(sr_spec_target_t **dst, const sr_spec_target_t *src,
                          uint32_t n)
{
        *dst = NULL;
        if (n == 0)
                return true;
        *dst = malloc(n * sizeof(**dst));
        if (!*dst)
                return false;
        memcpy(*dst, src, n * sizeof(**dst));
        return true;
}

bool sr_runspec_copy(sr_runspec_t *dst, const sr_runspec_t *src)
{
        sr_runspec_t tmp = *src;

        tmp.stages = NULL;
        if (src->n_stages) {
                tmp.stages = calloc(src->n_stages, sizeof(*tmp.stages));
                if (!tmp.stages)
                        return false;
        }
        for (uint32_t i = 0; i < src->n_stages; i++) {
                sr_spec_stage_t *d = &tmp.stages[i];

                *d = src->stages[i];
                d->ops = NULL;
                d->targets = NULL;
                if (!sr_spec_ops_copy(&d->ops, src->stages[i].ops, d->n_ops) ||
                    !sr_spec_targets_copy(&d->targets, src->stages[i].targets,
                                          d->n_targets)) {
                        tmp.n_stages = i + 1;
                        sr_runspec_fini(&tmp);
                        return false;
                }
        }
        *dst = tmp;
        return true;
}

/* FNV-1a 64, fed field by field with lengths so that field boundaries
 * count ("ab","c" differs from "a","bc"). */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
        const uint8_t *b = p;

        for (size_t i = 0; i < n; i++) {
                h ^= b[i];
                h *= 1099511628211ULL;
        }
        return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
        uint64_t n = s ? strlen(s) : UINT64_MAX;

        h = fnv(h, &n, sizeof(n));
        return s ? fnv(h, s, (size_t)n) : h;
}

uint64_t sr_runspec_hash(const sr_runspec_t *spec)
{
        uint64_t h = 14695981039346656037ULL;
        uint8_t ap = spec->auto_promote;

        h = fnv(h, &spec->pipeline_id, sizeof(spec->pipeline_id));
        h = fnv_str(h, spec->pipeline_name);
        h = fnv(h, &ap, 1);
        h = fnv(h, &spec->timeout_seconds, sizeof(spec->timeout_seconds));
        h = fnv(h, &spec->n_stages, sizeof(spec->n_stages));
        for (uint32_t i = 0; i < spec->n_stages; i++) {
                const sr_spec_stage_t *s = &spec->stages[i];

                h = fnv(h, &s->stage_id, sizeof(s->stage_id));
                h = fnv_str(h, s->name);
                h = fnv_str(h, s->description);
                h = fnv(h, &s->timeout_seconds, sizeof(s->timeout_seconds));
                h = fnv(h, &s->n_ops, sizeof(s->n_ops));
                for (uint32_t j = 0; j < s->n_ops; j++) {
                        h = fnv_str(h, s->ops[j].operation_type);
                        h = fnv_str(h, s->ops[j].args_json);
                }
                h = fnv(h, &s->n_targets, sizeof(s->n_targets));
                for (uint32_t j = 0; j < s->n_targets; j++) {
                        const sr_spec_target_t *t = &s->targets[j];

                        h = fnv(h, &t->target_id, sizeof(t->target_id));
                        h = fnv(h, &t->device_id, sizeof(t->device_id));
                        h = fnv_str(h, t->device_name);
                        h = fnv_str(h, t->device_alias);
                }
                /* Hashed only when set: a spec without open stages keeps
                 * the hash it had before they existed. */
                if (s->append_targets) {
                        h = fnv(h, &s->append_targets,
                                sizeof(s->append_targets));
                        h = fnv(h, &s->expected_targets,
                                sizeof(s->expected_targets));
                }
        }
        return h;
}

void sr_entity_fini(sr_entity_t *e)
{
        if (!e)
                return;
        switch (e->type) {
        case SR_ENT_STAGE_RUN:
                ops_free(e->u.sr.ops, e->u.sr.n_ops);
                free(e->u.sr.targets);
                e->u.sr.ops = NULL;
                e->u.sr.targets = NULL;
                e->u.sr.n_ops = e->u.sr.n_targets = 0;
                break;
        case SR_ENT_STAGE_RUN_OPERATION:
                free(e->u.op.args_json);
                e->u.op.args_json = NULL;
                break;
        default:
                break;
        }
}

void sr_stage_chunk_fini(sr_stage_chunk_t *c)
{
        if (!c)
                return;
        free(c->targets);
        c->targets = NULL;
        c->n_targets = 0;
}

void sr_command_fini(sr_command_t *cmd)
{
        if (cmd && cmd->kind == SR_CMD_CREATE_RUN)
                sr_runspec_fini(&cmd->u.create.spec);
        if (cmd && cmd->kind == SR_CMD_APPEND_TARGETS) {
                free(cmd->u.append.targets);
                cmd->u.append.targets = NULL;
                cmd->u.append.n_targets = 0;
        }
        if (cmd && cmd->kind == SR_CMD_DEFINITION) {
                sr_defcmd_fini(cmd->u.def);
                free(cmd->u.def);
                cmd->u.def = NULL;
        }
        if (cmd && cmd->kind == SR_CMD_GROUP) {
                sr_grpcmd_fini(cmd->u.grp);
                free(cmd->u.grp);
                cmd->u.grp = NULL;
        }
}
