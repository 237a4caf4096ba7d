/* tests/lib/kit_codec.h - one codec per Criterion test process, made in
 * the suite's .init (after the fork) and destroyed in its .fini: the
 * fixture of the codec's unit tests (header only; include after
 * Criterion). */
#ifndef SR_KIT_CODEC_H
#define SR_KIT_CODEC_H

#include "sr_codec.h"

static sr_codec_t *codec;

static void codec_setup(void)
{
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_codec_new(&codec, &ec), SR_OK), "%s", ec.msg);
}

static void codec_teardown(void)
{
        sr_codec_destroy(codec);
        codec = NULL;
}

#endif /* SR_KIT_CODEC_H */
