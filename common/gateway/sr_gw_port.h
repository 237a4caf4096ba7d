/* common/gateway/sr_gw_port.h - the gateway's command port: what a write
 * needs from the outside world (send a command, wait for its reply, wait
 * until the projection holds what the reply names, a deleted run's
 * retirement, a definition command's seq, or a run a stored pipeline
 * started), as function pointers and a context, h2o-style.
 * sr_gateway_new() builds the Kafka one (sr_gw_feed.c); unit tests hand
 * sr_gateway_new_with_port() a fake one.
 */
#ifndef SR_GW_PORT_H
#define SR_GW_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include "sr_err.h"
#include "sr_model.h"
#include "sr_slice.h"

/* What became of a send. */
typedef enum sr_gw_sent {
        SR_GW_SENT = 0,   /* the broker has it: wait_reply() next */
        SR_GW_SEND_BUSY,  /* too many commands await a reply: nothing sent */
        SR_GW_SEND_FAILED /* nothing sent: ec->code says why (TOO_LARGE: the
                           * broker refused its size; RETRY: transient, the
                           * broker away or slow; other: refused) */
} sr_gw_sent_t;

typedef struct sr_gw_port {
        void *ctx; /* the first argument of every call; the port's owner's */

        /**
         * @brief Send @p cmd, encoded as @p value (its key is the
         * pipeline run id), having registered for its reply first, and
         * wait up to @p timeout_ms until the broker has it.
         * @param cmd, value borrowed for the call.
         * @param[out] ticket set on SR_GW_SENT: the caller then calls
         *             wait_reply() once with it, which releases it.
         * Any thread; may block up to @p timeout_ms.
         */
        sr_gw_sent_t (*send)(void *ctx, const sr_command_t *cmd,
                             sr_slice_t value, int timeout_ms, int *ticket,
                             sr_errctx_t *ec);

        /**
         * @brief Wait until the reply of the command of @p ticket arrives
         * or the monotonic clock reaches @p until_ms (sr_clock_mono_ms()),
         * then release @p ticket.
         * @param[out] out, t_read set on true: the reply, and when it was
         *             read (sr_clock_mono_s(), for the phase metrics).
         * @returns false when no reply came in time.
         */
        bool (*wait_reply)(void *ctx, int ticket, int64_t until_ms,
                           sr_reply_t *out, double *t_read);

        /**
         * @brief Read-your-writes: wait until the projection holds every
         * entity version @p reply names, or until @p until_ms.
         * @returns false when they were not all there in time.
         */
        bool (*wait_visible)(void *ctx, const sr_reply_t *reply,
                             int64_t until_ms);

        /**
         * @brief Read-your-writes of an accepted delete (DeleteRun): the
         * run is retired, not at a new version. Wait until the
         * projection holds the note of retired run @p run of
         * @p enterprise (its marker applied: every entity of the run is
         * gone, and a GET answers the retired run's 404), or until
         * @p until_ms.
         * @returns true once the note is there, or when the run is no
         *          longer projected at @p until_ms (its note already
         *          forgotten again); false while the run is still
         *          projected.
         */
        bool (*wait_retired)(void *ctx, const char *enterprise,
                             const sr_uuid_t *run, int64_t until_ms);

        /**
         * @brief Read-your-writes of an accepted definition command
         * (docs/definitions.md): wait until the projection's record of
         * pipeline @p pipeline has last_seq >= @p seq (the reply's
         * sr_reply_def_t.seq: every change of the command is then
         * projected), or until @p until_ms. @p enterprise is the
         * caller's (the record is the pipeline's whatever its tenant:
         * the owner refused another tenant's command).
         * @returns false when it was not there in time.
         */
        bool (*wait_def_seq)(void *ctx, const char *enterprise,
                             const sr_uuid_t *pipeline, uint64_t seq,
                             int64_t until_ms);

        /**
         * @brief Read-your-writes of an accepted StartPipelineRun
         * (docs/definitions.md section 5): the run is created apart from
         * the reply, by the CreateRun the pipeline's owner emits (keyed
         * by the run). Wait until the projection holds pipeline run
         * @p run (any version), or until @p until_ms. @p enterprise is
         * the caller's (the owner refused another tenant's pipeline).
         * @returns false when it was not there in time.
         */
        bool (*wait_run)(void *ctx, const char *enterprise,
                         const sr_uuid_t *run, int64_t until_ms);

        /**
         * @brief Publish an Idempotency-Key's claim record (@p key,
         * @p value) to @p partition of <topic.prefix>idempotency and wait
         * up to @p timeout_ms until the broker has it (acks=all).
         * NULL (with wait_feed): this gateway keeps its keys in its own
         * memory only (unit tests' ports).
         * @param key, value borrowed for the call.
         * @returns SR_OK, or the error (nothing to rely on was written).
         */
        sr_err_t (*claim)(void *ctx, sr_slice_t key, sr_slice_t value,
                          int32_t partition, int timeout_ms,
                          sr_errctx_t *ec);

        /**
         * @brief Wait until @p done(@p arg) is true, asking again after
         * every batch the feed reads (claims included), or until
         * @p until_ms. @returns false when it was not true in time.
         */
        bool (*wait_feed)(void *ctx, bool (*done)(void *arg), void *arg,
                          int64_t until_ms);
} sr_gw_port_t;

#endif /* SR_GW_PORT_H */
