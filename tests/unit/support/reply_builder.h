// Test helper: hiredis reply trees built by hand (fake Redis answers).
#pragma once

#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <vector>

namespace mcbridge::test {

class Reply {
 public:
  static Reply string(std::string s) { return text(REDIS_REPLY_STRING, std::move(s)); }
  static Reply status(std::string s) { return text(REDIS_REPLY_STATUS, std::move(s)); }
  static Reply error(std::string s) { return text(REDIS_REPLY_ERROR, std::move(s)); }
  static Reply nil() {
    Reply r;
    r.node_->reply.type = REDIS_REPLY_NIL;
    return r;
  }
  static Reply integer(long long v) {
    Reply r;
    r.node_->reply.type = REDIS_REPLY_INTEGER;
    r.node_->reply.integer = v;
    return r;
  }
  static Reply array(std::vector<Reply> elements) {
    Reply r;
    r.node_->reply.type = REDIS_REPLY_ARRAY;
    for (Reply& e : elements) {
      r.node_->pointers.push_back(&e.node_->reply);
      r.node_->children.push_back(e.node_);
    }
    r.node_->reply.elements = r.node_->pointers.size();
    r.node_->reply.element = r.node_->pointers.data();
    return r;
  }
  const redisReply* get() const { return &node_->reply; }

 private:
  struct Node {
    redisReply reply{};
    std::string text;
    std::vector<std::shared_ptr<Node>> children;
    std::vector<redisReply*> pointers;
  };
  Reply() : node_(std::make_shared<Node>()) {}
  static Reply text(int type, std::string s) {
    Reply r;
    r.node_->text = std::move(s);
    r.node_->reply.type = type;
    r.node_->reply.str = r.node_->text.data();
    r.node_->reply.len = r.node_->text.size();
    return r;
  }
  std::shared_ptr<Node> node_;  // shared: Reply values copy cheaply into initializer lists
};

}  // namespace mcbridge::test
