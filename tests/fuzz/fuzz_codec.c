/* tests/fuzz/fuzz_codec.c - libFuzzer target: every Avro decoder of
 * sr_codec on the same bytes.
 *
 * The input is a whole Kafka value (Confluent header + Avro body), exactly
 * as the workers receive it: the header's schema id picks the decoder that
 * goes past the framing, so one corpus covers commands, target-run results
 * and changelog records (the worker's inputs, the changelog on restore)
 * and, for good measure, events, dispatch requests, replies and definition
 * events. The other decoders refuse the id, which checks that path too.
 *
 * Properties beyond "no crash, no leak, no UB":
 * - a decoder either succeeds or fails with SR_ERR_CORRUPT/SR_ERR_SCHEMA
 *   (SR_ERR_NOMEM is impossible at these sizes) and a non-empty message;
 * - at most one decoder accepts an input;
 * - what a decoder accepted and the encoder re-encodes decodes again;
 * - a decoded changelog entity renders as the gateway's JSON (sr_json, the
 *   projection's read path) and dumps as text; only a stage-run operation
 *   whose args are not a JSON object may refuse (documented: a 500).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_codec.h"
#include "sr_entity_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_options(void);

/* avro-c keeps a union's branch right after its int discriminant, so the
 * pointers of a value inside a union (array storage, strings) sit on
 * 4-byte boundaries, where LeakSanitizer does not look by default: it then
 * reports reachable memory as leaked. use_unaligned makes it look. */
const char *__lsan_default_options(void)
{
        return "use_unaligned=1";
}

static sr_codec_t *codec;

static void fail(const char *what, const char *msg)
{
        fprintf(stderr, "fuzz_codec: %s: %s\n", what, msg);
        abort();
}

/* A refusal must be one of the documented classes, with a message. */
static void check_refusal(const char *what, sr_err_t err,
                          const sr_errctx_t *ec)
{
        if (err != SR_ERR_CORRUPT && err != SR_ERR_SCHEMA)
                fail(what, "undocumented error class");
        if (ec->msg[0] == '\0')
                fail(what, "refusal without a message");
}

static void codec_init(void)
{
        sr_errctx_t ec = { 0 };

        if (!codec && sr_codec_new(&codec, &ec) != SR_OK)
                fail("sr_codec_new", ec.msg);
}

static int try_command(sr_slice_t in)
{
        sr_errctx_t ec = { 0 };
        sr_command_t cmd, again;
        sr_buf_t buf = { 0 };
        sr_err_t err = sr_codec_decode_command(codec, in, &cmd, &ec);

        if (err != SR_OK) {
                check_refusal("command", err, &ec);
                return 0;
        }
        if (sr_codec_encode_command(codec, &cmd, &buf, &ec) == SR_OK) {
                if (sr_codec_decode_command(codec, sr_buf_slice(&buf), &again,
                                            &ec) != SR_OK)
                        fail("command re-decode", ec.msg);
                if (again.kind != cmd.kind)
                        fail("command re-decode", "kind differs");
                sr_command_fini(&again);
                sr_buf_free(&buf);
        }
        sr_command_fini(&cmd);
        return 1;
}

static int try_result(sr_slice_t in)
{
        sr_errctx_t ec = { 0 };
        sr_result_t res, again;
        sr_buf_t buf = { 0 };
        sr_err_t err = sr_codec_decode_result(codec, in, &res, &ec);

        if (err != SR_OK) {
                check_refusal("result", err, &ec);
                return 0;
        }
        if (sr_codec_encode_result(codec, &res, &buf, &ec) == SR_OK) {
                if (sr_codec_decode_result(codec, sr_buf_slice(&buf), &again,
                                           &ec) != SR_OK)
                        fail("result re-decode", ec.msg);
                if (strcmp(again.command_status, res.command_status) != 0 ||
                    strcmp(again.device_name, res.device_name) != 0)
                        fail("result re-decode", "text differs");
                sr_buf_free(&buf);
        }
        return 1;
}

static void render_entity(const sr_entity_t *e)
{
        sr_buf_t text = { 0 };
        json_t *j = NULL;

        switch (e->type) {
        case SR_ENT_PIPELINE_RUN:
                j = sr_json_pipeline_run(&e->u.pr);
                break;
        case SR_ENT_STAGE_RUN:
                j = sr_json_stage_run(&e->u.sr);
                break;
        case SR_ENT_STAGE_RUN_OPERATION:
                j = sr_json_stage_run_op(&e->u.op);
                if (!j)
                        return;
                break;
        case SR_ENT_TARGET_RUN:
                j = sr_json_target_run(&e->u.tr);
                break;
        default:
                fail("changelog", "decoded an unknown entity type");
        }
        if (!j)
                fail("sr_json", "entity did not render");
        if (sr_json_dump(j, &text) != SR_OK)
                fail("sr_json_dump", "failed");
        if (strlen((const char *)text.ptr) != text.len)
                fail("sr_json_dump", "NUL inside the JSON text");
        sr_buf_free(&text);
        json_decref(j);
}

static int try_changelog(sr_slice_t in)
{
        sr_errctx_t ec = { 0 };
        sr_changelog_t cl, again;
        sr_buf_t buf = { 0 };
        sr_err_t err = sr_codec_decode_changelog(codec, in, &cl, &ec);

        if (err != SR_OK) {
                check_refusal("changelog", err, &ec);
                return 0;
        }
        if (sr_codec_encode_changelog(codec, &cl, &buf, &ec) == SR_OK) {
                if (sr_codec_decode_changelog(codec, sr_buf_slice(&buf),
                                              &again, &ec) != SR_OK)
                        fail("changelog re-decode", ec.msg);
                if (again.kind != cl.kind)
                        fail("changelog re-decode", "kind differs");
                /* whatever it owns: an entity's parts, a chunk's targets,
                 * a definition entity's texts and ids */
                sr_changelog_fini(&again);
                sr_buf_free(&buf);
        }
        if (cl.kind == SR_CL_ENTITY)
                render_entity(&cl.u.entity);
        sr_changelog_fini(&cl);
        return 1;
}

static int try_event(sr_slice_t in)
{
        sr_errctx_t ec = { 0 };
        sr_event_t ev, again;
        sr_buf_t buf = { 0 };
        sr_err_t err = sr_codec_decode_event(codec, in, &ev, &ec);

        if (err != SR_OK) {
                check_refusal("event", err, &ec);
                return 0;
        }
        if (sr_codec_encode_event(codec, &ev, &buf, &ec) == SR_OK) {
                if (sr_codec_decode_event(codec, sr_buf_slice(&buf), &again,
                                          &ec) != SR_OK)
                        fail("event re-decode", ec.msg);
                sr_buf_free(&buf);
        }
        return 1;
}

static int try_dispatch(sr_slice_t in)
{
        sr_errctx_t ec = { 0 };
        sr_dispatch_t d, again;
        char *args = NULL, *args2 = NULL;
        sr_buf_t buf = { 0 };
        sr_err_t err = sr_codec_decode_dispatch(codec, in, &d, &args, &ec);

        if (err != SR_OK) {
                check_refusal("dispatch", err, &ec);
                return 0;
        }
        if (sr_codec_encode_dispatch(codec, &d, &buf, &ec) == SR_OK) {
                if (sr_codec_decode_dispatch(codec, sr_buf_slice(&buf),
                                             &again, &args2, &ec) != SR_OK)
                        fail("dispatch re-decode", ec.msg);
                free(args2);
                sr_buf_free(&buf);
        }
        free(args);
        return 1;
}

static int try_reply(sr_slice_t in)
{
        sr_errctx_t ec = { 0 };
        sr_reply_t r, again;
        sr_buf_t buf = { 0 };
        sr_err_t err = sr_codec_decode_reply(codec, in, &r, &ec);

        if (err != SR_OK) {
                check_refusal("reply", err, &ec);
                return 0;
        }
        if (sr_codec_encode_reply(codec, &r, &buf, &ec) == SR_OK) {
                if (sr_codec_decode_reply(codec, sr_buf_slice(&buf), &again,
                                          &ec) != SR_OK)
                        fail("reply re-decode", ec.msg);
                sr_buf_free(&buf);
        }
        return 1;
}

static int try_def_event(sr_slice_t in)
{
        sr_errctx_t ec = { 0 };
        sr_def_event_t ev, again;
        sr_buf_t buf = { 0 };
        sr_err_t err = sr_codec_decode_def_event(codec, in, &ev, &ec);

        if (err != SR_OK) {
                check_refusal("definition event", err, &ec);
                return 0;
        }
        if (sr_codec_encode_def_event(codec, &ev, &buf, &ec) == SR_OK) {
                if (sr_codec_decode_def_event(codec, sr_buf_slice(&buf),
                                              &again, &ec) != SR_OK)
                        fail("definition event re-decode", ec.msg);
                sr_buf_free(&buf);
        }
        return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        sr_slice_t in = { .ptr = data, .len = size };
        int accepted = 0;

        codec_init();
        accepted += try_command(in);
        accepted += try_result(in);
        accepted += try_changelog(in);
        accepted += try_event(in);
        accepted += try_dispatch(in);
        accepted += try_reply(in);
        accepted += try_def_event(in);
        if (accepted > 1)
                fail("decoders", "more than one decoder accepted the input");
        return 0;
}
