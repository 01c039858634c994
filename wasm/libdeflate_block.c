/* libdeflate_block.c -- one block of pigz's single deflate stream, compressed by libdeflate.

   wasm/build.py includes this file at the end of libdeflate's lib/deflate_compress.c (see
   LIBDEFLATE_EDITS), so it sees the compressor's internals: the chosen parser (c->impl), the
   output bitstream, and the two fields the build adds to the compressor, wpigz_dict (history
   bytes before the input, which the matchfinders insert without emitting them) and
   wpigz_nonfinal (no block gets the BFINAL bit). libdeflate as released compresses a whole
   buffer into a complete stream; this function is what deflate_libdeflate.c calls instead
   for every job of the one-stream layout but a lone final block without history, which keeps
   going through libdeflate_deflate_compress, unchanged.

   A non-final block ends exactly as zlib's Z_SYNC_FLUSH ends one (and so as pigz's blocks
   may end): an empty stored block, which leaves the stream on a byte boundary, so the next
   job's output simply follows. Called on a worker thread with that worker's compressor. */

/* Stored blocks for input libdeflate would not compress (level 0, and inputs of at most
   max_passthrough_size bytes), the last one final only when final; 0 when out is too small. */
static size_t
wpigz_stored(const u8 *in, size_t in_nbytes, u8 *out, size_t out_nbytes_avail, bool final)
{
	u8 *out_next = out;
	do {
		size_t len = MIN(in_nbytes, UINT16_MAX);
		if ((size_t)(out + out_nbytes_avail - out_next) < 5 + len)
			return 0;
		*out_next++ = (final && len == in_nbytes) | (DEFLATE_BLOCKTYPE_UNCOMPRESSED << 1);
		put_unaligned_le16(len, out_next);
		put_unaligned_le16(~len, out_next + 2);
		out_next += 4;
		if (len)
			memcpy(out_next, in, len);
		out_next += len;
		in += len;
		in_nbytes -= len;
	} while (in_nbytes);
	return out_next - out;
}

/* Compress in_nbytes at in, primed with the dict_nbytes (at most 32 KiB) just before in, into
   out. final: end with a final block; otherwise end with an empty stored block. Returns the
   bytes written, or 0 when they do not fit out_nbytes_avail. */
size_t
wpigz_deflate_block(struct libdeflate_compressor *c, const u8 *in, size_t dict_nbytes,
		    size_t in_nbytes, u8 *out, size_t out_nbytes_avail, bool final)
{
	struct deflate_output_bitstream os;
	size_t n;

	if (in_nbytes <= c->max_passthrough_size) {
		n = wpigz_stored(in, in_nbytes, out, out_nbytes_avail, final);
		if (n == 0 || final)
			return n;
		/* already on a byte boundary: the empty stored block is the sync marker alone */
		if (out_nbytes_avail - n < 5)
			return 0;
		return n + wpigz_stored(in, 0, out + n, 5, false);
	}
	/* room for OUTPUT_END_PADDING (see libdeflate_deflate_compress) and the 6 bytes that at
	   most end a non-final block */
	if (out_nbytes_avail <= OUTPUT_END_PADDING + 6)
		return 0;
	os.bitbuf = 0;
	os.bitcount = 0;
	os.next = out;
	os.end = out + out_nbytes_avail - OUTPUT_END_PADDING - 6;
	c->wpigz_dict = dict_nbytes;
	c->wpigz_nonfinal = !final;
	(*c->impl)(c, in - dict_nbytes, dict_nbytes + in_nbytes, &os);
	c->wpigz_dict = 0;
	c->wpigz_nonfinal = false;
	if (os.next >= os.end)
		return 0;
	if (!final) {
		/* an empty stored block: BFINAL 0 and BTYPE 00 (three zero bits), zero bits to the
		   byte boundary, then LEN 0 and NLEN 0xFFFF */
		os.bitcount += 3;
		while (os.bitcount > 0) {
			*os.next++ = (u8)os.bitbuf;
			os.bitbuf >>= 8;
			os.bitcount = os.bitcount > 8 ? os.bitcount - 8 : 0;
		}
		put_unaligned_le32(0xFFFF0000, os.next);
		os.next += 4;
	} else if (os.bitcount) {
		*os.next++ = os.bitbuf;
	}
	return os.next - out;
}
