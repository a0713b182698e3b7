#include "backend/resp_encode.h"

#include <charconv>

#include "protocol/reply.h"

namespace mcbridge::backend {

void appendDecimal(std::string* out, uint64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, res.ptr);
}

void appendBulk(const RedisArg& a, std::string* out) {
  out->push_back('$');
  appendDecimal(out, a.first.size() + a.second.size());
  out->append("\r\n");
  out->append(a.first);
  out->append(a.second);
  out->append("\r\n");
}

void encodeCommand(std::span<const RedisArg> args, std::string* out) {
  size_t need = 16;
  for (const RedisArg& a : args) need += a.first.size() + a.second.size() + 24;
  protocol::reserveMore(out, need);
  out->push_back('*');
  appendDecimal(out, args.size());
  out->append("\r\n");
  for (const RedisArg& a : args) appendBulk(a, out);
}

}  // namespace mcbridge::backend
