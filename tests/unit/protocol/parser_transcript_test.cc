// Every request of the golden transcripts (t1, t2, t4, t5, t8, t10, t17 in
// /work/shared/protocol-transcripts, raw bytes from memcached 1.6.18) whose reply is decided by
// parsing, plus cases probed live on 1.6.18 while writing the parser. Each input lists the
// outcomes the parser must produce, in order; "(noreply) X" is an error memcached suppresses.
// Every input also runs through the chunking checks of parseAll().
#include <string>
#include <vector>

#include "tests/unit/protocol/parse_test_util.h"

namespace mcbridge::protocol::test {
namespace {

struct Case {
  std::string in;
  std::vector<std::string> out;
};

void runCases(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    INFO("input: " << escape(c.in));
    CHECK(parseAll(c.in) == c.out);
  }
}

const std::string k250(250, 'k');
const std::string k251(251, 'k');

TEST_CASE("parser transcripts: t1 storage basics and malformed storage", "[parser][transcript]") {
  runCases({
      {"flush_all\r\n", {"flush_all"}},
      {"set a 0 0 1\r\nx\r\n", {"set key=a bytes=1 data=x"}},
      {"add a 0 0 1\r\ny\r\n", {"add key=a bytes=1 data=y"}},
      {"replace a 7 0 2\r\nzz\r\n", {"replace key=a flags=7 bytes=2 data=zz"}},
      {"get a\r\n", {"get key=a keys=[a] n=1"}},
      {"append a 99 100 2\r\nAP\r\n", {"append key=a flags=99 exptime=100 bytes=2 data=AP"}},
      {"prepend a 99 100 2\r\nPP\r\n", {"prepend key=a flags=99 exptime=100 bytes=2 data=PP"}},
      {"set a 0 0 1 noreply\r\nx\r\n", {"set key=a bytes=1 data=x noreply"}},
      {"set a 0 0 0\r\n\r\n", {"set key=a"}},
      // malformed
      {"set a 0 0\r\n", {"ERROR"}},
      {"set a 0 0 1 noreply extra\r\n", {"ERROR"}},
      {"set a 0 0 1 2 3\r\n", {"ERROR"}},
      {"set\r\n", {"ERROR"}},
      {"set a\r\n", {"ERROR"}},
      {"set a x 0 1\r\nz\r\n", {"CLIENT_ERROR bad command line format", "ERROR"}},
      {"set a 0 x 1\r\nz\r\n", {"CLIENT_ERROR bad command line format", "ERROR"}},
      {"set a 0 0 x\r\nz\r\n", {"CLIENT_ERROR bad command line format", "ERROR"}},
      {"set a -1 0 1\r\nz\r\n", {"CLIENT_ERROR bad command line format", "ERROR"}},
      {"set a 4294967296 0 1\r\nz\r\n", {"set key=a bytes=1 data=z"}},
      {"set a 4294967295 0 1\r\nz\r\n", {"set key=a flags=4294967295 bytes=1 data=z"}},
      {"gets a\r\n", {"gets key=a keys=[a] n=1"}},
  });
}

TEST_CASE("parser transcripts: t2 key length, bad data chunk, negative and huge bytes",
          "[parser][transcript]") {
  runCases({
      {"set a 0 0 1 garbage\r\nz\r\n", {"set key=a bytes=1 data=z"}},
      {"set " + k250 + " 0 0 1\r\nz\r\n", {"set key=" + k250 + " bytes=1 data=z"}},
      {"get " + k250 + "\r\n", {"get key=" + k250 + " keys=[" + k250 + "] n=1"}},
      {"set " + k251 + " 0 0 1\r\nz\r\n", {"CLIENT_ERROR bad command line format", "ERROR"}},
      {"get " + k251 + "\r\n", {"CLIENT_ERROR bad command line format"}},
      {"get a " + k251 + "\r\n", {"CLIENT_ERROR bad command line format"}},
      {"gets " + k251 + "\r\n", {"CLIENT_ERROR bad command line format"}},
      {"delete " + k251 + "\r\n", {"CLIENT_ERROR bad command line format"}},
      {"incr " + k251 + " 1\r\n", {"CLIENT_ERROR bad command line format"}},
      {"touch " + k251 + " 0\r\n", {"CLIENT_ERROR bad command line format"}},
      {"gat 0 " + k251 + "\r\n", {"CLIENT_ERROR bad command line format"}},
      {"add " + k251 + " 0 0 1\r\nz\r\n", {"CLIENT_ERROR bad command line format", "ERROR"}},
      {"cas " + k251 + " 0 0 1 1\r\nz\r\n", {"CLIENT_ERROR bad command line format", "ERROR"}},
      {"append " + k251 + " 0 0 1\r\nz\r\n", {"CLIENT_ERROR bad command line format", "ERROR"}},
      // noreply silences the CLIENT_ERROR, not the ERROR of the data line parsed as a command.
      {"set " + k251 + " 0 0 1 noreply\r\nz\r\n",
       {"(noreply) CLIENT_ERROR bad command line format", "ERROR"}},
      // bad data chunk: exactly <bytes>+2 are taken, the rest is the next command
      {"set a 0 0 1\r\nzz\r\n", {"CLIENT_ERROR bad data chunk", "ERROR"}},
      {"set a 0 0 3\r\nz\r\nget a\r\n", {"CLIENT_ERROR bad data chunk", "ERROR"}},
      {"set a 0 0 3\r\nabcde\r\n", {"CLIENT_ERROR bad data chunk", "ERROR"}},
      {"set a 0 0 3\r\nabc\nget a\r\n", {"CLIENT_ERROR bad data chunk", "ERROR"}},
      {"set a 0 0 3\r\nabcXY", {"CLIENT_ERROR bad data chunk"}},
      {"set a 0 0 3 noreply\r\nabcXY", {"(noreply) CLIENT_ERROR bad data chunk"}},
      // a short value waits for the rest
      {"set a 0 0 3\r\nz\r\n", {"PENDING 16"}},
      {"set a 0 0 3\r\nabc\n", {"PENDING 17"}},
      // negative bytes
      {"set a 0 0 -1\r\nz\r\n", {"CLIENT_ERROR bad command line format", "ERROR"}},
      // too large: answered after the value is swallowed
      {"set a 0 0 2000000\r\n",
       {"set key=a bytes=2000000 too_large swallow=2000002", "PENDING 2000002"}},
      {"set a 0 0 1048576\r\n",
       {"set key=a bytes=1048576 too_large swallow=1048578", "PENDING 1048578"}},
  });
}

TEST_CASE("parser transcripts: t4 tokenizer, empty and unknown lines", "[parser][transcript]") {
  runCases({
      {"get " + k251 + "\r\n", {"CLIENT_ERROR bad command line format"}},
      {"   get " + k251 + "\r\n", {"CLIENT_ERROR bad command line format"}},
      {"\r\n", {"ERROR"}},
      {"\n", {"ERROR"}},
      {" \r\n", {"ERROR"}},
      {"GET a\r\n", {"ERROR"}},
      {"get\r\n", {"ERROR"}},
      {"get \r\n", {"ERROR"}},
      {"gets\r\n", {"ERROR"}},
      {"x\r\n", {"ERROR"}},
      {"foo bar baz\r\n", {"ERROR"}},
      {"GET / HTTP/1.1\r\nversion\r\n", {"CLOSE"}},
      {"get  a   a \r\n", {"get key=a keys=[a   a] n=2"}},
      {"version\n", {"version"}},
      {"version \r\n", {"version"}},
      {"version extra args\r\n", {"version"}},
      {"get a\tb\r\n", {"get key=a\\tb keys=[a\\tb] n=1"}},
      // a get line without its end yet, then the rest of it
      {"get k k k \r\n", {"get key=k keys=[k k k] n=3"}},
  });
}

TEST_CASE("parser transcripts: t5 incr/decr", "[parser][transcript]") {
  runCases({
      {"set n 5 0 3\r\n100\r\n", {"set key=n flags=5 bytes=3 data=100"}},
      {"incr n 1\r\n", {"incr key=n delta=1"}},
      {"decr n 2\r\n", {"decr key=n delta=2"}},
      {"decr n 1000\r\n", {"decr key=n delta=1000"}},
      {"set n 0 0 20\r\n18446744073709551615\r\n",
       {"set key=n bytes=20 data=18446744073709551615"}},
      {"incr n 18446744073709551615\r\n", {"incr key=n delta=18446744073709551615"}},
      {"incr n 18446744073709551616\r\n", {"CLIENT_ERROR invalid numeric delta argument"}},
      {"incr n -1\r\n", {"CLIENT_ERROR invalid numeric delta argument"}},
      {"incr n abc\r\n", {"CLIENT_ERROR invalid numeric delta argument"}},
      {"incr n 1.5\r\n", {"CLIENT_ERROR invalid numeric delta argument"}},
      {"incr n\r\n", {"ERROR"}},
      {"incr n 1 noreply\r\n", {"incr key=n delta=1 noreply"}},
      {"incr n 1 2 3\r\n", {"ERROR"}},
      {"incr missing 1\r\n", {"incr key=missing delta=1"}},
      {"decr missing 1\r\n", {"decr key=missing delta=1"}},
      {"set s 0 0 0\r\n\r\n", {"set key=s"}},
      {"set s 0 0 2\r\n-5\r\n", {"set key=s bytes=2 data=-5"}},
      {"incr s +5\r\n", {"incr key=s delta=5"}},
      {"incr s 0\r\n", {"incr key=s"}},
      {"incr s abc noreply\r\n", {"(noreply) CLIENT_ERROR invalid numeric delta argument"}},
      {"incr s 01\r\n", {"incr key=s delta=1"}},
      {"incr s 1 noreplyx\r\n", {"incr key=s delta=1"}},
  });
}

TEST_CASE("parser transcripts: t8 flush_all, verbosity, misc", "[parser][transcript]") {
  runCases({
      {"flush_all\r\n", {"flush_all"}},
      {"flush_all 0\r\n", {"flush_all has_exptime"}},
      {"flush_all noreply\r\n", {"flush_all noreply"}},
      {"flush_all 0 noreply\r\n", {"flush_all has_exptime noreply"}},
      {"flush_all abc\r\n", {"CLIENT_ERROR invalid exptime argument"}},
      {"flush_all -1\r\n", {"flush_all exptime=-1 has_exptime"}},
      {"flush_all 1 2\r\n", {"flush_all exptime=1 has_exptime"}},
      {"flush_all 1 2 3\r\n", {"ERROR"}},
      {"flush_all noreply noreply\r\n", {"(noreply) CLIENT_ERROR invalid exptime argument"}},
      {"flush_all 10 noreply extra\r\n", {"ERROR"}},
      {"flush_all 2\r\n", {"flush_all exptime=2 has_exptime"}},
      {"flush_all -5\r\n", {"flush_all exptime=-5 has_exptime"}},
      {"verbosity 1\r\n", {"verbosity number=1"}},
      {"verbosity 0\r\n", {"verbosity"}},
      {"verbosity\r\n", {"ERROR"}},
      {"verbosity abc\r\n", {"CLIENT_ERROR bad command line format"}},
      {"verbosity 1 noreply\r\n", {"verbosity number=1 noreply"}},
      {"verbosity 1 2\r\n", {"verbosity number=1"}},
      {"verbosity 1 2 3\r\n", {"ERROR"}},
      {"verbosity 100\r\n", {"verbosity number=100"}},
      {"verbosity -1\r\n", {"CLIENT_ERROR bad command line format"}},
      {"cache_memlimit 64\r\n", {"cache_memlimit number=64"}},
      {"cache_memlimit 4\r\n", {"MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m"}},
      {"cache_memlimit abc\r\n", {"ERROR"}},
      {"cache_memlimit\r\n", {"ERROR"}},
      {"cache_memlimit 64 noreply\r\n", {"cache_memlimit number=64 noreply"}},
      {"cache_memlimit 2000000000\r\n",
       {"MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes"}},
      {"cache_memlimit 64 1 2\r\n", {"ERROR"}},
      {"shutdown\r\n", {"shutdown"}},
      {"shutdown graceful\r\n", {"shutdown"}},
      {"shutdown foo\r\n", {"shutdown"}},
      {"misbehave\r\n", {"ERROR"}},
      {"bget a\r\n", {"get key=a keys=[a] n=1"}},
      {"debugtime 1\r\n", {"ERROR"}},
      // meta commands are not implemented yet: ERROR like any unknown verb
      {"mx\r\n", {"ERROR"}},
      {"m\r\n", {"ERROR"}},
      {"MN\r\n", {"ERROR"}},
      {"quit\r\n", {"quit"}},
      {"get a\r\nquit\r\nversion\r\n", {"get key=a keys=[a] n=1", "quit", "version"}},
      {"quit extra\r\n", {"quit"}},
  });
}

TEST_CASE("parser transcripts: t10 classic malformed input (1.6.18 column)",
          "[parser][transcript]") {
  runCases({
      {"set a 0 0\r\n", {"ERROR"}},
      {"set a 0 0 1 noreply extra\r\n", {"ERROR"}},
      {"set a 0 0 1 2 3\r\n", {"ERROR"}},
      {"set a 0 0 4294967297\r\nz\r\n", {"CLIENT_ERROR bad command line format", "ERROR"}},
      {"cas c 9 0 1\r\nz\r\n", {"ERROR", "ERROR"}},
      {"touch e0\r\n", {"ERROR"}},
      {"touch e0 1 2 3\r\n", {"ERROR"}},
      {"delete d 0\r\n", {"delete key=d"}},
      {"delete d 10\r\n", {"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"}},
      {"delete d 0 noreply\r\n", {"delete key=d noreply"}},
      {"delete\r\n", {"ERROR"}},
      {"delete d 0 noreply x\r\n", {"ERROR"}},
      {"gat\r\n", {"ERROR"}},
      {"gat 10\r\n", {"gat exptime=10"}},
      {"gat abc k\r\n", {"CLIENT_ERROR invalid exptime argument"}},
      {"stats foo\r\n", {"stats args=[foo]"}},
      {"stats detail\r\n", {"stats args=[detail]"}},
      {"mn extra\r\n", {"mn"}},  // memcached: MN (extra words ignored)
  });
}

TEST_CASE("parser transcripts: t17 key bytes, bare LF, NUL", "[parser][transcript]") {
  runCases({
      {"set a\tb 0 0 1\r\nx\r\n", {"set key=a\\tb bytes=1 data=x"}},
      {"set \x01\x7f\xc3\xa9 0 0 1\r\nx\r\n", {"set key=\\x01\\x7f\\xc3\\xa9 bytes=1 data=x"}},
      {"set a\rb 0 0 1\r\nx\r\n", {"set key=a\\rb bytes=1 data=x"}},
      {"get a\rb\r\n", {"get key=a\\rb keys=[a\\rb] n=1"}},
      {"set k 0 0 1\nx\r\n", {"set key=k bytes=1 data=x"}},
      {"get k\n", {"get key=k keys=[k] n=1"}},
      {"set k 0 0 1\r\nx\nget k\r\n", {"CLIENT_ERROR bad data chunk", "ERROR"}},
      {"set a 0 0 1 noreply\r\nzz\r\n", {"(noreply) CLIENT_ERROR bad data chunk", "ERROR"}},
      {"set a 0 0 1 noreply\r\nzzz\r\n", {"(noreply) CLIENT_ERROR bad data chunk", "ERROR"}},
      {"get k\0x\r\n"s, {"get key=k keys=[k] n=1"}},
      {"set n\0ul 0 0 1\r\nx\r\n"s, {"ERROR", "ERROR"}},
  });
}

// Probed on memcached 1.6.18 while writing the parser (not in the transcripts).
TEST_CASE("parser transcripts: live probes of 1.6.18", "[parser][transcript]") {
  runCases({
      {"bget\r\n", {"ERROR"}},
      {"bget \r\n", {"ERROR"}},
      {"bget HTTP/1.1\r\n", {"get key=HTTP/1.1 keys=[HTTP/1.1] n=1"}},
      // HTTP probe: only verbs that reach the end of memcached's dispatch
      {"x HTTP/1.1\r\n", {"ERROR"}},
      {"foo HTTP/1.1\r\n", {"CLOSE"}},
      {"HTTP/1.1\r\n", {"CLOSE"}},
      {"foo bar HTTP/1.1 x\r\n", {"ERROR"}},
      {"xx HTTP/\r\n", {"CLOSE"}},
      {"xx HTTP\r\n", {"ERROR"}},
      {"xx http/1.1\r\n", {"ERROR"}},
      {"gx HTTP/1.1\r\n", {"ERROR"}},
      {"sx HTTP/1.1\r\n", {"ERROR"}},
      {"ax HTTP/1.1\r\n", {"ERROR"}},
      {"cx HTTP/1.1\r\n", {"ERROR"}},
      {"ix HTTP/1.1\r\n", {"ERROR"}},
      {"dx HTTP/1.1\r\n", {"ERROR"}},
      {"tx HTTP/1.1\r\n", {"ERROR"}},
      {"mx HTTP/1.1\r\n", {"ERROR"}},
      {"mxx HTTP/1.1\r\n", {"CLOSE"}},
      {"bx HTTP/1.1\r\n", {"CLOSE"}},
      {"POST / HTTP/1.0\r\n", {"CLOSE"}},
      {"set HTTP/1.1\r\n", {"ERROR"}},
      {"stats HTTP/1.1\r\n", {"stats args=[HTTP/1.1]"}},
      {"version HTTP/1.1\r\n", {"version"}},
      {"quit HTTP/1.1\r\n", {"quit"}},
      {"lru HTTP/1.1\r\n", {"ERROR"}},
      {"lru_crawler HTTP/1.1\r\n", {"ERROR"}},
      {"watch HTTP/1.1\r\n", {"ERROR"}},
      {"extstore HTTP/1.1\r\n", {"ERROR"}},
      {"misbehave HTTP/1.1\r\n", {"CLOSE"}},
      {"flush_all HTTP/1.1\r\n", {"CLIENT_ERROR invalid exptime argument"}},
      {"verbosity HTTP/1.1\r\n", {"CLIENT_ERROR bad command line format"}},
      // the 23rd word stands for the last one on longer lines
      {"foo a a a a a a a a a a a a a a a a a a a a a HTTP/1.1 b c\r\n", {"CLOSE"}},
      {"foo a a a a a a a a a a a a a a a a a a a a HTTP/1.1 b c\r\n", {"ERROR"}},
      {"foo a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a HTTP/1.1\r\n", {"ERROR"}},
      // numbers: strtol/strtoul semantics
      {"set a 0 0 1\tfoo\r\nz\r\n", {"set key=a bytes=1 data=z"}},
      {"set a \t5 0 1\r\nz\r\n", {"set key=a flags=5 bytes=1 data=z"}},
      {"set a -0 0 1\r\nz\r\n", {"set key=a bytes=1 data=z"}},
      {"set a -18446744073709551615 0 1\r\nz\r\n", {"set key=a flags=1 bytes=1 data=z"}},
      {"set a 18446744073709551615 0 1\r\nz\r\n", {"set key=a flags=4294967295 bytes=1 data=z"}},
      {"set a 18446744073709551616 0 1\r\nz\r\n",
       {"CLIENT_ERROR bad command line format", "ERROR"}},
      {"set a +5 0 1\r\nz\r\n", {"set key=a flags=5 bytes=1 data=z"}},
      {"set a 0 0 +1\r\nz\r\n", {"set key=a bytes=1 data=z"}},
      {"set a 0 0 01\r\nz\r\n", {"set key=a bytes=1 data=z"}},
      {"set a 0 0 1\x0b\r\nz\r\n", {"set key=a bytes=1 data=z"}},
      {"set a 0 0 noreply\r\nz\r\n", {"(noreply) CLIENT_ERROR bad command line format", "ERROR"}},
      {"set a 0 0 1 noreply\r\n", {"PENDING 21"}},
      // delete's legacy hold time
      {"delete k noreply 0\r\n",
       {"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"}},
      {"delete k 0 0\r\n",
       {"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"}},
      {"delete k 10 noreply\r\n",
       {"(noreply) CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"}},
      {"delete k noreply\r\n", {"delete key=k noreply"}},
      {"delete k noreply noreply\r\n",
       {"(noreply) CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"}},
      {"delete " + k251 + " 10\r\n",
       {"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"}},
      {"delete " + k251 + " 0\r\n", {"CLIENT_ERROR bad command line format"}},
      // cache_memlimit
      {"cache_memlimit 64 1\r\n", {"cache_memlimit number=64"}},
      {"cache_memlimit abc noreply\r\n", {"(noreply) ERROR"}},
      {"cache_memlimit 4294967304\r\n", {"cache_memlimit number=8"}},
      {"cache_memlimit 7 noreply\r\n",
       {"(noreply) MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m"}},
      {"cache_memlimit 8\r\n", {"cache_memlimit number=8"}},
      {"cache_memlimit 1000000000\r\n", {"cache_memlimit number=1000000000"}},
      {"cache_memlimit 1000000001\r\n",
       {"MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes"}},
      {"cache_memlimit -1\r\n", {"ERROR"}},
      {"shutdown a b c d e f\r\n", {"shutdown"}},
      {"verbosity noreply\r\n", {"(noreply) CLIENT_ERROR bad command line format"}},
      {"verbosity -0\r\n", {"verbosity"}},
      {"incr n 1\t\r\n", {"incr key=n delta=1"}},
      {"incr n\t1\r\n", {"ERROR"}},
      {"touch k\t5\r\n", {"ERROR"}},
      {"touch k 99999999999999999999\r\n", {"CLIENT_ERROR invalid exptime argument"}},
      {"touch k 9999999999\r\n", {"touch key=k exptime=1410065407"}},
      {"incr k 99999999999999999999\r\n", {"CLIENT_ERROR invalid numeric delta argument"}},
      {"get a\r\r\n", {"get key=a\\r keys=[a\\r] n=1"}},
      {"stats  detail   \r\n", {"stats args=[detail]"}},
      {"gat 10 \r\n", {"gat exptime=10"}},
      {"gats 10\r\n", {"gats exptime=10"}},
      {"gat -\r\n", {"CLIENT_ERROR invalid exptime argument"}},
      {"gat 99999999999999999999 k\r\n", {"CLIENT_ERROR invalid exptime argument"}},
      {"flush_all noreply 5\r\n", {"CLIENT_ERROR invalid exptime argument"}},
      {"flush_all 5 5\r\n", {"flush_all exptime=5 has_exptime"}},
      {"flush_all -\r\n", {"CLIENT_ERROR invalid exptime argument"}},
      {"version\0 foo\r\n"s, {"version"}},
      {"\0\r\n"s, {"ERROR"}},
      {"g\r\n", {"ERROR"}},
      {"gx a\r\n", {"ERROR"}},
      {"quit\0\r\n"s, {"quit"}},
      {"  get k\r\n", {"get key=k keys=[k] n=1"}},
  });
}

}  // namespace
}  // namespace mcbridge::protocol::test
