// Microbenchmarks of the translator (backend/translator.h): memcache request -> Redis command
// (start, into a sink) and Redis reply -> memcache bytes (finish, from a hand-built redisReply),
// plus hiredis's reply reader on the same replies (what the Redis connection runs per reply).
//
// RespSink encodes the arguments as RESP the way the Redis connection does (two-piece bulk
// arguments, one copy of the value); NullSink only looks at them, isolating the translator.
#include <benchmark/benchmark.h>
#include <hiredis/hiredis.h>

#include <charconv>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend/counters.h"
#include "backend/item.h"
#include "backend/translator.h"
#include "protocol/parser.h"
#include "protocol/request.h"

namespace {

using mcbridge::backend::CasGenerator;
using mcbridge::backend::CommandSink;
using mcbridge::backend::Counters;
using mcbridge::backend::PendingOp;
using mcbridge::backend::RedisArg;
using mcbridge::backend::RedisCompletion;
using mcbridge::backend::RedisFailure;
using mcbridge::backend::Translator;
using mcbridge::backend::TranslatorOptions;
using mcbridge::protocol::ParseStatus;
using mcbridge::protocol::Parser;
using mcbridge::protocol::Request;

struct NoCompletion final : RedisCompletion {
  void onRedisReply(const redisReply*) override {}
  void onRedisFailure(RedisFailure) override {}
};

struct NullSink final : CommandSink {
  size_t args = 0;
  void send(const mcbridge::backend::Route&, std::span<const RedisArg> a,
            RedisCompletion*) override {
    args += a.size();
    benchmark::DoNotOptimize(a.data());
  }
};

void appendDecimal(std::string* out, uint64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, res.ptr);
}

struct RespSink final : CommandSink {
  std::string wire;
  void send(const mcbridge::backend::Route&, std::span<const RedisArg> args,
            RedisCompletion*) override {
    wire += '*';
    appendDecimal(&wire, args.size());
    wire += "\r\n";
    for (const RedisArg& a : args) {
      wire += '$';
      appendDecimal(&wire, a.first.size() + a.second.size());
      wire += "\r\n";
      wire.append(a.first);
      wire.append(a.second);
      wire += "\r\n";
    }
  }
};

std::string multiGetLine(int n) {
  std::string s = "get";
  for (int i = 0; i < n; ++i) s += " key:" + std::to_string(100000 + i);
  s += "\r\n";
  return s;
}

std::string setRequest(size_t value_size) {
  std::string s = "set key:123456 0 0 " + std::to_string(value_size) + "\r\n";
  s.append(value_size, 'v');
  s += "\r\n";
  return s;
}

Request parseOne(const std::string& bytes) {
  Request req;
  auto r = Parser().parse(bytes, &req);
  if (r.status != ParseStatus::kOk) std::abort();
  return req;
}

// A stored item as Redis holds it: the 14-byte header then the data.
std::string storedValue(size_t data_size) {
  std::string v(mcbridge::backend::kHeaderSize, '\0');
  mcbridge::backend::encodeHeader(0, 42, v.data());
  v.append(data_size, 'v');
  return v;
}

struct Fixture {
  CasGenerator cas{1};
  Counters counters;
  Translator tr{TranslatorOptions{}, &cas, &counters};
  NoCompletion completion;
  PendingOp op;
  std::string out;
};

template <typename Sink>
void startLoop(benchmark::State& state, const std::string& request_bytes) {
  Fixture f;
  Sink sink;
  const std::string bytes = request_bytes;  // the Request's views point here
  const Request req = parseOne(bytes);
  for (auto _ : state) {
    bool sent = f.tr.start(req, 1700000000, &f.op, &sink, &f.completion, &f.out);
    benchmark::DoNotOptimize(sent);
    if constexpr (std::is_same_v<Sink, RespSink>) sink.wire.clear();
  }
}

void BM_StartGet_Null(benchmark::State& s) { startLoop<NullSink>(s, "get key:123456\r\n"); }
void BM_StartGet_Resp(benchmark::State& s) { startLoop<RespSink>(s, "get key:123456\r\n"); }
void BM_StartMultiGet_Resp(benchmark::State& s) {
  startLoop<RespSink>(s, multiGetLine(static_cast<int>(s.range(0))));
  s.SetItemsProcessed(s.iterations() * s.range(0));
}
void BM_StartSet_Null(benchmark::State& s) {
  startLoop<NullSink>(s, setRequest(static_cast<size_t>(s.range(0))));
}
void BM_StartSet_Resp(benchmark::State& s) {
  startLoop<RespSink>(s, setRequest(static_cast<size_t>(s.range(0))));
  s.SetBytesProcessed(s.iterations() * s.range(0));
}
BENCHMARK(BM_StartGet_Null);
BENCHMARK(BM_StartGet_Resp);
BENCHMARK(BM_StartMultiGet_Resp)->Arg(10)->Arg(100);
BENCHMARK(BM_StartSet_Null)->Arg(100)->Arg(100 * 1024);
BENCHMARK(BM_StartSet_Resp)->Arg(100)->Arg(100 * 1024);

// finish(): a GET hit of `range` data bytes -> "VALUE ... END".
void BM_FinishGetHit(benchmark::State& state) {
  Fixture f;
  NullSink sink;
  const std::string bytes = "get key:123456\r\n";
  const Request req = parseOne(bytes);
  if (!f.tr.start(req, 1700000000, &f.op, &sink, &f.completion, &f.out)) std::abort();
  std::string value = storedValue(static_cast<size_t>(state.range(0)));
  redisReply r{};
  r.type = REDIS_REPLY_STRING;
  r.str = value.data();
  r.len = value.size();
  for (auto _ : state) {
    f.out.clear();
    f.tr.finish(f.op, &r, &f.out);
    benchmark::DoNotOptimize(f.out.data());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_FinishGetHit)->Arg(100)->Arg(10 * 1024)->Arg(100 * 1024);

void BM_FinishGetMiss(benchmark::State& state) {
  Fixture f;
  NullSink sink;
  const std::string bytes = "get key:123456\r\n";
  const Request req = parseOne(bytes);
  if (!f.tr.start(req, 1700000000, &f.op, &sink, &f.completion, &f.out)) std::abort();
  redisReply r{};
  r.type = REDIS_REPLY_NIL;
  for (auto _ : state) {
    f.out.clear();
    f.tr.finish(f.op, &r, &f.out);
    benchmark::DoNotOptimize(f.out.data());
  }
}
BENCHMARK(BM_FinishGetMiss);

void BM_FinishStore(benchmark::State& state) {
  Fixture f;
  NullSink sink;
  const std::string bytes = setRequest(100);
  const Request req = parseOne(bytes);
  if (!f.tr.start(req, 1700000000, &f.op, &sink, &f.completion, &f.out)) std::abort();
  char ok[] = "OK";
  redisReply r{};
  r.type = REDIS_REPLY_STATUS;
  r.str = ok;
  r.len = 2;
  for (auto _ : state) {
    f.out.clear();
    f.tr.finish(f.op, &r, &f.out);
    benchmark::DoNotOptimize(f.out.data());
  }
}
BENCHMARK(BM_FinishStore);

// finish(): an MGET of `range` keys, all hits with 100-byte data.
void BM_FinishMultiGet(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Fixture f;
  NullSink sink;
  const std::string bytes = multiGetLine(n);
  const Request req = parseOne(bytes);
  if (!f.tr.start(req, 1700000000, &f.op, &sink, &f.completion, &f.out)) std::abort();
  std::string value = storedValue(100);
  std::vector<redisReply> elems(static_cast<size_t>(n));
  std::vector<redisReply*> ptrs;
  for (auto& e : elems) {
    e.type = REDIS_REPLY_STRING;
    e.str = value.data();
    e.len = value.size();
    ptrs.push_back(&e);
  }
  redisReply r{};
  r.type = REDIS_REPLY_ARRAY;
  r.elements = ptrs.size();
  r.element = ptrs.data();
  for (auto _ : state) {
    f.out.clear();
    f.tr.finish(f.op, &r, &f.out);
    benchmark::DoNotOptimize(f.out.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_FinishMultiGet)->Arg(10)->Arg(100);

// hiredis's reader on the reply bytes of a GET hit / an MGET of `range` 100-byte hits: the
// allocation-heavy part of the Redis connection's read path (one redisReply per element).
void BM_HiredisReadMget(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::string value = storedValue(100);
  std::string wire;
  if (n > 1) {
    wire += '*';
    wire += std::to_string(n);
    wire += "\r\n";
  }
  for (int i = 0; i < n; ++i) {
    wire += '$';
    wire += std::to_string(value.size());
    wire += "\r\n";
    wire += value;
    wire += "\r\n";
  }
  redisReader* reader = redisReaderCreate();
  for (auto _ : state) {
    redisReaderFeed(reader, wire.data(), wire.size());
    void* reply = nullptr;
    if (redisReaderGetReply(reader, &reply) != REDIS_OK || reply == nullptr) {
      state.SkipWithError("reader failed");
      break;
    }
    freeReplyObject(reply);
  }
  redisReaderFree(reader);
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_HiredisReadMget)->Arg(1)->Arg(10)->Arg(100);

}  // namespace
