// strata-run, started with posix_spawn, running strata_launcher_probe workers (tests/launcher_probe): every
// worker sees its rank and meets the others through the store; a failing worker stops the job with its exit
// code. Every wait is bounded: a launcher that hangs is killed and the test fails.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

struct Outcome {
  std::optional<int> exit_code;  // nullopt: still running at the deadline (then killed)
  std::string output;            // the launcher's and the workers' stdout and stderr
  double seconds = 0;
};

// Starts strata-run with `args` (the probe is referred to as "PROBE"), its output going to work/launcher.log.
pid_t spawn_launcher(const std::vector<std::string>& args, const fs::path& work) {
  std::vector<std::string> all{STRATA_RUN_EXE};
  for (const std::string& arg : args) all.push_back(arg == "PROBE" ? STRATA_LAUNCHER_PROBE : arg);
  std::vector<char*> argv;
  for (auto& arg : all) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::string log = (work / "launcher.log").string();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, STRATA_RUN_EXE, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

// Waits for the launcher `pid` for at most `limit` (then stops it: SIGTERM, which it passes on, then
// SIGKILL).
Outcome wait_launcher(pid_t pid, const fs::path& work, Clock::time_point start, std::chrono::seconds limit) {
  Outcome outcome;
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (Clock::now() - start > limit) {
      ::kill(pid, SIGTERM);
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  outcome.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::ifstream in(work / "launcher.log");
  std::stringstream text;
  text << in.rdbuf();
  outcome.output = text.str();
  return outcome;
}

Outcome run_launcher(const std::vector<std::string>& args, const fs::path& work,
                     std::chrono::seconds limit = std::chrono::seconds(60)) {
  auto start = Clock::now();
  pid_t pid = spawn_launcher(args, work);
  REQUIRE(pid > 0);
  return wait_launcher(pid, work, start, limit);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("strata_launcher_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace

TEST_CASE("strata-run: three workers get their ranks and meet through the tcp store",
          "[distribute][launcher]") {
  fs::path dir = fresh_dir("three");
  Outcome outcome = run_launcher({"--nproc-per-node", "3", "--timeout", "30", "PROBE", dir.string()}, dir);
  INFO(outcome.output);
  REQUIRE(outcome.exit_code == 0);
  for (int rank = 0; rank < 3; ++rank) {
    std::string seen = read_file(dir / ("rank_" + std::to_string(rank) + ".txt"));
    INFO(seen);
    CHECK(seen.find("rank=" + std::to_string(rank) + " world_size=3 local_rank=" + std::to_string(rank) +
                    " local_world_size=3 seen=0,1,2 run_id=strata") == 0);
  }
  if (!std::getenv("OMP_NUM_THREADS"))  // strata-run sets it to 1 for several workers, unless the user did
    CHECK(read_file(dir / "rank_0.txt").find("omp=1") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("strata-run: a failing worker stops the others and gives its exit code", "[distribute][launcher]") {
  fs::path dir = fresh_dir("failure");
  // Rank 1 exits with 3 after the rendezvous; rank 2 would sleep a minute.
  Outcome outcome = run_launcher(
      {"--nproc-per-node", "3", "--timeout", "30", "PROBE", dir.string(), "--exit", "1:3", "--sleep", "2:60"},
      dir);
  INFO(outcome.output);
  CHECK(outcome.exit_code == 3);
  CHECK(outcome.seconds < 30);  // rank 2 was stopped, not waited for
  CHECK_THAT(outcome.output, Catch::Matchers::Contains("rank 1 (local rank 1, pid") &&
                                 Catch::Matchers::Contains("exited with code 3; stopping the other workers"));
  CHECK(fs::exists(dir / "rank_2.txt"));  // it got as far as its sleep
  fs::remove_all(dir);
}

TEST_CASE("strata-run: a worker killed by a signal gives 128 + the signal", "[distribute][launcher]") {
  fs::path dir = fresh_dir("signal");
  // The probe's rank 0 sleeps; the test kills it with SIGKILL once its file shows its pid.
  std::optional<Outcome> outcome;
  std::thread launcher([&] {
    outcome = run_launcher({"--nproc-per-node", "2", "--timeout", "30", "PROBE", dir.string(), "--sleep",
                            "0:60", "--sleep", "1:60"},
                           dir);
  });
  auto deadline = Clock::now() + std::chrono::seconds(30);
  std::string seen;
  while (Clock::now() < deadline && seen.find('\n') == std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    seen = read_file(dir / "rank_0.txt");
  }
  size_t at = seen.find("pid=");
  if (at != std::string::npos) ::kill(std::stoi(seen.substr(at + 4)), SIGKILL);
  launcher.join();
  REQUIRE(at != std::string::npos);
  INFO(outcome->output);
  CHECK(outcome->exit_code == 128 + SIGKILL);
  CHECK_THAT(outcome->output, Catch::Matchers::Contains("rank 0 (local rank 0, pid") &&
                                  Catch::Matchers::Contains("was killed by SIGKILL"));
  CHECK(outcome->seconds < 30);
  fs::remove_all(dir);
}

TEST_CASE("strata-run: bad arguments print the usage and exit 2", "[distribute][launcher]") {
  fs::path dir = fresh_dir("usage");
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--nproc-per-node", "0", "PROBE"},
           {"--nproc-per-node", "two", "PROBE"},
           {"--bogus", "PROBE"},
           {"--nproc-per-node", "2"},
           {"--nnodes", "2", "--node-rank", "0", "PROBE"},
           {"--nnodes", "2", "--node-rank", "2", "--master", "127.0.0.1:1", "PROBE"},
           {"--master", "nohost", "PROBE"},
           {"--rdzv", "http://x", "PROBE"},
           {"--timeout", "-1", "PROBE"},
       }) {
    Outcome outcome = run_launcher(args, dir, std::chrono::seconds(10));
    INFO(outcome.output);
    CHECK(outcome.exit_code == 2);
    CHECK_THAT(outcome.output, Catch::Matchers::Contains("usage: strata-run"));
  }
  fs::remove_all(dir);
}

TEST_CASE("strata-run: --rdzv file:// meets through Gloo's FileStore", "[distribute][launcher]") {
  fs::path dir = fresh_dir("file");
  Outcome outcome = run_launcher({"--nproc-per-node", "2", "--timeout", "30", "--rdzv",
                                  "file://" + (dir / "store").string(), "PROBE", dir.string()},
                                 dir);
  INFO(outcome.output);
  REQUIRE(outcome.exit_code == 0);
  for (int rank = 0; rank < 2; ++rank) {
    std::string seen = read_file(dir / ("rank_" + std::to_string(rank) + ".txt"));
    INFO(seen);
    // One node with a store that outlives the launch: a fresh run id, so keys an earlier launch left are not
    // read.
    CHECK(seen.find("rank=" + std::to_string(rank) + " world_size=2 local_rank=" + std::to_string(rank) +
                    " local_world_size=2 seen=0,1 run_id=strata-") == 0);
  }
  fs::remove_all(dir);
}

TEST_CASE("strata-run: two nodes, each its own launcher, meet at node 0's --master",
          "[distribute][launcher]") {
  fs::path dir = fresh_dir("nodes");
  uint16_t port = 0;
  {
    // A free port: bind 0, read it, let it go (strata-run binds with SO_REUSEADDR).
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
    socklen_t len = sizeof(address);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &len);
    port = ntohs(address.sin_port);
    ::close(fd);
  }
  std::string master = "127.0.0.1:" + std::to_string(port);
  fs::create_directories(dir / "node1");
  std::optional<Outcome> node1;
  std::thread second([&] {
    node1 = run_launcher({"--nnodes", "2", "--node-rank", "1", "--master", master, "--nproc-per-node", "1",
                          "--timeout", "30", "PROBE", dir.string()},
                         dir / "node1");
  });
  Outcome node0 = run_launcher({"--nnodes", "2", "--node-rank", "0", "--master", master, "--nproc-per-node",
                                "1", "--timeout", "30", "PROBE", dir.string()},
                               dir);
  second.join();
  INFO(node0.output);
  INFO(node1->output);
  CHECK(node0.exit_code == 0);
  CHECK(node1->exit_code == 0);
  CHECK(read_file(dir / "rank_0.txt").find("rank=0 world_size=2 local_rank=0 local_world_size=1 seen=0,1") ==
        0);
  CHECK(read_file(dir / "rank_1.txt").find("rank=1 world_size=2 local_rank=0 local_world_size=1 seen=0,1") ==
        0);
  fs::remove_all(dir);
}

TEST_CASE("strata-run: SIGTERM to the launcher reaches the workers", "[distribute][launcher]") {
  fs::path dir = fresh_dir("forward");
  auto start = Clock::now();
  pid_t pid = spawn_launcher({"--nproc-per-node", "2", "--timeout", "30", "PROBE", dir.string(), "--sleep",
                              "0:60", "--sleep", "1:60"},
                             dir);
  REQUIRE(pid > 0);
  // Both workers are asleep once both files are written.
  auto deadline = Clock::now() + std::chrono::seconds(30);
  std::vector<int> pids;
  while (Clock::now() < deadline && pids.size() < 2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    pids.clear();
    for (int rank = 0; rank < 2; ++rank) {
      std::string seen = read_file(dir / ("rank_" + std::to_string(rank) + ".txt"));
      if (size_t at = seen.find("pid="); at != std::string::npos && seen.back() == '\n')
        pids.push_back(std::stoi(seen.substr(at + 4)));
    }
  }
  ::kill(pid, SIGTERM);
  Outcome outcome = wait_launcher(pid, dir, start, std::chrono::seconds(45));
  INFO(outcome.output);
  REQUIRE(pids.size() == 2);
  CHECK(outcome.exit_code == 128 + SIGTERM);
  CHECK(outcome.seconds < 40);
  for (int worker : pids) CHECK(::kill(worker, 0) != 0);  // gone (and reaped by the launcher)
  fs::remove_all(dir);
}

TEST_CASE("strata-run: --bind-cores pins local rank i to the i-th allowed core", "[distribute][launcher]") {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  REQUIRE(sched_getaffinity(0, sizeof(allowed), &allowed) == 0);
  std::vector<int> cores;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &allowed)) cores.push_back(cpu);
  fs::path dir = fresh_dir("bind");
  Outcome outcome =
      run_launcher({"--nproc-per-node", "3", "--bind-cores", "--timeout", "30", "PROBE", dir.string()}, dir);
  INFO(outcome.output);
  REQUIRE(outcome.exit_code == 0);
  for (size_t rank = 0; rank < 3; ++rank) {
    std::string seen = read_file(dir / ("rank_" + std::to_string(rank) + ".txt"));
    INFO(seen);
    CHECK(seen.find(" cpus=" + std::to_string(cores[rank % cores.size()]) + " pid=") != std::string::npos);
  }
  fs::remove_all(dir);
}
