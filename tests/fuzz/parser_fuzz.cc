// libFuzzer target for the text-protocol parser, meta commands (mg/ms/md/ma/mn/me) included.
//
// Input: one mode byte, then the bytes a client sends. The mode picks the limits (default, or tiny
// ones so the line-length and too-large paths are reachable with short inputs) and a read size.
// The harness runs the input like a connection twice, once in one read and once in reads of that
// size, checks the parser contract on every call, and aborts if the two runs disagree: the
// outcome of a byte stream must not depend on how it was split into reads.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/meta_parser.h"
#include "protocol/meta_reply.h"
#include "protocol/parser.h"
#include "protocol/reply.h"
#include "protocol/request.h"

namespace {

using mcbridge::protocol::KeyIterator;
using mcbridge::protocol::Parser;
using mcbridge::protocol::ParseResult;
using mcbridge::protocol::ParserLimits;
using mcbridge::protocol::ParseStatus;
using mcbridge::protocol::Request;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "parser contract violated: %s\n", what);
    std::abort();
  }
}

bool within(std::string_view v, std::string_view in, size_t consumed) {
  return v.empty() || (v.data() >= in.data() && v.data() + v.size() <= in.data() + consumed);
}

std::string signature(const ParseResult& r, const Request& q) {
  std::string s = std::to_string(static_cast<int>(r.status));
  if (r.status == ParseStatus::kError) {
    s += std::string(r.error_reply) + (r.suppress_reply ? "+s" : "");
    return s;
  }
  if (r.status != ParseStatus::kOk) return s;
  s += ' ' + std::to_string(static_cast<int>(q.command)) + ' ' + std::string(q.key) + '|' +
       std::string(q.keys) + '|' + std::to_string(q.key_count) + '|' + std::to_string(q.flags) +
       '|' + std::to_string(q.exptime) + '|' + std::to_string(q.has_exptime) + '|' +
       std::to_string(q.cas_unique) + '|' + std::to_string(q.delta) + '|' +
       std::to_string(q.value_length) + '|' + std::string(q.data) + '|' + std::to_string(q.number) +
       '|' + std::string(q.args) + '|' + std::to_string(q.noreply) + std::to_string(q.too_large) +
       '|' + std::to_string(r.consumed) + '|' + std::to_string(r.swallow);
  const auto& m = q.meta;
  s += '|' + std::to_string(m.seen) + '|' + std::string(m.tokens) + '|' +
       std::to_string(m.base64) + m.mode + '|' + std::to_string(m.ttl) + '|' +
       std::to_string(m.vivify_ttl) + '|' + std::to_string(m.recache) + '|' +
       std::to_string(m.client_flags) + '|' + std::to_string(m.compare_cas) + '|' +
       std::to_string(m.delta) + '|' + std::to_string(m.initial) + '|' +
       std::to_string(m.opaque_too_long);
  return s;
}

bool isMeta(mcbridge::protocol::Command c) {
  using mcbridge::protocol::Command;
  return c == Command::kMetaGet || c == Command::kMetaSet || c == Command::kMetaDelete ||
         c == Command::kMetaArithmetic || c == Command::kMetaDebug;
}

// Meta requests: the flags the parser accepted are well formed, a base64 key decodes, and the
// reply composers accept them.
void checkMeta(const Request& req, std::string_view view, size_t consumed) {
  namespace p = mcbridge::protocol;
  check(within(req.meta.tokens, view, consumed), "meta tokens outside the consumed input");
  char buf[p::kMaxDecodedKey];
  const std::string_view key = p::metaKey(req, buf);
  check(!key.empty() && key.size() <= p::kMaxKeyLength, "meta key length");
  check(req.noreply == req.meta.has('q'), "q is noreply");
  p::MetaItem item;
  item.size = req.data.size();
  item.key_binary = req.meta.base64;
  std::string reply;
  p::appendMetaGetHit(&reply, req.meta.tokens, key, req.meta.has('v'), item);
  p::appendMetaStatus(&reply, "EN", req.meta.tokens, key, req.meta.base64, &item.cas);
  p::appendMetaArithmetic(&reply, req.meta.tokens, key, req.meta.base64, true, "1", item);
  check(reply.ends_with("\r\n"), "meta reply");
}

// Parses `view` and checks the result against the contract in parser.h.
ParseResult parseChecked(const Parser& parser, std::string_view view, Request* out) {
  Request& req = *out;
  const ParseResult r = parser.parse(view, &req);
  switch (r.status) {
    case ParseStatus::kNeedMore:
      check(r.consumed == 0, "need-more consumed bytes");
      check(r.needed == 0 || r.needed > view.size(), "need-more asks for what it has");
      check(r.needed <= view.size() + (uint64_t{1} << 32), "need-more asks for too much");
      break;
    case ParseStatus::kClose:
      break;
    case ParseStatus::kError:
      check(r.consumed > 0 && r.consumed <= view.size(), "error consumed out of range");
      check(r.error_reply.size() >= 2 && r.error_reply.ends_with("\r\n"), "bad error reply");
      // only an ms rejected after its <datalen> discards its data block
      if (r.swallow != 0) {
        const size_t verb = view.find_first_not_of(' ');
        check(verb != std::string_view::npos && view.substr(verb).starts_with("ms "),
              "error swallow outside ms");
      }
      break;
    case ParseStatus::kOk: {
      check(r.consumed > 0 && r.consumed <= view.size(), "ok consumed out of range");
      for (std::string_view v : {req.key, req.keys, req.data, req.args}) {
        check(within(v, view, r.consumed), "view outside the consumed input");
      }
      check(req.too_large == (r.swallow != 0), "swallow without too_large");
      if (isMeta(req.command)) checkMeta(req, view, r.consumed);
      if (req.too_large) check(r.swallow == req.value_length + uint64_t{2}, "swallow size");
      if (!req.too_large) check(req.data.size() == req.value_length, "data size");
      // Keys the iterator yields are the ones the parser counted and length-checked.
      KeyIterator it(req.keys);
      std::string_view key;
      uint32_t n = 0;
      while (it.next(&key)) {
        check(!key.empty() && key.size() <= mcbridge::protocol::kMaxKeyLength, "key length");
        if (n == 0) check(key == req.key, "first key");
        ++n;
      }
      check(n == req.key_count, "key count");
      // Exercise the composer on what was parsed.
      std::string reply;
      mcbridge::protocol::appendValueCas(&reply, req.key, req.flags, req.data, req.cas_unique);
      mcbridge::protocol::appendNumber(&reply, req.delta);
      break;
    }
  }
  return r;
}

// Runs `in` as a connection would, reading `chunk` bytes at a time. `exact` parses views of `in`
// itself (libFuzzer's buffer is exactly sized, so ASan catches any read past the input).
std::vector<std::string> run(const Parser& parser, std::string_view in, size_t chunk, bool exact) {
  std::vector<std::string> events;
  std::string buf;
  size_t fed = 0;
  size_t start = 0;  // exact mode: offset of the unconsumed input
  uint64_t to_swallow = 0;
  size_t needed = 0;
  while (true) {
    const size_t n = std::min(chunk, in.size() - fed);
    fed += n;
    if (!exact) buf.append(in.substr(fed - n, n));
    size_t avail = exact ? fed - start : buf.size();
    const auto drop = static_cast<size_t>(std::min<uint64_t>(to_swallow, avail));
    to_swallow -= drop;
    if (exact) {
      start += drop;
    } else {
      buf.erase(0, drop);
    }
    size_t pos = 0;
    while (to_swallow == 0) {
      const std::string_view view =
          exact ? in.substr(start + pos, fed - start - pos) : std::string_view(buf).substr(pos);
      Request req;
      const ParseResult r = parseChecked(parser, view, &req);
      if (r.status == ParseStatus::kNeedMore) {
        check(needed == 0 || view.size() < needed, "no progress at the announced size");
        needed = r.needed;
        break;
      }
      needed = 0;
      events.push_back(signature(r, req));
      if (r.status == ParseStatus::kClose) return events;
      pos += r.consumed;
      const size_t left = view.size() - r.consumed;
      const auto now = static_cast<size_t>(std::min<uint64_t>(r.swallow, left));
      pos += now;
      to_swallow = r.swallow - now;
    }
    if (exact) {
      start += pos;
    } else {
      buf.erase(0, pos);
    }
    if (fed == in.size()) break;
  }
  events.push_back("pending " + std::to_string((exact ? fed - start : buf.size()) + to_swallow));
  return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  ParserLimits limits;
  if (mode & 1) {
    limits.max_line = 40;
    limits.max_get_line = 300;
    limits.item_size_max = 100;
  }
  const Parser parser(limits);
  const std::vector<std::string> whole = run(parser, in, in.size() + 1, true);
  const size_t chunk = (mode >> 1) + 1;  // 1..128
  check(run(parser, in, chunk, true) == whole, "exact reads disagree with one read");
  check(run(parser, in, chunk, false) == whole, "buffered reads disagree with one read");
  return 0;
}
