/* workers/cli/recjson_int.h - what recjson.c (run records) and
 * recjson_defs.c (definition records) and recjson_groups.c (device
 * groups) share: the build helpers and the
 * definition parts of a command and of a changelog record. */
#ifndef SR_RECJSON_INT_H
#define SR_RECJSON_INT_H

#include <stdbool.h>
#include <string.h>

#include <jansson.h>

#include "sr_defs.h"
#include "sr_groups.h"
#include "sr_entity_json.h"

/* Build helpers: a failed allocation makes the whole object NULL. */
static inline void put(json_t *o, const char *k, json_t *v, bool *oom)
{
        if (!v || json_object_set_new(o, k, v))
                *oom = true;
}

static inline json_t *str(const char *s)
{
        return sr_json_string_lossy(s, strlen(s));
}

static inline json_t *finish(json_t *o, bool oom)
{
        if (oom) {
                json_decref(o);
                return NULL;
        }
        return o;
}

static inline json_t *args_value(const char *args_json)
{
        return args_json ? str(args_json) : json_null();
}


/* A definition command's payload: "command" its record's name, then the
 * record's fields with the .avsc names, into @p o. */
void sr_recjson__put_defcmd(json_t *o, const sr_defcmd_t *d, bool *oom);
/* A definition entity's record into @p o. */
void sr_recjson__put_def_record(json_t *o, const sr_def_record_t *r,
                                bool *oom);

/* recjson_groups.c: a device-group command's payload, and a directory's
 * or a run copy's record, into @p o. */
void sr_recjson__put_grpcmd(json_t *o, const sr_grpcmd_t *g, bool *oom);
void sr_recjson__put_group_record(json_t *o, const sr_group_record_t *r,
                                  bool *oom);

#endif /* SR_RECJSON_INT_H */
