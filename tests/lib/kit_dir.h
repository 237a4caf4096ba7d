/* tests/lib/kit_dir.h - temporary directories for tests and benchmarks:
 * rm -rf of a test's LMDB directory (header only; no Criterion). */
#ifndef SR_KIT_DIR_H
#define SR_KIT_DIR_H

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

static int kit_rm_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
        (void)sb;
        (void)flag;
        (void)ftw;
        return remove(path);
}

/** rm -rf @p dir; errors are ignored (a test's leftovers in /tmp). */
static inline void kit_rm_rf(const char *dir)
{
        nftw(dir, kit_rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

#endif /* SR_KIT_DIR_H */
