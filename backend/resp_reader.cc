#include "backend/resp_reader.h"

#include <charconv>
#include <cstring>

namespace mcbridge::backend {
namespace {

// Redis nests arrays a few levels deep at most (SCAN: 2); deeper input is refused rather than
// allowed to recurse without bound.
constexpr int kMaxDepth = 16;

}  // namespace

RespReader::Status RespReader::parse(std::string_view in, const redisReply** reply,
                                     size_t* consumed, size_t* needed, std::string_view* error) {
  nodes_.clear();
  first_child_.clear();
  children_.clear();
  size_t pos = 0;
  *needed = 0;
  const long root = parseNode(in, &pos, needed, 0);
  if (root == -1) {
    if (*needed <= in.size()) *needed = in.size() + 1;
    return Status::kNeedMore;
  }
  if (root < 0) {
    *error = error_;
    return Status::kError;
  }
  // nodes_ is complete and will not move again: link arrays to their elements.
  elements_.resize(children_.size());
  for (size_t i = 0; i < children_.size(); ++i) elements_[i] = &nodes_[children_[i]];
  for (size_t i = 0; i < nodes_.size(); ++i) {
    redisReply& n = nodes_[i];
    if (n.type == REDIS_REPLY_ARRAY) n.element = n.elements ? &elements_[first_child_[i]] : nullptr;
  }
  *reply = &nodes_[static_cast<size_t>(root)];
  *consumed = pos;
  return Status::kOk;
}

long RespReader::parseNode(std::string_view in, size_t* pos, size_t* needed, int depth) {
  const size_t start = *pos;
  if (start >= in.size()) return -1;
  const void* nl = std::memchr(in.data() + start, '\n', in.size() - start);
  if (nl == nullptr) return -1;
  const size_t eol = static_cast<size_t>(static_cast<const char*>(nl) - in.data());
  if (eol == start || in[eol - 1] != '\r') {
    error_ = "line not terminated by CRLF";
    return -2;
  }
  const char type = in[start];
  const std::string_view body = in.substr(start + 1, eol - 1 - (start + 1));
  const size_t next = eol + 1;

  const size_t index = nodes_.size();
  nodes_.push_back(redisReply{});
  first_child_.push_back(0);
  auto number = [&](long long* v) {
    auto [p, ec] = std::from_chars(body.data(), body.data() + body.size(), *v);
    return ec == std::errc() && p == body.data() + body.size();
  };
  switch (type) {
    case '+':
    case '-': {
      redisReply& n = nodes_[index];
      n.type = type == '+' ? REDIS_REPLY_STATUS : REDIS_REPLY_ERROR;
      n.str = const_cast<char*>(body.data());
      n.len = body.size();
      *pos = next;
      return static_cast<long>(index);
    }
    case ':': {
      long long v = 0;
      if (!number(&v)) break;
      nodes_[index].type = REDIS_REPLY_INTEGER;
      nodes_[index].integer = v;
      *pos = next;
      return static_cast<long>(index);
    }
    case '$': {
      long long len = 0;
      if (!number(&len) || len < -1) break;
      if (len == -1) {
        nodes_[index].type = REDIS_REPLY_NIL;
        *pos = next;
        return static_cast<long>(index);
      }
      const size_t end = next + static_cast<size_t>(len);
      if (end + 2 > in.size()) {
        *needed = end + 2;  // a large value is not re-parsed on every read
        return -1;
      }
      if (in[end] != '\r' || in[end + 1] != '\n') {
        error_ = "bulk string not terminated by CRLF";
        return -2;
      }
      redisReply& n = nodes_[index];
      n.type = REDIS_REPLY_STRING;
      n.str = const_cast<char*>(in.data() + next);
      n.len = static_cast<size_t>(len);
      *pos = end + 2;
      return static_cast<long>(index);
    }
    case '*': {
      long long count = 0;
      if (!number(&count) || count < -1) break;
      if (count == -1) {
        nodes_[index].type = REDIS_REPLY_NIL;
        *pos = next;
        return static_cast<long>(index);
      }
      // Every element takes at least 3 bytes: until that many are here the array cannot be
      // complete, and a bogus count cannot make us reserve memory for it.
      if (static_cast<size_t>(count) > (in.size() - next) / 3) {
        *needed = next + static_cast<size_t>(count) * 3;
        return -1;
      }
      if (depth >= kMaxDepth) {
        error_ = "arrays nested too deeply";
        return -2;
      }
      nodes_[index].type = REDIS_REPLY_ARRAY;
      nodes_[index].elements = static_cast<size_t>(count);
      const size_t first = children_.size();
      first_child_[index] = first;
      children_.resize(first + static_cast<size_t>(count));
      *pos = next;
      for (size_t i = 0; i < static_cast<size_t>(count); ++i) {
        const long child = parseNode(in, pos, needed, depth + 1);
        if (child < 0) return child;
        children_[first + i] = static_cast<size_t>(child);
      }
      return static_cast<long>(index);
    }
    default:
      error_ = "unknown reply type";
      return -2;
  }
  error_ = "malformed number in reply";
  return -2;
}

}  // namespace mcbridge::backend
