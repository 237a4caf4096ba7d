/* workers/cli/groups.c - sr-cli groups put / rm (groups.h): the group as
 * the changelog holds it (every partition read to its end: the directory's
 * records are the compacted G<group>/... keys), the commands of the diff
 * sent keyed by the group (one partition, so applied in the order sent),
 * each reply awaited on sr.replies and the counts printed. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "groups.h"
#include "sr_app.h"
#include "sr_clock.h"
#include "sr_kafka.h"

#define CSV_MAX (256u << 20)
#define REPLY_WAIT_MS 60000

/* ------------------------------------------------------------ reading */

/* The group's records read from the changelog. */
struct dir {
        sr_codec_t *codec;
        sr_uuid_t group;
        bool exists;
        sr_group_t g;
        char enterprise[SR_SHORT_MAX];
        sr_def_group_member_t *m; /* the last value of each member key */
        bool *live;
        size_t n, cap;
        sr_err_t err;
};

static int dir_record(const sr_inrec_t *in, void *arg)
{
        struct dir *d = arg;
        sr_group_rec_kind_t kind;
        sr_uuid_t g, dev;
        sr_changelog_t cl;
        size_t i;

        if (!sr_group_key_parse(in->key.ptr, in->key.len, &g, &kind, &dev) ||
            !sr_uuid_eq(&g, &d->group) || kind == SR_GREC__COUNT)
                return 0;
        if (in->value.ptr && (sr_codec_decode_changelog(d->codec, in->value,
                                                        &cl, NULL) ||
                              cl.kind != SR_CL_GROUP ||
                              cl.u.grp.kind != kind))
                return 0; /* not ours to judge: the worker wrote it */
        if (kind == SR_GREC_GROUP) {
                d->exists = in->value.ptr != NULL;
                if (d->exists) {
                        d->g = cl.u.grp.group;
                        memcpy(d->enterprise, cl.u.grp.enterprise_id,
                               sizeof(d->enterprise));
                }
                return 0;
        }
        /* members: the last record of a key wins (a tombstone: gone) */
        for (i = 0; i < d->n; i++)
                if (sr_uuid_eq(&d->m[i].device_id, &dev))
                        break;
        if (i == d->n) {
                if (!in->value.ptr)
                        return 0;
                if (d->n == d->cap) {
                        size_t nc = d->cap ? d->cap * 2 : 256;
                        sr_def_group_member_t *m =
                                realloc(d->m, nc * sizeof(*m));
                        bool *l = m ? realloc(d->live, nc * sizeof(*l)) :
                                      NULL;

                        if (m)
                                d->m = m;
                        if (!l) {
                                d->err = SR_ERR_NOMEM;
                                return 1;
                        }
                        d->live = l;
                        d->cap = nc;
                }
                d->n++;
        }
        d->live[i] = in->value.ptr != NULL;
        if (d->live[i])
                d->m[i] = cl.u.grp.member;
        return 0;
}

static sr_err_t dir_read(struct cli *cli, struct dir *d, sr_errctx_t *ec)
{
        int32_t parts = 0;
        sr_err_t err;

        err = sr_kafka_partitions(cli->conf, SR_TOPIC_CHANGELOG, &parts,
                                  10000, ec);
        for (int32_t p = 0; !err && p < parts; p++) {
                int64_t lo, hi;

                err = sr_kafka_watermarks(cli->conf, SR_TOPIC_CHANGELOG, p,
                                          &lo, &hi, 10000, ec);
                if (!err && hi > 0)
                        err = sr_kafka_read_partition_all(
                                cli->conf, SR_TOPIC_CHANGELOG, p, hi,
                                dir_record, d, 10000, ec);
                if (d->err)
                        err = sr_errctx_set(ec, d->err, "changelog: malloc");
        }
        /* keep the live members only */
        if (!err) {
                size_t k = 0;

                for (size_t i = 0; i < d->n; i++)
                        if (d->live[i])
                                d->m[k++] = d->m[i];
                d->n = k;
        }
        return err;
}

static void dir_fini(struct dir *d)
{
        free(d->m);
        free(d->live);
}

/* ------------------------------------------------------------ sending */

struct sent {
        sr_uuid_t *ids;
        const char **what;
        size_t n, cap;
        int64_t starts[256]; /* sr.replies' ends before the first send */
        int32_t n_parts;
};

static void replies_from_starts(void *arg, const int32_t *parts, int n,
                                int64_t *starts)
{
        struct sent *s = arg;

        for (int i = 0; i < n; i++)
                if (parts[i] >= 0 && parts[i] < s->n_parts)
                        starts[i * 2] = s->starts[parts[i]];
}

static sr_grpcmd_t *new_cmd(struct cli *cli, sr_command_t *c,
                            const sr_uuid_t *group, sr_grpcmd_kind_t kind)
{
        sr_uuid_t id;

        sr_uuid_v4(&id);
        return sr_grpcmd_new(c, kind, group, &id, cli->enterprise,
                             sr_clock_wall_ms());
}

/* Encode and send @p c (then freed), remembering its id. */
static sr_err_t send_one(struct cli *cli, sr_producer_t *p, sr_command_t *c,
                         const char *what, struct sent *s, sr_errctx_t *ec)
{
        char key[SR_UUID_STR_LEN + 1];
        sr_buf_t val = { NULL, 0 };
        sr_outrec_t rec;
        sr_err_t err;

        if (s->n == s->cap) {
                size_t nc = s->cap ? s->cap * 2 : 16;
                sr_uuid_t *ids = realloc(s->ids, nc * sizeof(*ids));
                const char **w = ids ? realloc(s->what, nc * sizeof(*w)) :
                                       NULL;

                if (ids)
                        s->ids = ids;
                if (!w) {
                        sr_command_fini(c);
                        return sr_errctx_set(ec, SR_ERR_NOMEM, "malloc");
                }
                s->what = w;
                s->cap = nc;
        }
        err = sr_codec_encode_command(cli->codec, c, &val, ec);
        if (!err) {
                memset(&rec, 0, sizeof(rec));
                sr_uuid_fmt(&c->pipeline_run_id, key);
                rec.topic = SR_TOPIC_COMMANDS;
                rec.partition = -1;
                rec.key = sr_slice(key, SR_UUID_STR_LEN);
                rec.value = sr_buf_slice(&val);
                rec.timestamp = c->issued_at;
                err = sr_producer_send(p, &rec, ec);
        }
        if (!err) {
                s->ids[s->n] = c->command_id;
                s->what[s->n++] = what;
        }
        sr_buf_free(&val);
        sr_command_fini(c);
        return err;
}

/* Members @p m [0, n) in chunks of @p per as PutGroupMembers (or, @p del,
 * RemoveGroupMembers). */
static sr_err_t send_chunks(struct cli *cli, sr_producer_t *p,
                            const sr_uuid_t *group,
                            const sr_def_group_member_t *m, size_t n,
                            bool del, uint32_t per, struct sent *s,
                            sr_errctx_t *ec)
{
        sr_err_t err = SR_OK;
        uint32_t chunk = 0;

        for (size_t i = 0; !err && i < n; i += per, chunk++) {
                size_t k = n - i < per ? n - i : per;
                sr_command_t c;
                sr_grpcmd_t *g = new_cmd(cli, &c, group,
                                         del ? SR_GRPCMD_REMOVE_MEMBERS :
                                               SR_GRPCMD_PUT_MEMBERS);

                if (!g || !(g->items = malloc(k * sizeof(*g->items)))) {
                        sr_command_fini(&c);
                        return sr_errctx_set(ec, SR_ERR_NOMEM, "malloc");
                }
                memcpy(g->items, m + i, k * sizeof(*g->items));
                g->n_items = (uint32_t)k;
                g->chunk = chunk;
                err = send_one(cli, p, &c,
                               del ? "RemoveGroupMembers" : "PutGroupMembers",
                               s, ec);
        }
        return err;
}

/* ------------------------------------------------------------ replies */

struct totals {
        uint64_t created, updated, unchanged, removed, absent;
        uint32_t version;
        int refused;
};

/* Wait for the reply of every command sent; add up their counts. */
static int await_replies(struct cli *cli, sr_consumer_t *c, struct sent *s,
                         struct totals *t)
{
        bool *got = calloc(s->n ? s->n : 1, sizeof(*got));
        int64_t until = sr_clock_mono_ms() + REPLY_WAIT_MS;
        sr_errctx_t ec = { 0 };
        sr_inrec_t recs[256];
        size_t left = s->n;
        int n;

        if (!got)
                return EX_OSERR;
        while (left && !*cli->stop && sr_clock_mono_ms() < until) {
                if (sr_consumer_poll(c, recs, 256, &n, 200, &ec)) {
                        fprintf(stderr, "sr-cli: %s\n", ec.msg);
                        break;
                }
                for (int i = 0; i < n; i++) {
                        sr_reply_t r;

                        if (sr_codec_decode_reply(cli->codec, recs[i].value,
                                                  &r, NULL))
                                continue;
                        for (size_t k = 0; k < s->n; k++) {
                                if (got[k] || !sr_uuid_eq(&s->ids[k],
                                                          &r.command_id))
                                        continue;
                                got[k] = true;
                                left--;
                                if (!r.accepted) {
                                        t->refused++;
                                        fprintf(stderr, "sr-cli: %s refused "
                                                "(%s): %s\n", s->what[k],
                                                sr_reject_name(r.reason),
                                                r.message);
                                } else if (!strcmp(s->what[k],
                                                   "RemoveGroupMembers")) {
                                        t->removed += r.def.added;
                                        t->absent += r.def.skipped;
                                } else {
                                        t->created += r.def.created;
                                        t->updated += r.def.added;
                                        t->unchanged += r.def.skipped;
                                }
                                /* replies come on several partitions:
                                 * the newest version is the largest */
                                if (r.accepted && r.def.version > t->version)
                                        t->version = r.def.version;
                        }
                }
        }
        free(got);
        if (left) {
                fprintf(stderr, "sr-cli: %zu of %zu replies not received in "
                        "%d s (is sr-status running?)\n", left, s->n,
                        REPLY_WAIT_MS / 1000);
                return EX_UNAVAILABLE;
        }
        return t->refused ? EX_DATAERR : EXIT_SUCCESS;
}

/* ------------------------------------------------------------ commands */

/* The diff's commands (@p name: PutGroup first; @p drop: DeleteGroup
 * last), sent and answered; prints the counts. */
static int run(struct cli *cli, const sr_uuid_t *group, const char *name,
               const sr_cli_groups_diff_t *diff, bool drop)
{
        sr_consumer_hooks_t hooks = { replies_from_starts, NULL, NULL };
        char gid[SR_UUID_STR_LEN + 1], cg[64];
        uint32_t per = (uint32_t)cli->conf->definition_chunk_targets;
        sr_topic_kind_t topic = SR_TOPIC_REPLIES;
        struct totals t = { 0 };
        struct sent s = { 0 };
        sr_producer_t *p = NULL;
        sr_consumer_t *c = NULL;
        sr_errctx_t ec = { 0 };
        sr_command_t cmd;
        sr_grpcmd_t *g;
        sr_err_t err;
        sr_uuid_t u;
        int rc = EX_UNAVAILABLE;

        per = per ? per : 1000;
        hooks.arg = &s;
        sr_uuid_fmt(group, gid);
        err = sr_kafka_partitions(cli->conf, topic, &s.n_parts, 10000, &ec);
        if (!err && s.n_parts > 256)
                s.n_parts = 256;
        for (int32_t i = 0; !err && i < s.n_parts; i++) {
                int64_t lo;

                err = sr_kafka_watermarks(cli->conf, topic, i, &lo,
                                          &s.starts[i], 10000, &ec);
        }
        sr_uuid_v4(&u);
        sr_uuid_fmt(&u, cg + snprintf(cg, sizeof(cg), "sr-cli-"));
        if (!err)
                err = sr_consumer_new(cli->conf, cg, &topic, 1, &hooks, &c,
                                      &ec);
        if (!err)
                err = sr_producer_new(cli->conf, "sr-cli", &p, &ec);
        if (!err && (name || !drop)) {
                g = new_cmd(cli, &cmd, group, SR_GRPCMD_PUT_GROUP);
                if (!g) {
                        err = sr_errctx_set(&ec, SR_ERR_NOMEM, "malloc");
                } else {
                        g->has_name = name != NULL;
                        if (name)
                                snprintf(g->name, sizeof(g->name), "%s",
                                         name);
                        err = send_one(cli, p, &cmd, "PutGroup", &s, &ec);
                }
        }
        if (!err)
                err = send_chunks(cli, p, group, diff->put, diff->n_put,
                                  false, per, &s, &ec);
        if (!err)
                err = send_chunks(cli, p, group, diff->del, diff->n_del,
                                  true, per, &s, &ec);
        if (!err && drop) {
                if (!new_cmd(cli, &cmd, group, SR_GRPCMD_DELETE_GROUP))
                        err = sr_errctx_set(&ec, SR_ERR_NOMEM, "malloc");
                else
                        err = send_one(cli, p, &cmd, "DeleteGroup", &s, &ec);
        }
        if (!err)
                err = sr_producer_wait(p, 30000, &ec);
        if (err) {
                fprintf(stderr, "sr-cli: %s\n", ec.msg);
        } else {
                rc = await_replies(cli, c, &s, &t);
                printf("group=%s commands=%zu created=%" PRIu64
                       " updated=%" PRIu64 " unchanged=%" PRIu64
                       " removed=%" PRIu64 " absent=%" PRIu64
                       " version=%" PRIu32 "%s\n", gid, s.n, t.created,
                       t.updated, t.unchanged, t.removed, t.absent,
                       t.version, drop && !t.refused ? " deleted" : "");
        }
        sr_producer_destroy(p);
        sr_consumer_destroy(c);
        free(s.ids);
        free(s.what);
        return rc;
}

static char *read_text(const char *path, size_t *len)
{
        FILE *f = fopen(path, "rb");
        char *buf = f ? malloc(CSV_MAX + 1) : NULL;

        if (buf)
                *len = fread(buf, 1, CSV_MAX + 1, f);
        if (buf && (ferror(f) || *len > CSV_MAX)) {
                free(buf);
                buf = NULL;
        }
        if (f)
                fclose(f);
        return buf;
}

/* Parse the group id and read the group; false: printed why. */
static bool group_read(struct cli *cli, const char *group, struct dir *d,
                       int *rc)
{
        sr_errctx_t ec = { 0 };

        memset(d, 0, sizeof(*d));
        d->codec = cli->codec;
        *rc = EX_USAGE;
        if (!group || !sr_cli_parse_uuid("--group", group, &d->group))
                return false;
        *rc = EX_UNAVAILABLE;
        if (dir_read(cli, d, &ec)) {
                fprintf(stderr, "sr-cli: reading the changelog: %s\n",
                        ec.msg);
                return false;
        }
        /* another enterprise's group is not ours to change */
        if (d->exists && strcmp(d->enterprise, cli->enterprise)) {
                d->exists = false;
                d->n = 0;
        }
        return true;
}

int sr_cli_groups_put(struct cli *cli, const char *group, const char *name,
                      const char *file)
{
        sr_def_group_member_t *want = NULL;
        sr_cli_groups_diff_t diff;
        sr_errctx_t ec = { 0 };
        struct dir d;
        size_t len = 0, n = 0;
        char *text;
        int rc;

        if (!group_read(cli, group, &d, &rc)) {
                dir_fini(&d);
                return rc;
        }
        rc = EX_NOINPUT;
        text = read_text(file, &len);
        if (!text) {
                fprintf(stderr, "sr-cli: %s: cannot read (or larger than "
                        "%u bytes)\n", file, CSV_MAX);
                goto out;
        }
        rc = EX_DATAERR;
        if (sr_cli_groups_csv(text, len, file, &d.group, &want, &n, &ec)) {
                fprintf(stderr, "sr-cli: %s (nothing sent)\n", ec.msg);
                goto out;
        }
        rc = EX_USAGE;
        if (!d.exists && !name) {
                fprintf(stderr, "sr-cli: device group %s is not in the "
                        "directory of enterprise %s: give --name to create "
                        "it (nothing sent)\n", group, cli->enterprise);
                goto out;
        }
        rc = EX_OSERR;
        if (sr_cli_groups_diff(want, n, d.m, d.n, &diff))
                goto out;
        rc = run(cli, &d.group, name, &diff, false);
        sr_cli_groups_diff_fini(&diff);
out:
        free(text);
        free(want);
        dir_fini(&d);
        return rc;
}

int sr_cli_groups_rm(struct cli *cli, const char *group)
{
        sr_cli_groups_diff_t diff;
        struct dir d;
        int rc;

        if (!group_read(cli, group, &d, &rc)) {
                dir_fini(&d);
                return rc;
        }
        if (!d.exists) {
                fprintf(stderr, "sr-cli: device group %s is not in the "
                        "directory of enterprise %s (nothing sent)\n", group,
                        cli->enterprise);
                dir_fini(&d);
                return EX_DATAERR;
        }
        rc = EX_OSERR;
        if (!sr_cli_groups_diff(NULL, 0, d.m, d.n, &diff)) {
                rc = run(cli, &d.group, NULL, &diff, true);
                sr_cli_groups_diff_fini(&diff);
        }
        dir_fini(&d);
        return rc;
}
