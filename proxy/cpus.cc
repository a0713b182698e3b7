#include "proxy/cpus.h"

#include <sched.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <thread>

namespace mcbridge::proxy {
namespace {

std::string readFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) return {};
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

bool parseInt(std::string_view s, long long* out) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  const auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// ceil(quota / period), or 0 for no (or a nonsensical) limit.
unsigned quotaCpus(long long quota, long long period) {
  if (quota <= 0 || period <= 0) return 0;
  return static_cast<unsigned>((quota + period - 1) / period);
}

// The smallest limit found by `limit_at` in `dir` and each of its ancestors up to `root`.
template <typename F>
unsigned smallestOnPath(const std::string& root, std::string_view path, F limit_at) {
  unsigned best = 0;
  std::string p(path);
  while (!p.empty() && p.back() == '/') p.pop_back();
  for (;;) {
    const unsigned n = limit_at(root + p);
    if (n > 0 && (best == 0 || n < best)) best = n;
    if (p.empty()) break;
    const size_t slash = p.rfind('/');
    p.resize(slash == std::string::npos ? 0 : slash);
  }
  return best;
}

}  // namespace

unsigned cgroupCpuLimit(std::string_view proc_self_cgroup, const std::string& cgroup_root) {
  std::string_view text = proc_self_cgroup;
  unsigned best = 0;
  auto keep = [&best](unsigned n) {
    if (n > 0 && (best == 0 || n < best)) best = n;
  };
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    // "<id>:<controllers>:<path>"
    const size_t c1 = line.find(':');
    const size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    const std::string_view controllers = line.substr(c1 + 1, c2 - c1 - 1);
    const std::string_view path = line.substr(c2 + 1);
    if (controllers.empty()) {
      // cgroup v2: cpu.max is "<quota> <period>" or "max <period>".
      keep(smallestOnPath(cgroup_root, path, [](const std::string& dir) {
        const std::string s = readFile(dir + "/cpu.max");
        const size_t sp = s.find(' ');
        long long quota = 0, period = 0;
        if (sp == std::string::npos || !parseInt(std::string_view(s).substr(0, sp), &quota) ||
            !parseInt(std::string_view(s).substr(sp + 1), &period)) {
          return 0u;
        }
        return quotaCpus(quota, period);
      }));
      continue;
    }
    // cgroup v1: the hierarchy holding the "cpu" controller, mounted as cpu or cpu,cpuacct.
    bool has_cpu = false;
    for (std::string_view rest = controllers; !rest.empty();) {
      const size_t comma = rest.find(',');
      if (rest.substr(0, comma) == "cpu") has_cpu = true;
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    if (!has_cpu) continue;
    for (const char* mount : {"/cpu", "/cpu,cpuacct", "/cpuacct,cpu"}) {
      keep(smallestOnPath(cgroup_root + mount, path, [](const std::string& dir) {
        long long quota = 0, period = 0;
        if (!parseInt(readFile(dir + "/cpu.cfs_quota_us"), &quota) ||
            !parseInt(readFile(dir + "/cpu.cfs_period_us"), &period)) {
          return 0u;
        }
        return quotaCpus(quota, period);
      }));
    }
  }
  return best;
}

unsigned availableCpus() {
  unsigned cpus = 0;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) cpus = static_cast<unsigned>(CPU_COUNT(&set));
  if (cpus == 0) cpus = std::thread::hardware_concurrency();
  const unsigned limit = cgroupCpuLimit(readFile("/proc/self/cgroup"), "/sys/fs/cgroup");
  if (limit > 0 && (cpus == 0 || limit < cpus)) cpus = limit;
  return cpus > 0 ? cpus : 1;
}

}  // namespace mcbridge::proxy
