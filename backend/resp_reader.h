// Incremental RESP2 reply parser over a caller's contiguous read buffer.
//
// Replies come out as hiredis redisReply trees whose strings point INTO the buffer: nothing is
// copied, and the nodes live in vectors reused from reply to reply, so a steady stream of
// replies allocates nothing. A reply and its strings are valid until the next parse() call and
// while the buffer's bytes stay in place (the caller consumes them after using the reply).
// Strings are not NUL-terminated: use len. Used instead of hiredis's redisReader, which copies
// every value twice (into its buffer, then into each reply object) and allocates per reply.
#pragma once

#include <hiredis/hiredis.h>

#include <cstddef>
#include <string_view>
#include <vector>

namespace mcbridge::backend {

class RespReader {
 public:
  enum class Status : uint8_t { kOk, kNeedMore, kError };

  // Parses one reply at the start of `in`. kOk: *reply and *consumed are set. kNeedMore:
  // *needed is the buffer size at which trying again can succeed (at least in.size() + 1).
  // kError: the stream is not RESP; *error says why.
  Status parse(std::string_view in, const redisReply** reply, size_t* consumed, size_t* needed,
               std::string_view* error);

 private:
  // Parses the node at in[*pos], appending it (and its children) to nodes_. Returns its index,
  // or -1 when more input is needed (*needed set), -2 on a protocol error.
  long parseNode(std::string_view in, size_t* pos, size_t* needed, int depth);

  std::vector<redisReply> nodes_;
  std::vector<size_t> first_child_;    // per node: index into children_ (arrays)
  std::vector<size_t> children_;       // node indices, a contiguous run per array
  std::vector<redisReply*> elements_;  // children_ as pointers, once nodes_ stops moving
  std::string_view error_;
};

}  // namespace mcbridge::backend
