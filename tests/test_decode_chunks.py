"""Parallel decoding of one deflate stream in chunks (wpigz/decode/chunks.py, wasm/chunk_inflate.c).

Every file is made by a real tool (pigz, gzip, Python's gzip and zlib, wpigz's own engines) or
crafted here to fool the block finder. Most tests shrink the chunk size (monkeypatched) so that
files of a few hundred KiB cross many chunks; they count the chunks the workers decoded, so that
a test of the parallel path fails if that path was not taken. The results are compared with the
sequential decoder's (threads=1): the same bytes, or the same exception with the same message,
and never more output. Streams are split from chunks.MIN_THREADS (2) threads on.
"""

from __future__ import annotations

import gzip
import io
import random
import subprocess
import sys
import zlib

import pytest

from conftest import random_bytes, text_bytes, tool
from wpigz.decode import chunks
from wpigz.decode.stream import CorruptInput
from wpigz.decode.entry import decompress
from wpigz.sandbox.wasm_host import Runtime

K = 1024
WPIGZ = [sys.executable, "-m", "wpigz"]


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return Runtime()


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 64 KiB (lookahead 192 KiB: pigz -b 128 of random data), and a count of the chunks decoded in parallel."""
    monkeypatch.setattr(chunks, "CHUNK", 64 * K)
    monkeypatch.setattr(chunks, "LOOKAHEAD", 192 * K)
    counts = {"ok": 0, "failed": 0, "cancelled": 0}
    work = chunks._work

    def counting(decoder, chunk, check_kind):
        work(decoder, chunk, check_kind)
        counts["ok" if chunk.ok else "cancelled" if chunk.cancelled else "failed"] += 1
    monkeypatch.setattr(chunks, "_work", counting)
    return counts


def mixed(n: int, seed: int = 1) -> bytes:
    """Text with runs of random bytes and zeros: every block type in the compressed data."""
    rng = random.Random(seed)
    text = text_bytes(max(n, 1024 * K))
    out = bytearray()
    while len(out) < n:
        kind = rng.random()
        size = rng.randrange(1, 40 * K)
        if kind < 0.7:
            start = rng.randrange(len(text) - size)
            out += text[start:start + size]
        elif kind < 0.9:
            out += rng.randbytes(size)
        else:
            out += bytes(size)
    return bytes(out[:n])


def outcome(runtime, blob: bytes, threads: int):
    """(output, exception message or None) of decoding blob."""
    out = bytearray()
    try:
        decompress(io.BytesIO(blob), out.extend, runtime, threads=threads)
    except CorruptInput as error:
        return bytes(out), str(error)
    return bytes(out), None


def made(command: list[str], data: bytes) -> bytes:
    proc = subprocess.run([tool(command[0]), *command[1:]], input=data, capture_output=True, check=True)
    return proc.stdout


DATA = mixed(1536 * K + 7)

MAKERS = [["pigz", "-c"], ["pigz", "-1", "-c"], ["pigz", "-9", "-c"], ["pigz", "-11", "-c"],
          ["pigz", "-b", "32", "-c"], ["pigz", "-i", "-c"],
          ["pigz", "-R", "-c"], ["pigz", "-z", "-c"], ["pigz", "-p", "1", "-c"],
          ["gzip", "-1", "-c"], ["gzip", "-6", "-c"], ["gzip", "-9", "-c"]]


@pytest.mark.parametrize("maker", MAKERS, ids=" ".join)
def test_tools_output_decodes_identically(runtime, small_chunks, maker):
    blob = made(maker, DATA)
    assert outcome(runtime, blob, 3) == (DATA, None)
    # split at flush marks or dynamic blocks: every chunk decoded in parallel
    assert small_chunks["ok"] >= len(blob) // (64 * K) - 1 and small_chunks["failed"] == 0, small_chunks


@pytest.mark.parametrize("engine", ["zlib", "zlib-ng", "libdeflate"])
@pytest.mark.parametrize("level", [1, 6, 9])
def test_wpigz_engines_output_decodes_identically(runtime, small_chunks, engine, level):
    proc = subprocess.run([*WPIGZ, f"--engine={engine}", f"-{level}", "-b", "64", "-c"], input=DATA,
                          capture_output=True, check=True, timeout=120)
    assert outcome(runtime, proc.stdout, 3) == (DATA, None)
    if engine != "libdeflate":              # libdeflate writes indexed members: members.py
        assert small_chunks["ok"] >= 4, small_chunks


@pytest.mark.parametrize("level", [1, 6, 9])
def test_python_gzip_and_zlib(runtime, small_chunks, level):
    for blob in (gzip.compress(DATA, level), zlib.compress(DATA, level)):
        assert outcome(runtime, blob, 3) == (DATA, None)
    assert small_chunks["ok"] >= 2 * (len(blob) // (64 * K) - 1), small_chunks


@pytest.mark.parametrize("size", [0, 1, 3, 64 * K - 1, 64 * K, 64 * K + 1, 128 * K, 200 * K + 3])
@pytest.mark.parametrize("threads", [1, 2, 3, 4])
def test_sizes_around_the_chunk(runtime, small_chunks, size, threads):
    data = mixed(size, seed=size)
    for blob in (made(["pigz", "-b", "32", "-c"], data), made(["pigz", "-1", "-b", "32", "-c"], data * 3)):
        assert outcome(runtime, blob, threads)[1] is None
        assert outcome(runtime, blob, threads)[0] == zlib.decompress(blob, 31)


def test_blocks_longer_than_the_lookahead_fall_back(runtime, small_chunks):
    data = random_bytes(1024 * K) + DATA
    blob = made(["pigz", "-b", "1024", "-c"], data)
    assert outcome(runtime, blob, 3) == (data, None)
    assert small_chunks["failed"] >= 1


def test_stored_only_and_incompressible(runtime, small_chunks):
    data = random_bytes(700 * K)
    for blob in (made(["pigz", "-1", "-b", "32", "-c"], data), gzip.compress(data, 0)):
        assert outcome(runtime, blob, 3) == (data, None)


def test_multi_member_and_what_follows(runtime, small_chunks):
    a, b = made(["pigz", "-c"], DATA), made(["pigz", "-b", "64", "-c"], DATA[::-1])
    assert outcome(runtime, a + b, 3) == (DATA + DATA[::-1], None)
    assert outcome(runtime, a + b"\0" * 10, 3) == (DATA, None)
    assert outcome(runtime, a + a[:100], 3) == outcome(runtime, a + a[:100], 1)
    assert outcome(runtime, a[:-3], 3) == outcome(runtime, a[:-3], 1)
    assert outcome(runtime, a[:len(a) // 2], 3)[1] == outcome(runtime, a[:len(a) // 2], 1)[1]


def fooling(n: int, seed: int) -> bytes:
    """Data full of 00 00 ff ff and of what follows an empty stored block in pigz's output, so
    that stored blocks (and literals) hold many false candidates for the block finder."""
    rng = random.Random(seed)
    real = made(["pigz", "-b", "32", "-c"], text_bytes(64 * K))
    pieces = []
    size = 0
    while size < n:
        choice = rng.random()
        if choice < 0.4:
            at = real.find(b"\0\0\xff\xff", rng.randrange(len(real) - 64))
            piece = real[at:at + rng.randrange(4, 400)] if at >= 0 else b"\0\0\xff\xff"
        elif choice < 0.7:
            piece = b"\0\0\xff\xff" * rng.randrange(1, 50)
        else:
            piece = rng.randbytes(rng.randrange(1, 3000))
        pieces.append(piece)
        size += len(piece)
    return b"".join(pieces)[:n]


@pytest.mark.parametrize("seed", range(4))
def test_inputs_built_to_fool_the_block_finder(runtime, small_chunks, seed):
    data = fooling(600 * K, seed)
    for level in ("-1", "-6", "-9"):
        blob = made(["pigz", level, "-b", "32", "-c"], data)
        assert outcome(runtime, blob, 3) == (data, None), level


def mutants(blob: bytes, rng: random.Random, count: int):
    for _ in range(count):
        mutant = bytearray(blob)
        kind = rng.random()
        at = rng.randrange(20, len(blob) - 8)
        if kind < 0.5:
            mutant[at] ^= 1 << rng.randrange(8)
        elif kind < 0.8:
            mutant[at] = rng.randrange(256)
        else:
            del mutant[at:at + rng.randrange(1, 30)]
        yield bytes(mutant)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("maker", [["pigz", "-c"], ["pigz", "-1", "-b", "32", "-c"], ["gzip", "-c"]], ids=" ".join)
def test_corrupt_input_gets_the_sequential_decoders_message(runtime, small_chunks, maker):
    """A damaged byte anywhere: the same message as the sequential decoder, and never output
    that the sequential decoder would not have written."""
    data = DATA[:700 * K]
    blob = made(maker, data)
    rng = random.Random(7)
    for mutant in mutants(blob, rng, 60):
        out2, message2 = outcome(runtime, mutant, 3)
        out1, message1 = outcome(runtime, mutant, 1)
        # the same message, and the same output: all of it written before the damage was met
        assert (message2, out2) == (message1, out1)


def test_corrupt_byte_in_a_late_chunk_is_reported_and_not_written_past(runtime, small_chunks):
    data = DATA
    blob = bytearray(made(["pigz", "-b", "32", "-c"], data))
    at = 7 * 64 * K + 1000                          # in chunk 7
    blob[at:at + 8] = b"\xff" * 8
    out2, message2 = outcome(runtime, bytes(blob), 3)
    out1, message1 = outcome(runtime, bytes(blob), 1)
    assert message2 == message1 and message2 is not None
    assert out2 == out1 and data.startswith(out2[:7 * 64 * K])
    assert small_chunks["ok"] >= 5


@pytest.mark.timeout(300)
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_the_command_from_a_file_and_a_pipe(tmp_path, threads):
    """Through the real command, with the real chunk size: -dc, -t and stdin, exact output, and
    exact stderr and status for a damaged file (the same as with -p 1)."""
    data = mixed(9 * 1024 * K, seed=3)
    blob = made(["pigz", "-c"], data)
    path = tmp_path / "x.gz"
    path.write_bytes(blob)
    proc = subprocess.run([*WPIGZ, "-dc", "-p", str(threads), str(path)], capture_output=True, timeout=120)
    assert (proc.returncode, proc.stderr, proc.stdout == data) == (0, b"", True)
    proc = subprocess.run([*WPIGZ, "-dc", "-p", str(threads)], input=blob, capture_output=True, timeout=120)
    assert (proc.returncode, proc.stderr, proc.stdout == data) == (0, b"", True)
    proc = subprocess.run([*WPIGZ, "-t", "-p", str(threads), str(path)], capture_output=True, timeout=120)
    assert (proc.returncode, proc.stderr, proc.stdout) == (0, b"", b"")
    bad = bytearray(blob)
    bad[len(blob) * 2 // 3] ^= 0x55
    path.write_bytes(bytes(bad))
    results = [subprocess.run([*WPIGZ, "-dc", "-p", str(p), str(path)], capture_output=True, timeout=120)
               for p in (1, threads)]
    assert results[0].returncode == results[1].returncode != 0
    assert results[0].stderr == results[1].stderr and results[0].stdout == results[1].stdout


@pytest.mark.timeout(300)
def test_library_reader_in_parallel_and_left_open_at_exit(tmp_path):
    """wpigz.open reads a large pigz file through the chunk workers; a reader left open
    mid-stream when the interpreter exits must let it exit (not hang on a worker)."""
    data = mixed(6 * 1024 * K, seed=5)
    path = tmp_path / "x.gz"
    path.write_bytes(made(["pigz", "-c"], data))
    script = f"""
import wpigz
from wpigz.decode import chunks
work = chunks._work
seen = []
def counting(decoder, chunk, kind):
    work(decoder, chunk, kind)
    seen.append(chunk.ok)
chunks._work = counting
with wpigz.open({str(path)!r}, "rb", threads=3) as f:
    whole = f.read()
assert whole == open({str(path)!r}[:-3] + ".orig", "rb").read(), "output differs"
assert sum(seen) >= 4, seen
g = wpigz.open({str(path)!r}, "rb", threads=3)
g.read(1000)
print("left open")
"""
    (tmp_path / "x.orig").write_bytes(data)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert (proc.returncode, proc.stderr, proc.stdout) == (0, b"", b"left open\n")


def test_fewer_threads_than_the_minimum_decode_sequentially(runtime, small_chunks):
    blob = made(["pigz", "-c"], DATA)
    assert outcome(runtime, blob, chunks.MIN_THREADS - 1) == (DATA, None)
    assert small_chunks == {"ok": 0, "failed": 0, "cancelled": 0}
    assert outcome(runtime, blob, chunks.MIN_THREADS) == (DATA, None)
    assert small_chunks["ok"] > 0


# ---- the chunk decoder against zlib, on arbitrary and on mutated deflate data (Hypothesis)

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

def _raw_deflate(data: bytes, level: int) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


_SEEDS = [_raw_deflate(mixed(40 * K, seed=level), level) for level in (1, 6, 9)]


def _chunk_decoder() -> chunks._ChunkDecoder:
    if not hasattr(_chunk_decoder, "one"):
        _chunk_decoder.one = chunks._ChunkDecoder()     # type: ignore[attr-defined]
    return _chunk_decoder.one                           # type: ignore[attr-defined]


def _zlib_raw(data: bytes) -> tuple[bytes, int] | None:
    """zlib's output and the bytes it used, or None where zlib finds the data invalid or cut."""
    inflater = zlib.decompressobj(-15)
    try:
        out = inflater.decompress(data)
    except zlib.error:
        return None
    if not inflater.eof:
        return None
    return out, len(data) - len(inflater.unused_data)


def _check_against_zlib(data: bytes) -> None:
    """The chunk decoder from bit 0 with nothing before: whatever it accepts to the end of the
    stream, zlib accepts with the same output and the same end; what zlib refuses, it never
    gives as a whole stream."""
    decoder = _chunk_decoder()
    data = data[:chunks.CHUNK + chunks.LOOKAHEAD]
    decoder.load(data)
    status = decoder.decode(0, len(data) * 8 + 8)        # no stop inside: to the end
    expected = _zlib_raw(data)
    if status == chunks.END:
        if decoder.resolve(b"", 0, 1 << 30):
            assert expected is not None, "accepted what zlib refuses"
            assert bytes(decoder.output()) == expected[0]
            assert -(-decoder.stop() // 8) == expected[1]


def test_chunk_decoder_decodes_the_seeds_whole():
    """The property tests below are not vacuous: unmutated, every seed decodes to its end."""
    decoder = _chunk_decoder()
    for seed in _SEEDS:
        decoder.load(seed)
        assert decoder.decode(0, len(seed) * 8 + 8) == chunks.END
        assert decoder.resolve(b"", 0, 1 << 30)
        assert bytes(decoder.output()) == zlib.decompress(seed, -15)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_chunk_decoder_never_accepts_what_zlib_refuses(data):
    _check_against_zlib(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(3)), st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(0, 255)), max_size=4))
def test_chunk_decoder_on_mutated_streams_agrees_with_zlib(seed, edits):
    data = bytearray(_SEEDS[seed])
    for at, value in edits:
        data[at % len(data)] = value
    _check_against_zlib(bytes(data))


# ---- the hand-over: the previous chunk's window given to a running decode (take_handoff)

def _flushed_stream() -> tuple[bytes, bytes, bytes, int]:
    """(raw deflate of text, the text before a sync flush, the text after it, the byte where
    the blocks after the flush start). The text after it copies the same strings again and
    again, so that without the window its chunk stays in 16-bit symbols to its end."""
    text = text_bytes(2 * 1024 * K)
    before, after = text[:256 * K], text[256 * K:2 * 1024 * K]
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    head = compressor.compress(before) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return head + compressor.compress(after) + compressor.flush(), before, after, len(head)


FLUSHED = _flushed_stream()


def _decode_after_flush(hand=None) -> tuple[int, int, bytes]:
    """Decode the stream's blocks after the flush as a chunk, hand(decoder) called first:
    (where the output stopped being 16-bit symbols, the output's length, the output)."""
    blob, before, after, at = FLUSHED
    decoder = _chunk_decoder()
    decoder.load(blob[at:])
    if hand is not None:
        hand(decoder)
    try:
        assert decoder.decode(0, (len(blob) - at) * 8 + 8) == chunks.END
    finally:
        decoder.unhand()
    wide = decoder.runtime.call("wpigz_chunk_wide_end", decoder._c) & 0xFFFFFFFF
    assert decoder.resolve(before[-chunks.WINDOW:], 0, 1 << 30)
    out = bytes(decoder.output())
    return min(wide, len(out)), len(out), out


def test_hand_over_switches_a_chunk_to_bytes_mid_decode():
    blob, before, after, at = FLUSHED
    assert zlib.decompress(blob, -15) == before + after
    # without a hand-over, the chunk is wide to its end (the markers never die out)
    wide, n, out = _decode_after_flush()
    assert (wide, out) == (n, after)
    # handed over the window and the bit where this decode starts: at the first block
    # boundary past 32 KiB of output it goes on in bytes, and the output is the same
    wide, n, out = _decode_after_flush(lambda d: d.hand(0, before[-chunks.WINDOW:]))
    assert out == after
    assert chunks.WINDOW <= wide < n // 4


@pytest.mark.parametrize("bit", [8, 1, chunks.NO_HANDOFF - 1])
def test_hand_over_with_a_wrong_stop_bit_is_not_used(bit):
    """The previous chunk stopped elsewhere than where this decode began: the window is not
    this chunk's, so the decode stays wide (and is checked, or decoded again, as before)."""
    blob, before, after, at = FLUSHED
    wide, n, out = _decode_after_flush(lambda d: d.hand(bit, bytes(chunks.WINDOW)))
    assert (wide, out) == (n, after)


def test_hand_over_from_another_thread_during_the_decode():
    """The window arrives while the decode runs, at a point left to chance: the output is
    the same wherever the switch falls."""
    import threading
    import time
    blob, before, after, at = FLUSHED
    for delay in (0.0, 0.0005, 0.001, 0.002, 0.004):
        def late(decoder, delay=delay):
            def give():
                time.sleep(delay)
                decoder.hand(0, before[-chunks.WINDOW:])
            giver = threading.Thread(target=give)
            giver.start()
            late.giver = giver          # type: ignore[attr-defined]
        wide, n, out = _decode_after_flush(late)
        late.giver.join()               # type: ignore[attr-defined]
        assert out == after
        assert wide <= n


def test_pipeline_hands_windows_over(runtime, small_chunks, monkeypatch):
    """In the pipeline, a chunk whose predecessor has passed when its decode starts gets the
    window at once (each decode here first waits for that, so that it is so for every chunk;
    a hand-over by the predecessor's worker mid-decode depends on timing, and is exercised
    by every other test of this file), and the output is exact."""
    handed = []
    hand, decode = chunks._ChunkDecoder.hand, chunks._decode

    def counting(self, bit, window):
        handed.append(bit)
        hand(self, bit, window)

    def after_the_previous(decoder, chunk, start):
        if chunk.prev is not None:
            chunk.prev.handed.wait()
        return decode(decoder, chunk, start)
    monkeypatch.setattr(chunks._ChunkDecoder, "hand", counting)
    monkeypatch.setattr(chunks, "_decode", after_the_previous)
    data = text_bytes(1536 * K)
    for maker in (["pigz", "-c"], ["gzip", "-c"]):
        blob = made(maker, data)
        before = small_chunks["ok"]
        assert outcome(runtime, blob, max(2, chunks.MIN_THREADS)) == (data, None)
        assert small_chunks["ok"] - before > 3
    # every chunk but each stream's first
    assert len(handed) == small_chunks["ok"] - 2
