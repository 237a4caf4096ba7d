/* common/io/sr_httpd_int.h - what sr_httpd.c shares with sr_httpd_ops.c;
 * included only inside the module. */
#ifndef SR_HTTPD_INT_H
#define SR_HTTPD_INT_H

#include "sr_httpd.h"

/**
 * @brief sr_httpd_open_app() with the operations endpoints' handlers: when
 * @p ops is not NULL it is copied into the server and app->arg is replaced
 * by the server itself (read the handlers back with sr_httpd__ops()).
 */
sr_err_t sr_httpd__open(const sr_httpd_opts_t *opts, const sr_h1_app_t *app,
                       const sr_httpd_handlers_t *ops, sr_httpd_t **out,
                       sr_errctx_t *ec);

/** @brief The handlers given to sr_httpd__open(); borrowed, for the life
 *  of the server. */
const sr_httpd_handlers_t *sr_httpd__ops(const sr_httpd_t *httpd);

#endif /* SR_HTTPD_INT_H */
