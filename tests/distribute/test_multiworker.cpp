// Multi-process training on loopback: strata-run starts tests/distributed_worker in 2 or 3 CPU processes
// (Gloo), and the chief checks its result against one process trained on the same global batches.

#include <catch2/catch.hpp>
#include <strata/distribute/store.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace strata;

struct Outcome {
  int exit_code = -1;  // 128 + signal when killed
  std::string output;  // stdout and stderr together
  double seconds = 0;
};

// Runs `argv` with `extra_env` added, its output into a file, waiting at most `limit`; a run that outlives it is
// killed and fails the test (a hang must not stall the suite).
Outcome run(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {},
            std::chrono::seconds limit = std::chrono::seconds(120)) {
  static std::atomic<int> runs{0};  // runs may overlap (one thread per worker)
  const fs::path log = fs::temp_directory_path() /
                       ("strata_multiworker_" + std::to_string(::getpid()) + "_" + std::to_string(runs++) + ".log");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  for (const auto& e : extra_env) env_strings.push_back(e);
  std::vector<char*> env;
  for (auto& e : env_strings) env.push_back(e.data());
  env.push_back(nullptr);
  pid_t pid = 0;
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(posix_spawn(&pid, args[0], &actions, nullptr, args.data(), env.data()) == 0);
  posix_spawn_file_actions_destroy(&actions);
  Outcome outcome;
  int status = 0;
  for (;;) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (std::chrono::steady_clock::now() - start > limit) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      FAIL("timed out after " << limit.count() << " s: " << argv[0]);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  outcome.output = text.str();
  fs::remove(log);
  return outcome;
}

std::vector<std::string> launch(int processes, std::vector<std::string> worker_args) {
  std::vector<std::string> argv = {STRATA_RUN_EXE, "--nproc-per-node", std::to_string(processes),
                                   "--timeout", "60", STRATA_DISTRIBUTED_WORKER};
  argv.insert(argv.end(), worker_args.begin(), worker_args.end());
  return argv;
}

}  // namespace

TEST_CASE("two CPU processes end with the weights and logs of one process on the same global batches",
          "[distribute][multiworker]") {
  const Outcome outcome = run(launch(2, {"equal"}));
  INFO(outcome.output);
  CHECK(outcome.exit_code == 0);
  CHECK_THAT(outcome.output, Catch::Contains("EQUAL"));
}

TEST_CASE("three CPU processes with global batches that do not split evenly match one process",
          "[distribute][multiworker]") {
  // 250 samples in batches of 60: the last batch of 10 splits 4/3/3; losses are weighted by each share.
  const Outcome outcome = run(launch(3, {"equal", "--samples", "250", "--batch", "60"}));
  INFO(outcome.output);
  CHECK(outcome.exit_code == 0);
  CHECK_THAT(outcome.output, Catch::Contains("EQUAL"));
}

TEST_CASE("a shuffled dataset trained by two processes matches one process", "[distribute][multiworker]") {
  const Outcome outcome = run(launch(2, {"equal", "--dataset", "--batch", "50"}));
  INFO(outcome.output);
  CHECK(outcome.exit_code == 0);
  CHECK_THAT(outcome.output, Catch::Contains("EQUAL"));
}

TEST_CASE("processes started by hand with a TF_CONFIG cluster spec meet at worker 0 and train as one",
          "[distribute][multiworker]") {
  // A free port for worker 0's store: bind port 0, read it back, let it go.
  uint16_t port = 0;
  {
    const distribute::TcpStoreServer probe("127.0.0.1", 0);
    port = probe.port();
  }
  const std::string workers = "[\"127.0.0.1:" + std::to_string(port) + "\", \"127.0.0.1:1\"]";
  std::vector<std::thread> threads;
  Outcome outcomes[2];
  for (int index = 0; index < 2; ++index)
    threads.emplace_back([&, index] {
      outcomes[index] = run({STRATA_DISTRIBUTED_WORKER, "equal", "--epochs", "1"},
                            {"TF_CONFIG={\"cluster\": {\"worker\": " + workers +
                             "}, \"task\": {\"type\": \"worker\", \"index\": " + std::to_string(index) + "}}"},
                            std::chrono::seconds(60));
    });
  for (auto& thread : threads) thread.join();
  INFO(outcomes[0].output << outcomes[1].output);
  CHECK(outcomes[0].exit_code == 0);
  CHECK(outcomes[1].exit_code == 0);
  CHECK_THAT(outcomes[0].output, Catch::Contains("EQUAL"));
}

TEST_CASE("a worker with a different model fails at start-up naming the first differing weight",
          "[distribute][multiworker]") {
  const Outcome outcome = run(launch(2, {"mismatch"}));
  INFO(outcome.output);
  CHECK(outcome.exit_code == 3);
  CHECK_THAT(outcome.output, Catch::Contains("worker 1 built a different model from the chief's") &&
                                 Catch::Contains("weight 8 is 'dense_1/kernel' of shape (16, 10) (float32) on the chief"));
  CHECK_THAT(outcome.output, Catch::Contains("but 'dense_1/kernel' of shape (16, 12) (float32) on this worker"));
}

TEST_CASE("a custom train_step that does not reduce its gradients is refused, not left to drift",
          "[distribute][multiworker]") {
  const Outcome outcome = run(launch(2, {"unreduced"}));
  INFO(outcome.output);
  CHECK(outcome.exit_code == 1);
  CHECK_THAT(outcome.output, Catch::Contains("a train_step must sum its gradients across the replicas with "
                                             "distribute_strategy().reduce_gradients(grads, weights)"));
}

TEST_CASE("when a worker dies the others fail with a DistributedError instead of hanging",
          "[distribute][multiworker]") {
  // Started by hand (no launcher, which would stop the survivor itself): the survivor must notice on its own.
  distribute::TcpStoreServer server("127.0.0.1", 0);
  const std::string rendezvous = "STRATA_RENDEZVOUS=tcp://127.0.0.1:" + std::to_string(server.port());
  std::vector<std::thread> workers;
  Outcome outcomes[2];
  for (int rank = 0; rank < 2; ++rank)
    workers.emplace_back([&, rank] {
      outcomes[rank] = run({STRATA_DISTRIBUTED_WORKER, "die", "--die-rank", "1", "--die-step", "2"},
                           {"STRATA_RANK=" + std::to_string(rank), "STRATA_WORLD_SIZE=2",
                            "STRATA_LOCAL_RANK=" + std::to_string(rank), "STRATA_LOCAL_WORLD_SIZE=2", rendezvous,
                            "STRATA_TIMEOUT_SECONDS=10"},
                           std::chrono::seconds(60));
    });
  for (auto& worker : workers) worker.join();
  INFO(outcomes[0].output);
  CHECK(outcomes[1].exit_code == 128 + SIGKILL);
  CHECK(outcomes[0].exit_code == 3);
  CHECK_THAT(outcomes[0].output, Catch::Contains("rank 0: DistributedError"));
}

TEST_CASE("strata-run stops the job when a worker dies, and BackupAndRestore resumes it on the next launch",
          "[distribute][multiworker]") {
  const fs::path dir = fs::temp_directory_path() / ("strata_backup_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::remove(dir.string() + ".died");
  const std::vector<std::string> args = {"backup", "--dir", dir.string(), "--die-rank", "1", "--die-step", "3",
                                         "--epochs", "3"};
  const Outcome killed = run(launch(2, args));
  INFO(killed.output);
  CHECK(killed.exit_code == 128 + SIGKILL);
  CHECK_THAT(killed.output, Catch::Contains("rank 1"));
  CHECK(fs::exists(dir / "training_metadata.json"));

  const Outcome resumed = run(launch(2, args));
  INFO(resumed.output);
  CHECK(resumed.exit_code == 0);
  CHECK_THAT(resumed.output, Catch::Contains("EQUAL"));
  fs::remove_all(dir);
  fs::remove(dir.string() + ".died");
}
