/*
 * net_build.h
 *		A net from a model's config and weights (net_build.c).
 */
#ifndef MAAS_NET_BUILD_H
#define MAAS_NET_BUILD_H

#include "json.h"
#include "net.h"
#include "safetensors.h"

/*
 * Build and check the net a config describes over the weights (which must
 * outlive it: F32 tensors are used in place).  check_values also checks
 * that every tensor holds finite values.  On failure err holds a sentence
 * for the detail of "invalid model config" (and maybe a hint).
 */
extern bool maas_net_build(MaasNet *net, const MaasJson *config,
						   const StFile *weights, bool check_values,
						   MaasError *err);

#endif							/* MAAS_NET_BUILD_H */
