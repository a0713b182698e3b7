// Test helper: a private libuv loop driven by the test's thread.
//
// runUntil() turns the loop until a predicate holds or a timeout passes; a 2 ms ticker keeps
// uv_run from blocking forever when nothing else is due. The destructor closes any handle still
// open (a failed test may leave some) and closes the loop. Callbacks run on the test's thread
// and must not throw (a Catch REQUIRE inside a libuv callback would unwind through C frames):
// record results in callbacks, assert after runUntil().
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>

namespace mcbridge::test {

class TestLoop {
 public:
  TestLoop() {
    uv_loop_init(&loop_);
    uv_timer_init(&loop_, &ticker_);
  }
  ~TestLoop() {
    uv_close(reinterpret_cast<uv_handle_t*>(&ticker_), nullptr);
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void*) {
          if (!uv_is_closing(h)) uv_close(h, nullptr);
        },
        nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
  TestLoop(const TestLoop&) = delete;
  TestLoop& operator=(const TestLoop&) = delete;

  uv_loop_t* get() { return &loop_; }

  // Returns pred() after the loop ran until it held or `timeout` passed.
  bool runUntil(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    uv_timer_start(
        &ticker_, [](uv_timer_t*) {}, 2, 2);
    while (!pred() && std::chrono::steady_clock::now() < deadline) uv_run(&loop_, UV_RUN_ONCE);
    uv_timer_stop(&ticker_);
    return pred();
  }

  void runFor(std::chrono::milliseconds duration) {
    runUntil([] { return false; }, duration);
  }

 private:
  uv_loop_t loop_;
  uv_timer_t ticker_;
};

}  // namespace mcbridge::test
