// mcbridge_loadgen: a memcached text-protocol load generator (bench/README.md).
//
// N connections spread over T threads, each thread one epoll loop. Every connection keeps up to
// D requests in flight (pipelining). Two modes:
//   - closed loop (default): each connection refills its pipeline as soon as a reply comes;
//     measures maximum throughput.
//   - open loop (--rate R): requests are scheduled at fixed intervals (R ops/s in total) and a
//     request's latency is measured from its *scheduled* time, so a stalled server is charged
//     for every request it delayed (no coordinated omission).
// Every reply is validated (STORED for set; VALUE <key> <flags> <bytes> + data + END for get,
// keys in the requested order, data length as stored); anything else counts as an error.
// Keys are prefilled (set) before gets are measured. The result is one JSON line on stdout.
//
// A second mode (--idle-conns N) opens N connections, checks each with `version`, writes a
// ready file and holds them open (for measuring the server's memory per idle connection).
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

uint64_t nowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

std::atomic<bool> g_stop{false};
void onSignal(int) { g_stop.store(true); }

// ---------------------------------------------------------------------------------------------
// Options

struct Options {
  std::string server = "127.0.0.1:11211";
  int conns = 64;
  int threads = 2;
  int depth = 1;
  double get_ratio = 0.9;  // fraction of requests that are gets
  size_t value_size = 100;
  uint64_t keys = 10000;  // key space
  int multiget = 1;       // keys per get request
  double rate = 0;        // open loop: total ops/s; 0 = closed loop
  double duration = 10;   // measured seconds
  double warmup = 1;      // seconds run before measuring
  bool prefill = true;
  std::string key_prefix;  // default: "lg<value_size>:"
  std::string label;
  uint64_t seed = 1;
  bool meta = false;  // gets as meta commands: mg <key> v f k (Dalli-style quiet + mn for M > 1)
  // idle mode
  int idle_conns = 0;
  double hold = 30;
  std::string ready_file;
  double connect_timeout = 20;
};

[[noreturn]] void usage(const char* msg) {
  if (msg) std::fprintf(stderr, "mcbridge_loadgen: %s\n", msg);
  std::fprintf(stderr,
               "usage: mcbridge_loadgen --server HOST:PORT [options]\n"
               "  --conns N         connections in total (64)\n"
               "  --threads T       threads, connections spread over them (2)\n"
               "  --depth D         requests in flight per connection (1)\n"
               "  --ratio G:S       get:set request mix, e.g. 90:10 (90:10)\n"
               "  --value-size B    value bytes for set and prefill (100)\n"
               "  --keys K          key space (10000)\n"
               "  --multiget M      keys per get request (1)\n"
               "  --rate R          open loop at R requests/s in total; 0 = closed loop (0)\n"
               "  --duration S      measured seconds (10)\n"
               "  --warmup S        unmeasured seconds before (1)\n"
               "  --no-prefill      do not set every key before measuring\n"
               "  --key-prefix P    key prefix (lg<value-size>:)\n"
               "  --label L         copied into the JSON output\n"
               "  --meta            gets as meta commands: `mg <key> v f k`, or for --multiget\n"
               "                    M > 1 M quiet `mg <key> v f k q` and `mn` (Dalli's get_multi)\n"
               "  --seed N          random seed (1)\n"
               "  --idle-conns N    idle mode: open N connections, check each with version,\n"
               "                    write --ready-file, hold them --hold S seconds (or until\n"
               "                    SIGTERM/SIGINT), print JSON\n");
  std::exit(2);
}

double toDouble(const char* s, const char* name) {
  char* end = nullptr;
  double v = std::strtod(s, &end);
  if (end == s || *end != '\0' || v < 0) {
    std::string m = std::string("bad value for ") + name + ": " + s;
    usage(m.c_str());
  }
  return v;
}

Options parseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto val = [&](void) -> const char* {
      if (i + 1 >= argc) {
        std::string m = "missing value for " + std::string(a);
        usage(m.c_str());
      }
      return argv[++i];
    };
    if (a == "--server") o.server = val();
    else if (a == "--conns") o.conns = static_cast<int>(toDouble(val(), "--conns"));
    else if (a == "--threads") o.threads = static_cast<int>(toDouble(val(), "--threads"));
    else if (a == "--depth") o.depth = static_cast<int>(toDouble(val(), "--depth"));
    else if (a == "--ratio") {
      std::string r = val();
      auto colon = r.find(':');
      if (colon == std::string::npos) usage("--ratio wants G:S, e.g. 90:10");
      double g = toDouble(r.substr(0, colon).c_str(), "--ratio");
      double s = toDouble(r.substr(colon + 1).c_str(), "--ratio");
      if (g + s <= 0) usage("--ratio: both zero");
      o.get_ratio = g / (g + s);
    } else if (a == "--value-size") o.value_size = static_cast<size_t>(toDouble(val(), "--value-size"));
    else if (a == "--keys") o.keys = static_cast<uint64_t>(toDouble(val(), "--keys"));
    else if (a == "--multiget") o.multiget = static_cast<int>(toDouble(val(), "--multiget"));
    else if (a == "--rate") o.rate = toDouble(val(), "--rate");
    else if (a == "--duration") o.duration = toDouble(val(), "--duration");
    else if (a == "--warmup") o.warmup = toDouble(val(), "--warmup");
    else if (a == "--no-prefill") o.prefill = false;
    else if (a == "--key-prefix") o.key_prefix = val();
    else if (a == "--label") o.label = val();
    else if (a == "--meta") o.meta = true;
    else if (a == "--seed") o.seed = static_cast<uint64_t>(toDouble(val(), "--seed"));
    else if (a == "--idle-conns") o.idle_conns = static_cast<int>(toDouble(val(), "--idle-conns"));
    else if (a == "--hold") o.hold = toDouble(val(), "--hold");
    else if (a == "--ready-file") o.ready_file = val();
    else if (a == "--connect-timeout") o.connect_timeout = toDouble(val(), "--connect-timeout");
    else if (a == "-h" || a == "--help") usage(nullptr);
    else {
      std::string m = "unknown option " + std::string(a);
      usage(m.c_str());
    }
  }
  if (o.threads < 1) o.threads = 1;
  if (o.conns < o.threads) o.threads = std::max(1, o.conns);
  if (o.depth < 1) o.depth = 1;
  if (o.multiget < 1) o.multiget = 1;
  if (o.keys < static_cast<uint64_t>(o.multiget)) o.keys = static_cast<uint64_t>(o.multiget);
  if (o.key_prefix.empty()) o.key_prefix = "lg" + std::to_string(o.value_size) + ":";
  return o;
}

sockaddr_in resolve(const std::string& hostport) {
  auto colon = hostport.rfind(':');
  if (colon == std::string::npos) usage("--server wants HOST:PORT");
  std::string host = hostport.substr(0, colon);
  std::string port = hostport.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr) {
    std::fprintf(stderr, "mcbridge_loadgen: cannot resolve %s\n", hostport.c_str());
    std::exit(2);
  }
  sockaddr_in sa;
  std::memcpy(&sa, res->ai_addr, sizeof(sa));
  freeaddrinfo(res);
  return sa;
}

// ---------------------------------------------------------------------------------------------
// Latency histogram: log-linear buckets over nanoseconds, 64 sub-buckets per power of two
// (about 1.6% relative precision), fixed size, mergeable.

class Histogram {
 public:
  static constexpr int kSubBits = 6;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = kSub * 60;

  void record(uint64_t ns) {
    counts_[index(ns)]++;
    count_++;
    sum_ += ns;
    max_ = std::max(max_, ns);
  }
  void merge(const Histogram& o) {
    for (int i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    count_ += o.count_;
    sum_ += o.sum_;
    max_ = std::max(max_, o.max_);
  }
  uint64_t count() const { return count_; }
  double meanNs() const { return count_ ? static_cast<double>(sum_) / count_ : 0; }
  uint64_t maxNs() const { return max_; }
  // Value at quantile q (0..1): the midpoint of the bucket holding the ceil(q*count)-th sample.
  double quantileNs(double q) const {
    if (count_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(static_cast<double>(max_), midpoint(i));
    }
    return static_cast<double>(max_);
  }

 private:
  static int index(uint64_t v) {
    if (v < kSub) return static_cast<int>(v);
    int msb = 63 - std::countl_zero(v);
    int shift = msb - kSubBits;
    int idx = (shift + 1) * kSub + static_cast<int>((v >> shift) - kSub);
    return std::min(idx, kBuckets - 1);
  }
  static double midpoint(int idx) {
    if (idx < kSub) return idx;
    int shift = idx / kSub - 1;
    uint64_t mant = static_cast<uint64_t>(idx % kSub + kSub);
    return static_cast<double>(mant << shift) + static_cast<double>(1ull << shift) / 2.0;
  }

  std::vector<uint64_t> counts_ = std::vector<uint64_t>(kBuckets, 0);
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Connections

struct Pending {
  uint64_t t0;      // scheduled (open loop) or sent (closed loop) time, ns
  uint64_t first;   // first key index
  uint32_t nkeys;   // keys of a get; 0 for a set or version
  uint8_t kind;     // kGet / kSet / kVersion
};
enum : uint8_t { kGet, kSet, kVersion };

struct Conn {
  int fd = -1;
  bool dead = false;
  bool want_out = false;
  bool dirty = false;
  std::string wbuf;
  size_t woff = 0;
  std::vector<char> rbuf = std::vector<char>(64 * 1024);
  size_t rlen = 0;
  std::deque<Pending> inflight;
  // progress through the current get reply
  uint32_t cursor = 0;  // keys of the head request already matched or skipped
  uint32_t hits = 0;
};

struct Stats {
  uint64_t gets = 0, sets = 0, keys = 0, hits = 0, misses = 0, errors = 0;
  uint64_t prefilled = 0;
  uint64_t bytes_in = 0;
  Histogram hist;
  std::vector<std::string> samples;  // first few unexpected lines
  void error(std::string_view what) {
    ++errors;
    if (samples.size() < 5) samples.emplace_back(what.substr(0, 120));
  }
};

// Opens conns.size() connections in waves (a server's accept backlog is finite), registering
// each on `ep` for EPOLLIN with data.u32 = its index. Returns the number that failed.
int connectAll(int ep, const sockaddr_in& addr, std::vector<Conn>& conns, double timeout_s,
               Stats* st) {
  const size_t kWave = 256;
  int failed = 0;
  uint64_t deadline = nowNs() + static_cast<uint64_t>(timeout_s * 1e9);
  std::vector<epoll_event> evs(kWave);
  for (size_t base = 0; base < conns.size(); base += kWave) {
    size_t end = std::min(conns.size(), base + kWave);
    size_t pending = 0;
    for (size_t i = base; i < end; ++i) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        st->error(std::string("socket: ") + std::strerror(errno));
        conns[i].dead = true;
        ++failed;
        continue;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      conns[i].fd = fd;
      int rc = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
      if (rc < 0 && errno != EINPROGRESS) {
        st->error(std::string("connect: ") + std::strerror(errno));
        close(fd);
        conns[i].fd = -1;
        conns[i].dead = true;
        ++failed;
        continue;
      }
      epoll_event ev{};
      ev.events = EPOLLOUT;
      ev.data.u32 = static_cast<uint32_t>(i);
      epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
      ++pending;
    }
    while (pending > 0) {
      uint64_t now = nowNs();
      if (now >= deadline || g_stop.load()) break;
      int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
      for (int k = 0; k < n; ++k) {
        Conn& c = conns[evs[k].data.u32];
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        epoll_event ev{};
        ev.data.u32 = evs[k].data.u32;
        if (err != 0) {
          st->error(std::string("connect: ") + std::strerror(err));
          epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, &ev);
          close(c.fd);
          c.fd = -1;
          c.dead = true;
          ++failed;
        } else {
          ev.events = EPOLLIN;
          epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
        }
        --pending;
      }
    }
    if (pending > 0) {  // timed out: give up on the rest of the wave
      for (size_t i = base; i < end; ++i) {
        Conn& c = conns[i];
        if (c.dead || c.fd < 0) continue;
        int err = 0;
        socklen_t len = sizeof(err);
        sockaddr_in peer;
        socklen_t plen = sizeof(peer);
        if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0 ||
            getpeername(c.fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0) {
          st->error("connect: timed out");
          close(c.fd);
          c.fd = -1;
          c.dead = true;
          ++failed;
        } else {
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.u32 = static_cast<uint32_t>(i);
          epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
        }
      }
    }
  }
  return failed;
}

// ---------------------------------------------------------------------------------------------
// Worker: one thread, one epoll loop, a share of the connections.

enum class Phase { kPrefill, kRun };

class Worker {
 public:
  Worker(const Options& o, const sockaddr_in& addr, int index, int nconns)
      : o_(o), addr_(addr), index_(index), conns_(static_cast<size_t>(nconns)) {
    rng_ = o.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(index) * 0xBF58476D1CE4E5B9ull + 1;
    value_.assign(o.value_size, 'x');
    for (size_t i = 0; i < value_.size(); ++i) value_[i] = static_cast<char>('a' + (i % 26));
    ep_ = epoll_create1(EPOLL_CLOEXEC);
  }
  ~Worker() {
    for (auto& c : conns_)
      if (c.fd >= 0) close(c.fd);
    if (ep_ >= 0) close(ep_);
  }

  int connect() { return connectAll(ep_, addr_, conns_, o_.connect_timeout, &st_); }

  // Sets this worker's share of the key space (keys i with i % threads == index).
  void prefill(int nthreads) {
    phase_ = Phase::kPrefill;
    prefill_next_ = static_cast<uint64_t>(index_);
    prefill_stride_ = static_cast<uint64_t>(nthreads);
    uint64_t deadline = nowNs() + 120ull * 1000000000ull;
    int depth = std::max(o_.depth, 4);
    for (auto& c : conns_) {
      for (int k = 0; k < depth && !c.dead && prefill_next_ < o_.keys; ++k) issuePrefill(c);
    }
    flushDirty();
    while (!g_stop.load() && nowNs() < deadline && (prefill_next_ < o_.keys || inflight() > 0)) {
      if (allDead()) break;
      poll(100 * 1000000ull, [&](Conn& c) {
        if (prefill_next_ < o_.keys) issuePrefill(c);
      });
    }
    if (prefill_next_ < o_.keys || inflight() > 0) st_.error("prefill did not finish");
  }

  void run(uint64_t start, uint64_t measure_start, uint64_t end) {
    phase_ = Phase::kRun;
    measure_start_ = measure_start;
    end_ = end;
    const bool open = o_.rate > 0;
    if (!open) {
      for (auto& c : conns_)
        for (int k = 0; k < o_.depth && !c.dead; ++k) issue(c, nowNs());
      flushDirty();
    }
    double per_thread = o_.rate / o_.threads;
    uint64_t interval = open ? static_cast<uint64_t>(1e9 / per_thread) : 0;
    // Spread the threads' schedules so their sends don't coincide.
    uint64_t next_send = start + (open ? interval * static_cast<uint64_t>(index_) / o_.threads : 0);
    while (!g_stop.load()) {
      uint64_t now = nowNs();
      if (now >= end) break;
      if (allDead()) break;
      uint64_t timeout = end - now;
      if (open) {
        while (next_send <= now && next_send < end) {
          backlog_.push_back(next_send);
          next_send += interval;
        }
        drainBacklog();
        flushDirty();
        if (next_send > now) timeout = std::min(timeout, next_send - now);
      }
      poll(timeout, [&](Conn& c) {
        if (nowNs() >= end_) return;
        if (open) {
          while (!backlog_.empty() && c.inflight.size() < static_cast<size_t>(o_.depth) &&
                 !c.dead) {
            uint64_t t0 = backlog_.front();
            backlog_.pop_front();
            issue(c, t0);
          }
        } else {
          issue(c, nowNs());
        }
      });
    }
    // Requests still scheduled but never sent are late: count them as such for open loop.
    if (open) unsent_ = backlog_.size();
    // Drain replies still in flight (not measured) so the next run starts clean.
    uint64_t drain_deadline = nowNs() + 3ull * 1000000000ull;
    while (inflight() > 0 && nowNs() < drain_deadline && !allDead()) {
      poll(50 * 1000000ull, [](Conn&) {});
    }
  }

  const Stats& stats() const { return st_; }
  uint64_t unsent() const { return unsent_; }
  int deadConns() const {
    int n = 0;
    for (auto& c : conns_) n += c.dead;
    return n;
  }

 private:
  uint64_t rand64() {
    // splitmix64
    uint64_t z = (rng_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double randUnit() { return static_cast<double>(rand64() >> 11) * (1.0 / 9007199254740992.0); }

  void appendKey(std::string& w, uint64_t k) {
    w += o_.key_prefix;
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof(buf), k);
    w.append(buf, r.ptr);
  }

  void appendSet(Conn& c, uint64_t k) {
    c.wbuf += "set ";
    appendKey(c.wbuf, k);
    char buf[48];
    int n = std::snprintf(buf, sizeof(buf), " 0 0 %zu\r\n", value_.size());
    c.wbuf.append(buf, static_cast<size_t>(n));
    c.wbuf += value_;
    c.wbuf += "\r\n";
  }

  void issuePrefill(Conn& c) {
    if (c.dead) return;
    uint64_t k = prefill_next_;
    prefill_next_ += prefill_stride_;
    appendSet(c, k);
    c.inflight.push_back({nowNs(), k, 0, kSet});
    markDirty(c);
  }

  void issue(Conn& c, uint64_t t0) {
    if (c.dead) return;
    if (o_.get_ratio >= 1.0 || randUnit() < o_.get_ratio) {
      uint32_t n = static_cast<uint32_t>(o_.multiget);
      uint64_t first = rand64() % o_.keys;
      if (o_.meta) {
        for (uint32_t j = 0; j < n; ++j) {
          c.wbuf += "mg ";
          appendKey(c.wbuf, (first + j) % o_.keys);
          c.wbuf += n == 1 ? " v f k\r\n" : " v f k q\r\n";
        }
        if (n > 1) c.wbuf += "mn\r\n";
      } else {
        c.wbuf += "get";
        for (uint32_t j = 0; j < n; ++j) {
          c.wbuf += ' ';
          appendKey(c.wbuf, (first + j) % o_.keys);
        }
        c.wbuf += "\r\n";
      }
      c.inflight.push_back({t0, first, n, kGet});
    } else {
      uint64_t k = rand64() % o_.keys;
      appendSet(c, k);
      c.inflight.push_back({t0, k, 0, kSet});
    }
    markDirty(c);
  }

  // Sends scheduled requests on connections with room, round robin.
  void drainBacklog() {
    size_t n = conns_.size();
    while (!backlog_.empty()) {
      Conn* found = nullptr;
      for (size_t scanned = 0; scanned < n; ++scanned) {
        Conn& c = conns_[rr_];
        rr_ = (rr_ + 1) % n;
        if (!c.dead && c.inflight.size() < static_cast<size_t>(o_.depth)) {
          found = &c;
          break;
        }
      }
      if (found == nullptr) return;  // every pipeline is full: the backlog waits (and ages)
      uint64_t t0 = backlog_.front();
      backlog_.pop_front();
      issue(*found, t0);
    }
  }

  void markDirty(Conn& c) {
    if (!c.dirty) {
      c.dirty = true;
      dirty_.push_back(static_cast<uint32_t>(&c - conns_.data()));
    }
  }

  void flushDirty() {
    for (uint32_t i : dirty_) {
      Conn& c = conns_[i];
      c.dirty = false;
      flush(c);
    }
    dirty_.clear();
  }

  void flush(Conn& c) {
    if (c.dead) return;
    while (c.woff < c.wbuf.size()) {
      ssize_t n = ::write(c.fd, c.wbuf.data() + c.woff, c.wbuf.size() - c.woff);
      if (n > 0) {
        c.woff += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        setWantOut(c, true);
        return;
      }
      kill(c, "write failed");
      return;
    }
    c.wbuf.clear();
    c.woff = 0;
    setWantOut(c, false);
  }

  void setWantOut(Conn& c, bool on) {
    if (c.want_out == on) return;
    c.want_out = on;
    epoll_event ev{};
    ev.events = EPOLLIN | (on ? static_cast<uint32_t>(EPOLLOUT) : 0u);
    ev.data.u32 = static_cast<uint32_t>(&c - conns_.data());
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void kill(Conn& c, std::string_view why) {
    if (c.dead) return;
    st_.error(why);
    // Requests in flight on a dead connection are lost: each is an error.
    st_.errors += c.inflight.size();
    c.inflight.clear();
    c.dead = true;
    epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    c.fd = -1;
  }

  bool allDead() const {
    for (auto& c : conns_)
      if (!c.dead) return false;
    return true;
  }
  size_t inflight() const {
    size_t n = 0;
    for (auto& c : conns_) n += c.inflight.size();
    return n;
  }

  template <typename OnDone>
  void poll(uint64_t timeout_ns, OnDone&& on_done) {
    epoll_event evs[256];
    timespec ts{static_cast<time_t>(timeout_ns / 1000000000ull),
                static_cast<long>(timeout_ns % 1000000000ull)};
    int n = epoll_pwait2(ep_, evs, 256, &ts, nullptr);
    if (n < 0 && errno == ENOSYS) {
      n = epoll_wait(ep_, evs, 256, static_cast<int>((timeout_ns + 999999) / 1000000));
    }
    for (int k = 0; k < n; ++k) {
      Conn& c = conns_[evs[k].data.u32];
      if (c.dead) continue;
      if (evs[k].events & EPOLLOUT) flush(c);
      if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) readAll(c, on_done);
    }
    flushDirty();
  }

  template <typename OnDone>
  void readAll(Conn& c, OnDone& on_done) {
    for (;;) {
      if (c.rlen == c.rbuf.size()) c.rbuf.resize(c.rbuf.size() * 2);
      ssize_t n = ::read(c.fd, c.rbuf.data() + c.rlen, c.rbuf.size() - c.rlen);
      if (n > 0) {
        c.rlen += static_cast<size_t>(n);
        st_.bytes_in += static_cast<uint64_t>(n);
        parse(c, on_done);
        if (c.dead) return;
        continue;
      }
      if (n == 0) {
        kill(c, "connection closed by server");
        return;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      kill(c, std::string("read: ") + std::strerror(errno));
      return;
    }
  }

  // Completes the head request of c.
  template <typename OnDone>
  void complete(Conn& c, bool ok, OnDone& on_done) {
    Pending p = c.inflight.front();
    c.inflight.pop_front();
    uint64_t now = nowNs();
    if (phase_ == Phase::kPrefill) {
      if (ok) ++st_.prefilled;
    } else if (now >= measure_start_ && now < end_ && p.kind != kVersion) {
      if (p.kind == kGet) {
        ++st_.gets;
        st_.keys += p.nkeys;
        st_.hits += c.hits;
        st_.misses += p.nkeys - std::min(p.nkeys, c.hits);
      } else {
        ++st_.sets;
        st_.keys += 1;
      }
      if (p.t0 >= measure_start_ || o_.rate > 0) st_.hist.record(now - std::min(now, p.t0));
    }
    c.cursor = 0;
    c.hits = 0;
    on_done(c);
  }

  // Consumes every complete reply in c.rbuf.
  template <typename OnDone>
  void parse(Conn& c, OnDone& on_done) {
    size_t pos = 0;
    const char* b = c.rbuf.data();
    while (pos < c.rlen && !c.dead) {
      const char* nl = static_cast<const char*>(std::memchr(b + pos, '\n', c.rlen - pos));
      if (nl == nullptr) {
        if (c.rlen - pos > 8192) {
          kill(c, "reply line too long");
          return;
        }
        break;
      }
      size_t line_end = static_cast<size_t>(nl - b) + 1;  // past '\n'
      std::string_view line(b + pos, line_end - pos);
      if (line.size() < 2 || line[line.size() - 2] != '\r') {
        st_.error(std::string("line without CRLF: ") + std::string(line));
      }
      std::string_view body = line.substr(0, line.size() >= 2 ? line.size() - 2 : 0);
      if (c.inflight.empty()) {
        kill(c, std::string("unsolicited reply: ") + std::string(body));
        return;
      }
      Pending& p = c.inflight.front();
      if (p.kind == kSet) {
        bool ok = body == "STORED";
        if (!ok) st_.error(std::string("set: ") + std::string(body));
        pos = line_end;
        complete(c, ok, on_done);
        continue;
      }
      if (p.kind == kVersion) {
        bool ok = body.starts_with("VERSION ");
        if (!ok) st_.error(std::string("version: ") + std::string(body));
        pos = line_end;
        complete(c, ok, on_done);
        continue;
      }
      // get
      const bool meta_value = o_.meta && body.starts_with("VA ");
      if (body.starts_with("VALUE ") || meta_value) {
        std::string_view key;
        std::string_view bytes_s;
        if (meta_value) {
          // VA <bytes> f<flags> k<key>
          std::string_view rest = body.substr(3);
          size_t sp = rest.find(' ');
          bytes_s = rest.substr(0, sp);
          size_t k = rest.find(" k");
          if (sp == std::string_view::npos || k == std::string_view::npos) {
            kill(c, std::string("bad VA line: ") + std::string(body));
            return;
          }
          key = rest.substr(k + 2);
          key = key.substr(0, key.find(' '));
        } else {
          // VALUE <key> <flags> <bytes>
          std::string_view rest = body.substr(6);
          size_t sp1 = rest.find(' ');
          size_t sp2 = sp1 == std::string_view::npos ? sp1 : rest.find(' ', sp1 + 1);
          if (sp2 == std::string_view::npos) {
            kill(c, std::string("bad VALUE line: ") + std::string(body));
            return;
          }
          key = rest.substr(0, sp1);
          bytes_s = rest.substr(sp2 + 1);
          size_t sp3 = bytes_s.find(' ');  // gets would add a cas
          if (sp3 != std::string_view::npos) bytes_s = bytes_s.substr(0, sp3);
        }
        uint64_t nbytes = 0;
        auto r = std::from_chars(bytes_s.data(), bytes_s.data() + bytes_s.size(), nbytes);
        if (r.ec != std::errc() || nbytes > (64u << 20)) {
          kill(c, std::string("bad VALUE length: ") + std::string(body));
          return;
        }
        size_t need = line_end + nbytes + 2;
        if (need > c.rlen) {
          if (need > c.rbuf.size()) {
            // make room for the whole item (compact first)
            std::memmove(c.rbuf.data(), b + pos, c.rlen - pos);
            c.rlen -= pos;
            c.rbuf.resize(std::max(c.rbuf.size(), need - pos + 4096));
            return;
          }
          break;
        }
        if (b[line_end + nbytes] != '\r' || b[line_end + nbytes + 1] != '\n') {
          kill(c, "data block not followed by CRLF");
          return;
        }
        // The key must be one of the requested ones, in order.
        bool matched = false;
        while (c.cursor < p.nkeys) {
          uint64_t want = (p.first + c.cursor) % o_.keys;
          ++c.cursor;
          if (keyIs(key, want)) {
            matched = true;
            break;
          }
        }
        if (!matched) st_.error(std::string("unexpected key: ") + std::string(key));
        else if (nbytes != value_.size()) st_.error("unexpected value length");
        else ++c.hits;
        pos = need;
        // a single non-quiet mg ends with its value
        if (meta_value && p.nkeys == 1) complete(c, true, on_done);
        continue;
      }
      pos = line_end;
      if (body == (o_.meta ? (p.nkeys == 1 ? "EN" : "MN") : "END")) {
        complete(c, true, on_done);
      } else {
        st_.error(std::string("get: ") + std::string(body));
        complete(c, false, on_done);
      }
    }
    if (pos > 0 && !c.dead) {
      std::memmove(c.rbuf.data(), c.rbuf.data() + pos, c.rlen - pos);
      c.rlen -= pos;
    }
  }

  bool keyIs(std::string_view key, uint64_t k) const {
    if (!key.starts_with(o_.key_prefix)) return false;
    std::string_view num = key.substr(o_.key_prefix.size());
    uint64_t v = 0;
    auto r = std::from_chars(num.data(), num.data() + num.size(), v);
    return r.ec == std::errc() && r.ptr == num.data() + num.size() && v == k;
  }

  const Options& o_;
  sockaddr_in addr_;
  int index_;
  int ep_ = -1;
  std::vector<Conn> conns_;
  std::vector<uint32_t> dirty_;
  std::deque<uint64_t> backlog_;
  size_t rr_ = 0;
  std::string value_;
  uint64_t rng_;
  Phase phase_ = Phase::kRun;
  uint64_t prefill_next_ = 0;
  uint64_t prefill_stride_ = 1;
  uint64_t measure_start_ = 0;
  uint64_t end_ = 0;
  uint64_t unsent_ = 0;
  Stats st_;

  friend int idleMode(const Options& o, const sockaddr_in& addr);
};

std::string jsonEscape(std::string_view s) {
  std::string out;
  for (char ch : s) {
    unsigned char u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (u < 0x20 || u >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", u);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out;
}

// Idle mode: open, check with `version`, hold.
int idleMode(const Options& o, const sockaddr_in& addr) {
  Worker w(o, addr, 0, o.idle_conns);
  uint64_t t0 = nowNs();
  int failed = w.connect();
  for (auto& c : w.conns_) {
    if (c.dead) continue;
    c.wbuf = "version\r\n";
    c.inflight.push_back({nowNs(), 0, 0, kVersion});
    w.markDirty(c);
  }
  w.flushDirty();
  w.phase_ = Phase::kPrefill;
  uint64_t deadline = nowNs() + static_cast<uint64_t>(o.connect_timeout * 1e9);
  while (w.inflight() > 0 && nowNs() < deadline && !g_stop.load() && !w.allDead()) {
    w.poll(100 * 1000000ull, [](Conn&) {});
  }
  uint64_t established = w.stats().prefilled;
  double setup_s = static_cast<double>(nowNs() - t0) / 1e9;
  char line[512];
  std::snprintf(line, sizeof(line),
                "{\"mode\":\"idle\",\"label\":\"%s\",\"requested\":%d,\"established\":%llu,"
                "\"connect_failed\":%d,\"errors\":%llu,\"setup_s\":%.3f}",
                jsonEscape(o.label).c_str(), o.idle_conns,
                static_cast<unsigned long long>(established), failed,
                static_cast<unsigned long long>(w.stats().errors), setup_s);
  if (!o.ready_file.empty()) {
    std::string tmp = o.ready_file + ".tmp";
    if (FILE* f = std::fopen(tmp.c_str(), "w")) {
      std::fprintf(f, "%s\n", line);
      std::fclose(f);
      std::rename(tmp.c_str(), o.ready_file.c_str());
    }
  }
  uint64_t hold_end = nowNs() + static_cast<uint64_t>(o.hold * 1e9);
  while (!g_stop.load() && nowNs() < hold_end) {
    // Still poll so a server closing connections is noticed (and counted).
    w.poll(100 * 1000000ull, [](Conn&) {});
  }
  int dead = w.deadConns() - failed;
  std::printf("%.*s,\"closed_by_server\":%d}\n", static_cast<int>(std::strlen(line) - 1), line,
              dead);
  std::fflush(stdout);
  return established == static_cast<uint64_t>(o.idle_conns) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parseOptions(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa{};
  sa.sa_handler = onSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  // Timers as precise as the kernel allows: the open loop schedules sends microseconds apart.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  // Many connections need many descriptors.
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  sockaddr_in addr = resolve(o.server);
  if (o.idle_conns > 0) return idleMode(o, addr);

  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < o.threads; ++t) {
    int n = o.conns / o.threads + (t < o.conns % o.threads ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(o, addr, t, n));
  }
  std::atomic<int> connect_failed{0};
  std::atomic<uint64_t> start_ns{0};
  double prefill_s = 0;
  uint64_t prefill_t0 = 0;
  std::barrier sync(o.threads, []() noexcept {});
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t]() {
      Worker& w = *workers[static_cast<size_t>(t)];
      connect_failed += w.connect();
      sync.arrive_and_wait();
      if (t == 0) prefill_t0 = nowNs();
      sync.arrive_and_wait();
      if (o.prefill) w.prefill(o.threads);
      sync.arrive_and_wait();
      if (t == 0) {
        prefill_s = static_cast<double>(nowNs() - prefill_t0) / 1e9;
        start_ns = nowNs();
      }
      sync.arrive_and_wait();
      uint64_t start = start_ns.load();
      uint64_t measure = start + static_cast<uint64_t>(o.warmup * 1e9);
      uint64_t end = measure + static_cast<uint64_t>(o.duration * 1e9);
      w.run(start, measure, end);
    });
  }
  for (auto& th : threads) th.join();

  Stats total;
  uint64_t unsent = 0, prefilled = 0;
  int dead = 0;
  for (auto& w : workers) {
    const Stats& s = w->stats();
    total.gets += s.gets;
    total.sets += s.sets;
    total.keys += s.keys;
    total.hits += s.hits;
    total.misses += s.misses;
    total.errors += s.errors;
    total.bytes_in += s.bytes_in;
    prefilled += s.prefilled;
    total.hist.merge(s.hist);
    for (auto& m : s.samples)
      if (total.samples.size() < 5) total.samples.push_back(m);
    unsent += w->unsent();
    dead += w->deadConns();
  }
  double secs = o.duration > 0 ? o.duration : 1;
  uint64_t ops = total.gets + total.sets;
  auto us = [&](double q) { return total.hist.quantileNs(q) / 1000.0; };
  std::string samples = "[";
  for (size_t i = 0; i < total.samples.size(); ++i) {
    if (i) samples += ',';
    samples += '"' + jsonEscape(total.samples[i]) + '"';
  }
  samples += ']';
  std::printf(
      "{\"label\":\"%s\",\"server\":\"%s\",\"mode\":\"%s\",\"conns\":%d,\"threads\":%d,"
      "\"depth\":%d,\"get_ratio\":%.3f,\"value_size\":%zu,\"keys\":%llu,\"multiget\":%d,"
      "\"target_rate\":%.0f,\"duration_s\":%.3f,\"prefill_s\":%.3f,\"prefilled\":%llu,"
      "\"ops\":%llu,\"ops_per_sec\":%.1f,\"keys_per_sec\":%.1f,\"gets\":%llu,\"sets\":%llu,"
      "\"hits\":%llu,\"misses\":%llu,\"errors\":%llu,\"connect_failed\":%d,\"dead_conns\":%d,"
      "\"unsent\":%llu,\"lat_us\":{\"mean\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,"
      "\"p999\":%.1f,\"max\":%.1f},\"error_samples\":%s}\n",
      jsonEscape(o.label).c_str(), jsonEscape(o.server).c_str(), o.rate > 0 ? "open" : "closed",
      o.conns, o.threads, o.depth, o.get_ratio, o.value_size,
      static_cast<unsigned long long>(o.keys), o.multiget, o.rate, o.duration, prefill_s,
      static_cast<unsigned long long>(prefilled), static_cast<unsigned long long>(ops),
      static_cast<double>(ops) / secs, static_cast<double>(total.keys) / secs,
      static_cast<unsigned long long>(total.gets), static_cast<unsigned long long>(total.sets),
      static_cast<unsigned long long>(total.hits), static_cast<unsigned long long>(total.misses),
      static_cast<unsigned long long>(total.errors), connect_failed.load(), dead,
      static_cast<unsigned long long>(unsent), total.hist.meanNs() / 1000.0, us(0.50), us(0.90),
      us(0.99), us(0.999), static_cast<double>(total.hist.maxNs()) / 1000.0, samples.c_str());
  std::fflush(stdout);
  return 0;
}
