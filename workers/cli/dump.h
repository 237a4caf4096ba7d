/* workers/cli/dump.h - `sr-cli dump TOPIC` (see dump.c). */
#ifndef SR_CLI_DUMP_H
#define SR_CLI_DUMP_H

#include <stdio.h>

#include "sr_codec.h"
#include "sr_conf.h"

/**
 * @brief Print every record of @p topic ("commands", ..., "dlq", with or
 * without topic.prefix), all partitions in order, from the beginning up to
 * the end offsets read at start, one JSON line each on @p out.
 * @returns 0 or a sysexits code (message on stderr).
 */
int sr_cli_dump(const sr_conf_t *conf, sr_codec_t *codec, const char *topic,
                FILE *out);

#endif /* SR_CLI_DUMP_H */
