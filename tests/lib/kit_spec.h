/* tests/lib/kit_spec.h - run-spec JSON text of a given shape, for the
 * tests of the count limits (header only; no Criterion). */
#ifndef SR_KIT_SPEC_H
#define SR_KIT_SPEC_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/** A run spec of pipeline @p pipeline_id with @p stages stages, each of
 * @p ops REBOOT operations (with @p args, args {"n": 0.10, "i": <j>} as
 * written, spaces included) and @p targets targets (device ids ending in
 * the target's index). @returns malloc'd NUL-terminated text the caller
 * frees, or NULL when out of memory. */
static inline char *kit_spec_text(const char *pipeline_id, unsigned stages,
                                  unsigned ops, unsigned targets, bool args)
{
        size_t cap = 256 + (size_t)stages * (64 + ops * 80 + targets * 64);
        char *b = malloc(cap);
        size_t n;

        if (!b)
                return NULL;
        n = (size_t)snprintf(b, cap, "{\"pipeline_id\":\"%s\",\"stages\":[",
                             pipeline_id);
        for (unsigned i = 0; i < stages; i++) {
                n += (size_t)snprintf(b + n, cap - n, "%s{\"operations\":[",
                                      i ? "," : "");
                for (unsigned j = 0; j < ops; j++) {
                        n += (size_t)snprintf(b + n, cap - n,
                                              "%s{\"operation_type\":"
                                              "\"REBOOT\"", j ? "," : "");
                        if (args)
                                n += (size_t)snprintf(b + n, cap - n,
                                                      ",\"args\":{ \"n\": "
                                                      "0.10, \"i\": %u }", j);
                        n += (size_t)snprintf(b + n, cap - n, "}");
                }
                n += (size_t)snprintf(b + n, cap - n, "],\"targets\":[");
                for (unsigned t = 0; t < targets; t++)
                        n += (size_t)snprintf(b + n, cap - n,
                                              "%s{\"device_id\":\"0b7a8c7e-"
                                              "1111-4a0e-8f0e-%012u\"}",
                                              t ? "," : "", t);
                n += (size_t)snprintf(b + n, cap - n, "]}");
        }
        snprintf(b + n, cap - n, "]}");
        return b;
}

#endif /* SR_KIT_SPEC_H */
