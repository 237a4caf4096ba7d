/* tests/fuzz/fuzz_http.c - libFuzzer target: the gateway's request path
 * without sockets, in the order sr_gateway_handle() takes it.
 *
 * Input: six header lines then the body, all of it untrusted:
 *   METHOD \n TARGET \n AUTHORIZATION \n CONTENT-TYPE \n IDEMPOTENCY-KEY \n
 *   HOST \n BODY...
 * A header line that is exactly "-" is an absent header (NULL). Each piece
 * is copied into its own exactly-sized heap block, so any read past its end
 * is an ASan report.
 *
 * Covered: everything fuzz_gw_run() (fuzz_gwpath.c) runs: routing, query,
 * page links, Authorization, Content-Type and Idempotency-Key checks,
 * the JSON bodies, the envelopes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_gwpath.h"

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

#define N_LINES 6

/* Copy @p n bytes into an exactly-sized NUL-terminated heap block. */
static char *dup_n(const uint8_t *p, size_t n)
{
        char *s = malloc(n + 1);

        if (!s)
                abort();
        memcpy(s, p, n);
        s[n] = '\0';
        return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *line[N_LINES] = { 0 };
        const char *hdr[N_LINES];
        const uint8_t *p = data, *end = data + size, *nl;
        sr_http_problem_t first;
        fuzz_gw_req_t req;
        char *body;
        size_t body_len;

        for (int i = 0; i < N_LINES; i++) {
                nl = memchr(p, '\n', (size_t)(end - p));
                if (!nl)
                        nl = end;
                line[i] = dup_n(p, (size_t)(nl - p));
                hdr[i] = strcmp(line[i], "-") == 0 ? NULL : line[i];
                p = nl < end ? nl + 1 : end;
        }
        body_len = (size_t)(end - p);
        body = dup_n(p, body_len);

        /* method, target, authorization, content-type, idem key, host */
        req = (fuzz_gw_req_t){
                .method = hdr[0], .target = hdr[1], .authorization = hdr[2],
                .content_type = hdr[3], .idempotency_key = hdr[4],
                .host = hdr[5], .body = body, .body_len = body_len,
        };
        if (!req.target)
                req.target = "";
        fuzz_gw_run(&req, &first);

        free(body);
        for (int i = 0; i < N_LINES; i++)
                free(line[i]);
        return 0;
}
