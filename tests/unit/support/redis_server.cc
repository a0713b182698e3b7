#include "unit/support/redis_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace mcbridge::test {

uint16_t freeTcpPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

bool waitForTcpPort(uint16_t port, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

bool makeTestCertificates(const std::string& dir, std::string* error) {
  // EC keys: much faster to generate than RSA, and what Memorystore-like setups negotiate.
  const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  const std::vector<std::string> commands = {
      "openssl req -x509 " + key +
          " -keyout ca.key -out ca.crt -days 2 -subj '/CN=mcbridge test CA'",
      "openssl req " + key + " -keyout server.key -out server.csr -subj '/CN=localhost'",
      "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
      "-extfile server.ext -out server.crt",
      "openssl req -x509 " + key +
          " -keyout other-ca.key -out other-ca.crt -days 2 "
          "-subj '/CN=some other CA'",
  };
  std::ofstream(dir + "/server.ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
  for (const std::string& c : commands) {
    std::string full = "cd '" + dir + "' && " + c + " > openssl.log 2>&1";
    if (std::system(full.c_str()) != 0) {
      std::ifstream in(dir + "/openssl.log");
      std::stringstream ss;
      ss << in.rdbuf();
      *error = c + ": " + ss.str();
      return false;
    }
  }
  return true;
}

std::vector<std::string> tlsServerArgs(const std::string& dir) {
  return {"--tls-cert-file",    dir + "/server.crt", "--tls-key-file",     dir + "/server.key",
          "--tls-ca-cert-file", dir + "/ca.crt",     "--tls-auth-clients", "no"};
}

RedisServer::RedisServer() : RedisServer(Options{}) {}

RedisServer::RedisServer(Options options) : options_(std::move(options)) {
  if (options_.port == 0) options_.port = freeTcpPort();
  std::string tmpl = (std::filesystem::temp_directory_path() / "mcbridge-redis-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) != nullptr) dir_ = tmpl;
}

RedisServer::~RedisServer() {
  kill();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

bool RedisServer::start() {
  kill();
  std::string port = std::to_string(options_.port);
  std::vector<std::string> args = {
      options_.binary, "--bind", "127.0.0.1", "--save", "",          "--appendonly",     "no",
      "--daemonize",   "no",     "--dir",     dir_,     "--logfile", dir_ + "/redis.log"};
  if (options_.tls) {
    args.insert(args.end(), {"--port", "0", "--tls-port", port});
  } else {
    args.insert(args.end(), {"--port", port});
  }
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());

  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int devnull = ::open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      ::dup2(devnull, 0);
      ::dup2(devnull, 1);
      ::dup2(devnull, 2);
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  pid_ = pid;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;  // exited: bad arguments, port taken, ...
      return false;
    }
    if (waitForTcpPort(options_.port, std::chrono::milliseconds(50))) return true;
  }
  kill();
  return false;
}

void RedisServer::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

void RedisServer::pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void RedisServer::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

std::string RedisServer::lastLog() const {
  std::ifstream in(dir_ + "/redis.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace mcbridge::test
