/* common/gateway/sr_ui.h - the console's static files (GET /ui/...),
 * compiled into the gateway from common/gateway/ui/ (cmake/embed_ui.cmake
 * writes the table). A request names a file of the table or nothing: no
 * path is ever built from the request, so no traversal is possible.
 *
 * Pure: constant data, thread-safe, no allocation.
 */
#ifndef SR_UI_H
#define SR_UI_H

#include <stdbool.h>
#include <stddef.h>

/* One file of the console. Static, never freed. */
typedef struct sr_ui_file {
        const char *name;          /* "console.js": a plain name, no '/' */
        const char *content_type;  /* "text/javascript; charset=utf-8" */
        const unsigned char *bytes; /* len bytes (NUL after them) */
        size_t len;
} sr_ui_file_t;

/* The table (generated). */
extern const sr_ui_file_t sr_ui_files[];
extern const size_t sr_ui_n_files;

/* The extra header lines of every console answer (each ends "\r\n"):
 * Content-Security-Policy (default-src 'self', no inline script or style,
 * no framing), X-Content-Type-Options: nosniff, Referrer-Policy. */
#define SR_UI_HEADERS                                                    \
        "Content-Security-Policy: default-src 'self'; base-uri 'none'; " \
        "form-action 'none'; frame-ancestors 'none'; object-src 'none'"  \
        "\r\n"                                                           \
        "X-Content-Type-Options: nosniff\r\n"                            \
        "Referrer-Policy: no-referrer\r\n"

/**
 * @brief The file a path under /ui/ names.
 * @param[in] name borrowed, @p len bytes (need not be NUL-terminated): the
 *            path after "/ui/"; empty names index.html.
 * @returns the table's entry (static), or NULL when no file has exactly
 *          that name.
 */
const sr_ui_file_t *sr_ui_find(const char *name, size_t len);

#endif /* SR_UI_H */
