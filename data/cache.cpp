// cache(): the first complete pass records the input's elements, in memory (filename "") or in a file;
// later passes replay the record without touching the input, and a file also serves later processes (any
// Dataset whose cache() names it). A pass that stops early or fails records nothing, as in tf.data, so a
// replay is always the whole input. The file is written under a temporary name next to it and renamed into
// place (core/atomic_file.h) only when the pass completes, so a crash never leaves a half cache behind.
// Unlike tf.data (which writes `<filename>.index` and `<filename>.data-*`), the cache is the one file
// `<filename>`, in this format (native byte order, little-endian on every platform Strata builds for):
//
//   magic "STRCACHE" (8 bytes), u32 version = 1
//   per element:  u8 1, u32 component count, then per component:
//                 u8 n + n bytes of dtype name (core/dtype.h: "float32", "int64", ...),
//                 u32 rank, i64 size per dimension, u64 byte count, the bytes in C order
//   end:          u8 0, u64 element count
//
// The end record tells a complete file from a truncated one; a reader checks every count against the bytes
// left and reports a bad file as strata::IOError naming it. Elements are stored as given (the replay hands
// out the same tensors, and a memory cache shares their storage), so later steps must not modify elements
// in place, as for every Dataset step.
#include <strata/core/atomic_file.h>
#include <strata/core/dtype.h>
#include <strata/core/error.h>
#include <strata/core/shape.h>
#include <strata/data/dataset.h>

#include <ATen/ATen.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <unistd.h>

namespace strata::data {
namespace {

constexpr char kMagic[8] = {'S', 'T', 'R', 'C', 'A', 'C', 'H', 'E'};
constexpr uint32_t kVersion = 1;
constexpr uint8_t kElementTag = 1;
constexpr uint8_t kEndTag = 0;
constexpr int64_t kMaxRank = 64;

// Streams one pass' elements to a temporary file next to `path`; commit() moves it to `path`. Destroyed
// without commit() (the pass stopped early or failed), it removes the temporary file.
class CacheFileWriter {
 public:
  explicit CacheFileWriter(std::string path) : path_(std::move(path)) {
    static std::atomic<unsigned long> counter{0};
    const std::filesystem::path target(path_);
    std::string name = ".";  // hidden, and never the cache's own name
    name += target.filename().string();
    name += ".partial." + std::to_string(::getpid()) + "." + std::to_string(counter++);
    partial_ = (target.parent_path() / name).string();
    out_.open(partial_, std::ios::binary | std::ios::trunc);
    if (!out_) throw IOError("Dataset.cache: cannot create the cache file '" + path_ + "' (writing '" + partial_ + "')");
    out_.write(kMagic, sizeof kMagic);
    put<uint32_t>(kVersion);
  }
  ~CacheFileWriter() {
    if (committed_) return;
    out_.close();
    std::error_code ignored;
    std::filesystem::remove(partial_, ignored);
  }
  CacheFileWriter(const CacheFileWriter&) = delete;
  CacheFileWriter& operator=(const CacheFileWriter&) = delete;

  void write(const Element& element) {
    put<uint8_t>(kElementTag);
    put<uint32_t>(static_cast<uint32_t>(element.size()));
    for (size_t c = 0; c < element.size(); ++c) {
      if (!element[c].defined())
        throw ValueError("Dataset.cache('" + path_ + "'): component " + std::to_string(c) + " of element " +
                         std::to_string(count_) + " is an undefined tensor");
      const at::Tensor t = element[c].cpu().contiguous();
      std::string dtype;
      try {
        dtype = dtype_name(t.scalar_type());
      } catch (const ValueError& e) {
        throw ValueError("Dataset.cache('" + path_ + "'): cannot store component " + std::to_string(c) + ": " + e.what());
      }
      put<uint8_t>(static_cast<uint8_t>(dtype.size()));
      out_.write(dtype.data(), static_cast<std::streamsize>(dtype.size()));
      put<uint32_t>(static_cast<uint32_t>(t.dim()));
      for (int64_t size : t.sizes()) put<int64_t>(size);
      const uint64_t bytes = t.numel() * t.element_size();
      put<uint64_t>(bytes);
      out_.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(bytes));
    }
    ++count_;
    if (!out_) throw IOError("Dataset.cache: writing the cache file '" + path_ + "' failed (at '" + partial_ + "')");
  }

  void commit() {
    put<uint8_t>(kEndTag);
    put<uint64_t>(count_);
    out_.close();
    if (!out_) throw IOError("Dataset.cache: writing the cache file '" + path_ + "' failed (at '" + partial_ + "')");
    // write_atomically's temporary is our finished file under its name; it then syncs and renames it.
    write_atomically(path_, [this](const std::string& temp_path) {
      std::error_code error;
      std::filesystem::rename(partial_, temp_path, error);
      if (error)
        throw IOError("Dataset.cache: cannot move '" + partial_ + "' to '" + temp_path + "' on the way to '" + path_ +
                      "': " + error.message());
    });
    committed_ = true;
  }

 private:
  template <typename T>
  void put(T value) {
    out_.write(reinterpret_cast<const char*>(&value), sizeof value);
  }

  std::string path_, partial_;
  std::ofstream out_;
  uint64_t count_ = 0;
  bool committed_ = false;
};

// Reads a file CacheFileWriter wrote; every inconsistency is an IOError naming the file.
class CacheFileReader {
 public:
  explicit CacheFileReader(std::string path) : path_(std::move(path)) {
    std::error_code error;
    size_ = std::filesystem::file_size(path_, error);
    in_.open(path_, std::ios::binary);
    if (error || !in_) throw IOError("Dataset.cache: cannot open the cache file '" + path_ + "'");
    char magic[sizeof kMagic];
    if (!in_.read(magic, sizeof magic) || std::memcmp(magic, kMagic, sizeof magic) != 0)
      throw IOError("Dataset.cache: '" + path_ + "' is not a Strata dataset cache file (bad magic bytes)");
    const auto version = get<uint32_t>("the version");
    if (version != kVersion)
      throw IOError("Dataset.cache: '" + path_ + "' has cache format version " + std::to_string(version) +
                    ", this Strata reads version " + std::to_string(kVersion));
  }

  std::optional<Element> read() {
    const auto tag = get<uint8_t>("a record tag");
    if (tag == kEndTag) {
      const auto count = get<uint64_t>("the element count");
      if (count != count_) corrupt("the end record counts " + std::to_string(count) + " elements, the file holds " + std::to_string(count_));
      if (in_.peek() != std::ifstream::traits_type::eof()) corrupt("bytes follow the end record");
      return std::nullopt;
    }
    if (tag != kElementTag) corrupt("unknown record tag " + std::to_string(tag));
    const auto components = get<uint32_t>("a component count");
    Element element;
    for (uint32_t c = 0; c < components; ++c) element.push_back(read_tensor());
    ++count_;
    return element;
  }

 private:
  at::Tensor read_tensor() {
    std::string dtype_text(get<uint8_t>("a dtype name length"), '\0');
    read_bytes(dtype_text.data(), dtype_text.size(), "a dtype name");
    at::ScalarType dtype;
    try {
      dtype = dtype_from_name(dtype_text);
    } catch (const ValueError&) {
      corrupt("unknown dtype name '" + dtype_text + "'");
    }
    const auto rank = get<uint32_t>("a rank");
    if (rank > kMaxRank) corrupt("rank " + std::to_string(rank) + " is implausible");
    std::vector<int64_t> sizes(rank);
    int64_t numel = 1;
    for (int64_t& size : sizes) {
      size = get<int64_t>("a dimension");
      if (size < 0 || (size > 0 && numel > static_cast<int64_t>(size_) / size))
        corrupt("dimension " + std::to_string(size) + " is impossible for the file's size");
      numel *= size;
    }
    const auto bytes = get<uint64_t>("a byte count");
    if (bytes != static_cast<uint64_t>(numel) * c10::elementSize(dtype))
      corrupt("a " + dtype_text + " tensor of shape " + format_dims(sizes) + " stored with " + std::to_string(bytes) + " bytes");
    if (bytes > remaining()) corrupt("the file ends inside tensor data");  // before allocating them
    at::Tensor tensor = at::empty(sizes, at::TensorOptions().dtype(dtype));
    read_bytes(static_cast<char*>(tensor.data_ptr()), bytes, "tensor data");
    return tensor;
  }

  template <typename T>
  T get(const std::string& what) {
    T value;
    read_bytes(reinterpret_cast<char*>(&value), sizeof value, what);
    return value;
  }

  void read_bytes(char* out, uint64_t count, const std::string& what) {
    if (count > remaining() || (count > 0 && !in_.read(out, static_cast<std::streamsize>(count))))
      corrupt("the file ends inside " + what);
  }

  uint64_t remaining() {
    const std::streamoff position = in_.tellg();
    return position < 0 ? 0 : size_ - static_cast<uint64_t>(position);
  }

  [[noreturn]] void corrupt(const std::string& what) const {
    throw IOError("Dataset.cache: the cache file '" + path_ + "' is truncated or corrupt at element " +
                  std::to_string(count_) + ": " + what + "; delete it to rebuild the cache from the input");
  }

  std::string path_;
  std::ifstream in_;
  uint64_t size_ = 0;
  uint64_t count_ = 0;
};

class FileReplayIterator : public Iterator {
 public:
  explicit FileReplayIterator(const std::string& path) : reader_(path) {}
  std::optional<Element> next() override {
    if (done_) return std::nullopt;
    try {
      std::optional<Element> element = reader_.read();
      done_ = !element.has_value();
      return element;
    } catch (...) {
      done_ = true;
      throw;
    }
  }

 private:
  CacheFileReader reader_;
  bool done_ = false;
};

class FileRecordIterator : public Iterator {
 public:
  FileRecordIterator(std::unique_ptr<Iterator> input, const std::string& path)
      : input_(std::move(input)), writer_(std::in_place, path) {}
  std::optional<Element> next() override {
    if (!writer_) return std::nullopt;
    try {
      std::optional<Element> element = input_->next();
      if (element) writer_->write(*element);
      else writer_->commit();
      if (!element) writer_.reset();
      return element;
    } catch (...) {
      writer_.reset();  // removes the partial file: a failed pass caches nothing
      throw;
    }
  }

 private:
  std::unique_ptr<Iterator> input_;
  std::optional<CacheFileWriter> writer_;  // empty once the pass is over
};

// The memory cache of one cache("") step, shared by its iterators: empty until a pass completes.
struct MemoryCache {
  std::mutex mutex;
  std::shared_ptr<const std::vector<Element>> elements;
};

class MemoryReplayIterator : public Iterator {
 public:
  explicit MemoryReplayIterator(std::shared_ptr<const std::vector<Element>> elements) : elements_(std::move(elements)) {}
  std::optional<Element> next() override {
    if (index_ >= elements_->size()) return std::nullopt;
    return (*elements_)[index_++];
  }

 private:
  std::shared_ptr<const std::vector<Element>> elements_;
  size_t index_ = 0;
};

class MemoryRecordIterator : public Iterator {
 public:
  MemoryRecordIterator(std::unique_ptr<Iterator> input, std::shared_ptr<MemoryCache> cache)
      : input_(std::move(input)), cache_(std::move(cache)) {}
  std::optional<Element> next() override {
    if (done_) return std::nullopt;
    std::optional<Element> element;
    try {
      element = input_->next();
    } catch (...) {
      done_ = true;
      recorded_.clear();
      throw;
    }
    if (element) {
      recorded_.push_back(*element);
      return element;
    }
    done_ = true;
    std::lock_guard lock(cache_->mutex);
    if (!cache_->elements)  // a concurrent pass may have completed first; its record is the same
      cache_->elements = std::make_shared<const std::vector<Element>>(std::move(recorded_));
    return std::nullopt;
  }

 private:
  std::unique_ptr<Iterator> input_;
  std::shared_ptr<MemoryCache> cache_;
  std::vector<Element> recorded_;
  bool done_ = false;
};

class CacheNode : public DatasetNode {
 public:
  CacheNode(Dataset input, std::string filename)
      : input_(std::move(input)), filename_(std::move(filename)), memory_(std::make_shared<MemoryCache>()) {}

  std::unique_ptr<Iterator> make_iterator() const override {
    if (filename_.empty()) {
      std::shared_ptr<const std::vector<Element>> elements;
      {
        std::lock_guard lock(memory_->mutex);
        elements = memory_->elements;
      }
      if (elements) return std::make_unique<MemoryReplayIterator>(std::move(elements));
      return std::make_unique<MemoryRecordIterator>(input_.make_iterator(), memory_);
    }
    if (std::filesystem::exists(filename_)) return std::make_unique<FileReplayIterator>(filename_);
    return std::make_unique<FileRecordIterator>(input_.make_iterator(), filename_);
  }

  // The input's, as in tf.data, whether or not a cache already exists.
  int64_t cardinality() const override { return input_.cardinality(); }

  std::string describe() const override { return filename_.empty() ? "cache()" : "cache('" + filename_ + "')"; }

 private:
  Dataset input_;
  std::string filename_;
  std::shared_ptr<MemoryCache> memory_;  // unused with a file
};

}  // namespace

Dataset Dataset::cache(const std::string& filename) const {
  return Dataset(std::make_shared<CacheNode>(*this, filename));
}

}  // namespace strata::data
