/* common/base/sr_err.c - error names and texts from SR_ERR_MAP. */
#include "sr_err.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "sr_utf8.h"

static const char *const err_text[] = {
        [SR_OK] = "success",
#define SR_ERR_TEXT(name, text) [SR_ERR_##name] = text,
        SR_ERR_MAP(SR_ERR_TEXT)
#undef SR_ERR_TEXT
};
static_assert(sizeof(err_text) / sizeof(err_text[0]) == SR_ERR__COUNT,
              "err_text out of sync with SR_ERR_MAP");

static const char *const err_names[] = {
        [SR_OK] = "OK",
#define SR_ERR_NAME(name, text) [SR_ERR_##name] = #name,
        SR_ERR_MAP(SR_ERR_NAME)
#undef SR_ERR_NAME
};

const char *sr_strerror(sr_err_t err)
{
        if ((unsigned)err >= SR_ERR__COUNT)
                return "unknown error";
        return err_text[err];
}

const char *sr_err_name(sr_err_t err)
{
        if ((unsigned)err >= SR_ERR__COUNT)
                return "UNKNOWN";
        return err_names[err];
}

sr_err_t sr_errctx_set(sr_errctx_t *ec, sr_err_t code, const char *fmt, ...)
{
        va_list ap;

        if (!ec)
                return code;
        ec->code = code;
        va_start(ap, fmt);
        sr_utf8_vformat(ec->msg, sizeof(ec->msg), fmt, ap);
        va_end(ap);
        return code;
}

void sr_errctx_prefix(sr_errctx_t *ec, const char *fmt, ...)
{
        char head[256], old[sizeof(ec->msg)];
        va_list ap;
        int n;

        if (!ec)
                return;
        va_start(ap, fmt);
        n = sr_utf8_vformat(head, sizeof(head), fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        memcpy(old, ec->msg, sizeof(old));
        /* Truncation keeps the head, which is what matters most. */
        sr_utf8_format(ec->msg, sizeof(ec->msg), "%s: %s", head, old);
}
