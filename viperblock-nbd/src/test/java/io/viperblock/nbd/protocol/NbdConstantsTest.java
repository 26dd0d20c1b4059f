package io.viperblock.nbd.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The numbers, checked one by one against the protocol document (doc/proto.md). */
class NbdConstantsTest {

    static long ascii(String s) {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.US_ASCII)).getLong();
    }

    @Test
    void magics() {
        assertEquals(ascii("NBDMAGIC"), Nbd.NBDMAGIC);
        assertEquals(ascii("IHAVEOPT"), Nbd.IHAVEOPT);
        assertEquals(0x0003e889045565a9L, Nbd.OPTION_REPLY_MAGIC);
        assertEquals(0x25609513, Nbd.REQUEST_MAGIC);
        assertEquals(0x67446698, Nbd.SIMPLE_REPLY_MAGIC);
        assertEquals(0x668e33ef, Nbd.STRUCTURED_REPLY_MAGIC);
        assertEquals(0x21e41c71, Nbd.EXTENDED_REQUEST_MAGIC);
    }

    @Test
    void handshakeAndClientFlags() {
        assertEquals(1, Nbd.FLAG_FIXED_NEWSTYLE);
        assertEquals(2, Nbd.FLAG_NO_ZEROES);
        assertEquals(1, Nbd.FLAG_C_FIXED_NEWSTYLE);
        assertEquals(2, Nbd.FLAG_C_NO_ZEROES);
    }

    @Test
    void optionsAndReplies() {
        int[] opts = {Nbd.OPT_EXPORT_NAME, Nbd.OPT_ABORT, Nbd.OPT_LIST, Nbd.OPT_PEEK_EXPORT, Nbd.OPT_STARTTLS, Nbd.OPT_INFO,
            Nbd.OPT_GO, Nbd.OPT_STRUCTURED_REPLY, Nbd.OPT_LIST_META_CONTEXT, Nbd.OPT_SET_META_CONTEXT,
            Nbd.OPT_EXTENDED_HEADERS};
        for (int i = 0; i < opts.length; i++) {
            assertEquals(i + 1, opts[i]);
            assertFalse(Nbd.optionName(opts[i]).startsWith("option"));
        }
        assertEquals("option 0x0000002a", Nbd.optionName(42));
        assertEquals(1, Nbd.REP_ACK);
        assertEquals(2, Nbd.REP_SERVER);
        assertEquals(3, Nbd.REP_INFO);
        assertEquals(4, Nbd.REP_META_CONTEXT);
        int[] errs = {Nbd.REP_ERR_UNSUP, Nbd.REP_ERR_POLICY, Nbd.REP_ERR_INVALID, Nbd.REP_ERR_PLATFORM,
            Nbd.REP_ERR_TLS_REQD, Nbd.REP_ERR_UNKNOWN, Nbd.REP_ERR_SHUTDOWN, Nbd.REP_ERR_BLOCK_SIZE_REQD,
            Nbd.REP_ERR_TOO_BIG, Nbd.REP_ERR_EXT_HEADER_REQD};
        for (int i = 0; i < errs.length; i++) {
            assertEquals((1L << 31) + i + 1, Integer.toUnsignedLong(errs[i]));
            assertTrue(Nbd.isErrorReply(errs[i]));
            assertTrue(Nbd.replyTypeName(errs[i]).startsWith("ERR_"));
        }
        assertFalse(Nbd.isErrorReply(Nbd.REP_ACK));
        assertEquals(0, Nbd.INFO_EXPORT);
        assertEquals(1, Nbd.INFO_NAME);
        assertEquals(2, Nbd.INFO_DESCRIPTION);
        assertEquals(3, Nbd.INFO_BLOCK_SIZE);
    }

    @Test
    void transmissionFlagsAreBitsZeroToTwelve() {
        int[] flags = {Nbd.FLAG_HAS_FLAGS, Nbd.FLAG_READ_ONLY, Nbd.FLAG_SEND_FLUSH, Nbd.FLAG_SEND_FUA,
            Nbd.FLAG_ROTATIONAL, Nbd.FLAG_SEND_TRIM, Nbd.FLAG_SEND_WRITE_ZEROES, Nbd.FLAG_SEND_DF,
            Nbd.FLAG_CAN_MULTI_CONN, Nbd.FLAG_SEND_RESIZE, Nbd.FLAG_SEND_CACHE, Nbd.FLAG_SEND_FAST_ZERO,
            Nbd.FLAG_BLOCK_STAT_PAYLOAD};
        for (int i = 0; i < flags.length; i++) {
            assertEquals(1 << i, flags[i]);
        }
    }

    @Test
    void commandsAndCommandFlags() {
        int[] cmds = {Nbd.CMD_READ, Nbd.CMD_WRITE, Nbd.CMD_DISC, Nbd.CMD_FLUSH, Nbd.CMD_TRIM, Nbd.CMD_CACHE,
            Nbd.CMD_WRITE_ZEROES, Nbd.CMD_BLOCK_STATUS, Nbd.CMD_RESIZE};
        for (int i = 0; i < cmds.length; i++) {
            assertEquals(i, cmds[i]);
            assertFalse(Nbd.commandName(cmds[i]).startsWith("command"));
        }
        int[] flags = {Nbd.CMD_FLAG_FUA, Nbd.CMD_FLAG_NO_HOLE, Nbd.CMD_FLAG_DF, Nbd.CMD_FLAG_REQ_ONE,
            Nbd.CMD_FLAG_FAST_ZERO, Nbd.CMD_FLAG_PAYLOAD_LEN};
        for (int i = 0; i < flags.length; i++) {
            assertEquals(1 << i, flags[i]);
        }
    }

    @Test
    void structuredRepliesErrnosAndAllocation() {
        assertEquals(1, Nbd.REPLY_FLAG_DONE);
        assertEquals(0, Nbd.REPLY_TYPE_NONE);
        assertEquals(1, Nbd.REPLY_TYPE_OFFSET_DATA);
        assertEquals(2, Nbd.REPLY_TYPE_OFFSET_HOLE);
        assertEquals(5, Nbd.REPLY_TYPE_BLOCK_STATUS);
        assertEquals((1 << 15) + 1, Nbd.REPLY_TYPE_ERROR);
        assertEquals((1 << 15) + 2, Nbd.REPLY_TYPE_ERROR_OFFSET);
        assertTrue(Nbd.isErrorChunk(Nbd.REPLY_TYPE_ERROR_OFFSET));
        assertFalse(Nbd.isErrorChunk(Nbd.REPLY_TYPE_BLOCK_STATUS));
        assertEquals(1, Nbd.EPERM);
        assertEquals(5, Nbd.EIO);
        assertEquals(12, Nbd.ENOMEM);
        assertEquals(22, Nbd.EINVAL);
        assertEquals(28, Nbd.ENOSPC);
        assertEquals(75, Nbd.EOVERFLOW);
        assertEquals(95, Nbd.ENOTSUP);
        assertEquals(108, Nbd.ESHUTDOWN);
        assertEquals("ESHUTDOWN", Nbd.errorName(108));
        assertEquals("error 4294967295", Nbd.errorName(-1));
        assertEquals(1, Nbd.STATE_HOLE);
        assertEquals(2, Nbd.STATE_ZERO);
        assertEquals("ERROR_OFFSET", Nbd.chunkTypeName(Nbd.REPLY_TYPE_ERROR_OFFSET));
    }
}
