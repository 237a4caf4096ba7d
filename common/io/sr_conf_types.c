/* common/io/sr_conf_types.c - the value types of the configuration table:
 * strings (length and their own rule: URLs), integers, durations,
 * doubles, booleans, enums. Each parser names the key and what was wrong. */
#include "sr_conf_int.h"
#include "sr_registry.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static sr_err_t set_str(sr_conf_t *conf, const struct conf_prop *prop,
                        const char *value, sr_errctx_t *ec)
{
        char **slot = sr_conf__field(conf, prop);
        size_t len = strlen(value);
        char *copy;

        if (len < (size_t)prop->min)
                return sr_errctx_set(ec, SR_ERR_CONF, "%s: must not be empty",
                                     prop->name);
        if (len > (size_t)prop->max)
                return sr_errctx_set(ec, SR_ERR_CONF,
                                     "%s: expected at most %ld characters, "
                                     "got %zu", prop->name, prop->max, len);
        if (prop->check) {
                sr_err_t err = prop->check(prop, value, ec);

                if (err)
                        return err;
        }
        copy = strdup(value);
        if (!copy)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "%s: strdup",
                                     prop->name);
        free(*slot);
        *slot = copy;
        return SR_OK;
}

static bool is_hex(char c)
{
        return isxdigit((unsigned char)c) != 0;
}

/* RFC 3986 pchar without pct-encoded: unreserved, sub-delims, ':', '@'. */
static bool is_pchar(char c)
{
        return c && (isalnum((unsigned char)c) ||
                     strchr("-._~!$&'()*+,;=:@", c));
}

/* An absolute http(s) URL without userinfo, query or fragment:
 * scheme "://" host [":" port] [path]. The host is a name or IPv4 address
 * of letters, digits and "-._~", or an IPv6 literal in brackets. */
sr_err_t sr_conf__check_registry_url(const struct conf_prop *prop,
                                    const char *value, sr_errctx_t *ec)
{
        sr_registry_url_t u;

        if (!*value || sr_registry_parse_url(value, &u, ec) == SR_OK)
                return SR_OK;
        sr_errctx_prefix(ec, "%s: \"%s\"", prop->name, value);
        return SR_ERR_CONF;
}

sr_err_t sr_conf__check_public_url(const struct conf_prop *prop,
                                 const char *value, sr_errctx_t *ec)
{
        const char *p, *host, *end, *why;
        size_t hlen;
        long port;

        if (!*value)
                return SR_OK;
        if (!strncasecmp(value, "http://", 7)) {
                p = value + 7;
        } else if (!strncasecmp(value, "https://", 8)) {
                p = value + 8;
        } else {
                why = "expected an http:// or https:// URL, e.g. "
                      "https://sr.example.com/base";
                goto refused;
        }
        if (strpbrk(value, "?#")) {
                why = "a query or fragment cannot prefix a link";
                goto refused;
        }
        end = p + strcspn(p, "/");
        if (memchr(p, '@', (size_t)(end - p))) {
                why = "no user information ('@') allowed: links would "
                      "show it";
                goto refused;
        }
        host = p;
        if (*p == '[') {
                p += strspn(p + 1, "0123456789abcdefABCDEF:.") + 1;
                if (*p != ']' || p == host + 1) {
                        why = "malformed IPv6 host";
                        goto refused;
                }
                p++;
        } else {
                p += strspn(p, "abcdefghijklmnopqrstuvwxyz"
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~");
        }
        hlen = (size_t)(p - host);
        if (hlen == 0 && (*p == '/' || *p == ':' || !*p)) {
                why = "no host";
                goto refused;
        }
        if (*p == ':') {
                char *pe;

                errno = 0;
                port = strtol(p + 1, &pe, 10);
                if (!isdigit((unsigned char)p[1]) || errno || pe != end ||
                    port < 1 || port > 65535) {
                        why = "port must be 1..65535";
                        goto refused;
                }
                p = end;
        }
        if (p != end) {
                why = "host holds a character not allowed in a host name";
                goto refused;
        }
        for (p = end; *p; p++) {
                if (*p == '%' && is_hex(p[1]) && is_hex(p[2]))
                        p += 2;
                else if (*p != '/' && !is_pchar(*p))
                        break;
        }
        if (*p) {
                why = "path holds a character that must be percent-encoded";
                goto refused;
        }
        return SR_OK;
refused:
        return sr_errctx_set(ec, SR_ERR_CONF, "%s: %s; got \"%.100s\"",
                             prop->name, why, value);
}

static sr_err_t set_int(sr_conf_t *conf, const struct conf_prop *prop,
                        const char *value, sr_errctx_t *ec)
{
        char *end;
        long v;
        int iv;

        errno = 0; /* CERT ERR30-C */
        v = strtol(value, &end, 10);
        if (errno || end == value || *end != '\0' || v < prop->min ||
            v > prop->max)
                return sr_errctx_set(ec, SR_ERR_CONF,
                                     "%s: expected integer %ld..%ld, "
                                     "got \"%.100s\"", prop->name, prop->min,
                                     prop->max, value);
        iv = (int)v; /* in range: every max fits an int */
        memcpy(sr_conf__field(conf, prop), &iv, sizeof(iv));
        return SR_OK;
}

/* A duration: a decimal number and a unit (ms, s, m, h, d), or a bare 0,
 * into an int64_t of milliseconds. */
static sr_err_t set_duration(sr_conf_t *conf, const struct conf_prop *prop,
                             const char *value, sr_errctx_t *ec)
{
        static const struct {
                const char *unit;
                int64_t ms;
        } units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
                      { "h", 3600000 }, { "d", 86400000 } };
        const char *p = value;
        uint64_t n = 0;
        int64_t ms = -1;
        size_t i;

        while (*p >= '0' && *p <= '9') {
                if (n > (uint64_t)INT64_MAX / 10)
                        goto refused;
                n = n * 10 + (uint64_t)(*p++ - '0');
        }
        if (p == value)
                goto refused;
        if (!*p && n == 0)
                ms = 0;
        for (i = 0; i < sizeof(units) / sizeof(units[0]) && ms < 0; i++)
                if (!strcmp(p, units[i].unit) &&
                    n <= (uint64_t)(INT64_MAX / units[i].ms))
                        ms = (int64_t)n * units[i].ms;
        if (ms < prop->min || ms > prop->max)
                goto refused;
        memcpy(sr_conf__field(conf, prop), &ms, sizeof(ms));
        return SR_OK;
refused:
        return sr_errctx_set(ec, SR_ERR_CONF,
                             "%s: expected a duration with a unit (500ms, "
                             "90s, 15m, 12h, 30d; 0 alone) from %ldms to "
                             "%ldms, got \"%.100s\"", prop->name, prop->min,
                             prop->max, value);
}

static sr_err_t set_double(sr_conf_t *conf, const struct conf_prop *prop,
                           const char *value, sr_errctx_t *ec)
{
        char *end;
        double v;

        errno = 0;
        v = strtod(value, &end);
        if (errno || end == value || *end != '\0' || !isfinite(v) ||
            v < prop->dmin || v > prop->dmax)
                return sr_errctx_set(ec, SR_ERR_CONF,
                                     "%s: expected number %g..%g, "
                                     "got \"%.100s\"", prop->name, prop->dmin,
                                     prop->dmax, value);
        memcpy(sr_conf__field(conf, prop), &v, sizeof(v));
        return SR_OK;
}

static sr_err_t set_bool(sr_conf_t *conf, const struct conf_prop *prop,
                         const char *value, sr_errctx_t *ec)
{
        static const char *const yes[] = { "true", "yes", "on", "1" };
        static const char *const no[] = { "false", "no", "off", "0" };
        bool *slot = sr_conf__field(conf, prop);
        size_t i;

        for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
                if (!strcasecmp(value, yes[i])) {
                        *slot = true;
                        return SR_OK;
                }
                if (!strcasecmp(value, no[i])) {
                        *slot = false;
                        return SR_OK;
                }
        }
        return sr_errctx_set(ec, SR_ERR_CONF,
                             "%s: expected true or false, got \"%.100s\"",
                             prop->name, value);
}

/* "a|b|c" into buf, separated by @p sep. */
const char *sr_conf__join_names(const char *const *names, const char *sep,
                                char *buf, size_t size)
{
        size_t len = 0;
        int n;

        buf[0] = '\0';
        for (; *names && len < size; names++) {
                n = snprintf(buf + len, size - len, "%s%s",
                             len ? sep : "", *names);
                if (n < 0)
                        break;
                len += (size_t)n;
        }
        return buf;
}

static sr_err_t set_enum(sr_conf_t *conf, const struct conf_prop *prop,
                         const char *value, sr_errctx_t *ec)
{
        char all[128];
        int i;

        for (i = 0; prop->names[i]; i++) {
                if (!strcasecmp(value, prop->names[i])) {
                        memcpy(sr_conf__field(conf, prop), &i, sizeof(i));
                        return SR_OK;
                }
        }
        return sr_errctx_set(ec, SR_ERR_CONF,
                             "%s: expected one of %s, got \"%.100s\"",
                             prop->name,
                             sr_conf__join_names(prop->names, "|", all, sizeof(all)),
                             value);
}

sr_err_t sr_conf__set_value(sr_conf_t *conf, const struct conf_prop *prop,
                           const char *value, sr_errctx_t *ec)
{
        switch (prop->type) {
        case CONF_STR:
                return set_str(conf, prop, value, ec);
        case CONF_INT:
                return set_int(conf, prop, value, ec);
        case CONF_BOOL:
                return set_bool(conf, prop, value, ec);
        case CONF_DOUBLE:
                return set_double(conf, prop, value, ec);
        case CONF_ENUM:
                return set_enum(conf, prop, value, ec);
        case CONF_DURATION:
                return set_duration(conf, prop, value, ec);
        }
        return sr_errctx_set(ec, SR_ERR_CONF, "%s: bad table type", prop->name);
}
