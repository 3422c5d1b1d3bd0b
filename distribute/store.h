#pragma once
// Key-value stores the processes of a job meet through (rendezvous): each process publishes its address,
// Gloo connects the full mesh through them, and the NCCL unique id travels the same way.
//   tcp://host:port    a TcpStoreServer hosted by strata-run (or by rank 0); the common case
//   file:///dir        Gloo's FileStore: one host, or a file system every host shares
//   redis://host:port  Gloo's RedisStore on a real Redis server (Debian's redis-server), for clusters

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace strata::distribute {

class Store {
 public:
  virtual ~Store() = default;
  virtual void set(const std::string& key, const std::vector<char>& value) = 0;
  // The value of `key`, waiting up to `timeout` for some process to set it; DistributedError names the key,
  // the store and the time waited when it does not come.
  virtual std::vector<char> get(const std::string& key, std::chrono::milliseconds timeout) = 0;
  // Whether every key is set, without waiting.
  virtual bool check(const std::vector<std::string>& keys) = 0;
  // The URL it was opened with, for messages.
  virtual std::string describe() const = 0;
};

// Opens the store at `url` (the forms above), trying to connect for up to `timeout`. Keys are prefixed with
// `prefix` + "/" so jobs sharing a store stay apart. ValueError for a malformed URL; DistributedError when the
// server cannot be reached in time.
std::unique_ptr<Store> open_store(const std::string& url, const std::string& prefix, std::chrono::milliseconds timeout);

// The small TCP key-value store strata-run hosts: set/get/check over loopback or the network, served by one
// background thread until destroyed. Port 0 picks a free port (see port()).
class TcpStoreServer {
 public:
  TcpStoreServer(const std::string& host, uint16_t port);
  ~TcpStoreServer();
  TcpStoreServer(const TcpStoreServer&) = delete;
  TcpStoreServer& operator=(const TcpStoreServer&) = delete;

  uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::distribute
