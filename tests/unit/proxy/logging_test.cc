#include <catch2/catch.hpp>

#include "proxy/logging.h"

TEST_CASE("log messages are escaped into valid JSON strings", "[proxy]") {
  using mcbridge::proxy::jsonEscape;
  CHECK(jsonEscape("plain") == "plain");
  CHECK(jsonEscape("say \"hi\"\\") == "say \\\"hi\\\"\\\\");
  CHECK(jsonEscape("a\r\nb\t") == "a\\r\\nb\\t");
  CHECK(jsonEscape(std::string_view("\x01\x00z", 3)) == "\\u0001\\u0000z");
  CHECK(jsonEscape("h\xc3\xa9") == "h\xc3\xa9");  // UTF-8 passes through
}
