// Rendezvous stores: a client of strata-run's TcpStoreServer (tcp://), and Gloo's FileStore (file://) and
// RedisStore (redis://) behind the same interface, every key under the job's prefix.
//
// The TCP protocol: every message is a 4-byte big-endian length and that many bytes. A request is one op byte
// followed by fields, each a 4-byte length and its bytes: 'S' key value (set), 'G' key (the value if set),
// 'C' key... (whether all are set). A reply is a status byte ('K' done, 'V' + value, 'N' not set, 'Y' all
// set) and the value. The server never blocks on a request: clients poll get() with a short back-off, so one
// connection serves a Store used from several threads without one thread's wait holding up another's set.
#include <strata/distribute/distributed_error.h>
#include <strata/distribute/store.h>

#define HIREDIS_NESTED_INCLUDE
#include <arpa/inet.h>
#include <fcntl.h>
#include <gloo/common/error.h>
#include <gloo/common/logging.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/rendezvous/redis_store.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace strata::distribute {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string seconds_text(milliseconds duration) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f s", static_cast<double>(duration.count()) / 1000.0);
  return text;
}

// Polls `ready` with a pause growing from 1 to 20 ms until it returns true; DistributedError once `timeout` has
// passed without the key of `url` appearing.
void wait_for_key(const std::string& url, const std::string& key, milliseconds timeout,
                  const std::function<bool()>& ready) {
  const auto start = Clock::now();
  milliseconds pause(1);
  while (!ready()) {
    const auto waited = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
    if (waited >= timeout)
      throw DistributedError("rendezvous store " + url + ": key '" + key + "' was not set within " +
                             seconds_text(timeout) + " (a process of the job did not start or died)");
    std::this_thread::sleep_for(std::min(pause, timeout - waited));
    pause = std::min(pause * 2, milliseconds(20));
  }
}

// ---- URLs ----

struct HostPort {
  std::string host;
  int port = 0;
};

// "host:port" or "[v6]:port"; `default_port` < 0 means the port is required.
HostPort parse_host_port(const std::string& text, const std::string& url, int default_port) {
  HostPort result;
  std::string port_text;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos)
      throw ValueError("rendezvous store URL '" + url + "': unclosed '[' in the host");
    result.host = text.substr(1, close - 1);
    std::string rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':')
        throw ValueError("rendezvous store URL '" + url + "': expected ':port' after the host");
      port_text = rest.substr(1);
      if (port_text.empty()) throw ValueError("rendezvous store URL '" + url + "': empty port");
    }
  } else {
    size_t colon = text.rfind(':');
    result.host = text.substr(0, colon);
    if (colon != std::string::npos) {
      port_text = text.substr(colon + 1);
      if (port_text.empty()) throw ValueError("rendezvous store URL '" + url + "': empty port");
    }
  }
  if (result.host.empty()) throw ValueError("rendezvous store URL '" + url + "': missing host");
  if (port_text.empty()) {
    if (default_port < 0)
      throw ValueError("rendezvous store URL '" + url + "': missing port (expected host:port)");
    result.port = default_port;
    return result;
  }
  bool digits = port_text.size() <= 5 && port_text.find_first_not_of("0123456789") == std::string::npos;
  int port = digits ? std::stoi(port_text) : -1;
  if (port < 1 || port > 65535)
    throw ValueError("rendezvous store URL '" + url + "': port '" + port_text +
                     "' is not a number in 1..65535");
  result.port = port;
  return result;
}

// ---- sockets ----

class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() { reset(); }
  Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Socket& operator=(Socket&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  int fd() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct AddrInfoList {
  addrinfo* head = nullptr;
  ~AddrInfoList() {
    if (head) freeaddrinfo(head);
  }
};

void put_u32(std::string& out, uint32_t value) {
  uint32_t big = htonl(value);
  out.append(reinterpret_cast<const char*>(&big), 4);
}

uint32_t get_u32(const char* data) {
  uint32_t big;
  std::memcpy(&big, data, 4);
  return ntohl(big);
}

void put_field(std::string& out, const char* data, size_t size) {
  put_u32(out, static_cast<uint32_t>(size));
  out.append(data, size);
}

// Splits a request's fields after the op byte; false when they are malformed.
bool split_fields(const std::string& body, std::vector<std::string>& fields) {
  size_t at = 1;
  while (at < body.size()) {
    if (body.size() - at < 4) return false;
    uint32_t size = get_u32(body.data() + at);
    at += 4;
    if (body.size() - at < size) return false;
    fields.emplace_back(body.substr(at, size));
    at += size;
  }
  return true;
}

// ---- the client of a TcpStoreServer ----

// A reply that takes longer than this means the server's host stopped answering (the server itself never
// waits).
constexpr milliseconds kReplyTimeout = std::chrono::seconds(30);

class TcpStore : public Store {
 public:
  TcpStore(std::string url, HostPort address, std::string prefix, milliseconds timeout)
      : url_(std::move(url)), address_(std::move(address)), prefix_(std::move(prefix)) {
    connect(timeout);
  }

  void set(const std::string& key, const std::vector<char>& value) override {
    std::string request(1, 'S');
    std::string full = full_key(key);
    put_field(request, full.data(), full.size());
    put_field(request, value.data(), value.size());
    expect_status(exchange(request), 'K');
  }

  std::vector<char> get(const std::string& key, milliseconds timeout) override {
    std::string full = full_key(key);
    std::string request(1, 'G');
    put_field(request, full.data(), full.size());
    std::vector<char> value;
    wait_for_key(url_, full, timeout, [&] {
      const std::string reply = exchange(request);
      if (!reply.empty() && reply[0] == 'V') {
        value.assign(reply.begin() + 1, reply.end());
        return true;
      }
      expect_status(reply, 'N');
      return false;
    });
    return value;
  }

  bool check(const std::vector<std::string>& keys) override {
    std::string request(1, 'C');
    for (const std::string& key : keys) {
      std::string full = full_key(key);
      put_field(request, full.data(), full.size());
    }
    std::string reply = exchange(request);
    if (!reply.empty() && reply[0] == 'Y') return true;
    expect_status(reply, 'N');
    return false;
  }

  std::string describe() const override { return url_; }

 private:
  std::string full_key(const std::string& key) const { return prefix_ + "/" + key; }

  [[noreturn]] void lost(const std::string& why) const {
    throw DistributedError("lost the connection to rendezvous store " + url_ + " (" + why +
                           "): the process hosting it (strata-run or rank 0) stopped");
  }

  void expect_status(const std::string& reply, char status) const {
    if (reply.empty() || reply[0] != status) lost("unexpected reply");
  }

  // Connects, retrying until `timeout`: workers may start before the process that hosts the store.
  void connect(milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    std::string last_error = "no attempt";
    for (;;) {
      if (try_connect(deadline, last_error)) return;
      if (Clock::now() >= deadline) break;
      std::this_thread::sleep_for(milliseconds(50));
    }
    throw DistributedError("cannot reach rendezvous store " + url_ + " within " + seconds_text(timeout) +
                           " (" + last_error + "): is strata-run (or rank 0) running at that address?");
  }

  bool try_connect(Clock::time_point deadline, std::string& error) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    AddrInfoList list;
    int rc = getaddrinfo(address_.host.c_str(), std::to_string(address_.port).c_str(), &hints, &list.head);
    if (rc != 0) {
      error = std::string("cannot resolve '") + address_.host + "': " + gai_strerror(rc);
      return false;
    }
    for (addrinfo* ai = list.head; ai; ai = ai->ai_next) {
      Socket socket(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol));
      if (socket.fd() < 0) {
        error = std::strerror(errno);
        continue;
      }
      // A non-blocking connect bounded by the deadline: an unreachable host would otherwise take minutes.
      if (::connect(socket.fd(), ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
          error = std::strerror(errno);
          continue;
        }
        auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
        pollfd pfd{socket.fd(), POLLOUT, 0};
        if (::poll(&pfd, 1, static_cast<int>(std::clamp<int64_t>(left, 1, 1000))) != 1) {
          error = "connection attempt timed out";
          continue;
        }
        int so_error = 0;
        socklen_t len = sizeof(so_error);
        getsockopt(socket.fd(), SOL_SOCKET, SO_ERROR, &so_error, &len);
        if (so_error != 0) {
          error = std::strerror(so_error);
          continue;
        }
      }
      int flags = fcntl(socket.fd(), F_GETFL);
      fcntl(socket.fd(), F_SETFL, flags & ~O_NONBLOCK);
      int one = 1;
      setsockopt(socket.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      timeval tv{static_cast<time_t>(kReplyTimeout.count() / 1000), 0};
      setsockopt(socket.fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      setsockopt(socket.fd(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
      socket_ = std::move(socket);
      return true;
    }
    return false;
  }

  // Sends one request and reads its reply; one at a time, so two threads may share the store.
  std::string exchange(const std::string& body) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (socket_.fd() < 0) lost("closed after an earlier error");
    std::string message;
    put_u32(message, static_cast<uint32_t>(body.size()));
    message += body;
    size_t sent = 0;
    while (sent < message.size()) {
      ssize_t n = ::send(socket_.fd(), message.data() + sent, message.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail_io("send");
      sent += static_cast<size_t>(n);
    }
    char header[4];
    read_exact(header, 4);
    std::string reply(get_u32(header), '\0');
    read_exact(reply.data(), reply.size());
    return reply;
  }

  void read_exact(char* data, size_t size) {
    size_t got = 0;
    while (got < size) {
      ssize_t n = ::recv(socket_.fd(), data + got, size - got, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) {
        socket_.reset();
        lost("the server closed it");
      }
      if (n < 0) fail_io("recv");
      got += static_cast<size_t>(n);
    }
  }

  [[noreturn]] void fail_io(const char* what) {
    int error = errno;
    socket_.reset();
    if (error == EAGAIN || error == EWOULDBLOCK)
      lost(std::string("no answer within ") + seconds_text(kReplyTimeout));
    lost(std::string(what) + ": " + std::strerror(error));
  }

  std::string url_;
  HostPort address_;
  std::string prefix_;
  std::mutex mutex_;
  Socket socket_;
};

// ---- Gloo's stores ----

// Gloo's FileStore refuses to set a key twice, shares one temporary file among concurrent writers of a key
// and cannot read an empty value; this keeps its layout (one file per key, named by the key's hash) and fixes
// those.
class OverwritingFileStore : public gloo::rendezvous::FileStore {
 public:
  using FileStore::FileStore;

  void set(const std::string& key, const std::vector<char>& data) override {
    static std::atomic<uint64_t> counter{0};
    std::string path = objectPath(key);
    std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out.write(data.data(), static_cast<std::streamsize>(data.size()));
      if (!out) throw gloo::IoException("cannot write " + tmp + ": " + std::strerror(errno));
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      throw gloo::IoException("cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
  }

  std::vector<char> get(const std::string& key) override {
    std::string path = objectPath(key);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw gloo::IoException("cannot read " + path + ": " + std::strerror(errno));
    return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  bool has(const std::vector<std::string>& keys) { return check(keys); }
};

// Gloo's RedisStore sets with SETNX (a second set of a key fails); a store's set replaces the value.
class OverwritingRedisStore : public gloo::rendezvous::RedisStore {
 public:
  using RedisStore::RedisStore;

  void set(const std::string& key, const std::vector<char>& data) override {
    void* ptr = redisCommand(redis_, "SET %b %b", key.c_str(), key.size(), data.data(), data.size());
    if (ptr == nullptr) throw gloo::IoException(std::string("SET: ") + redis_->errstr);
    auto* reply = static_cast<redisReply*>(ptr);
    std::string error = reply->type == REDIS_REPLY_ERROR ? std::string(reply->str, reply->len) : "";
    freeReplyObject(reply);
    if (!error.empty()) throw gloo::IoException("SET: " + error);
  }
};

class GlooStore : public Store {
 public:
  // `check` answers without waiting (Gloo's wait() rounds its timeout to whole seconds, so this polls
  // instead).
  GlooStore(std::string url, std::string prefix, std::unique_ptr<gloo::rendezvous::Store> store,
            std::function<bool(gloo::rendezvous::Store&, const std::vector<std::string>&)> check)
      : url_(std::move(url)),
        prefix_(std::move(prefix)),
        store_(std::move(store)),
        check_(std::move(check)) {}

  void set(const std::string& key, const std::vector<char>& value) override {
    translate([&] { store_->set(full_key(key), value); });
  }

  std::vector<char> get(const std::string& key, milliseconds timeout) override {
    std::string full = full_key(key);
    wait_for_key(url_, full, timeout, [&] { return check({key}); });
    std::vector<char> value;
    translate([&] { value = store_->get(full); });
    return value;
  }

  bool check(const std::vector<std::string>& keys) override {
    std::vector<std::string> full;
    for (const std::string& key : keys) full.push_back(full_key(key));
    bool result = false;
    translate([&] { result = check_(*store_, full); });
    return result;
  }

  std::string describe() const override { return url_; }

 private:
  std::string full_key(const std::string& key) const { return prefix_ + "/" + key; }

  // Gloo's stores are not thread-safe (a Redis connection carries one command at a time): one call at a time.
  template <class F>
  void translate(F&& call) {
    std::lock_guard<std::mutex> lock(mutex_);
    try {
      call();
    } catch (const gloo::EnforceNotMet& e) {
      throw DistributedError("rendezvous store " + url_ + ": " + e.what());
    } catch (const gloo::Exception& e) {
      throw DistributedError("rendezvous store " + url_ + ": " + e.what());
    }
  }

  std::string url_;
  std::string prefix_;
  std::mutex mutex_;
  std::unique_ptr<gloo::rendezvous::Store> store_;
  std::function<bool(gloo::rendezvous::Store&, const std::vector<std::string>&)> check_;
};

std::unique_ptr<Store> open_file_store(const std::string& url, const std::string& path,
                                       const std::string& prefix) {
  if (path.empty() || path[0] != '/')
    throw ValueError("rendezvous store URL '" + url + "': expected file:///absolute/directory");
  std::error_code error;
  std::filesystem::create_directories(path, error);
  if (error || !std::filesystem::is_directory(path))
    throw DistributedError("rendezvous store " + url + ": cannot create directory " + path + ": " +
                           (error ? error.message() : "a file is in the way"));
  std::unique_ptr<gloo::rendezvous::Store> store;
  try {
    store = std::make_unique<OverwritingFileStore>(path);
  } catch (const std::exception& e) {
    throw DistributedError("rendezvous store " + url + ": " + e.what());
  }
  return std::make_unique<GlooStore>(url, prefix, std::move(store),
                                     [](gloo::rendezvous::Store& s, const std::vector<std::string>& keys) {
                                       return static_cast<OverwritingFileStore&>(s).has(keys);
                                     });
}

std::unique_ptr<Store> open_redis_store(const std::string& url, const HostPort& address,
                                        const std::string& prefix, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::string last_error;
  for (;;) {
    try {
      auto store = std::make_unique<OverwritingRedisStore>(address.host, address.port);
      return std::make_unique<GlooStore>(
          url, prefix, std::move(store),
          [](gloo::rendezvous::Store& s, const std::vector<std::string>& keys) {
            return static_cast<OverwritingRedisStore&>(s).check(keys);
          });
    } catch (const gloo::EnforceNotMet& e) {
      last_error = e.what();
    } catch (const gloo::Exception& e) {
      last_error = e.what();
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  throw DistributedError("cannot reach rendezvous store " + url + " within " + seconds_text(timeout) + " (" +
                         last_error + "): is redis-server running at that address?");
}

}  // namespace

std::unique_ptr<Store> open_store(const std::string& url, const std::string& prefix, milliseconds timeout) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos)
    throw ValueError("rendezvous store URL '" + url +
                     "' is malformed: expected tcp://host:port, file:///directory or redis://host[:port]");
  std::string scheme = url.substr(0, scheme_end);
  std::string rest = url.substr(scheme_end + 3);
  if (scheme == "tcp")
    return std::make_unique<TcpStore>(url, parse_host_port(rest, url, -1), prefix, timeout);
  if (scheme == "file") return open_file_store(url, rest, prefix);
  if (scheme == "redis") return open_redis_store(url, parse_host_port(rest, url, 6379), prefix, timeout);
  throw ValueError("rendezvous store URL '" + url + "': unknown scheme '" + scheme +
                   "' (expected tcp://host:port, file:///directory or redis://host[:port])");
}

// ---- the server ----

struct TcpStoreServer::Impl {
  struct Client {
    Socket socket;
    std::string in;
    std::string out;
  };

  std::string host;
  uint16_t port = 0;
  Socket listener;
  int wake[2] = {-1, -1};  // the destructor writes to wake[1] to stop the loop
  std::map<int, Client> clients;
  std::map<std::string, std::string> values;
  std::thread thread;

  void bind_listener(const std::string& bind_host, uint16_t bind_port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    AddrInfoList list;
    const char* node = bind_host.empty() || bind_host == "*" ? nullptr : bind_host.c_str();
    int rc = getaddrinfo(node, std::to_string(bind_port).c_str(), &hints, &list.head);
    if (rc != 0)
      throw DistributedError("TcpStoreServer: cannot resolve '" + bind_host + "': " + gai_strerror(rc));
    std::string error = "no address";
    for (addrinfo* ai = list.head; ai; ai = ai->ai_next) {
      Socket socket(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol));
      if (socket.fd() < 0) continue;
      int one = 1;
      setsockopt(socket.fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      if (::bind(socket.fd(), ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(socket.fd(), 128) != 0) {
        error = std::strerror(errno);
        continue;
      }
      sockaddr_storage bound{};
      socklen_t len = sizeof(bound);
      getsockname(socket.fd(), reinterpret_cast<sockaddr*>(&bound), &len);
      port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                               : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
      listener = std::move(socket);
      return;
    }
    throw DistributedError("TcpStoreServer: cannot listen on " + bind_host + ":" + std::to_string(bind_port) +
                           ": " + error);
  }

  void run() {
    for (;;) {
      std::vector<pollfd> fds{{wake[0], POLLIN, 0}, {listener.fd(), POLLIN, 0}};
      for (auto& [fd, client] : clients)
        fds.push_back({fd, static_cast<short>(POLLIN | (client.out.empty() ? 0 : POLLOUT)), 0});
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[0].revents) return;
      if (fds[1].revents & POLLIN) accept_clients();
      for (size_t i = 2; i < fds.size(); ++i) {
        if (!fds[i].revents) continue;
        auto it = clients.find(fds[i].fd);
        if (!serve(it->second, fds[i].revents)) clients.erase(it);
      }
    }
  }

  void accept_clients() {
    for (;;) {
      int fd = ::accept4(listener.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      clients[fd].socket = Socket(fd);
    }
  }

  // Reads what arrived, answers every complete request and writes what fits; false drops the client.
  bool serve(Client& client, short events) {
    if (events & (POLLIN | POLLHUP | POLLERR)) {
      char buffer[65536];
      for (;;) {
        ssize_t n = ::recv(client.socket.fd(), buffer, sizeof(buffer), 0);
        if (n > 0) {
          client.in.append(buffer, static_cast<size_t>(n));
          continue;
        }
        if (n == 0) return false;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return false;
      }
      size_t at = 0;
      while (client.in.size() - at >= 4) {
        uint32_t size = get_u32(client.in.data() + at);
        if (client.in.size() - at - 4 < size) break;
        std::string reply;
        if (!answer(client.in.substr(at + 4, size), reply)) return false;
        put_u32(client.out, static_cast<uint32_t>(reply.size()));
        client.out += reply;
        at += 4 + size;
      }
      client.in.erase(0, at);
    }
    while (!client.out.empty()) {
      ssize_t n = ::send(client.socket.fd(), client.out.data(), client.out.size(), MSG_NOSIGNAL);
      if (n > 0) {
        client.out.erase(0, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      return false;
    }
    return true;
  }

  // False for a malformed request (the client is dropped).
  bool answer(const std::string& body, std::string& reply) {
    std::vector<std::string> fields;
    if (body.empty() || !split_fields(body, fields)) return false;
    switch (body[0]) {
      case 'S':
        if (fields.size() != 2) return false;
        values[fields[0]] = std::move(fields[1]);
        reply = "K";
        return true;
      case 'G': {
        if (fields.size() != 1) return false;
        auto it = values.find(fields[0]);
        reply = it == values.end() ? "N" : "V" + it->second;
        return true;
      }
      case 'C':
        for (const std::string& key : fields)
          if (!values.count(key)) {
            reply = "N";
            return true;
          }
        reply = "Y";
        return true;
      default:
        return false;
    }
  }
};

TcpStoreServer::TcpStoreServer(const std::string& host, uint16_t port) : impl_(std::make_unique<Impl>()) {
  impl_->host = host;
  impl_->bind_listener(host, port);
  if (::pipe2(impl_->wake, O_CLOEXEC) != 0)
    throw DistributedError(std::string("TcpStoreServer: pipe: ") + std::strerror(errno));
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

TcpStoreServer::~TcpStoreServer() {
  char byte = 1;
  while (::write(impl_->wake[1], &byte, 1) < 0 && errno == EINTR) {
  }
  impl_->thread.join();
  impl_->clients.clear();  // closes every client's socket, so their next request fails at once
  ::close(impl_->wake[0]);
  ::close(impl_->wake[1]);
}

uint16_t TcpStoreServer::port() const { return impl_->port; }

}  // namespace strata::distribute
