/* common/io/sr_registry.c - registering our schemas with an external
 * Confluent-compatible registry (sr_registry.h). */
#include "sr_registry.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sr_clock.h"
#include "sr_hclient.h"
#include "sr_log.h"

const sr_registry_subject_t sr_registry_subjects[SR_REGISTRY_N_SUBJECTS] = {
        { SR_TOPIC_CHANGELOG, SR_SCHEMA_CHANGELOG },
        { SR_TOPIC_COMMANDS, SR_SCHEMA_COMMAND },
        { SR_TOPIC_DEF_EVENTS, SR_SCHEMA_DEF_EVENT },
        { SR_TOPIC_DISPATCH, SR_SCHEMA_DISPATCH },
        { SR_TOPIC_EVENTS, SR_SCHEMA_EVENT },
        { SR_TOPIC_REPLIES, SR_SCHEMA_REPLY },
        { SR_TOPIC_RESULTS, SR_SCHEMA_RESULT },
};

/* One request's own limit: what is left of the caller's wait, within
 * these bounds (a wait of 0 still gets one try). */
#define REQUEST_TIMEOUT_MS 5000
#define REQUEST_TIMEOUT_MIN_MS 1000
#define PAUSE_FIRST_MS 100
#define PAUSE_MAX_MS 2000

sr_err_t sr_registry_parse_url(const char *url, sr_registry_url_t *out,
                               sr_errctx_t *ec)
{
        const char *p, *hend, *pend;
        size_t hlen, plen;
        long port = 80;

        if (!strncasecmp(url, "https://", 8))
                return sr_errctx_set(ec, SR_ERR_CONF,
                                     "https is not supported (no TLS to the "
                                     "registry in this version): use an "
                                     "http:// URL");
        if (strncasecmp(url, "http://", 7))
                return sr_errctx_set(ec, SR_ERR_CONF,
                                     "expected an http:// URL, e.g. "
                                     "http://registry:8081");
        if (strpbrk(url, "?#@"))
                return sr_errctx_set(ec, SR_ERR_CONF,
                                     "no query, fragment or user "
                                     "information allowed");
        p = url + 7;
        pend = p + strcspn(p, "/");
        hend = memchr(p, ':', (size_t)(pend - p));
        if (p[0] == '[')
                return sr_errctx_set(ec, SR_ERR_CONF,
                                     "IPv6 hosts are not supported");
        if (hend) {
                char *e;

                port = strtol(hend + 1, &e, 10);
                if (e != pend || hend + 1 == pend || port < 1 ||
                    port > 65535)
                        return sr_errctx_set(ec, SR_ERR_CONF,
                                             "port: expected 1..65535");
        } else {
                hend = pend;
        }
        hlen = (size_t)(hend - p);
        if (hlen == 0 || hlen >= SR_REGISTRY_HOST_MAX)
                return sr_errctx_set(ec, SR_ERR_CONF, "no host, or a host "
                                     "over %d bytes",
                                     SR_REGISTRY_HOST_MAX - 1);
        plen = strlen(pend);
        while (plen && pend[plen - 1] == '/')
                plen--;
        if (plen >= SR_REGISTRY_PATH_MAX)
                return sr_errctx_set(ec, SR_ERR_CONF, "path over %d bytes",
                                     SR_REGISTRY_PATH_MAX - 1);
        memcpy(out->host, p, hlen);
        out->host[hlen] = '\0';
        out->port = (int)port;
        memcpy(out->path, pend, plen);
        out->path[plen] = '\0';
        return SR_OK;
}

/* The IPv4 address of @p host as text (sr_hclient takes literals). */
static sr_err_t resolve(const char *host, char addr[INET_ADDRSTRLEN],
                        sr_errctx_t *ec)
{
        struct addrinfo hints, *res = NULL;
        int rc;

        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_INET;
        hints.ai_socktype = SOCK_STREAM;
        rc = getaddrinfo(host, NULL, &hints, &res);
        if (rc || !res)
                return sr_errctx_set(ec, SR_ERR_IO, "cannot resolve %s: %s",
                                     host, gai_strerror(rc));
        inet_ntop(AF_INET,
                  &((const struct sockaddr_in *)res->ai_addr)->sin_addr,
                  addr, INET_ADDRSTRLEN);
        freeaddrinfo(res);
        return SR_OK;
}

/* The registry's own words out of an error answer: its "message", else
 * the start of the body. */
static void their_message(const sr_hresp_t *r, char *out, size_t cap)
{
        json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
        json_t *m = json_object_get(j, "message");
        json_t *c = json_object_get(j, "error_code");

        if (json_is_string(m) && json_is_integer(c))
                snprintf(out, cap, "error_code %lld: %s",
                         (long long)json_integer_value(c),
                         json_string_value(m));
        else if (json_is_string(m))
                snprintf(out, cap, "%s", json_string_value(m));
        else
                snprintf(out, cap, "%.200s", r->body_len ? r->body : "");
        json_decref(j);
}

/* The id of a 2xx answer: {"id": <1..2^31-1>, ...}; 0 if not. */
static int32_t answered_id(const sr_hresp_t *r)
{
        json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
        json_t *id = json_object_get(j, "id");
        json_int_t v = json_is_integer(id) ? json_integer_value(id) : 0;

        json_decref(j);
        return v >= 1 && v <= INT32_MAX ? (int32_t)v : 0;
}

static bool transient(int status)
{
        return status >= 500 || status == 408 || status == 429;
}

static void pause_ms(int ms)
{
        struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

        nanosleep(&ts, NULL);
}

/* POST one schema; *idp on SR_OK. Retries transient failures until
 * @p deadline (monotonic ms). */
static sr_err_t register_one(const sr_registry_url_t *u, const char *addr,
                             const char *subject, int32_t builtin, int version,
                             int64_t deadline, int32_t *idp, sr_errctx_t *ec)
{
        char target[SR_REGISTRY_PATH_MAX + 360], why[400];
        json_t *req = json_pack("{s:s}", "schema",
                                sr_codec_schema_json(builtin));
        char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
        int pause = PAUSE_FIRST_MS, tries = 0;
        sr_err_t err;

        json_decref(req);
        if (!body)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "registry request");
        snprintf(target, sizeof(target), "%s/subjects/%.300s/versions", u->path,
                 subject);
        for (;;) {
                int64_t left = deadline - sr_clock_mono_ms();
                sr_errctx_t rec = { 0 };
                sr_hresp_t r = { 0 };

                tries++;
                err = sr_hclient_request(
                        addr, u->port, "POST", target, NULL, body,
                        left > REQUEST_TIMEOUT_MS ? REQUEST_TIMEOUT_MS :
                        left < REQUEST_TIMEOUT_MIN_MS ?
                                                REQUEST_TIMEOUT_MIN_MS :
                                                (int)left,
                        &r, &rec);
                if (err == SR_OK && r.status >= 200 && r.status < 300) {
                        *idp = answered_id(&r);
                        if (!*idp)
                                err = sr_errctx_set(
                                        ec, SR_ERR_CORRUPT,
                                        "subject %s: the registry answered "
                                        "%d without an id in 1..2^31-1: "
                                        "%.200s", subject, r.status,
                                        r.body);
                        sr_hresp_free(&r);
                        goto done;
                }
                if (err == SR_OK && !transient(r.status)) {
                        their_message(&r, why, sizeof(why));
                        err = sr_errctx_set(
                                ec, SR_ERR_CONF,
                                "subject %s: the registry refused schema "
                                "%s version %d (HTTP %d%s): %s", subject,
                                sr_codec_schema_name(builtin), version,
                                r.status,
                                r.status == 409 ? ", incompatible with the "
                                                  "subject's versions" :
                                r.status == 422 ? ", invalid schema" : "",
                                why);
                        sr_hresp_free(&r);
                        goto done;
                }
                if (err == SR_OK) {
                        their_message(&r, why, sizeof(why));
                        snprintf(rec.msg, sizeof(rec.msg), "HTTP %d: %.400s",
                                 r.status, why);
                        sr_hresp_free(&r);
                } else if (err != SR_ERR_IO && err != SR_ERR_CORRUPT) {
                        err = sr_errctx_set(ec, err, "subject %s: %s",
                                            subject, rec.msg);
                        goto done;
                }
                left = deadline - sr_clock_mono_ms();
                if (left <= 0) {
                        err = sr_errctx_set(ec, SR_ERR_IO,
                                            "subject %s: registry %s:%d "
                                            "unreachable or failing after "
                                            "%d tries: %s", subject,
                                            u->host, u->port, tries,
                                            rec.msg);
                        goto done;
                }
                SR_WARN("REGISTRY", "retrying subject=%s err=\"%s\"",
                        subject, rec.msg);
                pause_ms(left < pause ? (int)left : pause);
                pause = pause * 2 > PAUSE_MAX_MS ? PAUSE_MAX_MS : pause * 2;
        }
done:
        free(body);
        return err;
}

/* Whether some version already holds @p id in @p ids (0: none yet). */
static bool id_taken(const sr_schema_ids_t *ids, int32_t id)
{
        for (int k = 1; k < SR_SCHEMA__MAX; k++)
                if (ids->wire[k] == id)
                        return true;
        for (int i = 0; i < SR_SCHEMA_OLDER_COUNT; i++)
                if (ids->older[i] == id)
                        return true;
        return false;
}

sr_err_t sr_registry_register(const char *url, const char *topic_prefix,
                              int wait_ms, sr_schema_ids_t *ids,
                              sr_errctx_t *ec)
{
        int64_t deadline = sr_clock_mono_ms() + wait_ms;
        char addr[INET_ADDRSTRLEN], subject[320];
        sr_registry_url_t u;
        sr_schema_ids_t got;
        sr_err_t err;

        err = sr_registry_parse_url(url, &u, ec);
        if (err)
                return err;
        for (;;) {
                sr_errctx_t rec = { 0 };
                int64_t left;

                if (resolve(u.host, addr, &rec) == SR_OK)
                        break;
                left = deadline - sr_clock_mono_ms();
                if (left <= 0)
                        return sr_errctx_set(ec, SR_ERR_IO, "registry: %s",
                                             rec.msg);
                pause_ms(left < PAUSE_MAX_MS / 2 ? (int)left :
                                                   PAUSE_MAX_MS / 2);
        }
        memset(&got, 0, sizeof(got));
        /* Every version of a subject, oldest first, as a registry numbers
         * them: a record of an older version stays readable by its id. */
        for (size_t i = 0; i < SR_REGISTRY_N_SUBJECTS; i++) {
                const sr_registry_subject_t *s = &sr_registry_subjects[i];
                int nv = sr_schema_versions(s->schema);

                snprintf(subject, sizeof(subject), "%s%s-value",
                         topic_prefix, sr_topic_suffix(s->topic));
                for (int v = 1; v <= nv; v++) {
                        int32_t id;

                        err = register_one(&u, addr, subject,
                                           sr_schema_version_id(NULL,
                                                                s->schema, v),
                                           v, deadline, &id, ec);
                        if (err)
                                return err;
                        if (id_taken(&got, id))
                                return sr_errctx_set(
                                        ec, SR_ERR_CORRUPT,
                                        "subject %s: the registry gave id "
                                        "%d to version %d and to another "
                                        "of our schemas", subject, (int)id,
                                        v);
                        sr_schema_ids_set_version(&got, s->schema, v, id);
                }
        }
        *ids = got;
        return SR_OK;
}
