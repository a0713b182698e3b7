"""Raw-socket integration tests against mcbridge + a real redis-server (exact reply bytes).

Every test gets an emptied Redis (fixture `mc`) and one raw connection to the session
mcbridge."""

import struct
import subprocess
import time

import pytest

import servers
from servers import RawConn, resp

HEADER_MAGIC = b"\xfb\x01"


def parse_envelope(raw: bytes):
    """Split a stored Redis value into (flags, cas, data); asserts the 14-byte header."""
    assert raw is not None, "key missing in Redis"
    assert len(raw) >= 14, f"stored value shorter than the 14-byte header: {raw!r}"
    assert raw[:2] == HEADER_MAGIC, f"bad header marker/version: {raw[:2]!r}"
    flags, cas = struct.unpack(">IQ", raw[2:14])
    return flags, cas, raw[14:]


def gets_cas(c: RawConn, key: bytes) -> int:
    c.send(b"gets " + key + b"\r\n")
    r = c.read_get_reply()
    assert r.startswith(b"VALUE "), r
    return int(r.split(b"\r\n")[0].split()[4])


# ---------------------------------------------------------------- acceptance case

def test_acceptance_set_get_and_redis_envelope(mc, redis_srv):
    mc.send(b"set k 123 0 5\r\nhello\r\nget k\r\n")
    assert mc.read_until(b"\r\n", 4) == b"STORED\r\nVALUE k 123 5\r\nhello\r\nEND\r\n"
    raw = resp(redis_srv.port, "GET", "k")
    assert len(raw) == 14 + 5
    flags, cas, data = parse_envelope(raw)
    assert flags == 123
    assert cas != 0
    assert data == b"hello"
    # gets exposes the same CAS token that is stored in the header
    assert gets_cas(mc, b"k") == cas


def test_acceptance_redis_cli_view(mc, redis_srv):
    mc.send(b"set k 123 0 5\r\nhello\r\n")
    assert mc.read_line() == b"STORED\r\n"
    out = subprocess.run(["redis-cli", "-p", str(redis_srv.port), "--no-raw", "GET", "k"],
                         capture_output=True, timeout=10, check=True).stdout
    # redis-cli --no-raw prints a quoted string with \x escapes: "\xfb\x01\x00\x00\x00{...hello"
    text = out.decode().strip()
    assert text.startswith('"\\xfb\\x01\\x00\\x00\\x00{'), text
    assert text.endswith('hello"'), text


def test_every_write_gets_a_fresh_nonzero_cas(mc, redis_srv):
    seen = set()
    for cmd in [b"set k 1 0 1\r\na\r\n", b"set k 1 0 1\r\nb\r\n", b"append k 0 0 1\r\nc\r\n",
                b"prepend k 0 0 1\r\nd\r\n", b"replace k 2 0 1\r\n5\r\n", b"incr k 1\r\n",
                b"decr k 1\r\n"]:
        mc.send(cmd)
        mc.read_line()
        flags, cas, _ = parse_envelope(resp(redis_srv.port, "GET", "k"))
        assert cas != 0 and cas not in seen
        seen.add(cas)
    assert flags == 2


def test_touch_and_get_do_not_change_cas(mc, redis_srv):
    mc.send(b"set k 0 0 1\r\nx\r\n")
    assert mc.read_line() == b"STORED\r\n"
    c1 = gets_cas(mc, b"k")
    mc.send(b"touch k 100\r\n")
    assert mc.read_line() == b"TOUCHED\r\n"
    mc.send(b"gat 200 k\r\n")
    assert mc.read_get_reply() == b"VALUE k 0 1\r\nx\r\nEND\r\n"
    assert gets_cas(mc, b"k") == c1
    assert parse_envelope(resp(redis_srv.port, "GET", "k"))[1] == c1


# ---------------------------------------------------------------- pipelining

def test_pipelined_replies_in_order(mc):
    req = b"".join([
        b"set a 1 0 1\r\nA\r\n",
        b"get a\r\n",
        b"add a 0 0 1\r\nX\r\n",
        b"get missing\r\n",
        b"set n 0 0 2\r\n10\r\n",
        b"incr n 5\r\n",
        b"delete a\r\n",
        b"delete a\r\n",
        b"get a n\r\n",
        b"version\r\n",
    ])
    expected = (b"STORED\r\nVALUE a 1 1\r\nA\r\nEND\r\nNOT_STORED\r\nEND\r\nSTORED\r\n15\r\n"
                b"DELETED\r\nNOT_FOUND\r\nVALUE n 0 2\r\n15\r\nEND\r\nVERSION 1.6.18\r\n")
    mc.send(req)
    assert mc.read_until(b"VERSION 1.6.18\r\n") == expected


def test_pipelined_many_sets_then_gets(mc):
    n = 500
    mc.send(b"".join(b"set key%d %d 0 %d\r\n%s\r\n" % (i, i, len(str(i)), str(i).encode())
                     for i in range(n)))
    assert mc.read_until(b"\r\n", n, timeout=20) == b"STORED\r\n" * n
    mc.send(b"".join(b"get key%d\r\n" % i for i in range(n)))
    expected = b"".join(b"VALUE key%d %d %d\r\n%d\r\nEND\r\n" % (i, i, len(str(i)), i)
                        for i in range(n))
    assert mc.read_until(b"END\r\n", n, timeout=20) == expected


def test_byte_by_byte_request(mc):
    data = b"set slow 5 0 3\r\nabc\r\nget slow\r\n"
    mc.send_split(data, list(range(1, len(data))), gap=0.001)
    assert mc.read_until(b"END\r\n") == b"STORED\r\nVALUE slow 5 3\r\nabc\r\nEND\r\n"


# ---------------------------------------------------------------- large / binary values

@pytest.mark.parametrize("size", [500 * 1024, 1024 * 1024 - 100])
def test_large_value_round_trip(mc, redis_srv, size):
    value = bytes((i * 7 + 3) & 0xFF for i in range(size))
    mc.send(b"set big 9 0 %d\r\n" % size + value + b"\r\n")
    assert mc.read_line(timeout=20) == b"STORED\r\n"
    mc.send(b"get big\r\n")
    assert mc.read_get_reply(timeout=20) == b"VALUE big 9 %d\r\n" % size + value + b"\r\nEND\r\n"
    flags, _, data = parse_envelope(resp(redis_srv.port, "GET", "big"))
    assert flags == 9 and data == value


def test_too_large_value_is_swallowed_and_old_value_deleted(mc, redis_srv):
    mc.send(b"set big 0 0 3\r\nold\r\n")
    assert mc.read_line() == b"STORED\r\n"
    mc.send(b"set big 0 0 1048576\r\n" + b"x" * 1048576 + b"\r\nget big\r\nversion\r\n")
    assert mc.read_until(b"VERSION 1.6.18\r\n", timeout=20) == \
        b"SERVER_ERROR object too large for cache\r\nEND\r\nVERSION 1.6.18\r\n"
    assert resp(redis_srv.port, "EXISTS", "big") == 0


def test_binary_data_with_crlf_and_nul(mc, redis_srv):
    value = b"\r\n\x00ab\r\n\x00\r\nEND\r\n\xff\xfb\x01"
    mc.send(b"set bin 0 0 %d\r\n" % len(value) + value + b"\r\nget bin\r\n")
    assert mc.read_until(b"\r\nEND\r\n", 2) == \
        b"STORED\r\nVALUE bin 0 %d\r\n" % len(value) + value + b"\r\nEND\r\n"
    assert parse_envelope(resp(redis_srv.port, "GET", "bin"))[2] == value


def test_zero_length_value(mc):
    mc.send(b"set z 0 0 0\r\n\r\nget z\r\n")
    assert mc.read_until(b"END\r\n") == b"STORED\r\nVALUE z 0 0\r\n\r\nEND\r\n"


# ---------------------------------------------------------------- noreply

NOREPLY_CASES = [
    # (setup, noreply command, check request, expected check reply)
    (b"", b"set k 1 0 1 noreply\r\na\r\n", b"get k\r\n", b"VALUE k 1 1\r\na\r\nEND\r\n"),
    (b"", b"add k 2 0 1 noreply\r\nb\r\n", b"get k\r\n", b"VALUE k 2 1\r\nb\r\nEND\r\n"),
    (b"set k 0 0 1\r\na\r\n", b"add k 2 0 1 noreply\r\nb\r\n", b"get k\r\n",
     b"VALUE k 0 1\r\na\r\nEND\r\n"),
    (b"set k 0 0 1\r\na\r\n", b"replace k 3 0 1 noreply\r\nc\r\n", b"get k\r\n",
     b"VALUE k 3 1\r\nc\r\nEND\r\n"),
    (b"", b"replace k 3 0 1 noreply\r\nc\r\n", b"get k\r\n", b"END\r\n"),
    (b"set k 4 0 1\r\na\r\n", b"append k 0 0 2 noreply\r\nzz\r\n", b"get k\r\n",
     b"VALUE k 4 3\r\nazz\r\nEND\r\n"),
    (b"set k 4 0 1\r\na\r\n", b"prepend k 0 0 2 noreply\r\nzz\r\n", b"get k\r\n",
     b"VALUE k 4 3\r\nzza\r\nEND\r\n"),
    (b"set k 0 0 1\r\na\r\n", b"delete k noreply\r\n", b"get k\r\n", b"END\r\n"),
    (b"", b"delete k noreply\r\n", b"get k\r\n", b"END\r\n"),
    (b"set k 0 0 1\r\na\r\n", b"delete k 0 noreply\r\n", b"get k\r\n", b"END\r\n"),
    (b"set k 0 0 2\r\n10\r\n", b"incr k 5 noreply\r\n", b"get k\r\n",
     b"VALUE k 0 2\r\n15\r\nEND\r\n"),
    (b"set k 0 0 2\r\n10\r\n", b"decr k 3 noreply\r\n", b"incr k 0\r\n", b"7\r\n"),
    (b"", b"incr k 5 noreply\r\n", b"get k\r\n", b"END\r\n"),
    (b"set k 0 0 1\r\na\r\n", b"incr k 5 noreply\r\n", b"get k\r\n",
     b"VALUE k 0 1\r\na\r\nEND\r\n"),
    (b"set k 0 0 1\r\na\r\n", b"incr k abc noreply\r\n", b"get k\r\n",
     b"VALUE k 0 1\r\na\r\nEND\r\n"),
    (b"set k 0 0 1\r\na\r\n", b"touch k -1 noreply\r\n", b"get k\r\n", b"END\r\n"),
    (b"", b"touch k 10 noreply\r\n", b"get k\r\n", b"END\r\n"),
    (b"set k 0 0 1\r\na\r\n", b"flush_all noreply\r\n", b"get k\r\n", b"END\r\n"),
    (b"set k 0 0 1\r\na\r\n", b"flush_all 0 noreply\r\n", b"get k\r\n", b"END\r\n"),
    (b"", b"verbosity 1 noreply\r\n", b"version\r\n", b"VERSION 1.6.18\r\n"),
    (b"set k 0 0 1\r\na\r\n", b"set k 0 0 3 noreply\r\nabcXY", b"get k\r\n",
     b"VALUE k 0 1\r\na\r\nEND\r\n"),   # bad data chunk under noreply: error hidden
    (b"set k 0 0 1\r\na\r\n", b"set k 0 0 2000000 noreply\r\n" + b"x" * 2000000 + b"\r\n",
     b"get k\r\n", b"END\r\n"),
]


@pytest.mark.parametrize("setup,cmd,check,expected", NOREPLY_CASES,
                         ids=[c[1][:40].decode("latin1") for c in NOREPLY_CASES])
def test_noreply_sends_nothing(mc, setup, cmd, check, expected):
    if setup:
        mc.send(setup)
        assert mc.read_line() in (b"STORED\r\n",)
    mc.send(cmd)
    # nothing at all may come back for a noreply command
    assert mc.read_idle(idle=0.3, cap=3.0 if len(cmd) < 100000 else 10.0) == b"", cmd[:60]
    mc.send(check)
    assert mc.read_idle(idle=0.2, min_bytes=len(expected)) == expected


def test_noreply_cas_flows(mc):
    mc.send(b"set k 0 0 1\r\na\r\n")
    assert mc.read_line() == b"STORED\r\n"
    cas = gets_cas(mc, b"k")
    mc.send(b"cas k 7 0 1 %d noreply\r\nb\r\n" % (cas + 1))   # mismatch -> EXISTS hidden
    mc.send(b"cas k 7 0 1 %d noreply\r\nc\r\n" % cas)         # match -> STORED hidden
    mc.send(b"cas nokey 7 0 1 %d noreply\r\nc\r\n" % cas)     # NOT_FOUND hidden
    mc.send(b"get k\r\n")
    assert mc.read_get_reply() == b"VALUE k 7 1\r\nc\r\nEND\r\n"
    assert mc.read_idle(idle=0.2) == b""


def test_noreply_interleaved_stream_stays_in_sync(mc):
    parts, expected = [], b""
    for i in range(100):
        parts.append(b"set k%d %d 0 2 noreply\r\nv%d\r\n" % (i, i, i % 10))
        parts.append(b"get k%d\r\n" % i)
        expected += b"VALUE k%d %d 2\r\nv%d\r\nEND\r\n" % (i, i, i % 10)
        parts.append(b"delete k%d noreply\r\n" % i)
        parts.append(b"incr k%d 1 noreply\r\n" % i)
        parts.append(b"get k%d\r\n" % i)
        expected += b"END\r\n"
    mc.send(b"".join(parts))
    assert mc.read_until(b"END\r\n", 200, timeout=20) == expected
    assert mc.read_idle(idle=0.2) == b""


# ---------------------------------------------------------------- exptime

def test_exptime_zero_never_expires(mc, redis_srv):
    mc.send(b"set k 0 0 1\r\nx\r\nget k\r\n")
    assert mc.read_until(b"END\r\n") == b"STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\n"
    assert resp(redis_srv.port, "TTL", "k") == -1


def test_exptime_relative(mc, redis_srv):
    mc.send(b"set k 0 100 1\r\nx\r\nget k\r\n")
    assert mc.read_until(b"END\r\n") == b"STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\n"
    assert 90_000 < resp(redis_srv.port, "PTTL", "k") <= 100_000


def test_exptime_thirty_days_is_still_relative(mc, redis_srv):
    mc.send(b"set k 0 2592000 1\r\nx\r\nget k\r\n")
    assert mc.read_until(b"END\r\n") == b"STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\n"
    assert 2592000 - 10 < resp(redis_srv.port, "TTL", "k") <= 2592000


def test_exptime_absolute(mc, redis_srv):
    now = int(time.time())
    mc.send(b"set fut 0 %d 1\r\nx\r\nget fut\r\n" % (now + 100))
    assert mc.read_until(b"END\r\n") == b"STORED\r\nVALUE fut 0 1\r\nx\r\nEND\r\n"
    assert 90 <= resp(redis_srv.port, "TTL", "fut") <= 101
    mc.send(b"set past 0 %d 1\r\nx\r\nget past\r\n" % (now - 100))
    assert mc.read_until(b"END\r\n") == b"STORED\r\nEND\r\n"
    mc.send(b"set d30 0 2592001 1\r\nx\r\nget d30\r\n")      # absolute 1970 -> expired
    assert mc.read_until(b"END\r\n") == b"STORED\r\nEND\r\n"


@pytest.mark.parametrize("exptime", [b"-1", b"-100", b"-2147483648"])
def test_exptime_negative_stored_then_missing(mc, exptime):
    mc.send(b"set k 0 0 1\r\no\r\n")
    assert mc.read_line() == b"STORED\r\n"
    mc.send(b"set k 0 " + exptime + b" 1\r\nx\r\nget k\r\n")
    assert mc.read_until(b"END\r\n") == b"STORED\r\nEND\r\n"
    mc.send(b"add k 0 0 1\r\ny\r\nget k\r\n")   # expired counts as missing
    assert mc.read_until(b"END\r\n") == b"STORED\r\nVALUE k 0 1\r\ny\r\nEND\r\n"


def test_ttl_expires_after_sleep(mc):
    mc.send(b"set t2 0 2 1\r\nx\r\nset t0 0 0 1\r\ny\r\nset tl 0 100 1\r\nz\r\n"
            b"get t2 t0 tl\r\n")
    assert mc.read_until(b"END\r\n") == (b"STORED\r\nSTORED\r\nSTORED\r\nVALUE t2 0 1\r\nx\r\n"
                                         b"VALUE t0 0 1\r\ny\r\nVALUE tl 0 1\r\nz\r\nEND\r\n")
    time.sleep(3.1)
    mc.send(b"get t2 t0 tl\r\n")
    assert mc.read_get_reply() == b"VALUE t0 0 1\r\ny\r\nVALUE tl 0 1\r\nz\r\nEND\r\n"
    mc.send(b"add t2 0 0 1\r\nn\r\n")
    assert mc.read_line() == b"STORED\r\n"


def test_touch_changes_expiry(mc, redis_srv):
    mc.send(b"set k 0 100 1\r\nx\r\ntouch k 0\r\n")
    assert mc.read_until(b"\r\n", 2) == b"STORED\r\nTOUCHED\r\n"
    assert resp(redis_srv.port, "TTL", "k") == -1
    mc.send(b"touch k 50\r\n")
    assert mc.read_line() == b"TOUCHED\r\n"
    assert 40 < resp(redis_srv.port, "TTL", "k") <= 50


def test_append_incr_keep_ttl_and_flags(mc, redis_srv):
    mc.send(b"set k 42 100 1\r\n1\r\nappend k 7 0 1\r\n2\r\nincr k 1\r\nget k\r\n")
    assert mc.read_until(b"END\r\n") == b"STORED\r\nSTORED\r\n13\r\nVALUE k 42 2\r\n13\r\nEND\r\n"
    assert 90 < resp(redis_srv.port, "TTL", "k") <= 100


# ---------------------------------------------------------------- multi-get

def test_multiget_many_keys_in_order(mc):
    n = 400
    mc.send(b"".join(b"set mk%d %d 0 %d\r\n%s\r\n" % (i, i * 3, len(b"val%d" % i), b"val%d" % i)
                     for i in range(0, n, 2)))   # only even keys exist
    assert mc.read_until(b"\r\n", n // 2, timeout=20) == b"STORED\r\n" * (n // 2)
    keys = [b"mk%d" % i for i in range(n)] + [b"mk0", b"mk2", b"mk0"]
    mc.send(b"get " + b" ".join(keys) + b"\r\n")
    exp = b""
    for k in keys:
        i = int(k[2:])
        if i % 2 == 0:
            exp += b"VALUE %s %d %d\r\nval%d\r\n" % (k, i * 3, len(b"val%d" % i), i)
    assert mc.read_get_reply(timeout=20) == exp + b"END\r\n"


def test_multigets_repeated_and_missing(mc):
    mc.send(b"set a 1 0 1\r\n1\r\nset b 2 0 1\r\n2\r\n")
    assert mc.read_until(b"\r\n", 2) == b"STORED\r\nSTORED\r\n"
    mc.send(b"gets a x b a x\r\n")
    r = mc.read_get_reply()
    lines = r.split(b"\r\n")
    assert [ln.split()[:4] for ln in lines if ln.startswith(b"VALUE")] == \
        [[b"VALUE", b"a", b"1", b"1"], [b"VALUE", b"b", b"2", b"1"], [b"VALUE", b"a", b"1", b"1"]]
    cas = [ln.split()[4] for ln in lines if ln.startswith(b"VALUE")]
    assert cas[0] == cas[2] and cas[0] != cas[1]
    assert r.endswith(b"END\r\n")


# ---------------------------------------------------------------- foreign values in Redis

def test_foreign_value_reads_as_flags_zero(mc, redis_srv):
    assert resp(redis_srv.port, "SET", "fk", "v") == b"OK"
    assert resp(redis_srv.port, "SET", "fk2", b"plain text\r\nwith lines") == b"OK"
    mc.send(b"get fk fk2\r\n")
    assert mc.read_get_reply() == (b"VALUE fk 0 1\r\nv\r\n"
                                   b"VALUE fk2 0 22\r\nplain text\r\nwith lines\r\nEND\r\n")
    # gets / cas work on it too
    cas = gets_cas(mc, b"fk")
    assert cas != 0
    assert gets_cas(mc, b"fk") == cas           # derived from content: stable
    mc.send(b"cas fk 0 0 1 %d\r\nw\r\n" % (cas + 1))
    assert mc.read_line() == b"EXISTS\r\n"
    mc.send(b"cas fk 5 0 1 %d\r\nw\r\nget fk\r\n" % cas)
    assert mc.read_until(b"END\r\n") == b"STORED\r\nVALUE fk 5 1\r\nw\r\nEND\r\n"
    flags, _, data = parse_envelope(resp(redis_srv.port, "GET", "fk"))
    assert (flags, data) == (5, b"w")


def test_foreign_redis_counter_incrementable(mc, redis_srv):
    assert resp(redis_srv.port, "INCRBY", "ctr", 41) == 41
    mc.send(b"incr ctr 1\r\nget ctr\r\n")
    assert mc.read_until(b"END\r\n") == b"42\r\nVALUE ctr 0 2\r\n42\r\nEND\r\n"


def test_foreign_value_append(mc, redis_srv):
    resp(redis_srv.port, "SET", "fa", "abc")
    mc.send(b"append fa 0 0 2\r\nde\r\nget fa\r\n")
    assert mc.read_until(b"END\r\n") == b"STORED\r\nVALUE fa 0 5\r\nabcde\r\nEND\r\n"


# ---------------------------------------------------------------- misc commands

def test_version_reply(mc):
    assert mc.request(b"version\r\n") == b"VERSION 1.6.18\r\n"


def test_delete_and_flush_all_reach_redis(mc, redis_srv):
    mc.send(b"set a 0 0 1\r\n1\r\nset b 0 0 1\r\n2\r\ndelete a\r\n")
    assert mc.read_until(b"\r\n", 3) == b"STORED\r\nSTORED\r\nDELETED\r\n"
    assert resp(redis_srv.port, "EXISTS", "a") == 0
    assert resp(redis_srv.port, "EXISTS", "b") == 1
    assert mc.request(b"flush_all\r\n") == b"OK\r\n"
    assert resp(redis_srv.port, "DBSIZE") == 0


def test_quit_closes_after_flushing(mc):
    mc.send(b"set q 0 0 1\r\nx\r\nget q\r\nquit\r\nversion\r\n")
    assert mc.read_idle(idle=0.3) == b"STORED\r\nVALUE q 0 1\r\nx\r\nEND\r\n"
    assert mc.wait_closed(2.0) in ("EOF", "RST")


def test_stats_basic_shape(mc):
    mc.send(b"set s 0 0 1\r\nx\r\nget s\r\nget nope\r\n")
    mc.read_until(b"END\r\n", 2)
    mc.send(b"stats\r\n")
    r = mc.read_until(b"END\r\n")
    lines = r.split(b"\r\n")[:-2]
    assert all(ln.startswith(b"STAT ") and len(ln.split(b" ")) == 3 for ln in lines), r
    stats = {ln.split(b" ")[1]: ln.split(b" ")[2] for ln in lines}
    for name in [b"pid", b"uptime", b"time", b"version", b"curr_connections",
                 b"total_connections", b"cmd_get", b"cmd_set", b"get_hits", b"get_misses"]:
        assert name in stats, name
    assert stats[b"version"] == b"1.6.18"
    assert int(stats[b"get_hits"]) >= 1 and int(stats[b"get_misses"]) >= 1
    assert int(stats[b"cmd_get"]) >= int(stats[b"get_hits"]) + 1


def test_binary_protocol_probe_does_not_hang(mc):
    """A connection whose first byte is 0x80 speaks the binary protocol (memcached
    auto-negotiates). PROTOCOL.md §6.11: a text-only proxy may close such connections -
    but it must not leave the client waiting for a reply that never comes."""
    # binary "version" request: magic 0x80, opcode 0x0b, no key/extras/body
    mc.send(bytes([0x80, 0x0B]) + bytes(22))
    got = mc.read_idle(idle=2.0, cap=3.0)
    if got:
        assert got[:2] == b"\x81\x0b" and got.endswith(b"1.6.18"), got
    else:
        assert mc.closed in ("EOF", "RST"), "no binary reply and the connection stays open"
