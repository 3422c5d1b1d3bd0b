// strata-run: starts the processes of a distributed job on this node (like torchrun), hosts the job's tcp://
// rendezvous store on node 0, and stops the job when one worker fails. See README.md beside this file.
//
// The launcher never uses ATen, so fork() + execve() is safe; everything a child needs (its environment, the
// program's path, its core) is prepared before fork so the child only makes system calls.
#include <sched.h>
#include <signal.h>
#include <strata/distribute/store.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kUsage = R"(usage: strata-run [options] program [args...]

Starts --nproc-per-node copies of program on this node, with STRATA_RANK, STRATA_WORLD_SIZE, STRATA_LOCAL_RANK,
STRATA_LOCAL_WORLD_SIZE, STRATA_RENDEZVOUS, STRATA_RUN_ID and STRATA_TIMEOUT_SECONDS set for each.

options:
  --nproc-per-node N   processes on this node (default 1)
  --nnodes M           nodes in the job (default 1); start strata-run once on each
  --node-rank R        this node, 0 .. M-1 (default 0); node 0 hosts the rendezvous store
  --master HOST:PORT   where node 0 hosts the tcp:// store (required with --nnodes > 1 unless --rdzv is given;
                       default on one node: 127.0.0.1 and a free port)
  --rdzv URL           meet through this store instead: file:///shared/dir or redis://host[:port]
  --run-id ID          the job's key prefix in the store; every node must pass the same one (default "strata",
                       or a fresh id per launch with one node and --rdzv)
  --timeout SECONDS    how long rendezvous and collectives wait for the others (default 300)
  --bind-cores         pin local rank i to allowed core i mod (number of allowed cores)
)";

struct Options {
  int nproc_per_node = 1;
  int nnodes = 1;
  int node_rank = 0;
  std::string master;
  std::string rdzv;
  std::string run_id;
  std::string timeout = "300";
  bool bind_cores = false;
  std::vector<std::string> program;
};

struct UsageError {
  std::string message;
};

int parse_count(const std::string& option, const std::string& text, int minimum) {
  size_t used = 0;
  int value = -1;
  try {
    value = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || value < minimum)
    throw UsageError{option + " " + text + ": expected an integer >= " + std::to_string(minimum)};
  return value;
}

Options parse_arguments(int argc, char** argv) {
  Options options;
  int i = 1;
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg.rfind("--", 0) != 0) break;  // the program
    if (arg == "--help" || arg == "-h") throw UsageError{""};
    if (arg == "--bind-cores") {
      options.bind_cores = true;
      continue;
    }
    std::string name = arg, value;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else {
      if (i + 1 >= argc) throw UsageError{arg + " needs a value"};
      value = argv[++i];
    }
    if (name == "--nproc-per-node" || name == "--nproc_per_node") {
      options.nproc_per_node = parse_count(name, value, 1);
    } else if (name == "--nnodes") {
      options.nnodes = parse_count(name, value, 1);
    } else if (name == "--node-rank" || name == "--node_rank") {
      options.node_rank = parse_count(name, value, 0);
    } else if (name == "--master") {
      options.master = value;
    } else if (name == "--rdzv") {
      options.rdzv = value;
    } else if (name == "--run-id" || name == "--run_id") {
      if (value.empty()) throw UsageError{"--run-id must not be empty"};
      options.run_id = value;
    } else if (name == "--timeout") {
      char* end = nullptr;
      double seconds = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !(seconds > 0))
        throw UsageError{"--timeout " + value + ": expected seconds > 0"};
      options.timeout = value;
    } else {
      throw UsageError{"unknown option " + name};
    }
  }
  for (; i < argc; ++i) options.program.emplace_back(argv[i]);
  if (options.program.empty()) throw UsageError{"no program to run"};
  if (options.node_rank >= options.nnodes)
    throw UsageError{"--node-rank " + std::to_string(options.node_rank) + " is not below --nnodes " +
                     std::to_string(options.nnodes)};
  if (options.nnodes > 1 && options.master.empty() && options.rdzv.empty())
    throw UsageError{"--nnodes > 1 needs --master HOST:PORT (node 0's address) or --rdzv URL"};
  if (!options.master.empty() && !options.rdzv.empty()) throw UsageError{"give --master or --rdzv, not both"};
  if (!options.rdzv.empty() && options.rdzv.rfind("file:///", 0) != 0 &&
      options.rdzv.rfind("redis://", 0) != 0)
    throw UsageError{"--rdzv " + options.rdzv + ": expected file:///directory or redis://host[:port]"};
  return options;
}

// "host:port" or "[v6]:port" into host and port.
std::pair<std::string, uint16_t> split_master(const std::string& master) {
  size_t colon = master.rfind(':');
  if (colon == std::string::npos || colon == 0)
    throw UsageError{"--master " + master + ": expected HOST:PORT"};
  std::string host = master.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = parse_count("--master", master.substr(colon + 1), 1);
  if (port > 65535) throw UsageError{"--master " + master + ": port above 65535"};
  return {host, static_cast<uint16_t>(port)};
}

std::string url_host(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

// The program's path, searched on PATH as execvp would, resolved here so the child only calls execve.
std::string resolve_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  for (;;) {
    size_t end = dirs.find(':', start);
    std::string dir = dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  throw UsageError{"program '" + name + "' not found on PATH"};
}

struct Worker {
  int rank = 0;
  int local_rank = 0;
  pid_t pid = -1;
  bool running = false;
};

std::vector<std::string> worker_environment(const Options& options, const std::string& rendezvous,
                                            const std::string& run_id, int local_rank, bool set_omp) {
  static const char* const kOwned[] = {
      "STRATA_RANK=",       "STRATA_WORLD_SIZE=", "STRATA_LOCAL_RANK=",     "STRATA_LOCAL_WORLD_SIZE=",
      "STRATA_RENDEZVOUS=", "STRATA_RUN_ID=",     "STRATA_TIMEOUT_SECONDS="};
  std::vector<std::string> result;
  for (char** entry = environ; *entry; ++entry) {
    std::string text = *entry;
    bool owned = false;
    for (const char* prefix : kOwned) owned = owned || text.rfind(prefix, 0) == 0;
    if (!owned) result.push_back(text);
  }
  auto add = [&result](const char* name, const std::string& value) {
    std::string entry = name;
    entry += '=';
    entry += value;
    result.push_back(std::move(entry));
  };
  add("STRATA_RANK", std::to_string(options.node_rank * options.nproc_per_node + local_rank));
  add("STRATA_WORLD_SIZE", std::to_string(options.nnodes * options.nproc_per_node));
  add("STRATA_LOCAL_RANK", std::to_string(local_rank));
  add("STRATA_LOCAL_WORLD_SIZE", std::to_string(options.nproc_per_node));
  add("STRATA_RENDEZVOUS", rendezvous);
  add("STRATA_RUN_ID", run_id);
  add("STRATA_TIMEOUT_SECONDS", options.timeout);
  if (set_omp) add("OMP_NUM_THREADS", "1");
  return result;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> result;
  for (std::string& s : strings) result.push_back(s.data());
  result.push_back(nullptr);
  return result;
}

std::string signal_name(int sig) {
  const char* name = sigabbrev_np(sig);
  return name ? std::string("SIG") + name : "signal " + std::to_string(sig);
}

void signal_all(std::vector<Worker>& workers, int sig) {
  for (const Worker& worker : workers)
    if (worker.running) ::kill(worker.pid, sig);
}

int run(const Options& options) {
  // Signals are taken synchronously (sigtimedwait) by the main loop; the store's thread inherits the mask.
  sigset_t handled;
  sigemptyset(&handled);
  for (int sig : {SIGINT, SIGTERM, SIGCHLD, SIGHUP}) sigaddset(&handled, sig);
  sigset_t original;
  pthread_sigmask(SIG_BLOCK, &handled, &original);

  std::unique_ptr<strata::distribute::TcpStoreServer> server;
  std::string rendezvous = options.rdzv;
  if (rendezvous.empty()) {
    std::string host = "127.0.0.1";
    uint16_t port = 0;
    if (!options.master.empty()) std::tie(host, port) = split_master(options.master);
    if (options.node_rank == 0) {
      // With several nodes the others reach node 0 through some interface: listen on all of them.
      server = std::make_unique<strata::distribute::TcpStoreServer>(options.nnodes > 1 ? "" : host, port);
      port = server->port();
    }
    rendezvous = "tcp://" + url_host(host) + ":" + std::to_string(port);
  }
  // A file:// or redis:// store outlives the launch: one node alone picks a fresh prefix so it cannot read
  // the keys an earlier launch left there. Several nodes must agree, so they share "strata" unless --run-id
  // says.
  std::string run_id = options.run_id;
  if (run_id.empty()) {
    run_id = "strata";
    if (options.nnodes == 1 && !options.rdzv.empty())
      run_id += "-" + std::to_string(std::random_device{}() % 1000000000u) + "-" + std::to_string(::getpid());
  }
  bool set_omp = options.nproc_per_node > 1 && std::getenv("OMP_NUM_THREADS") == nullptr;
  if (set_omp)
    std::cerr << "strata-run: setting OMP_NUM_THREADS=1 for each of the " << options.nproc_per_node
              << " workers (set it yourself to tune)" << std::endl;

  std::string program = resolve_program(options.program[0]);
  std::vector<std::string> args = options.program;
  std::vector<char*> argv = pointers(args);
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  sched_getaffinity(0, sizeof(allowed), &allowed);
  std::vector<int> cores;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &allowed)) cores.push_back(cpu);

  std::vector<Worker> workers(static_cast<size_t>(options.nproc_per_node));
  for (int local = 0; local < options.nproc_per_node; ++local) {
    Worker& worker = workers[static_cast<size_t>(local)];
    worker.local_rank = local;
    worker.rank = options.node_rank * options.nproc_per_node + local;
    std::vector<std::string> environment = worker_environment(options, rendezvous, run_id, local, set_omp);
    std::vector<char*> envp = pointers(environment);
    cpu_set_t core;
    CPU_ZERO(&core);
    if (!cores.empty()) CPU_SET(cores[static_cast<size_t>(local) % cores.size()], &core);
    pid_t pid = ::fork();
    if (pid == 0) {
      pthread_sigmask(SIG_SETMASK, &original, nullptr);
      if (options.bind_cores && !cores.empty()) sched_setaffinity(0, sizeof(core), &core);
      ::execve(program.c_str(), argv.data(), envp.data());
      const char message[] = "strata-run: cannot execute the program\n";
      [[maybe_unused]] ssize_t ignored = ::write(2, message, sizeof(message) - 1);
      ::_exit(127);
    }
    if (pid < 0) {
      std::cerr << "strata-run: fork failed: " << std::strerror(errno) << std::endl;
      signal_all(workers, SIGKILL);
      return 1;
    }
    worker.pid = pid;
    worker.running = true;
  }

  // The first failure decides the exit code; the launcher's own SIGINT/SIGTERM is passed on to the workers.
  std::optional<int> exit_code;
  std::optional<Clock::time_point> kill_at;
  int running = options.nproc_per_node;
  while (running > 0) {
    timespec tick{0, 100 * 1000 * 1000};
    siginfo_t info;
    int sig = sigtimedwait(&handled, &info, &tick);
    if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
      signal_all(workers, sig);
      if (!exit_code) exit_code = 128 + sig;
      if (!kill_at) kill_at = Clock::now() + std::chrono::seconds(10);
    }
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      for (Worker& worker : workers) {
        if (worker.pid != pid || !worker.running) continue;
        worker.running = false;
        --running;
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (code == 0 || exit_code) continue;
        exit_code = code;
        std::cerr << "strata-run: rank " << worker.rank << " (local rank " << worker.local_rank << ", pid "
                  << pid << ") "
                  << (WIFEXITED(status) ? "exited with code " + std::to_string(code)
                                        : "was killed by " + signal_name(WTERMSIG(status)))
                  << "; stopping the other workers" << std::endl;
        signal_all(workers, SIGTERM);
        kill_at = Clock::now() + std::chrono::seconds(10);
      }
    }
    if (kill_at && Clock::now() >= *kill_at) {
      signal_all(workers, SIGKILL);
      kill_at.reset();
    }
  }
  return exit_code.value_or(0);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_arguments(argc, argv));
  } catch (const UsageError& e) {
    if (!e.message.empty()) std::cerr << "strata-run: " << e.message << "\n\n";
    std::cerr << kUsage;
    return e.message.empty() ? 0 : 2;
  } catch (const std::exception& e) {
    std::cerr << "strata-run: " << e.what() << std::endl;
    return 1;
  }
}
