// Meta commands (mg/ms/md/ma/mn/me): byte literals, each fed whole and at every split point.
// Expected errors are memcached 1.6.18's (checked against the binary).
#include <catch2/catch.hpp>

#include <string>

#include "protocol/base64.h"
#include "protocol/meta_parser.h"
#include "unit/protocol/parse_test_util.h"

namespace mcbridge::protocol::test {
namespace {

using V = std::vector<std::string>;

TEST_CASE("meta: mn and unknown m verbs") {
  CHECK(parseAll("mn\r\n") == V{"mn"});
  CHECK(parseAll("mn foo bar\r\n") == V{"mn"});
  CHECK(parseAll("mx\r\nm\r\nMG foo\r\n") == V{"ERROR", "ERROR", "ERROR"});
}

TEST_CASE("meta: mg flags") {
  CHECK(parseAll("mg foo\r\n") == V{"mg key=foo"});
  CHECK(parseAll("mg foo v f c k s t h l u O123 q\r\n") ==
        V{"mg key=foo tokens=[v f c k s t h l u O123 q] noreply"});
  CHECK(parseAll("mg foo  v   N30 R-5 T+7\r\n") ==
        V{"mg key=foo tokens=[v   N30 R-5 T+7] T=7 N=30 R=-5"});
  CHECK(parseAll("mg foo F5 C7 MS J1 D2 P L I\r\n") ==
        V{"mg key=foo tokens=[F5 C7 MS J1 D2 P L I] mode=S F=5 C=7 D=2 J=1"});
  // the line is a C string: a NUL ends it
  CHECK(parseAll("mg foo\0 v\r\n"sv) == V{"mg key=foo"});
  const One one = parseOne("mg foo v O1\r\n");
  CHECK(one.req.meta.has('v'));
  CHECK(one.req.meta.has('O'));
  CHECK_FALSE(one.req.meta.has('k'));
}

TEST_CASE("meta: mg errors") {
  CHECK(parseAll("mg\r\nmg \r\n") == V{"ERROR", "ERROR"});
  CHECK(parseAll("mg foo v v\r\n") == V{"CLIENT_ERROR duplicate flag"});
  CHECK(parseAll("mg foo x\r\nmg foo E5\r\nmg foo -\r\nmg foo S\r\n") ==
        V{"CLIENT_ERROR invalid flag", "CLIENT_ERROR invalid flag", "CLIENT_ERROR invalid flag",
          "CLIENT_ERROR invalid flag"});
  // bytes >= 127 count as duplicates in 1.6.18
  CHECK(parseAll("mg foo \xff\r\n") == V{"CLIENT_ERROR duplicate flag"});
  CHECK(parseAll("mg foo N\r\nmg foo Nx\r\nmg foo T\r\nmg foo R1x\r\nmg foo Cx\r\n") ==
        V(5, "CLIENT_ERROR bad token in command line format"));
  // a bad F token has no message of its own; a later fault's message wins; an invalid flag
  // stops at once
  CHECK(parseAll("mg foo Fx\r\nmg foo Nx Jx\r\nmg foo Nx z\r\nmg foo Nx v v\r\n") ==
        V{"CLIENT_ERROR bad command line format", "CLIENT_ERROR invalid numeric initial value",
          "CLIENT_ERROR invalid flag", "CLIENT_ERROR duplicate flag"});
  CHECK(parseAll("mg foo M\r\nmg foo MSS\r\nmg foo Dx\r\n") ==
        V{"CLIENT_ERROR incorrect length for M token", "CLIENT_ERROR incorrect length for M token",
          "CLIENT_ERROR invalid numeric delta value"});
  const std::string o31 = "mg foo O" + std::string(31, 'x') + "\r\n";
  const std::string o32 = "mg foo O" + std::string(32, 'x') + "\r\n";
  CHECK(parseAll(o31) == V{"mg key=foo tokens=[O" + std::string(31, 'x') + "]"});
  CHECK(parseAll(o32) == V{"CLIENT_ERROR opaque token too long"});
  // with N or T the item changes before memcached notices: the translator answers the error
  CHECK(parseAll("mg foo N30 O" + std::string(32, 'x') + "\r\n") ==
        V{"mg key=foo tokens=[N30 O" + std::string(32, 'x') + "] N=30 opaque_too_long"});
  // 17 flags fit, 18 do not (memcached counts the verb, the key and a terminator)
  std::string flags17;
  for (char c : std::string("abcdefghijklmnopq")) flags17 += std::string(" O") + c;
  CHECK(parseAll("mg foo" + flags17 + "\r\n") == V{"CLIENT_ERROR duplicate flag"});
  CHECK(parseAll("mg foo" + flags17 + " x\r\n") == V{"CLIENT_ERROR options flags are too long"});
  CHECK(parseAll("mg " + std::string(251, 'k') + " v\r\n") ==
        V{"CLIENT_ERROR bad command line format"});
  CHECK(parseAll("mg " + std::string(250, 'k') + "\r\n") == V{"mg key=" + std::string(250, 'k')});
}

TEST_CASE("meta: base64 keys") {
  CHECK(parseAll("mg Zm9v b k\r\n") == V{"mg key=Zm9v tokens=[b k] base64"});
  CHECK(parseAll("mg Zm9 b\r\nmg foo k b\r\nmg ==== b\r\nmg A=== b\r\n") ==
        V(4, "CLIENT_ERROR error decoding key"));
  const One one = parseOne("mg Zm9v! b\r\n");
  char buf[kMaxDecodedKey];
  CHECK(metaKey(one.req, buf) == "foo");
  std::string enc;
  base64Encode(std::string_view("\x00\x01\xff", 3), &enc);
  CHECK(enc == "AAH/");
  std::string dec;
  CHECK(base64Decode("AAH/", &dec));
  CHECK(dec == std::string("\x00\x01\xff", 3));
  CHECK(base64Decode("AA==", &dec));
  CHECK(dec == std::string(1, '\0'));
  CHECK_FALSE(base64Decode("!!!!", &dec));
}

TEST_CASE("meta: ms") {
  CHECK(parseAll("ms foo 3\r\nbar\r\n") == V{"ms key=foo bytes=3 data=bar"});
  CHECK(parseAll("ms foo 3 F5 T100 c k O9 q MA\r\nbar\r\n") ==
        V{"ms key=foo flags=5 exptime=100 bytes=3 data=bar tokens=[F5 T100 c k O9 q MA] "
          "mode=A T=100 F=5 noreply"});
  CHECK(parseAll("ms foo 0\r\n\r\n") == V{"ms key=foo"});
  CHECK(parseAll("ms Zm9v 1 b\r\nx\r\n") == V{"ms key=Zm9v bytes=1 data=x tokens=[b] base64"});
  // errors before <datalen> is read leave the data block to be parsed as the next command
  CHECK(parseAll("ms\r\n") == V{"ERROR"});
  CHECK(parseAll("ms foo\r\n") == V{"CLIENT_ERROR bad command line format"});
  CHECK(parseAll("ms foo bar\r\nbar\r\n") ==
        V{"CLIENT_ERROR bad command line format", "ERROR"});
  CHECK(parseAll("ms foo -1\r\nbar\r\n") == V{"CLIENT_ERROR bad command line format", "ERROR"});
  CHECK(parseAll("ms " + std::string(251, 'k') + " 2\r\nab\r\n") ==
        V{"CLIENT_ERROR bad command line format", "ERROR"});
  CHECK(parseAll("ms foo 2 a b c d e f g h i j k l m n o p q\r\nab\r\n") ==
        V{"CLIENT_ERROR options flags too long", "ERROR"});
  // errors after it swallow the data block, q or not
  CHECK(parseAll("ms foo 3 MX\r\nbar\r\nmn\r\n") ==
        V{"CLIENT_ERROR invalid mode for ms M token swallow=5", "mn"});
  CHECK(parseAll("ms foo 3 MEE q\r\nbar\r\nmn\r\n") ==
        V{"CLIENT_ERROR incorrect length for M token swallow=5", "mn"});
  CHECK(parseAll("ms foo 3 Fx\r\nbar\r\n") == V{"CLIENT_ERROR bad command line format swallow=5"});
  CHECK(parseAll("ms foo 3 zz\r\nbar\r\n") == V{"CLIENT_ERROR invalid flag swallow=5"});
  CHECK(parseAll("ms foo 3 b\r\nbar\r\n") == V{"CLIENT_ERROR error decoding key swallow=5"});
  CHECK(parseAll("ms foo 1 O" + std::string(32, 'x') + " MX\r\nb\r\n") ==
        V{"CLIENT_ERROR invalid mode for ms M token swallow=3"});
  CHECK(parseAll("ms foo 1 O" + std::string(32, 'x') + "\r\nb\r\n") ==
        V{"CLIENT_ERROR opaque token too long swallow=3"});
  CHECK(parseAll("ms foo 3 q\r\nbarx\r\nmn\r\n") ==
        V{"CLIENT_ERROR bad data chunk", "ERROR", "mn"});
  ParserLimits small;
  small.item_size_max = 1024;
  CHECK(parseAll("ms foo 2000 k\r\n" + std::string(2000, 'x') + "\r\nmn\r\n", small) ==
        V{"ms key=foo bytes=2000 tokens=[k] too_large swallow=2002", "mn"});
}

TEST_CASE("meta: md, ma, me") {
  CHECK(parseAll("md foo q k O1 C5 I T30\r\n") ==
        V{"md key=foo tokens=[q k O1 C5 I T30] T=30 C=5 noreply"});
  CHECK(parseAll("md\r\nmd foo x\r\nmd foo k k\r\nmd foo Cx\r\nmd foo b\r\n") ==
        V{"ERROR", "CLIENT_ERROR invalid or duplicate flag",
          "CLIENT_ERROR invalid or duplicate flag", "CLIENT_ERROR invalid or duplicate flag",
          "CLIENT_ERROR invalid or duplicate flag"});
  CHECK(parseAll("md foo O" + std::string(32, 'x') + "\r\n") ==
        V{"CLIENT_ERROR opaque token too long"});
  CHECK(parseAll("ma foo N0 J42 D7 MD v t c\r\n") ==
        V{"ma key=foo tokens=[N0 J42 D7 MD v t c] mode=D N=0 D=7 J=42"});
  CHECK(parseAll("ma foo Mx\r\nma foo Dx\r\nma foo M+\r\n") ==
        V{"CLIENT_ERROR invalid mode for ma M token", "CLIENT_ERROR invalid or duplicate flag",
          "ma key=foo tokens=[M+] mode=+"});
  // ma reports a too-long opaque only after the arithmetic ran
  CHECK(parseAll("ma foo O" + std::string(32, 'x') + "\r\n") ==
        V{"ma key=foo tokens=[O" + std::string(32, 'x') + "] opaque_too_long"});
  CHECK(parseAll("me\r\nme foo\r\nme foo x\r\nme Zm9v b\r\nme Zm9 b\r\n") ==
        V{"CLIENT_ERROR bad command line format", "me key=foo", "me key=foo",
          "me key=Zm9v base64", "CLIENT_ERROR bad command line format"});
}

}  // namespace
}  // namespace mcbridge::protocol::test
