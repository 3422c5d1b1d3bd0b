// BackupAndRestore: a training process killed with SIGKILL mid-epoch and started again with the same program
// resumes from its last backup and ends with the weights of a run that was never interrupted, bit for bit.
//
// The training runs in child processes: this test executable re-executed (/proc/self/exe) with the hidden test
// "[.backup_child]", which reads its settings from BK_CHILD_* environment variables. exec gives each child a
// fresh process (no ATen/OpenMP state inherited across fork) with one ATen thread, as tests/main.cpp sets, so
// the reference run and the resumed run compute alike.

#include <ATen/ATen.h>
#include "callback_test_util.h"

#include <strata/callbacks/backup_and_restore.h>
#include <strata/core/error.h>
#include <strata/core/random.h>
#include <strata/layers/dense.h>
#include <strata/layers/input_layer.h>
#include <strata/layers/normalization.h>
#include <strata/models/sequential.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace strata;
using strata::testing::read_file;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

constexpr int kEpochs = 4;
constexpr int64_t kBatchSize = 32;
constexpr int64_t kSamples = 480;  // 15 batches per epoch
constexpr int64_t kSteps = kSamples / kBatchSize;

// Dense + BatchNormalization (moving statistics are non-trainable state the backup must carry), Adam (slots
// and an iteration count), fixed random data; the same in every process after set_random_seed.
struct Training {
  std::shared_ptr<Sequential> model;
  at::Tensor x, y;
};

Training make_training() {
  set_random_seed(1234);
  Training t;
  t.x = at::randn({kSamples, 12});
  t.y = (t.x.narrow(1, 0, 3) + 0.5 * at::randn({kSamples, 3})).argmax(1);
  t.model = std::make_shared<Sequential>(std::vector<LayerRef>{
      layers::Input({12}), layers::Dense(16, {.activation = "relu"}), layers::BatchNormalization(),
      layers::Dense(3, {.activation = "softmax"})});
  t.model->compile({.optimizer = "adam", .loss = "sparse_categorical_crossentropy"});
  return t;
}

// Appends "epoch batch" to a log after every training batch; kills its own process with SIGKILL after batch
// `kill_batch` of epoch `kill_epoch` (after BackupAndRestore, earlier in the list, has had its turn), and
// sleeps per batch so the parent has time to kill it at a moment of its choosing.
class ChildProbe : public Callback {
 public:
  ChildProbe(std::string log, int kill_epoch, int64_t kill_batch, int sleep_us)
      : log_(std::move(log)), kill_epoch_(kill_epoch), kill_batch_(kill_batch), sleep_us_(sleep_us) {}
  void on_epoch_begin(int epoch, const Logs&) override { epoch_ = epoch; }
  void on_train_batch_end(int64_t batch, const Logs&) override {
    {
      std::ofstream out(log_, std::ios::app);
      out << epoch_ << ' ' << batch << '\n';
    }
    if (epoch_ == kill_epoch_ && batch == kill_batch_) std::raise(SIGKILL);
    if (sleep_us_ > 0) std::this_thread::sleep_for(std::chrono::microseconds(sleep_us_));
  }

 private:
  std::string log_;
  int kill_epoch_;
  int64_t kill_batch_;
  int sleep_us_;
  int epoch_ = 0;
};

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value ? value : fallback;
}

struct ChildRun {
  std::string save_freq = "4";  // "epoch" or a count
  int kill_epoch = -1;          // self-kill after this batch of this epoch; -1: never
  int64_t kill_batch = -1;
  int sleep_us = 0;
};

// Runs the child training to completion, or until it is killed; returns waitpid's status.
int run_child(const fs::path& work, const std::string& log, const ChildRun& run, pid_t* pid_out = nullptr,
              const std::function<void(pid_t)>& while_running = {}) {
  std::vector<std::string> env = {
      "BK_CHILD_DIR=" + (work / "backup").string(),
      "BK_CHILD_OUT=" + (work / "final.weights.h5").string(),
      "BK_CHILD_LOG=" + log,
      "BK_CHILD_SAVE_FREQ=" + run.save_freq,
      "BK_CHILD_KILL=" + std::to_string(run.kill_epoch) + " " + std::to_string(run.kill_batch),
      "BK_CHILD_SLEEP_US=" + std::to_string(run.sleep_us),
      "OMP_NUM_THREADS=1",
      "PATH=/usr/bin:/bin"};
  std::vector<char*> envp;
  for (auto& entry : env) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::string self = "strata_tests", spec = "[backup_child]", quiet = "--out", sink = (work / "child.out").string();
  std::vector<char*> argv = {self.data(), spec.data(), quiet.data(), sink.data(), nullptr};
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    execve("/proc/self/exe", argv.data(), envp.data());
    _exit(127);
  }
  if (pid_out) *pid_out = pid;
  if (while_running) while_running(pid);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return status;
}

// Whether the child has not ended yet (without reaping it, so run_child's waitpid still gets its status).
bool still_running(pid_t pid) {
  siginfo_t info{};
  return waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
}

bool exited_ok(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
bool was_killed(int status) { return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL; }

std::vector<std::pair<int, int64_t>> read_log(const std::string& path) {
  std::vector<std::pair<int, int64_t>> out;
  std::ifstream in(path);
  int epoch;
  int64_t batch;
  while (in >> epoch >> batch) out.emplace_back(epoch, batch);
  return out;
}

std::vector<at::Tensor> final_weights(const fs::path& work) {
  Training t = make_training();
  t.model->load_weights((work / "final.weights.h5").string());
  return t.model->get_weights();
}

void check_bitwise_equal(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("weight " << i << ": max |difference| " << (a[i] - b[i]).abs().max().item<double>());
    CHECK(at::equal(a[i], b[i]));
  }
}

// The message of the E that `fn` throws; fails the test when it throws nothing.
template <class E, class F>
std::string message_of(F&& fn) {
  try {
    fn();
  } catch (const E& error) {
    return error.what();
  }
  FAIL("expected an exception");
  return "";
}

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("strata_backup_test_" + std::to_string(getpid()) + "_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// The weights of the uninterrupted run (computed once per test process).
const std::vector<at::Tensor>& reference_weights() {
  static const std::vector<at::Tensor> weights = [] {
    const fs::path work = fresh_dir("reference");
    const int status = run_child(work, (work / "log").string(), {});
    REQUIRE(exited_ok(status));
    CHECK(read_log((work / "log").string()).size() == static_cast<size_t>(kEpochs * kSteps));
    auto out = final_weights(work);
    fs::remove_all(work);
    return out;
  }();
  return weights;
}

}  // namespace

// The child process: trains with BackupAndRestore as configured by the parent's environment.
TEST_CASE("backup child training process", "[.backup_child]") {
  const std::string dir = env_or("BK_CHILD_DIR", "");
  REQUIRE(!dir.empty());
  const std::string freq = env_or("BK_CHILD_SAVE_FREQ", "epoch");
  std::istringstream kill(env_or("BK_CHILD_KILL", "-1 -1"));
  int kill_epoch;
  int64_t kill_batch;
  kill >> kill_epoch >> kill_batch;
  Training t = make_training();
  callbacks::BackupAndRestoreOptions options{.backup_dir = dir};
  if (freq != "epoch") options.save_freq = static_cast<int64_t>(std::stoll(freq));
  auto backup = std::make_shared<callbacks::BackupAndRestore>(options);
  auto probe = std::make_shared<ChildProbe>(env_or("BK_CHILD_LOG", ""), kill_epoch, kill_batch,
                                            std::stoi(env_or("BK_CHILD_SLEEP_US", "0")));
  t.model->fit(t.x, t.y,
               {.batch_size = kBatchSize, .epochs = kEpochs, .verbose = 0, .callbacks = {backup, probe},
                .shuffle = true});
  t.model->save_weights(env_or("BK_CHILD_OUT", ""));
}

TEST_CASE("BackupAndRestore: a run killed mid-epoch resumes from the last batch backup to the same weights",
          "[callbacks][backup]") {
  const auto& reference = reference_weights();
  const fs::path work = fresh_dir("batches");
  // Backups every 4 batches, counted across epochs: epoch 1's last one follows its batch 8, so batch 9 is
  // trained, lost with the kill, and trained again after the restart.
  const int killed = run_child(work, (work / "log1").string(), {.save_freq = "4", .kill_epoch = 1, .kill_batch = 9});
  REQUIRE(was_killed(killed));
  const std::string metadata = read_file(work / "backup" / "training_metadata.json");
  INFO(metadata);
  CHECK_THAT(metadata, Contains("\"epoch\":1") && Contains("\"batch\":9"));

  REQUIRE(exited_ok(run_child(work, (work / "log2").string(), {.save_freq = "4"})));
  const auto resumed = read_log((work / "log2").string());
  REQUIRE(!resumed.empty());
  CHECK(resumed.front() == std::make_pair(1, int64_t{9}));  // it resumed, not restarted
  CHECK(resumed.size() == static_cast<size_t>(kEpochs * kSteps - (kSteps + 9)));
  check_bitwise_equal(final_weights(work), reference);
  CHECK_FALSE(fs::exists(work / "backup"));  // delete_checkpoint
  fs::remove_all(work);
}

TEST_CASE("BackupAndRestore: a run killed by its parent at a random moment resumes to the same weights",
          "[callbacks][backup]") {
  const auto& reference = reference_weights();
  const fs::path work = fresh_dir("random_kill");
  const std::string log1 = (work / "log1").string();
  // Every batch is a backup (save_freq 1), and the child sleeps 2 ms per batch, so the kill may land in a
  // batch, in a backup's weights file or between the weights and the metadata.
  std::mt19937 rng(std::random_device{}());
  const int64_t kill_after = std::uniform_int_distribution<int64_t>(kSteps + 1, 3 * kSteps - 1)(rng);
  const auto extra_us = std::uniform_int_distribution<int>(0, 2000)(rng);
  INFO("killed after " << kill_after << " batches + " << extra_us << " us");
  const int killed = run_child(work, log1, {.save_freq = "1", .sleep_us = 2000}, nullptr, [&](pid_t pid) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (read_log(log1).size() < static_cast<size_t>(kill_after) && std::chrono::steady_clock::now() < deadline &&
           still_running(pid))
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    std::this_thread::sleep_for(std::chrono::microseconds(extra_us));
    kill(pid, SIGKILL);
  });
  REQUIRE(was_killed(killed));
  const size_t trained_before_kill = read_log(log1).size();

  REQUIRE(exited_ok(run_child(work, (work / "log2").string(), {.save_freq = "1"})));
  const auto resumed = read_log((work / "log2").string());
  REQUIRE(!resumed.empty());
  const size_t resumed_at = static_cast<size_t>(resumed.front().first * kSteps + resumed.front().second);
  // Each batch is backed up, then logged: the last backup is of the last logged batch, or of the next one when
  // the kill fell between its backup and its log line.
  CHECK(resumed_at >= trained_before_kill);
  CHECK(resumed_at <= trained_before_kill + 1);
  CHECK(resumed_at + resumed.size() == static_cast<size_t>(kEpochs * kSteps));
  check_bitwise_equal(final_weights(work), reference);
  fs::remove_all(work);
}

TEST_CASE("BackupAndRestore: save_freq 'epoch' resumes at the start of the epoch the kill interrupted",
          "[callbacks][backup]") {
  const auto& reference = reference_weights();
  const fs::path work = fresh_dir("epoch");
  const ChildRun killed_run{.save_freq = "epoch", .kill_epoch = 2, .kill_batch = 5};
  REQUIRE(was_killed(run_child(work, (work / "log1").string(), killed_run)));
  CHECK_THAT(read_file(work / "backup" / "training_metadata.json"), Contains("\"epoch\":2") && Contains("\"batch\":0"));
  REQUIRE(exited_ok(run_child(work, (work / "log2").string(), {.save_freq = "epoch"})));
  const auto resumed = read_log((work / "log2").string());
  REQUIRE(resumed.size() == static_cast<size_t>(2 * kSteps));
  CHECK(resumed.front() == std::make_pair(2, int64_t{0}));
  check_bitwise_equal(final_weights(work), reference);
  fs::remove_all(work);
}

namespace {

// Records where each training batch of a fit() was.
class BatchRecorder : public Callback {
 public:
  void on_epoch_begin(int epoch, const Logs&) override { epoch_ = epoch; }
  void on_train_batch_end(int64_t batch, const Logs&) override { seen.emplace_back(epoch_, batch); }
  std::vector<std::pair<int, int64_t>> seen;

 private:
  int epoch_ = 0;
};

// Trains make_training()'s model for `epochs` with a BackupAndRestore built from `options`; returns the model
// and the batches it trained.
std::pair<std::shared_ptr<Sequential>, std::vector<std::pair<int, int64_t>>> train(
    const callbacks::BackupAndRestoreOptions& options, int epochs) {
  Training t = make_training();
  auto recorder = std::make_shared<BatchRecorder>();
  t.model->fit(t.x, t.y,
               {.batch_size = kBatchSize,
                .epochs = epochs,
                .verbose = 0,
                .callbacks = {std::make_shared<callbacks::BackupAndRestore>(options), recorder}});
  return {t.model, recorder->seen};
}

}  // namespace

TEST_CASE("BackupAndRestore: delete_checkpoint removes the backup when fit() ends, and without it fit() resumes there",
          "[callbacks][backup]") {
  const fs::path work = fresh_dir("delete");
  const std::string dir = (work / "backup").string();
  train({.backup_dir = dir}, 1);
  CHECK_FALSE(fs::exists(dir));

  train({.backup_dir = dir, .delete_checkpoint = false}, 2);
  REQUIRE(fs::exists(work / "backup" / "training_metadata.json"));
  CHECK_THAT(read_file(work / "backup" / "training_metadata.json"), Contains("\"epoch\":2") && Contains("\"batch\":0"));
  // Both epochs are done: a new fit() with the same backup restores and trains nothing more.
  auto [model, seen] = train({.backup_dir = dir}, 2);
  CHECK(seen.empty());
  CHECK_FALSE(fs::exists(dir));
  // ... and one for 3 epochs trains only the third.
  train({.backup_dir = dir, .delete_checkpoint = false}, 2);
  std::tie(model, seen) = train({.backup_dir = dir}, 3);
  REQUIRE(seen.size() == static_cast<size_t>(kSteps));
  CHECK(seen.front() == std::make_pair(2, int64_t{0}));
  fs::remove_all(work);
}

TEST_CASE("BackupAndRestore: a corrupt backup gives a strata::Error naming the file and leaves the model as it was",
          "[callbacks][backup]") {
  const fs::path work = fresh_dir("corrupt");
  const std::string dir = (work / "backup").string();
  const fs::path metadata = work / "backup" / "training_metadata.json";
  train({.backup_dir = dir, .delete_checkpoint = false}, 1);
  const std::string good_metadata = read_file(metadata);
  REQUIRE_THAT(good_metadata, Contains("backup_a.weights.h5"));  // one backup: the first slot
  const fs::path weights = work / "backup" / "backup_a.weights.h5";

  Training t = make_training();
  const auto before = t.model->get_weights();
  const auto fit_with_backup = [&] {
    t.model->fit(t.x, t.y,
                 {.batch_size = kBatchSize,
                  .epochs = 2,
                  .verbose = 0,
                  .callbacks = {std::make_shared<callbacks::BackupAndRestore>(
                      callbacks::BackupAndRestoreOptions{.backup_dir = dir, .delete_checkpoint = false})}});
  };

  {
    std::ofstream(weights, std::ios::trunc) << "not an HDF5 file";
    CHECK_THAT(message_of<Error>([&] { fit_with_backup(); }), Contains(weights.string()));
  }
  {
    std::ofstream(metadata, std::ios::trunc) << "{\"epoch\": 1, \"bat";
    CHECK_THAT(message_of<IOError>([&] { fit_with_backup(); }),
               Contains(metadata.string()) && Contains("corrupt"));
  }
  {
    std::ofstream(metadata, std::ios::trunc) << R"({"epoch": 1, "batch": 0, "steps": 15, "weights": "../x.h5"})";
    CHECK_THAT(message_of<IOError>([&] { fit_with_backup(); }), Contains("\"weights\""));
  }
  {
    // A backup made mid-epoch with another number of batches per epoch cannot be resumed.
    std::ofstream(metadata, std::ios::trunc)
        << R"({"epoch": 1, "batch": 3, "steps": 7, "weights": "backup_a.weights.h5"})";
    CHECK_THAT(message_of<ValueError>([&] { fit_with_backup(); }), Contains("batches per epoch"));
  }
  check_bitwise_equal(t.model->get_weights(), before);
  fs::remove_all(work);
}

TEST_CASE("BackupAndRestore: with double_checkpoint an unreadable latest backup falls back to the previous one",
          "[callbacks][backup]") {
  const fs::path work = fresh_dir("double");
  const std::string dir = (work / "backup").string();
  // Backups after batches 5, 10 and 15 of epoch 0 go to slots a, b, a: the latest (0, 15) in a, the previous
  // (0, 10) in b.
  train({.backup_dir = dir, .save_freq = 5, .double_checkpoint = true, .delete_checkpoint = false}, 1);
  const fs::path metadata = work / "backup" / "training_metadata.json";
  REQUIRE_THAT(read_file(metadata), Contains("\"batch\":15") && Contains("backup_a.weights.h5"));
  REQUIRE_THAT(read_file(metadata.string() + ".bkp"), Contains("\"batch\":10") && Contains("backup_b.weights.h5"));
  std::ofstream(work / "backup" / "backup_a.weights.h5", std::ios::trunc) << "garbage";

  auto [model, seen] = train({.backup_dir = dir, .save_freq = 5, .double_checkpoint = true}, 2);
  REQUIRE(!seen.empty());
  CHECK(seen.front() == std::make_pair(0, int64_t{10}));
  CHECK(seen.size() == static_cast<size_t>(2 * kSteps - 10));
  CHECK_FALSE(fs::exists(dir));

  // Without double_checkpoint the same corruption is an error.
  train({.backup_dir = dir, .save_freq = 5, .double_checkpoint = true, .delete_checkpoint = false}, 1);
  std::ofstream(work / "backup" / "backup_a.weights.h5", std::ios::trunc) << "garbage";
  CHECK_THROWS_AS(train({.backup_dir = dir, .save_freq = 5}, 2), IOError);
  fs::remove_all(work);
}

TEST_CASE("BackupAndRestore: bad arguments", "[callbacks][backup]") {
  using callbacks::BackupAndRestore;
  CHECK_THAT(message_of<ValueError>([] { (void)BackupAndRestore({}); }), Contains("backup_dir"));
  CHECK_THAT(message_of<ValueError>([] { (void)BackupAndRestore({.backup_dir = "b", .save_freq = "batch"}); }),
             Contains("save_freq") && Contains("\"batch\""));
  CHECK_THAT(message_of<ValueError>([] { (void)BackupAndRestore({.backup_dir = "b", .save_freq = int64_t{0}}); }),
             Contains(">= 1"));
  CHECK_NOTHROW(BackupAndRestore({.backup_dir = "b", .save_freq = 3}));
}
