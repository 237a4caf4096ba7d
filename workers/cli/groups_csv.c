/* workers/cli/groups_csv.c - a device group's members CSV and its diff
 * against the group (groups.h). Pure: no I/O. */
#include <stdlib.h>
#include <string.h>

#include "groups.h"

#define HEADER "device_id,device_name"

/* One field [s, e) into @p dst (cap bytes with the NUL). */
static bool field(const char *s, const char *e, char *dst, size_t cap)
{
        size_t n = (size_t)(e - s);

        if (n >= cap)
                return false;
        memcpy(dst, s, n);
        memset(dst + n, 0, cap - n);
        return true;
}

static int by_device(const void *a, const void *b)
{
        const sr_def_group_member_t *x = a, *y = b;

        return memcmp(x->device_id.b, y->device_id.b, sizeof(x->device_id.b));
}

/* Line @p ln [s, e) into @p m; false with @p ec set when it is bad. */
static bool parse_line(const char *s, const char *e, const char *name,
                       size_t ln, sr_def_group_member_t *m, sr_errctx_t *ec)
{
        const char *c1 = memchr(s, ',', (size_t)(e - s)), *c2;

        if (!c1) {
                sr_errctx_set(ec, SR_ERR_INVALID, "%s:%zu: expected "
                              "device_id,device_name[,device_alias]", name,
                              ln);
                return false;
        }
        c2 = memchr(c1 + 1, ',', (size_t)(e - c1 - 1));
        if (c2 && memchr(c2 + 1, ',', (size_t)(e - c2 - 1))) {
                sr_errctx_set(ec, SR_ERR_INVALID, "%s:%zu: more than three "
                              "fields (a name holds no comma)", name, ln);
                return false;
        }
        if (!sr_uuid_parse(s, (size_t)(c1 - s), &m->device_id)) {
                sr_errctx_set(ec, SR_ERR_INVALID, "%s:%zu: device_id: "
                              "expected a UUID, got \"%.*s\"", name, ln,
                              (int)(c1 - s > 40 ? 40 : c1 - s), s);
                return false;
        }
        if (!field(c1 + 1, c2 ? c2 : e, m->device_name,
                   sizeof(m->device_name)) || !m->device_name[0]) {
                sr_errctx_set(ec, SR_ERR_INVALID, "%s:%zu: device_name: "
                              "1 to 255 bytes", name, ln);
                return false;
        }
        if (c2 && !field(c2 + 1, e, m->device_alias,
                         sizeof(m->device_alias))) {
                sr_errctx_set(ec, SR_ERR_INVALID, "%s:%zu: device_alias: "
                              "at most 255 bytes", name, ln);
                return false;
        }
        return true;
}

/* A member and the line it came from, while reading. */
struct row {
        sr_def_group_member_t m;
        size_t line;
};

static int row_by_device(const void *a, const void *b)
{
        return by_device(&((const struct row *)a)->m,
                         &((const struct row *)b)->m);
}

sr_err_t sr_cli_groups_csv(const char *text, size_t len, const char *name,
                           const sr_uuid_t *group,
                           sr_def_group_member_t **out, size_t *n,
                           sr_errctx_t *ec)
{
        const char *s = text, *end = text + len;
        struct row *rows = NULL, *p;
        sr_def_group_member_t *items;
        size_t cnt = 0, cap = 0, ln = 0;
        bool first = true;

        for (; s < end; s = s < end ? s + 1 : s) {
                const char *nl = memchr(s, '\n', (size_t)(end - s));
                const char *e = nl ? nl : end, *line = s;

                s = e; /* the loop steps over the newline */
                ln++;
                if (e > line && e[-1] == '\r')
                        e--;
                if (e == line)
                        continue;
                if (first && (size_t)(e - line) >= strlen(HEADER) &&
                    !memcmp(line, HEADER, strlen(HEADER))) {
                        first = false;
                        continue;
                }
                first = false;
                if (cnt == cap) {
                        cap = cap ? cap * 2 : 64;
                        p = realloc(rows, cap * sizeof(*rows));
                        if (!p) {
                                free(rows);
                                return sr_errctx_set(ec, SR_ERR_NOMEM,
                                                     "%s: malloc", name);
                        }
                        rows = p;
                }
                memset(&rows[cnt], 0, sizeof(rows[cnt]));
                rows[cnt].m.group_id = *group;
                rows[cnt].line = ln;
                if (!parse_line(line, e, name, ln, &rows[cnt].m, ec)) {
                        free(rows);
                        return SR_ERR_INVALID;
                }
                cnt++;
        }
        if (cnt)
                qsort(rows, cnt, sizeof(*rows), row_by_device);
        for (size_t i = 1; i < cnt; i++)
                if (!row_by_device(&rows[i], &rows[i - 1])) {
                        char id[SR_UUID_STR_LEN + 1];
                        size_t a = rows[i - 1].line, b = rows[i].line;

                        sr_uuid_fmt(&rows[i].m.device_id, id);
                        sr_errctx_set(ec, SR_ERR_INVALID, "%s:%zu: device "
                                      "%s is also on line %zu", name,
                                      a > b ? a : b, id, a > b ? b : a);
                        free(rows);
                        return SR_ERR_INVALID;
                }
        items = cnt ? malloc(cnt * sizeof(*items)) : NULL;
        if (cnt && !items) {
                free(rows);
                return sr_errctx_set(ec, SR_ERR_NOMEM, "%s: malloc", name);
        }
        for (size_t i = 0; i < cnt; i++)
                items[i] = rows[i].m;
        free(rows);
        *out = items;
        *n = cnt;
        return SR_OK;
}

sr_err_t sr_cli_groups_diff(sr_def_group_member_t *want, size_t n_want,
                            sr_def_group_member_t *have, size_t n_have,
                            sr_cli_groups_diff_t *out)
{
        sr_cli_groups_diff_t d = { 0 };
        size_t i = 0, j = 0;

        if (n_want)
                qsort(want, n_want, sizeof(*want), by_device);
        if (n_have)
                qsort(have, n_have, sizeof(*have), by_device);
        d.put = calloc(n_want ? n_want : 1, sizeof(*d.put));
        d.del = calloc(n_have ? n_have : 1, sizeof(*d.del));
        if (!d.put || !d.del) {
                free(d.put);
                free(d.del);
                return SR_ERR_NOMEM;
        }
        while (i < n_want || j < n_have) {
                int c = i == n_want ? 1 : j == n_have ? -1 :
                        by_device(&want[i], &have[j]);

                if (c < 0) {
                        d.put[d.n_put++] = want[i++];
                } else if (c > 0) {
                        d.del[d.n_del++] = have[j++];
                } else {
                        if (strcmp(want[i].device_name, have[j].device_name) ||
                            strcmp(want[i].device_alias,
                                   have[j].device_alias))
                                d.put[d.n_put++] = want[i];
                        i++;
                        j++;
                }
        }
        *out = d;
        return SR_OK;
}

void sr_cli_groups_diff_fini(sr_cli_groups_diff_t *d)
{
        free(d->put);
        free(d->del);
        memset(d, 0, sizeof(*d));
}
