/* common/io/sr_conf_int.h - what sr_conf.c (the key table, loaders, docs)
 * and sr_conf_types.c (the value types' parsers) share. Private to
 * sr_conf. */
#ifndef SR_CONF_INT_H
#define SR_CONF_INT_H

#include <stddef.h>

#include "sr_conf.h"
#include "sr_err.h"

enum conf_type { CONF_STR, CONF_INT, CONF_BOOL, CONF_DOUBLE, CONF_ENUM,
                 CONF_DURATION };

struct conf_prop;

/* A CONF_STR's own rule, after the length check; ec: "<key>: <why>". */
typedef sr_err_t (*conf_check_fn)(const struct conf_prop *prop,
                                  const char *value, sr_errctx_t *ec);

struct conf_prop {
        const char *name;
        enum conf_type type;
        size_t offset;
        long min, max;            /* CONF_INT: value; CONF_STR: length;
                                   * CONF_DURATION: milliseconds */
        double dmin, dmax;        /* CONF_DOUBLE */
        const char *const *names; /* CONF_ENUM: NULL-terminated, by value */
        const char *def;          /* text form, parsed like any value */
        const char *desc;
        conf_check_fn check;      /* CONF_STR: NULL or its own rule */
};

/* Where the key's value lives in the configuration. */
static inline void *sr_conf__field(sr_conf_t *conf,
                                   const struct conf_prop *prop)
{
        return (char *)conf + prop->offset;
}

/* Parse @p value by the key's type into its field; ec names the key. */
sr_err_t sr_conf__set_value(sr_conf_t *conf, const struct conf_prop *prop,
                           const char *value, sr_errctx_t *ec);

/* CONF_STR rules: an absolute http(s) URL to prefix links with; a
 * schema-registry URL (sr_registry_parse_url). Empty passes. */
sr_err_t sr_conf__check_public_url(const struct conf_prop *prop,
                                   const char *value, sr_errctx_t *ec);
sr_err_t sr_conf__check_registry_url(const struct conf_prop *prop,
                                     const char *value, sr_errctx_t *ec);

/* "a|b|c" into buf, separated by @p sep; returns buf. */
const char *sr_conf__join_names(const char *const *names, const char *sep,
                                char *buf, size_t size);

#endif /* SR_CONF_INT_H */
