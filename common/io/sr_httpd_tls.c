/* common/io/sr_httpd_tls.c - https for sr_httpd.c: the server's OpenSSL
 * context (certificate, key, chain, TLS 1.2 at least, ALPN http/1.1) and
 * non-blocking handshake, read and write with recv()/send()'s results, so
 * that the event loops treat a TLS connection like a plain one. Only the
 * loop that owns a connection touches its SSL. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "sr_httpd_int.h"

static const unsigned char alpn_h1[] = "\x08http/1.1";

/* The OpenSSL errors of this thread as one line (and the queue cleared). */
static const char *tls_why(char *buf, size_t size)
{
        unsigned long e;
        size_t used = 0;

        buf[0] = '\0';
        while ((e = ERR_get_error()) != 0 && used + 2 < size) {
                char one[256];
                int n;

                ERR_error_string_n(e, one, sizeof(one));
                n = snprintf(buf + used, size - used, "%s%s",
                             used ? "; " : "", one);
                if (n < 0)
                        break;
                used += (size_t)n;
        }
        ERR_clear_error();
        return buf[0] ? buf : (errno ? strerror(errno) : "unknown error");
}

/* http/1.1 when the client offers it; else the handshake goes on without
 * ALPN (a client that offers only h2 learns it from our answer). */
static int select_alpn(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
        unsigned char *sel;

        (void)ssl;
        (void)arg;
        if (SSL_select_next_proto(&sel, outlen, alpn_h1,
                                  sizeof(alpn_h1) - 1, in, inlen) !=
            OPENSSL_NPN_NEGOTIATED)
                return SSL_TLSEXT_ERR_NOACK;
        *out = sel;
        return SSL_TLSEXT_ERR_OK;
}

/* Every certificate of @p path after the server's own. */
static sr_err_t add_chain(SSL_CTX *ctx, const char *path, sr_errctx_t *ec)
{
        char why[512];
        FILE *f = fopen(path, "r");
        X509 *x;
        int n = 0;

        if (!f)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "chain file %s: cannot read: %s", path,
                                     strerror(errno));
        while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
                if (!SSL_CTX_add0_chain_cert(ctx, x)) {
                        X509_free(x);
                        fclose(f);
                        return sr_errctx_set(ec, SR_ERR_INVALID,
                                             "chain file %s: %s", path,
                                             tls_why(why, sizeof(why)));
                }
                n++;
        }
        fclose(f);
        ERR_clear_error(); /* the end of the file */
        if (!n)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "chain file %s: no PEM certificate",
                                     path);
        return SR_OK;
}

sr_err_t sr_httpd__tls_ctx(const sr_httpd_opts_t *o, SSL_CTX **out,
                           sr_errctx_t *ec)
{
        char why[512];
        SSL_CTX *ctx;
        sr_err_t err = SR_OK;
        FILE *f;

        *out = NULL;
        if (!o->tls_cert_file || !*o->tls_cert_file || !o->tls_key_file ||
            !*o->tls_key_file)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "https needs both a certificate file "
                                     "and a key file");
        /* readable at all: a clearer word than OpenSSL's */
        if (!(f = fopen(o->tls_cert_file, "r")))
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "certificate file %s: cannot read: %s",
                                     o->tls_cert_file, strerror(errno));
        fclose(f);
        if (!(f = fopen(o->tls_key_file, "r")))
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "key file %s: cannot read: %s",
                                     o->tls_key_file, strerror(errno));
        fclose(f);
        ERR_clear_error();
        ctx = SSL_CTX_new(TLS_server_method());
        if (!ctx)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "https: %s",
                                     tls_why(why, sizeof(why)));
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
                                         SSL_OP_IGNORE_UNEXPECTED_EOF |
                                         SSL_OP_CIPHER_SERVER_PREFERENCE);
        SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                      SSL_MODE_RELEASE_BUFFERS);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_num_tickets(ctx, 0);
        SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
        if (SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert_file) != 1) {
                err = sr_errctx_set(ec, SR_ERR_INVALID,
                                    "certificate file %s: not a PEM "
                                    "certificate: %s", o->tls_cert_file,
                                    tls_why(why, sizeof(why)));
                goto fail;
        }
        if (o->tls_chain_file && *o->tls_chain_file) {
                err = add_chain(ctx, o->tls_chain_file, ec);
                if (err)
                        goto fail;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, o->tls_key_file,
                                        SSL_FILETYPE_PEM) != 1) {
                err = sr_errctx_set(ec, SR_ERR_INVALID,
                                    "key file %s: not a PEM private key "
                                    "matching certificate file %s: %s",
                                    o->tls_key_file, o->tls_cert_file,
                                    tls_why(why, sizeof(why)));
                goto fail;
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
                err = sr_errctx_set(ec, SR_ERR_INVALID,
                                    "key file %s does not match "
                                    "certificate file %s: %s",
                                    o->tls_key_file, o->tls_cert_file,
                                    tls_why(why, sizeof(why)));
                goto fail;
        }
        *out = ctx;
        return SR_OK;
fail:
        SSL_CTX_free(ctx);
        return err;
}

int sr_httpd__tls_accept(SSL *ssl, uint32_t *want)
{
        int rc;

        ERR_clear_error();
        rc = SSL_accept(ssl);
        if (rc == 1)
                return 1;
        switch (SSL_get_error(ssl, rc)) {
        case SSL_ERROR_WANT_READ:
                *want = EPOLLIN;
                return 0;
        case SSL_ERROR_WANT_WRITE:
                *want = EPOLLOUT;
                return 0;
        default:
                break;
        }
        rc = ERR_GET_REASON(ERR_peek_error()) == SSL_R_HTTP_REQUEST ? -2 : -1;
        ERR_clear_error();
        return rc;
}

ssize_t sr_httpd__tls_recv(SSL *ssl, void *buf, size_t len)
{
        int n, e;

        ERR_clear_error();
        n = SSL_read(ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
        if (n > 0)
                return n;
        e = SSL_get_error(ssl, n);
        ERR_clear_error();
        if (e == SSL_ERROR_ZERO_RETURN)
                return 0;
        errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ?
                        EAGAIN :
                        ECONNRESET;
        return -1;
}

ssize_t sr_httpd__tls_send(SSL *ssl, const void *buf, size_t len)
{
        int n, e;

        ERR_clear_error();
        n = SSL_write(ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
        if (n > 0)
                return n;
        e = SSL_get_error(ssl, n);
        ERR_clear_error();
        errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ?
                        EAGAIN :
                        EPIPE;
        return -1;
}
