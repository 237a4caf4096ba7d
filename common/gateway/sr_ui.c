/* common/gateway/sr_ui.c - the console's files: lookup by exact name in
 * the generated table (sr_ui.h). */
#include "sr_ui.h"

#include <string.h>

const sr_ui_file_t *sr_ui_find(const char *name, size_t len)
{
        if (!name || len == 0) {
                name = "index.html";
                len = strlen(name);
        }
        for (size_t i = 0; i < sr_ui_n_files; i++) {
                const sr_ui_file_t *f = &sr_ui_files[i];

                if (strlen(f->name) == len && !memcmp(f->name, name, len))
                        return f;
        }
        return NULL;
}
