// Helpers for the parser tests: a one-line summary of each parse outcome, and a runner that feeds
// an input the way a connection does (in chunks, honouring consumed / needed / swallow) so every
// test also checks that splitting the bytes differently changes nothing.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/parser.h"
#include "protocol/request.h"

namespace mcbridge::protocol::test {

using namespace std::literals;


// Printable form of arbitrary bytes: "\r" "\n" "\t" "\\" and \xNN for other non-printables.
inline std::string escape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// One line per outcome, listing only the fields that differ from a default Request, e.g.
//   "set key=a bytes=1 data=x"   "CLIENT_ERROR bad data chunk"   "(noreply) ERROR"   "CLOSE"
inline std::string describe(const ParseResult& r, const Request& q) {
  switch (r.status) {
    case ParseStatus::kNeedMore:
      return "NEED_MORE";
    case ParseStatus::kClose:
      return "CLOSE";
    case ParseStatus::kError: {
      std::string_view text = r.error_reply;
      if (text.ends_with("\r\n")) text.remove_suffix(2);
      return (r.suppress_reply ? "(noreply) "s : ""s) + std::string(text) +
             (r.swallow != 0 ? " swallow=" + std::to_string(r.swallow) : ""s);
    }
    case ParseStatus::kOk:
      break;
  }
  std::string s(protocol::commandName(q.command));
  const Request d;
  if (!q.key.empty()) s += " key=" + escape(q.key);
  if (q.key_count != d.key_count || !q.keys.empty()) {
    s += " keys=[" + escape(q.keys) + "] n=" + std::to_string(q.key_count);
  }
  if (q.flags != d.flags) s += " flags=" + std::to_string(q.flags);
  if (q.exptime != d.exptime) s += " exptime=" + std::to_string(q.exptime);
  if (q.has_exptime) s += " has_exptime";
  if (q.cas_unique != d.cas_unique) s += " cas=" + std::to_string(q.cas_unique);
  if (q.delta != d.delta) s += " delta=" + std::to_string(q.delta);
  if (q.value_length != d.value_length) s += " bytes=" + std::to_string(q.value_length);
  if (!q.data.empty()) s += " data=" + escape(q.data);
  if (q.number != d.number) s += " number=" + std::to_string(q.number);
  if (!q.args.empty()) s += " args=[" + escape(q.args) + "]";
  if (!q.meta.tokens.empty()) s += " tokens=[" + escape(q.meta.tokens) + "]";
  if (q.meta.base64) s += " base64";
  if (q.meta.mode != 0) s += " mode=" + std::string(1, q.meta.mode);
  if (q.meta.has('T')) s += " T=" + std::to_string(q.meta.ttl);
  if (q.meta.has('N')) s += " N=" + std::to_string(q.meta.vivify_ttl);
  if (q.meta.has('R')) s += " R=" + std::to_string(q.meta.recache);
  if (q.meta.has('F')) s += " F=" + std::to_string(q.meta.client_flags);
  if (q.meta.has('C')) s += " C=" + std::to_string(q.meta.compare_cas);
  if (q.meta.has('D')) s += " D=" + std::to_string(q.meta.delta);
  if (q.meta.has('J')) s += " J=" + std::to_string(q.meta.initial);
  if (q.meta.opaque_too_long) s += " opaque_too_long";
  if (q.noreply) s += " noreply";
  if (q.too_large) s += " too_large swallow=" + std::to_string(r.swallow);
  return s;
}

// Feeds `in` to a parser `chunk` bytes at a time, like a connection: after each read it parses
// every complete request, drops `consumed` bytes, discards `swallow` bytes (possibly arriving
// later), stops at kClose. Checks the parser contract on every call: kNeedMore consumes nothing
// and asks for more than it has; once the input reaches `needed`, parsing makes progress; views
// point into the input. Returns the outcomes, plus "PENDING <n>" for bytes left unparsed.
// `reads` are the sizes of successive reads; the last one repeats.
inline std::vector<std::string> runReads(std::string_view in, const std::vector<size_t>& reads,
                                         const ParserLimits& limits = {}) {
  const Parser parser(limits);
  std::vector<std::string> events;
  std::string buf;
  size_t fed = 0;
  uint64_t to_swallow = 0;
  size_t needed = 0;
  size_t read_index = 0;
  while (true) {
    // Read.
    const size_t chunk = reads[std::min(read_index++, reads.size() - 1)];
    const size_t n = std::min(chunk, in.size() - fed);
    buf.append(in.substr(fed, n));
    fed += n;
    // Swallow.
    const auto drop = static_cast<size_t>(std::min<uint64_t>(to_swallow, buf.size()));
    buf.erase(0, drop);
    to_swallow -= drop;
    // Parse everything complete.
    size_t pos = 0;
    bool closed = false;
    while (to_swallow == 0) {
      const std::string_view view(buf.data() + pos, buf.size() - pos);
      Request req;
      const ParseResult r = parser.parse(view, &req);
      if (r.status == ParseStatus::kNeedMore) {
        INFO("input: " << escape(in.substr(0, 200)) << " read " << chunk);
        REQUIRE(r.consumed == 0);
        // The contract: call again with at least `needed` bytes; asking for what we have
        // would loop forever.
        if (r.needed != 0) REQUIRE(r.needed > view.size());
        if (needed != 0 && view.size() >= needed) FAIL("no progress at the announced size");
        needed = r.needed;
        break;
      }
      needed = 0;
      events.push_back(describe(r, req));
      if (r.status == ParseStatus::kClose) {
        closed = true;
        break;
      }
      INFO("input: " << escape(in.substr(0, 200)) << " read " << chunk);
      REQUIRE(r.consumed > 0);
      REQUIRE(r.consumed <= view.size());
      if (r.status == ParseStatus::kOk) {
        for (std::string_view v : {req.key, req.keys, req.data, req.args, req.meta.tokens}) {
          if (v.empty()) continue;
          REQUIRE(v.data() >= view.data());
          REQUIRE(v.data() + v.size() <= view.data() + r.consumed);
        }
        if (req.too_large) REQUIRE(r.swallow == req.value_length + 2u);
      } else {
        REQUIRE(!r.error_reply.empty());
      }
      pos += r.consumed;
      const auto now = static_cast<size_t>(std::min<uint64_t>(r.swallow, buf.size() - pos));
      pos += now;
      to_swallow = r.swallow - now;
    }
    buf.erase(0, pos);
    if (closed) return events;
    if (fed == in.size()) break;
  }
  if (!buf.empty() || to_swallow != 0) {
    events.push_back("PENDING " + std::to_string(buf.size() + to_swallow));
  }
  return events;
}

inline std::vector<std::string> runChunked(std::string_view in, size_t chunk,
                                           const ParserLimits& limits = {}) {
  return runReads(in, {chunk}, limits);
}

// The outcomes of `in` fed in one piece, after checking that feeding it at every split point
// (short inputs) or in several chunk sizes (long ones) yields the same outcomes.
inline std::vector<std::string> parseAll(std::string_view in, const ParserLimits& limits = {}) {
  const std::vector<std::string> whole = runChunked(in, in.size() + 1, limits);
  if (in.size() <= 400) {
    {
      INFO("byte by byte: " << escape(in));
      CHECK(runChunked(in, 1, limits) == whole);
    }
    // Two reads, split at every position; then reads of that size.
    for (size_t split = 1; split < in.size(); ++split) {
      INFO("split at " << split << ": " << escape(in));
      CHECK(runReads(in, {split, in.size()}, limits) == whole);
      CHECK(runChunked(in, split, limits) == whole);
    }
  } else {
    for (size_t chunk :
         {size_t{1}, size_t{7}, size_t{100}, size_t{1000}, size_t{4096}, size_t{65536}}) {
      if (chunk == 1 && in.size() > 200000) continue;
      INFO("chunk " << chunk);
      CHECK(runChunked(in, chunk, limits) == whole);
    }
  }
  return whole;
}

struct One {
  std::shared_ptr<const std::string> input;  // owns the bytes the views in `req` point into
  ParseResult result;
  Request req;
};

// Parses the first request of `in` in one call (also running the chunking checks on all of `in`).
// The result keeps its own copy of the input, so callers may pass temporaries.
inline One parseOne(std::string_view in, const ParserLimits& limits = {}) {
  (void)parseAll(in, limits);
  One one;
  one.input = std::make_shared<const std::string>(in);
  one.result = Parser(limits).parse(*one.input, &one.req);
  return one;
}

}  // namespace mcbridge::protocol::test
