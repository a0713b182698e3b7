// The default worker count: CPUs of the affinity mask, capped by a cgroup CPU quota.
#include <catch2/catch.hpp>
#include <sched.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "proxy/cpus.h"

using mcbridge::proxy::availableCpus;
using mcbridge::proxy::cgroupCpuLimit;
namespace fs = std::filesystem;

namespace {

// A throw-away /sys/fs/cgroup look-alike, removed at the end of the test.
struct FakeCgroupRoot {
  std::string root;
  FakeCgroupRoot() {
    char tmpl[] = "/tmp/mcbridge-cgroup-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    root = tmpl;
  }
  ~FakeCgroupRoot() { fs::remove_all(root); }
  void write(const std::string& rel, const std::string& text) const {
    fs::create_directories(fs::path(root + rel).parent_path());
    std::ofstream(root + rel) << text;
  }
};

}  // namespace

TEST_CASE("cgroup v2 cpu.max: the smallest quota on the path, rounded up", "[cpus]") {
  FakeCgroupRoot fake;
  const std::string self = "0::/kubepods/pod1/app\n";
  CHECK(cgroupCpuLimit(self, fake.root) == 0);  // no files: no limit
  fake.write("/kubepods/pod1/app/cpu.max", "max 100000\n");
  CHECK(cgroupCpuLimit(self, fake.root) == 0);
  fake.write("/kubepods/pod1/cpu.max", "150000 100000\n");  // 1.5 CPUs on the parent
  CHECK(cgroupCpuLimit(self, fake.root) == 2);
  fake.write("/kubepods/pod1/app/cpu.max", "50000 100000\n");  // half a CPU: still one worker
  CHECK(cgroupCpuLimit(self, fake.root) == 1);
  fake.write("/cpu.max", "garbage");
  CHECK(cgroupCpuLimit(self, fake.root) == 1);
}

TEST_CASE("cgroup v1 cfs quota, in a cpu or cpu,cpuacct hierarchy", "[cpus]") {
  FakeCgroupRoot fake;
  const std::string self = "4:memory:/x\n3:cpu,cpuacct:/docker/abc\n0::/\n";
  fake.write("/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n");
  fake.write("/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  CHECK(cgroupCpuLimit(self, fake.root) == 0);
  fake.write("/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "300000\n");
  CHECK(cgroupCpuLimit(self, fake.root) == 3);
  // A "cpuacct"-only or "cpuset" line is not the cpu controller.
  CHECK(cgroupCpuLimit("3:cpuacct:/docker/abc\n2:cpuset:/docker/abc\n", fake.root) == 0);
  fake.write("/cpu/docker/abc/cpu.cfs_quota_us", "100000\n");
  fake.write("/cpu/docker/abc/cpu.cfs_period_us", "100000\n");
  CHECK(cgroupCpuLimit("3:cpu:/docker/abc\n", fake.root) == 1);
}

TEST_CASE("available CPUs are at least one and at most the affinity mask", "[cpus]") {
  const unsigned n = availableCpus();
  CHECK(n >= 1);
  cpu_set_t set;
  REQUIRE(sched_getaffinity(0, sizeof set, &set) == 0);
  CHECK(n <= static_cast<unsigned>(CPU_COUNT(&set)));
}
