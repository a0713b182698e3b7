#include "protocol/meta_reply.h"

#include <charconv>

#include "protocol/base64.h"
#include "protocol/request.h"

namespace mcbridge::protocol {
namespace {

void appendInt(std::string* out, int64_t n) {
  char buf[24];
  out->append(buf, static_cast<size_t>(std::to_chars(buf, buf + sizeof buf, n).ptr - buf));
}

void appendUint(std::string* out, uint64_t n) {
  char buf[24];
  out->append(buf, static_cast<size_t>(std::to_chars(buf, buf + sizeof buf, n).ptr - buf));
}

void appendKey(std::string* out, std::string_view key, bool binary) {
  out->append(" k");
  if (!binary) {
    out->append(key);
    return;
  }
  base64Encode(key, out);
  out->append(" b");
}

// Calls fn(token) for each space-separated token.
template <typename Fn>
void forEachToken(std::string_view tokens, Fn fn) {
  size_t i = 0;
  while (i < tokens.size()) {
    while (i < tokens.size() && tokens[i] == ' ') ++i;
    size_t j = i;
    while (j < tokens.size() && tokens[j] != ' ') ++j;
    if (j > i) fn(tokens.substr(i, j - i));
    i = j;
  }
}

}  // namespace

void appendMetaGetHit(std::string* out, std::string_view tokens, std::string_view key,
                      bool with_value, const MetaItem& item) {
  if (with_value) {
    out->append("VA ");
    appendUint(out, item.size);
  } else {
    out->append("HD");
  }
  // The TTL a t token reports depends on the T/N tokens before it (memcached applies them in
  // token order while it writes the reply).
  int64_t ttl = item.ttl;
  forEachToken(tokens, [&](std::string_view t) {
    switch (t[0]) {
      case 'T':
        ttl = item.ttl_touch;
        break;
      case 'N':
        if (item.created) ttl = item.ttl_vivify;
        break;
      case 's':
        out->append(" s");
        appendUint(out, item.size);
        break;
      case 't':
        out->append(" t");
        appendInt(out, ttl);
        break;
      case 'c':
        out->append(" c");
        appendUint(out, item.cas);
        break;
      case 'f':
        out->append(" f");
        appendUint(out, item.flags);
        break;
      case 'l':
        out->append(" l");
        appendInt(out, item.idle);
        break;
      case 'h':
        out->append(item.fetched ? " h1" : " h0");
        break;
      case 'O':
        out->push_back(' ');
        out->append(t);
        break;
      case 'k':
        appendKey(out, key, item.key_binary);
        break;
      default:
        break;
    }
  });
  if (item.win_sent) out->append(" Z");
  if (item.stale) out->append(" X");
  if (item.won) out->append(" W");
  out->append("\r\n");
}

void appendMetaStatus(std::string* out, std::string_view code, std::string_view tokens,
                      std::string_view key, bool key_binary, const uint64_t* c_value) {
  out->append(code);
  forEachToken(tokens, [&](std::string_view t) {
    if (t[0] == 'O') {
      out->push_back(' ');
      out->append(t);
    } else if (t[0] == 'k') {
      appendKey(out, key, key_binary);
    } else if (t[0] == 'c' && c_value != nullptr) {
      out->append(" c");
      appendUint(out, *c_value);
    }
  });
  out->append("\r\n");
}

void appendMetaArithmetic(std::string* out, std::string_view tokens, std::string_view key,
                          bool key_binary, bool with_value, std::string_view number,
                          const MetaItem& item) {
  if (with_value) {
    out->append("VA ");
    appendUint(out, number.size());
  } else {
    out->append("HD");
  }
  int64_t ttl = item.ttl;
  forEachToken(tokens, [&](std::string_view t) {
    switch (t[0]) {
      case 'c':
        out->append(" c");
        appendUint(out, item.cas);
        break;
      case 't':
        out->append(" t");
        appendInt(out, ttl);
        break;
      case 'T':
        ttl = item.ttl_touch;
        break;
      case 'N':
        if (item.created) ttl = item.ttl_vivify;
        break;
      case 'O':
        out->push_back(' ');
        out->append(t);
        break;
      case 'k':
        appendKey(out, key, key_binary);
        break;
      default:
        break;
    }
  });
  out->append("\r\n");
  if (with_value) {
    out->append(number);
    out->append("\r\n");
  }
}

}  // namespace mcbridge::protocol
