/* Parameter broadcast: learner rank 0 publishes `Params` messages on a ZeroMQ PUB socket;
 * actors subscribe with ZMQ_CONFLATE, so a subscriber that falls behind
 * only ever sees the newest parameters (latest wins, docs/protocol.md). Each message carries the
 * architecture string and a CRC32C of the blob; a subscriber refuses any message whose
 * architecture, size or checksum does not match its own network.
 *
 * PUB/SUB drops what is published before a subscriber connects, so the publisher republishes
 * the latest parameters when asked (learner_params_pub_repeat) and subscribers wait for the
 * first message with a bounded timeout.
 *
 * With RND (nn/rnd.h) the publisher adds the predictor and its observation normaliser to every
 * message (rnd_arch, rnd_data, rnd_crc32c); a subscriber given an nn_rnd refuses a message
 * without them or with another RND architecture, and takes network and predictor together.
 *
 * With CURVE keys (common/curve.h; NULL or off: plain TCP) the publisher is a CURVE server whose
 * ZAP handler admits only the run's client key, so only holders of the run's keys receive.
 *
 *     learner_params_pub *pub = learner_params_pub_new(ctx, "tcp://127.0.0.1:*", NULL, bound,
 *                                                      256, &err);
 *     learner_params_pub_send(pub, step, frames, net, &err);
 *     learner_params_sub *sub = learner_params_sub_new(ctx, bound, NULL, net, &err);
 *     learner_params_sub_poll(sub, 0, &version, &err);   // SHOAL_OK: net now holds them
 */
#ifndef SHOAL_LEARNER_PARAMS_H
#define SHOAL_LEARNER_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "common/curve.h"
#include "common/err.h"
#include "nn/qnet.h"
#include "nn/rnd.h"

typedef struct learner_params_pub learner_params_pub;
typedef struct learner_params_sub learner_params_sub;

/* Binds a PUB socket on endpoint (a "*" port picks a free one) and writes the endpoint
 * subscribers should connect to into bound (cap bytes). ctx is a ZeroMQ context the caller
 * owns and keeps alive; with curve on, pub runs the context's ZAP handler (curve_zap), so no
 * other may run in ctx. NULL with EIO (bind failed, naming the endpoint) or ENOMEM. */
learner_params_pub *learner_params_pub_new(void *ctx, const char *endpoint,
                                           const curve_keys *curve, char *bound, size_t cap,
                                           shoal_err *err);

/* Closes the socket and frees pub. NULL is fine. */
void learner_params_pub_free(learner_params_pub *pub);

/* Publishes net's parameter blob as version `version` (the learner step) with `frames`. The
 * message is encoded into a buffer owned by pub, sized on first use; it is kept for
 * learner_params_pub_repeat. EIO on socket errors; never blocks (PUB drops for slow peers). */
int learner_params_pub_send(learner_params_pub *pub, uint64_t version, uint64_t frames,
                            const nn_qnet *net, shoal_err *err);

/* From now on every message also carries rnd's predictor and normaliser (NULL: none). rnd must
 * outlive pub. */
void learner_params_pub_set_rnd(learner_params_pub *pub, const nn_rnd *rnd);

/* Publishes the last message again (for subscribers that joined late); SHOAL_OK and nothing
 * sent when nothing was published yet. */
int learner_params_pub_repeat(learner_params_pub *pub, shoal_err *err);

/* Connects a conflating SUB socket to endpoint for parameters of net's architecture; received
 * parameters are written into net's params. net must outlive sub. NULL with EIO or ENOMEM. */
learner_params_sub *learner_params_sub_new(void *ctx, const char *endpoint,
                                           const curve_keys *curve, nn_qnet *net, shoal_err *err);

/* Closes the socket and frees sub. NULL is fine. */
void learner_params_sub_free(learner_params_sub *sub);

/* From now on a message must carry RND data for rnd's architecture, which is written into rnd
 * with the network's parameters (EARCH otherwise, nothing changed). rnd must outlive sub.
 * ENOMEM. */
int learner_params_sub_set_rnd(learner_params_sub *sub, nn_rnd *rnd, shoal_err *err);

/* Waits up to timeout_ms (0: just look) for a message. SHOAL_OK: a newer version arrived and is
 * now in the network; *version and *frames (may be NULL) tell which. EAGAIN: nothing new.
 * EARCH: the message is for another architecture or size; ECORRUPT: CRC mismatch; EPROTO: not a
 * Params message. The network is unchanged on every error. EINTERRUPTED on a signal. */
int learner_params_sub_poll(learner_params_sub *sub, int timeout_ms, uint64_t *version,
                            uint64_t *frames, shoal_err *err);

/* The version currently in the network (0 before the first). */
uint64_t learner_params_sub_version(const learner_params_sub *sub);

#endif
