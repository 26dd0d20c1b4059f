package io.viperblock.core.volume;

/**
 * A run of bytes with one allocation state: {@code allocated} runs hold data; the others are
 * holes that read as zeros (never written, trimmed or zeroed).
 */
public record StatusExtent(long offset, long length, boolean allocated) {}
