package io.viperblock.nbd.protocol;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The data of an NBD_OPT_INFO or NBD_OPT_GO option request (both have the same layout).
 *
 * <pre>
 * offset 0          4                 4+N       6+N                      6+N+2k
 *        +----------+=================+---------+---------+-----+---------+
 *        | name len |   export name   |    k    | info[0] | ... |info[k-1]|
 *        | u32 = N  |  N bytes UTF-8  |   u16   |   u16   |     |   u16   |
 *        +----------+=================+---------+---------+-----+---------+
 *
 * N MUST be at most (option length - 6), and the option length MUST be exactly 6 + N + 2k.
 * info[i] is an information type (INFO_EXPORT, INFO_NAME, INFO_DESCRIPTION, INFO_BLOCK_SIZE, or
 * one the server does not know and MUST ignore).
 * </pre>
 *
 * The server answers with zero or more NBD_REP_INFO replies, then NBD_REP_ACK (success: at least
 * the INFO_EXPORT reply must have been sent; after GO, transmission starts at once with no zero
 * padding) or an error.
 *
 * <p>Immutable record; its codec methods are stateless. Thread-safe.
 *
 * @param exportName   the export name; empty selects the default export
 * @param infoRequests the information types asked for, in the client's order (duplicates, which
 *                     the client MUST NOT send, are kept as sent)
 */
public record ExportInfoRequest(String exportName, List<Integer> infoRequests) {

    public ExportInfoRequest {
        Objects.requireNonNull(exportName, "exportName");
        infoRequests = List.copyOf(infoRequests);
        for (int t : infoRequests) {
            Wire.checkU16(t, "info type");
        }
    }

    /** True if the client asked for information type {@code infoType}. */
    public boolean requested(int infoType) {
        return infoRequests.contains(infoType);
    }

    /**
     * Parses the data of an INFO or GO option, checking every length against the option's data
     * length exactly.
     *
     * @throws InvalidOptionException (reply {@link Nbd#REP_ERR_INVALID}) if the data is shorter
     *         than 6 bytes, the name length runs past the data, the bytes after the count are not
     *         exactly {@code 2k}, or the name is not a protocol string (strict UTF-8, no NUL, at
     *         most 4096 bytes)
     * @throws IllegalStateException if the option is not INFO or GO
     */
    public static ExportInfoRequest parse(OptionRequest option) throws InvalidOptionException {
        option.requireOption(Nbd.OPT_INFO, Nbd.OPT_GO);
        int opt = option.option();
        byte[] data = option.rawData();
        ByteBuffer b = ByteBuffer.wrap(data);
        int length = data.length;
        if (length < 6) {
            throw new InvalidOptionException(opt, Nbd.optionName(opt) + " data is " + length
                    + " bytes, at least 6 are needed");
        }
        long nameLength = Integer.toUnsignedLong(b.getInt(0));
        if (nameLength > length - 6) {
            throw new InvalidOptionException(opt, Nbd.optionName(opt) + " name length " + nameLength
                    + " does not fit in " + length + " bytes of data");
        }
        int n = (int) nameLength;
        String name = Wire.decodeString(data, 4, n);
        if (name == null) {
            throw new InvalidOptionException(opt, Nbd.optionName(opt)
                    + " export name is not a valid string (UTF-8, no NUL, at most " + Nbd.MAX_STRING_LENGTH + " bytes)");
        }
        int count = Short.toUnsignedInt(b.getShort(4 + n));
        int rest = length - 6 - n;
        if (rest != 2 * count) {
            throw new InvalidOptionException(opt, Nbd.optionName(opt) + " announces " + count
                    + " information requests (" + 2 * count + " bytes) but " + rest + " bytes follow");
        }
        List<Integer> infos = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            infos.add(Short.toUnsignedInt(b.getShort(6 + n + 2 * i)));
        }
        return new ExportInfoRequest(name, infos);
    }

    /** Client side: the option request carrying this data; {@code option} is INFO or GO. */
    public OptionRequest toOption(int option) {
        if (option != Nbd.OPT_INFO && option != Nbd.OPT_GO) {
            throw new IllegalArgumentException("INFO or GO expected: " + Nbd.optionName(option));
        }
        byte[] name = Wire.encodeName(exportName, "export name");
        if (infoRequests.size() > 0xFFFF) {
            throw new IllegalArgumentException("too many information requests: " + infoRequests.size());
        }
        ByteBuffer b = ByteBuffer.allocate(4 + name.length + 2 + 2 * infoRequests.size());
        b.putInt(name.length).put(name).putShort((short) infoRequests.size());
        for (int t : infoRequests) {
            b.putShort((short) t);
        }
        return new OptionRequest(option, b.array());
    }
}
