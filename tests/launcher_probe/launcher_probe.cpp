// A worker for the launcher's tests (tests/distribute/test_launcher.cpp): reads its place in the job from the
// environment strata-run set, meets every other rank through the rendezvous store (sets rank_<r>, gets every
// other rank's key), and writes what it saw (and the cores it may run on) to OUT_DIR/rank_<r>.txt. Then, when
// told, exits with a code or sleeps.
//   strata_launcher_probe OUT_DIR [--exit RANK:CODE] [--sleep RANK:SECONDS]
#include <sched.h>
#include <strata/distribute/cluster.h>
#include <strata/distribute/store.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

namespace {

// The value after "RANK:" when the option names this rank.
bool option_for(int argc, char** argv, const std::string& name, int rank, int& value) {
  for (int i = 2; i + 1 < argc; ++i) {
    std::string option = argv[i], arg = argv[i + 1];
    size_t colon = arg.find(':');
    if (option == name && colon != std::string::npos && std::stoi(arg.substr(0, colon)) == rank) {
      value = std::stoi(arg.substr(colon + 1));
      return true;
    }
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace strata::distribute;
  if (argc < 2) {
    std::cerr << "usage: strata_launcher_probe OUT_DIR [--exit RANK:CODE] [--sleep RANK:SECONDS]\n";
    return 2;
  }
  try {
    ClusterSpec cluster = cluster_from_environment();
    std::string seen;
    if (cluster.distributed()) {
      auto store = open_store(cluster.rendezvous, cluster.run_id, cluster.timeout);
      std::string mine = std::to_string(cluster.rank);
      store->set("rank_" + mine, std::vector<char>(mine.begin(), mine.end()));
      for (int r = 0; r < cluster.world_size; ++r) {
        std::vector<char> value = store->get("rank_" + std::to_string(r), cluster.timeout);
        if (r > 0) seen += ',';
        seen.append(value.begin(), value.end());
      }
    }
    const char* omp = std::getenv("OMP_NUM_THREADS");
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    sched_getaffinity(0, sizeof(allowed), &allowed);
    std::string cpus;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
      if (CPU_ISSET(cpu, &allowed)) {
        if (!cpus.empty()) cpus += ',';
        cpus += std::to_string(cpu);
      }
    std::ofstream out(std::string(argv[1]) + "/rank_" + std::to_string(cluster.rank) + ".txt");
    out << "rank=" << cluster.rank << " world_size=" << cluster.world_size
        << " local_rank=" << cluster.local_rank << " local_world_size=" << cluster.local_world_size
        << " seen=" << seen << " run_id=" << cluster.run_id << " omp=" << (omp ? omp : "unset")
        << " cpus=" << cpus << " pid=" << ::getpid() << "\n";
    out.close();
    int value = 0;
    if (option_for(argc, argv, "--sleep", cluster.rank, value))
      std::this_thread::sleep_for(std::chrono::seconds(value));
    if (option_for(argc, argv, "--exit", cluster.rank, value)) return value;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "strata_launcher_probe: " << e.what() << std::endl;
    return 1;
  }
}
