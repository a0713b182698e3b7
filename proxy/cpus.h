// How many CPUs mcbridge may use, for the default number of workers (--threads 0).
//
// A sidecar usually runs with a CPU limit on a node with many more cores (Kubernetes limits,
// Cloud Run): one worker per core of the node would split the clients, and the batches to
// Redis, over workers that cannot all run. So the default is the CPUs the process may run on
// (its affinity mask), capped by the cgroup CPU quota (v2 cpu.max, or v1 cfs_quota_us /
// cfs_period_us, of the process's cgroup and its ancestors), rounded up, at least 1.
#pragma once

#include <string>
#include <string_view>

namespace mcbridge::proxy {

// The CPUs available to this process (see above). Reads /proc/self/cgroup and /sys/fs/cgroup.
unsigned availableCpus();

// The cgroup CPU quota as a whole number of CPUs (rounded up), or 0 when there is none.
// `proc_self_cgroup` is the text of /proc/self/cgroup; cgroup files are read under `cgroup_root`
// (/sys/fs/cgroup). Exposed for tests.
unsigned cgroupCpuLimit(std::string_view proc_self_cgroup, const std::string& cgroup_root);

}  // namespace mcbridge::proxy
