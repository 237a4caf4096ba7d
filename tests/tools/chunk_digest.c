/* tests/tools/chunk_digest.c - sr-chunk-digest: an open stage's chunk and
 * seal digests (common/codec/sr_digest.h) of chunks given as JSON lines,
 * for tests/codec/digest_check.py to compare with Python's hashlib over
 * fastavro's encoding.
 *
 * stdin, one chunk per line, in chunk order: a JSON array of targets
 *   [{"target_id": null | "<uuid>", "device_id": "<uuid>",
 *     "device_name": "...", "device_alias": "..."}, ...]
 * (uuids in any case; target_id absent = null, device_alias absent = "").
 * A string of SR_NAME_MAX (256) bytes or more is copied without its NUL,
 * as a caller with an over-long name would hand it over, so that
 * sr_targets_digest() refuses it.
 *
 * stdout: "chunk <index> <targets> <hex digest>" per line, then at the end
 * of input "seal <chunks> <hex digest>" (sr_seal_digest() of the chunk
 * digests in input order).
 *
 * Exit 0; 1 when a chunk is refused (stdout "refused <index> <ERR>",
 * stderr the message; nothing more is read); 2 on bad input or a failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sr_digest.h"
#include "sr_model.h"

static void die(const char *what, const char *detail)
{
        fprintf(stderr, "sr-chunk-digest: %s: %s\n", what, detail);
        exit(2);
}

static void print_hex(const uint8_t d[SR_DIGEST_LEN])
{
        for (int i = 0; i < SR_DIGEST_LEN; i++)
                printf("%02x", d[i]);
        putchar('\n');
}

static void juuid(const json_t *o, const char *k, bool optional,
                  sr_uuid_t *out)
{
        const json_t *v = json_object_get(o, k);
        const char *s = json_string_value(v);

        memset(out, 0, sizeof(*out));
        if (optional && (!v || json_is_null(v)))
                return;
        if (!s || !sr_uuid_parse(s, json_string_length(v), out))
                die("bad uuid in field", k);
}

/* Up to @p cap bytes of the string @p k; NUL-terminated only when shorter
 * (see the head comment). */
static void jtext(char *dst, size_t cap, const json_t *o, const char *k,
                  bool optional)
{
        const json_t *v = json_object_get(o, k);
        size_t n;

        memset(dst, 0, cap);
        if (optional && !v)
                return;
        if (!json_is_string(v))
                die("not a string", k);
        n = json_string_length(v);
        memcpy(dst, json_string_value(v), n < cap ? n : cap);
}

static sr_spec_target_t *parse_chunk(const json_t *arr, uint32_t *np)
{
        size_t n = json_array_size(arr);
        sr_spec_target_t *t;

        if (!json_is_array(arr))
                die("chunk", "not a JSON array");
        if (n > UINT32_MAX)
                die("chunk", "too many targets");
        t = calloc(n ? n : 1, sizeof(*t));
        if (!t)
                die("calloc", "out of memory");
        for (size_t i = 0; i < n; i++) {
                const json_t *o = json_array_get(arr, i);

                if (!json_is_object(o))
                        die("chunk", "an item is not a JSON object");
                juuid(o, "target_id", true, &t[i].target_id);
                juuid(o, "device_id", false, &t[i].device_id);
                jtext(t[i].device_name, sizeof(t[i].device_name), o,
                      "device_name", false);
                jtext(t[i].device_alias, sizeof(t[i].device_alias), o,
                      "device_alias", true);
        }
        *np = (uint32_t)n;
        return t;
}

int main(int argc, char **argv)
{
        uint8_t (*digests)[SR_DIGEST_LEN] = NULL;
        size_t n_chunks = 0, cap = 0, line_cap = 0;
        uint8_t seal[SR_DIGEST_LEN];
        sr_errctx_t ec = { 0 };
        char *line = NULL;
        ssize_t len;

        (void)argv;
        if (argc != 1)
                die("usage", "sr-chunk-digest < chunks (JSON lines)");
        while ((len = getline(&line, &line_cap, stdin)) > 0) {
                json_error_t jerr;
                json_t *arr;
                sr_spec_target_t *t;
                uint32_t n;
                sr_err_t err;

                arr = json_loadb(line, (size_t)len, 0, &jerr);
                if (!arr)
                        die("json", jerr.text);
                if (n_chunks == cap) {
                        cap = cap ? 2 * cap : 16;
                        digests = realloc(digests, cap * sizeof(*digests));
                        if (!digests)
                                die("realloc", "out of memory");
                }
                t = parse_chunk(arr, &n);
                json_decref(arr);
                err = sr_targets_digest(t, n, digests[n_chunks], &ec);
                free(t);
                if (err == SR_ERR_INVALID) {
                        printf("refused %zu %s\n", n_chunks,
                               sr_err_name(err));
                        fprintf(stderr, "sr-chunk-digest: chunk %zu: %s\n",
                                n_chunks, ec.msg);
                        free(digests);
                        free(line);
                        return fflush(stdout) ? 2 : 1;
                }
                if (err)
                        die("sr_targets_digest", ec.msg);
                printf("chunk %zu %u ", n_chunks, n);
                print_hex(digests[n_chunks]);
                n_chunks++;
        }
        if (n_chunks > UINT32_MAX)
                die("seal", "too many chunks");
        if (sr_seal_digest((const uint8_t (*)[SR_DIGEST_LEN])digests,
                           (uint32_t)n_chunks, seal, &ec))
                die("sr_seal_digest", ec.msg);
        printf("seal %zu ", n_chunks);
        print_hex(seal);
        free(digests);
        free(line);
        return fflush(stdout) ? 2 : 0;
}
