package io.viperblock.nbd.protocol;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The data of an NBD_OPT_LIST_META_CONTEXT or NBD_OPT_SET_META_CONTEXT option request (both have
 * the same layout).
 *
 * <pre>
 * offset 0          4                 4+N       8+N
 *        +----------+=================+---------+----------+===============+-----+
 *        | name len |   export name   |    q    | len[0]=L |   query[0]    | ... |
 *        | u32 = N  |  N bytes UTF-8  |   u32   |   u32    | L bytes UTF-8 |     |
 *        +----------+=================+---------+----------+===============+-----+
 *                                                \____ repeated q times ______/
 *
 * Every length must fit in what is left of the option data, and the last query must end
 * exactly at the end of the data. A query starts with a namespace and a colon ("base:allocation",
 * or "base:" as a LIST wildcard); that is a semantic rule the server checks, not the codec.
 * </pre>
 *
 * The server answers with zero or more NBD_REP_META_CONTEXT replies then NBD_REP_ACK, or an
 * error. For LIST the context ids in the replies SHOULD be 0; for SET each selected context gets
 * a unique id, which the client uses in NBD_CMD_BLOCK_STATUS reply chunks. SET with zero queries
 * selects nothing; LIST with zero queries lists everything.
 *
 * <p>Immutable record; its codec methods are stateless. Thread-safe.
 *
 * @param exportName the export the contexts are for
 * @param queries    the queries in the client's order
 */
public record MetaContextRequest(String exportName, List<String> queries) {

    public MetaContextRequest {
        Objects.requireNonNull(exportName, "exportName");
        queries = List.copyOf(queries);
    }

    /**
     * Parses the data of a LIST_META_CONTEXT or SET_META_CONTEXT option. The query count is
     * checked against the bytes left (each query needs at least 4) before anything is allocated
     * for it, and each query length against the bytes left before it is read.
     *
     * @throws InvalidOptionException (reply {@link Nbd#REP_ERR_INVALID}) if any length runs past
     *         the data, bytes are left over, or a string is not a protocol string (strict UTF-8,
     *         no NUL, at most 4096 bytes)
     * @throws IllegalStateException if the option is not LIST_META_CONTEXT or SET_META_CONTEXT
     */
    public static MetaContextRequest parse(OptionRequest option) throws InvalidOptionException {
        option.requireOption(Nbd.OPT_LIST_META_CONTEXT, Nbd.OPT_SET_META_CONTEXT);
        int opt = option.option();
        String what = Nbd.optionName(opt);
        byte[] data = option.rawData();
        ByteBuffer b = ByteBuffer.wrap(data);
        int length = data.length;
        if (length < 8) {
            throw new InvalidOptionException(opt, what + " data is " + length + " bytes, at least 8 are needed");
        }
        long nameLength = Integer.toUnsignedLong(b.getInt(0));
        if (nameLength > length - 8) {
            throw new InvalidOptionException(opt, what + " name length " + nameLength + " does not fit in "
                    + length + " bytes of data");
        }
        int n = (int) nameLength;
        String name = Wire.decodeString(data, 4, n);
        if (name == null) {
            throw new InvalidOptionException(opt, what
                    + " export name is not a valid string (UTF-8, no NUL, at most " + Nbd.MAX_STRING_LENGTH + " bytes)");
        }
        long count = Integer.toUnsignedLong(b.getInt(4 + n));
        int pos = 8 + n;
        if (count > (length - pos) / 4) {
            throw new InvalidOptionException(opt, what + " announces " + count + " queries but only "
                    + (length - pos) + " bytes follow");
        }
        List<String> queries = new ArrayList<>((int) count);
        for (long i = 0; i < count; i++) {
            if (length - pos < 4) {
                throw new InvalidOptionException(opt, what + " query " + i + " length runs past the data");
            }
            long queryLength = Integer.toUnsignedLong(b.getInt(pos));
            pos += 4;
            if (queryLength > length - pos) {
                throw new InvalidOptionException(opt, what + " query " + i + " length " + queryLength
                        + " does not fit in the " + (length - pos) + " bytes left");
            }
            String q = Wire.decodeString(data, pos, (int) queryLength);
            if (q == null) {
                throw new InvalidOptionException(opt, what + " query " + i
                        + " is not a valid string (UTF-8, no NUL, at most " + Nbd.MAX_STRING_LENGTH + " bytes)");
            }
            queries.add(q);
            pos += (int) queryLength;
        }
        if (pos != length) {
            throw new InvalidOptionException(opt, what + " has " + (length - pos) + " bytes after the last query");
        }
        return new MetaContextRequest(name, queries);
    }

    /** Client side: the option request carrying this data; {@code option} is LIST_ or SET_META_CONTEXT. */
    public OptionRequest toOption(int option) {
        if (option != Nbd.OPT_LIST_META_CONTEXT && option != Nbd.OPT_SET_META_CONTEXT) {
            throw new IllegalArgumentException("LIST_META_CONTEXT or SET_META_CONTEXT expected: "
                    + Nbd.optionName(option));
        }
        byte[] name = Wire.encodeName(exportName, "export name");
        List<byte[]> qs = new ArrayList<>(queries.size());
        long size = 8L + name.length;
        for (String q : queries) {
            byte[] e = Wire.encodeName(q, "query");
            qs.add(e);
            size += 4 + e.length;
        }
        if (size > Integer.MAX_VALUE - OptionRequest.HEADER_LENGTH) {
            throw new IllegalArgumentException("too many queries");
        }
        ByteBuffer b = ByteBuffer.allocate((int) size);
        b.putInt(name.length).put(name).putInt(qs.size());
        for (byte[] q : qs) {
            b.putInt(q.length).put(q);
        }
        return new OptionRequest(option, b.array());
    }
}
