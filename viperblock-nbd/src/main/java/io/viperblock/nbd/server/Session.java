package io.viperblock.nbd.server;

import io.viperblock.core.volume.Volume;

/**
 * What negotiation agreed on for one connection. Immutable.
 *
 * @param structured        structured replies were negotiated
 * @param allocationContext the id of {@code base:allocation} if it was selected, else 0
 */
record Session(Volume volume, boolean structured, int allocationContext) {}
