// Microbenchmarks of the memcached text parser (protocol/parser.h) and the reply composer.
//
// Each benchmark parses one complete request from a prepared buffer, as a connection does for
// every request it reads. Bytes/s are the request bytes consumed.
#include <benchmark/benchmark.h>

#include <string>

#include "protocol/parser.h"
#include "protocol/request.h"

namespace {

using mcbridge::protocol::ParseResult;
using mcbridge::protocol::ParseStatus;
using mcbridge::protocol::Parser;
using mcbridge::protocol::Request;

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

void parseLoop(benchmark::State& state, const std::string& input) {
  const Parser parser;
  Request req;
  for (auto _ : state) {
    ParseResult r = parser.parse(input, &req);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(req);
    if (r.status != ParseStatus::kOk) {
      state.SkipWithError("parse did not return kOk");
      break;
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(input.size()));
}

void BM_ParseGet(benchmark::State& state) { parseLoop(state, "get key:123456\r\n"); }
BENCHMARK(BM_ParseGet);

void BM_ParseMultiGet(benchmark::State& state) {
  parseLoop(state, multiGetLine(static_cast<int>(state.range(0))));
  state.SetItemsProcessed(state.iterations() * state.range(0));  // keys/s
}
BENCHMARK(BM_ParseMultiGet)->Arg(10)->Arg(100);

void BM_ParseSet(benchmark::State& state) {
  parseLoop(state, setRequest(static_cast<size_t>(state.range(0))));
}
BENCHMARK(BM_ParseSet)->Arg(100)->Arg(10 * 1024)->Arg(100 * 1024);

// A storage command whose value has not fully arrived: the parser must report how much it needs
// without scanning the partial value (a 1 MiB set arrives in many reads).
void BM_ParseSetNeedMore(benchmark::State& state) {
  std::string full = setRequest(static_cast<size_t>(state.range(0)));
  std::string partial = full.substr(0, full.size() / 2);
  const Parser parser;
  Request req;
  for (auto _ : state) {
    ParseResult r = parser.parse(partial, &req);
    benchmark::DoNotOptimize(r);
    if (r.status != ParseStatus::kNeedMore) {
      state.SkipWithError("expected kNeedMore");
      break;
    }
  }
}
BENCHMARK(BM_ParseSetNeedMore)->Arg(100 * 1024);

// A read buffer holding a pipeline of 32 requests (90% get, 10% set of 100 B), parsed to the end.
void BM_ParsePipeline90_10(benchmark::State& state) {
  std::string buf;
  for (int i = 0; i < 32; ++i) {
    if (i % 10 == 9) buf += setRequest(100);
    else buf += "get key:" + std::to_string(200000 + i) + "\r\n";
  }
  const Parser parser;
  Request req;
  for (auto _ : state) {
    std::string_view in = buf;
    while (!in.empty()) {
      ParseResult r = parser.parse(in, &req);
      benchmark::DoNotOptimize(req);
      if (r.status != ParseStatus::kOk) {
        state.SkipWithError("pipeline parse failed");
        return;
      }
      in.remove_prefix(r.consumed);
    }
  }
  state.SetItemsProcessed(state.iterations() * 32);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(buf.size()));
}
BENCHMARK(BM_ParsePipeline90_10);

}  // namespace
