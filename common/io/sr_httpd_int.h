/* common/io/sr_httpd_int.h - what sr_httpd.c shares with sr_httpd_ops.c;
 * included only inside the module. */
#ifndef SR_HTTPD_INT_H
#define SR_HTTPD_INT_H

#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

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

/**
 * @brief The server's TLS context from opts->tls_cert_file, tls_key_file
 * and tls_chain_file (sr_httpd_tls.c).
 * @param[out] out set on SR_OK; the caller owns it (SSL_CTX_free()).
 * @returns SR_OK; SR_ERR_INVALID (a file missing, unreadable, not PEM, or
 *          a key that does not match the certificate: ec names the file);
 *          SR_ERR_NOMEM.
 */
sr_err_t sr_httpd__tls_ctx(const sr_httpd_opts_t *opts, SSL_CTX **out,
                           sr_errctx_t *ec);

/**
 * @brief One step of the server handshake of @p ssl (borrowed).
 * @param[out] want EPOLLIN or EPOLLOUT when it returns 0.
 * @returns 1 done; 0 waiting for the socket; -1 failed; -2 failed because
 *          the client spoke plain HTTP.
 */
int sr_httpd__tls_accept(SSL *ssl, uint32_t *want);

/** @brief recv() over @p ssl (borrowed): > 0 bytes, 0 the client's end,
 *  -1 with errno EAGAIN (retry when the socket is ready) or ECONNRESET. */
ssize_t sr_httpd__tls_recv(SSL *ssl, void *buf, size_t len);

/** @brief send() over @p ssl (borrowed): > 0 bytes taken, -1 with errno
 *  EAGAIN (retry with the same bytes, or more) or EPIPE. */
ssize_t sr_httpd__tls_send(SSL *ssl, const void *buf, size_t len);

#endif /* SR_HTTPD_INT_H */
