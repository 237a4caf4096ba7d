/* common/gateway/sr_auth.c - token table and constant-time lookup. */
#include "sr_auth.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct token {
        char secret[SR_AUTH_TOKEN_MAX + 1];
        size_t len;
        char enterprise[SR_SHORT_MAX];
} token_t;

struct sr_auth {
        token_t *tokens;
        size_t n, cap;
};

/* Add "token:enterprise" (not NUL-terminated, @p len bytes). */
static sr_err_t add_entry(sr_auth_t *a, const char *s, size_t len,
                          const char *where, sr_errctx_t *ec)
{
        const char *colon;
        size_t tlen, elen;
        token_t *t;

        /* trim spaces around the entry */
        while (len && (*s == ' ' || *s == '\t')) {
                s++;
                len--;
        }
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
                       s[len - 1] == '\r'))
                len--;
        colon = memchr(s, ':', len);
        if (!colon)
                return sr_errctx_set(ec, SR_ERR_CONF,
                                     "%s: expected token:enterprise", where);
        tlen = (size_t)(colon - s);
        elen = len - tlen - 1;
        while (tlen && (s[tlen - 1] == ' ' || s[tlen - 1] == '\t'))
                tlen--; /* "token : enterprise" */
        while (elen && (colon[1] == ' ' || colon[1] == '\t')) {
                colon++;
                elen--;
        }
        if (tlen == 0)
                return sr_errctx_set(ec, SR_ERR_CONF, "%s: empty token",
                                     where);
        if (tlen > SR_AUTH_TOKEN_MAX)
                return sr_errctx_set(ec, SR_ERR_CONF,
                                     "%s: token longer than %d bytes", where,
                                     SR_AUTH_TOKEN_MAX);
        if (elen == 0)
                return sr_errctx_set(ec, SR_ERR_CONF, "%s: empty enterprise",
                                     where);
        if (elen >= SR_SHORT_MAX)
                return sr_errctx_set(ec, SR_ERR_CONF,
                                     "%s: enterprise longer than %d bytes",
                                     where, SR_SHORT_MAX - 1);
        for (size_t i = 0; i < tlen; i++)
                if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
                        return sr_errctx_set(ec, SR_ERR_CONF,
                                             "%s: token holds a space or "
                                             "control character", where);
        if (a->n == a->cap) {
                size_t cap = a->cap ? a->cap * 2 : 8;
                token_t *v = realloc(a->tokens, cap * sizeof(*v));

                if (!v)
                        return sr_errctx_set(ec, SR_ERR_NOMEM, "auth: realloc");
                a->tokens = v;
                a->cap = cap;
        }
        t = &a->tokens[a->n++];
        memset(t, 0, sizeof(*t));
        memcpy(t->secret, s, tlen);
        t->len = tlen;
        memcpy(t->enterprise, colon + 1, elen);
        return SR_OK;
}

static sr_err_t load_file(sr_auth_t *a, const char *path, sr_errctx_t *ec)
{
        char line[1024], where[300];
        sr_err_t err = SR_OK;
        int lineno = 0;
        FILE *f;

        f = fopen(path, "r");
        if (!f)
                return sr_errctx_set(ec, SR_ERR_IO, "%s: %s", path,
                                     strerror(errno));
        while (fgets(line, sizeof(line), f)) {
                size_t n = strcspn(line, "\n");
                const char *p = line;

                lineno++;
                line[n] = '\0';
                while (*p == ' ' || *p == '\t')
                        p++;
                if (!*p || *p == '#')
                        continue;
                snprintf(where, sizeof(where), "%.250s:%d", path, lineno);
                err = add_entry(a, p, strlen(p), where, ec);
                if (err)
                        break;
        }
        fclose(f);
        return err;
}

sr_err_t sr_auth_new(const char *path, const char *env_tokens,
                     sr_auth_t **out, sr_errctx_t *ec)
{
        sr_auth_t *a = calloc(1, sizeof(*a));
        sr_err_t err = SR_OK;

        if (!a)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "auth: calloc");
        if (path && *path)
                err = load_file(a, path, ec);
        if (!err && env_tokens) {
                const char *s = env_tokens;
                int i = 0;

                while (!err && *s) {
                        size_t n = strcspn(s, ",");
                        char where[48];

                        i++;
                        snprintf(where, sizeof(where), "SR_API_TOKENS entry %d",
                                 i);
                        if (n)
                                err = add_entry(a, s, n, where, ec);
                        s += n;
                        if (*s == ',')
                                s++;
                }
        }
        if (err) {
                sr_auth_destroy(a);
                return err;
        }
        *out = a;
        return SR_OK;
}

void sr_auth_destroy(sr_auth_t *a)
{
        if (!a)
                return;
        if (a->tokens) /* do not leave secrets in freed memory */
                memset(a->tokens, 0, a->cap * sizeof(*a->tokens));
        free(a->tokens);
        free(a);
}

size_t sr_auth_count(const sr_auth_t *a)
{
        return a->n;
}

/* Equal in time that depends only on the configured token's length. */
static bool ct_equal(const token_t *t, const char *given, size_t glen)
{
        volatile uint8_t diff = (uint8_t)(t->len != glen);

        for (size_t i = 0; i < t->len; i++)
                diff |= (uint8_t)(t->secret[i] ^ (i < glen ? given[i] : 0));
        return diff == 0;
}

/* RFC 9110's whitespace (OWS, and the 1*SP after an auth scheme, which we
 * take liberally as either byte): SP and HTAB, nothing else. */
static bool is_ws(char c)
{
        return c == ' ' || c == '\t';
}

/* The token after "<scheme> " in @p h (any case), or NULL. */
static const char *after_scheme(const char *h, const char *scheme)
{
        size_t n = strlen(scheme);

        if (strncasecmp(h, scheme, n) || !is_ws(h[n]))
                return NULL;
        for (h += n; is_ws(*h); h++)
                ;
        return h;
}

bool sr_auth_check(const sr_auth_t *a, const char *header,
                   char enterprise[SR_SHORT_MAX])
{
        const token_t *hit = NULL;
        const char *tok;
        size_t glen;

        if (!header)
                return false;
        while (is_ws(*header))
                header++;
        tok = after_scheme(header, "Bearer");
        if (!tok)
                tok = after_scheme(header, "Token");
        if (!tok)
                return false;
        glen = strlen(tok);
        while (glen && is_ws(tok[glen - 1]))
                glen--;
        if (glen == 0 || glen > SR_AUTH_TOKEN_MAX)
                return false;
        for (size_t i = 0; i < a->n; i++) /* no early exit */
                if (ct_equal(&a->tokens[i], tok, glen) && !hit)
                        hit = &a->tokens[i];
        if (!hit)
                return false;
        memcpy(enterprise, hit->enterprise, SR_SHORT_MAX);
        return true;
}
