// Rendezvous stores: strata-run's TcpStoreServer with its client, Gloo's FileStore and RedisStore behind
// open_store(). Every wait is bounded by a short timeout, so a broken store fails here instead of hanging.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <strata/distribute/distributed_error.h>
#include <strata/distribute/store.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <string>
#include <thread>

extern char** environ;

namespace {

using namespace strata::distribute;
using Catch::Matchers::Contains;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

std::vector<char> bytes(const std::string& text) { return std::vector<char>(text.begin(), text.end()); }
std::string text(const std::vector<char>& value) { return std::string(value.begin(), value.end()); }

std::string thread_key(int thread, int i) {
  std::string key = "t";
  key += std::to_string(thread);
  key += '_';
  key += std::to_string(i);
  return key;
}

std::string tcp_url(const TcpStoreServer& server) {
  return "tcp://127.0.0.1:" + std::to_string(server.port());
}

// What every store must do: set/get, a value set later by another thread, check, binary and empty values,
// overwriting, the timeout's message, and prefixes keeping jobs apart.
void check_store_basics(const std::string& url) {
  auto a = open_store(url, "job1", milliseconds(2000));
  auto b = open_store(url, "job1", milliseconds(2000));
  auto other_job = open_store(url, "job2", milliseconds(2000));
  CHECK(a->describe() == url);

  a->set("k", bytes("value"));
  CHECK(text(b->get("k", milliseconds(200))) == "value");
  CHECK(b->check({"k"}));
  CHECK_FALSE(b->check({"k", "missing"}));

  std::vector<char> binary{'\0', '\xff', 'x', '\0'};
  a->set("binary", binary);
  CHECK(b->get("binary", milliseconds(200)) == binary);
  a->set("empty", {});
  CHECK(b->get("empty", milliseconds(200)).empty());
  a->set("k", bytes("second"));
  CHECK(text(b->get("k", milliseconds(200))) == "second");

  // Another job's store does not see job1's keys.
  CHECK_FALSE(other_job->check({"k"}));
  other_job->set("k", bytes("job2"));
  CHECK(text(a->get("k", milliseconds(200))) == "second");
  CHECK(text(other_job->get("k", milliseconds(200))) == "job2");

  // A key set later, by another client on another thread, ends the wait.
  auto setter = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(milliseconds(100));
    b->set("late", bytes("arrived"));
  });
  CHECK(text(a->get("late", milliseconds(5000))) == "arrived");
  setter.get();

  auto start = Clock::now();
  CHECK_THROWS_MATCHES(
      a->get("never", milliseconds(200)), strata::DistributedError,
      Catch::Matchers::Message("rendezvous store " + url +
                               ": key 'job1/never' was not set within 0.2 s (a process of the job "
                               "did not start or died)"));
  CHECK(Clock::now() - start >= milliseconds(200));
  CHECK(Clock::now() - start < milliseconds(2000));
}

}  // namespace

TEST_CASE("tcp store: set, get, check, late keys, timeouts and prefixes", "[distribute][store]") {
  TcpStoreServer server("127.0.0.1", 0);
  CHECK(server.port() != 0);
  check_store_basics(tcp_url(server));
}

TEST_CASE("tcp store: one Store used from two threads at once", "[distribute][store]") {
  TcpStoreServer server("127.0.0.1", 0);
  auto store = open_store(tcp_url(server), "threads", milliseconds(2000));
  // One thread waits on a key the other sets through the same Store: the wait must not hold up the set.
  auto waiter =
      std::async(std::launch::async, [&] { return text(store->get("from_other", milliseconds(5000))); });
  std::vector<std::thread> setters;
  for (int t = 0; t < 2; ++t)
    setters.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) store->set(thread_key(t, i), bytes(std::to_string(i)));
    });
  for (auto& thread : setters) thread.join();
  store->set("from_other", bytes("yes"));
  CHECK(waiter.get() == "yes");
  for (int t = 0; t < 2; ++t)
    for (int i = 0; i < 50; ++i)
      CHECK(text(store->get(thread_key(t, i), milliseconds(200))) == std::to_string(i));
}

TEST_CASE("tcp store: a client waits for a server that starts later, up to its timeout",
          "[distribute][store]") {
  uint16_t port;
  {
    TcpStoreServer probe("127.0.0.1", 0);  // a port that was free a moment ago
    port = probe.port();
  }
  std::string url = "tcp://127.0.0.1:" + std::to_string(port);
  auto start = Clock::now();
  CHECK_THROWS_MATCHES(open_store(url, "p", milliseconds(300)), strata::DistributedError,
                       Catch::Matchers::Predicate<strata::DistributedError>(
                           [&](const auto& e) {
                             std::string message = e.what();
                             return message.find("cannot reach rendezvous store " + url) !=
                                        std::string::npos &&
                                    message.find("within 0.3 s") != std::string::npos;
                           },
                           "names the URL and the time waited"));
  CHECK(Clock::now() - start < milliseconds(3000));

  auto client = std::async(std::launch::async, [&] { return open_store(url, "p", milliseconds(5000)); });
  std::this_thread::sleep_for(milliseconds(200));
  TcpStoreServer server("127.0.0.1", port);  // SO_REUSEADDR: the port can be bound again at once
  auto store = client.get();
  store->set("x", bytes("1"));
  CHECK(text(store->get("x", milliseconds(200))) == "1");
}

TEST_CASE("tcp store: a client whose server is gone fails at once instead of hanging",
          "[distribute][store]") {
  auto server = std::make_unique<TcpStoreServer>("127.0.0.1", 0);
  std::string url = tcp_url(*server);
  auto store = open_store(url, "p", milliseconds(2000));
  store->set("x", bytes("1"));
  // A get waiting on another thread sees the loss too.
  auto waiter = std::async(std::launch::async, [&] { store->get("never", milliseconds(10000)); });
  std::this_thread::sleep_for(milliseconds(100));
  auto start = Clock::now();
  server.reset();
  CHECK(Clock::now() - start < milliseconds(2000));  // the destructor stops promptly
  CHECK_THROWS_WITH(waiter.get(), Contains("lost the connection to rendezvous store " + url));
  CHECK(Clock::now() - start < milliseconds(3000));
  CHECK_THROWS_AS(store->set("y", bytes("2")), strata::DistributedError);
  CHECK_THROWS_AS(store->check({"x"}), strata::DistributedError);
}

TEST_CASE("open_store: malformed URLs are ValueErrors naming the URL", "[distribute][store]") {
  for (std::string url :
       {"127.0.0.1:29500", "http://host:1", "tcp://127.0.0.1", "tcp://127.0.0.1:", "tcp://:29500",
        "tcp://host:port", "tcp://host:70000", "tcp://host:0", "file://relative/dir", "redis://host:x"}) {
    INFO(url);
    CHECK_THROWS_MATCHES(
        open_store(url, "p", milliseconds(100)), strata::ValueError,
        Catch::Matchers::Predicate<strata::ValueError>(
            [&](const auto& e) { return std::string(e.what()).find(url) != std::string::npos; },
            "names the URL"));
  }
}

TEST_CASE("TcpStoreServer: a port in use is a DistributedError", "[distribute][store]") {
  TcpStoreServer first("127.0.0.1", 0);
  CHECK_THROWS_WITH(TcpStoreServer("127.0.0.1", first.port()),
                    Contains("cannot listen on 127.0.0.1:" + std::to_string(first.port())));
}

TEST_CASE("file store: set, get, check, late keys, timeouts and prefixes", "[distribute][store]") {
  auto dir = std::filesystem::temp_directory_path() / ("strata_file_store_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  check_store_basics("file://" + (dir / "nested").string());  // the directory is created
  CHECK(std::filesystem::is_directory(dir / "nested"));
  std::filesystem::remove_all(dir);
}

namespace {

std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

// A redis-server on a free port for the test's duration.
class RedisServer {
 public:
  explicit RedisServer(const std::string& executable) {
    {
      TcpStoreServer probe("127.0.0.1", 0);
      port_ = probe.port();
    }
    std::vector<std::string> args{executable, "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                  "--save",   "",       "--appendonly",        "no",     "--loglevel",
                                  "warning"};
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    if (posix_spawn(&pid_, executable.c_str(), &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~RedisServer() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  bool started() const { return pid_ > 0; }
  uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

}  // namespace

TEST_CASE("redis store: set, get, check, late keys, timeouts and prefixes", "[distribute][store][redis]") {
  std::string executable = find_on_path("redis-server");
  if (executable.empty()) {
    WARN("redis-server is not on PATH: the redis:// store is not tested (tools/install_deps.sh installs it)");
    return;
  }
  RedisServer redis(executable);
  REQUIRE(redis.started());
  std::string url = "redis://127.0.0.1:" + std::to_string(redis.port());
  open_store(url, "warmup", milliseconds(5000));  // waits for the server to accept connections
  check_store_basics(url);
}

TEST_CASE("redis store: no server within the timeout is a DistributedError naming the URL",
          "[distribute][store][redis]") {
  uint16_t port;
  {
    TcpStoreServer probe("127.0.0.1", 0);
    port = probe.port();
  }
  std::string url = "redis://127.0.0.1:" + std::to_string(port);
  CHECK_THROWS_MATCHES(open_store(url, "p", milliseconds(200)), strata::DistributedError,
                       Catch::Matchers::Predicate<strata::DistributedError>(
                           [&](const auto& e) {
                             return std::string(e.what()).find("cannot reach rendezvous store " + url) !=
                                    std::string::npos;
                           },
                           "names the URL"));
}
