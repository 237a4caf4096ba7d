/* common/gateway/sr_gw_defs_int.h - shared by the files of the stored
 * definitions' routes only (sr_gw_defs.c: the route table, the helpers
 * and the dispatch; sr_gw_defs_reads.c: lists and gets;
 * sr_gw_defs_writes.c: writes, the bulk, a stored pipeline's run). */
#ifndef SR_GW_DEFS_INT_H
#define SR_GW_DEFS_INT_H

#include "sr_gateway_int.h"

enum dop { DOP_LIST, DOP_GET, DOP_CREATE, DOP_UPDATE, DOP_DELETE,
           DOP_ATTACH, DOP_DETACH };

/* What a DEF_* route does: the entity kind it answers, and for a write
 * the definition command it sends. */
struct def_route {
        sr_route_id_t id;
        sr_def_kind_t kind;
        enum dop op;
        sr_defcmd_kind_t cmd;
};

/** @brief The DEF_* route @p id's entry; NULL for another route. */
const struct def_route *sr_gwdef__find_route(sr_route_id_t id);

/** @brief "pipeline", "stage", "target list", ... as messages name them. */
const char *sr_gwdef__kind_word(sr_def_kind_t k);

/** @brief The id of the entity the route's path names (nil for a list or
 *  a create). */
sr_uuid_t sr_gwdef__path_entity_id(const sr_route_t *r, sr_def_kind_t k);

/** @brief 404 for a pipeline the caller cannot use: unknown in its
 *  enterprise, or soft-deleted (section 7). True when usable: @p p then
 *  holds its record, released by the caller. */
bool sr_gwdef__usable_pipeline(sr_gw_ctx_t *c, const sr_uuid_t *pipeline,
                               sr_def_record_t *p);

/** @brief The pipeline of the route: its path's, or for the paths
 *  without one the projection's (404 answered when unknown). */
bool sr_gwdef__route_pipeline(sr_gw_ctx_t *c, sr_uuid_t *pipeline);

/** @brief The pipeline of the route, usable (404 answered otherwise). */
bool sr_gwdef__open_pipeline(sr_gw_ctx_t *c, sr_uuid_t *pipeline);

/** @brief The entity as Esper JSON (NULL: out of memory or a damaged
 *  record). */
json_t *sr_gwdef__entity_json(const sr_def_record_t *r);

/** @brief 200 with the entity, or 500 when it cannot be rendered. */
void sr_gwdef__answer_entity(sr_gw_ctx_t *c, const sr_def_record_t *r);

/** @brief Read entity @p id of @p kind under @p pipeline (404 answered
 *  when absent). */
bool sr_gwdef__read_entity(sr_gw_ctx_t *c, sr_def_kind_t kind,
                           const sr_uuid_t *pipeline, const sr_uuid_t *id,
                           sr_def_record_t *out);

/** @brief The entity the path names, under the parent the path names
 *  (404 answered otherwise). */
bool sr_gwdef__read_path_entity(sr_gw_ctx_t *c, sr_def_kind_t kind,
                                const sr_uuid_t *pipeline,
                                const sr_uuid_t *id, sr_def_record_t *out);

/** @brief The target list a targets path names, in the pipeline (404
 *  answered when not); its record into @p out when given. True for the
 *  other routes. */
bool sr_gwdef__parent_list(sr_gw_ctx_t *c, const struct def_route *dr,
                           const sr_uuid_t *pipeline, sr_def_record_t *out);

/** @brief The device-group link of the path's list that the path's
 *  `{devicegroup_id}` names, as the group's id or else the link's own
 *  (404 answered when neither). */
bool sr_gwdef__path_link(sr_gw_ctx_t *c, const sr_uuid_t *pipeline,
                         sr_def_record_t *out);

/* The handlers (sr_gw_defs_reads.c, sr_gw_defs_writes.c). */
void sr_gwdef__list(sr_gw_ctx_t *c, const struct def_route *dr);
void sr_gwdef__get(sr_gw_ctx_t *c, const struct def_route *dr);
void sr_gwdef__write_def(sr_gw_ctx_t *c, const struct def_route *dr);
void sr_gwdef__bulk(sr_gw_ctx_t *c);
void sr_gwdef__group_devices(sr_gw_ctx_t *c);

#endif /* SR_GW_DEFS_INT_H */
