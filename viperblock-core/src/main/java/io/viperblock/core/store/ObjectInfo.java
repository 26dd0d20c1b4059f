package io.viperblock.core.store;

/** A key and the size of the object stored under it. */
public record ObjectInfo(String key, long size) {}
