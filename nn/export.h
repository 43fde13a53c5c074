/* A Q-network's parameters as named tensors in PyTorch's layouts, written into a NumPy .npz
 * (common/npz.h), so that torch.nn.Conv2d/Linear modules load them as they are
 * (examples/pytorch/shoal_torch.py; names and layouts in docs/formats.md, "Exported network").
 *
 * Names (K heads k = 0..K-1, convolutions l, shared layers s, per-head hidden layers j):
 *   torso.conv<l>.weight (F, C, 3, 3)  torso.conv<l>.bias (F)
 *   torso.shared<s>.weight (out, in)   torso.shared<s>.bias (out)
 *   heads.<k>.dense<j>.weight (out, in), .bias (out)
 *   heads.<k>.out.weight (A, in), .bias (A)                        without dueling
 *   heads.<k>.advantage.weight (A, in), .bias (A),
 *   heads.<k>.value.weight (1, in), .bias (1)                      with dueling
 *   prior.<any of the above>                                       with a prior network
 * Shoal keeps images channels last (B, H, W, C) and flattens them in (h, w, c) order; PyTorch
 * takes (B, C, H, W) and flattens in (c, h, w) order. The first dense layer after the torso's
 * image (the first shared layer, else every head's first layer) therefore has its input columns
 * permuted to (c, h, w) order, so torch.flatten on the NCHW activation feeds it directly.
 *
 *     nn_export_npz(net, "{\"format\": ...}", "net.npz", &err);
 */
#ifndef SHOAL_NN_EXPORT_H
#define SHOAL_NN_EXPORT_H

#include "common/err.h"
#include "nn/qnet.h"

/* The name of the metadata entry nn_export_npz adds. */
#define NN_EXPORT_META "meta.json"

/* Writes every tensor of net (prior included) under the names above, then meta_json (the
 * caller's JSON document) as entry NN_EXPORT_META, atomically replacing path. Errors from
 * common/npz.h: EIO naming the file when it cannot be written, ENOMEM. */
int nn_export_npz(const nn_qnet *net, const char *meta_json, const char *path, shoal_err *err);

#endif
