/* common/gateway/sr_health.c - broker health state machine (sr_health.h). */
#include "sr_health.h"

#include <stdio.h>
#include <string.h>

void sr_health_init(sr_health_t *h, int64_t now_ms)
{
        memset(h, 0, sizeof(*h));
        h->up = true;
        h->since_ms = now_ms;
}

static bool go_down(sr_health_t *h, const char *why, int64_t now_ms)
{
        snprintf(h->why, sizeof(h->why), "%s", why && *why ? why : "-");
        if (!h->up)
                return false;
        h->up = false;
        h->since_ms = now_ms;
        return true;
}

bool sr_health_probe(sr_health_t *h, bool answered, const char *err,
                     int64_t now_ms)
{
        if (answered) {
                h->failed = 0;
                if (h->up)
                        return false;
                h->up = true;
                h->why[0] = '\0';
                h->since_ms = now_ms;
                return true;
        }
        if (h->failed < SR_HEALTH_PROBES_DOWN)
                h->failed++;
        if (h->up && h->failed < SR_HEALTH_PROBES_DOWN)
                return false;
        return go_down(h, err, now_ms);
}

bool sr_health_all_down(sr_health_t *h, const char *reason, int64_t now_ms)
{
        h->failed = SR_HEALTH_PROBES_DOWN;
        return go_down(h, reason, now_ms);
}
