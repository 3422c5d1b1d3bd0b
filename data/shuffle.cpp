// shuffle(): tf.data's buffer shuffle. The buffer holds up to buffer_size elements; each next() emits a
// uniformly chosen one and puts the next input element in its slot, so a buffer at least as large as the
// dataset gives a uniform permutation and a smaller one a local shuffle.
#include <strata/core/error.h>
#include <strata/core/random.h>
#include <strata/data/dataset.h>

#include <ATen/ATen.h>

#include <atomic>
#include <limits>
#include <random>

namespace strata::data {
namespace {

// The generator of pass `pass` depends only on (seed, pass), like fit()'s epoch order.
std::mt19937_64 pass_generator(uint64_t seed, uint64_t pass) { return std::mt19937_64(round_seed(seed, pass)); }

// Uniform in [0, n) by rejection: std::uniform_int_distribution differs between standard libraries, and a
// seed must give the same order everywhere.
size_t uniform_index(std::mt19937_64& generator, size_t n) {
  const uint64_t bound = static_cast<uint64_t>(n);
  const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % bound;
  uint64_t draw = generator();
  while (draw >= limit) draw = generator();
  return static_cast<size_t>(draw % bound);
}

class ShuffleNode : public DatasetNode {
 public:
  ShuffleNode(Dataset input, int64_t buffer_size, ShuffleOptions options)
      : input_(std::move(input)), buffer_size_(buffer_size), reshuffle_(options.reshuffle_each_iteration) {
    if (buffer_size_ < 1)
      throw ValueError("Dataset.shuffle: buffer_size must be >= 1, got " + std::to_string(buffer_size_));
    seed_ = options.seed ? *options.seed : draw_seed();
  }

  std::unique_ptr<Iterator> make_iterator() const override {
    class ShuffleIterator : public Iterator {
     public:
      ShuffleIterator(std::unique_ptr<Iterator> input, int64_t buffer_size, std::mt19937_64 generator)
          : input_(std::move(input)), buffer_size_(static_cast<size_t>(buffer_size)), generator_(generator) {}

      std::optional<Element> next() override {
        while (input_ && buffer_.size() < buffer_size_) {
          std::optional<Element> element = input_->next();
          if (!element) input_.reset();
          else buffer_.push_back(std::move(*element));
        }
        if (buffer_.empty()) return std::nullopt;
        const size_t slot = uniform_index(generator_, buffer_.size());
        Element out = std::move(buffer_[slot]);
        // The last slot fills the hole; the next call refills the buffer from the input, as tf.data does.
        if (slot + 1 != buffer_.size()) buffer_[slot] = std::move(buffer_.back());
        buffer_.pop_back();
        return out;
      }

     private:
      std::unique_ptr<Iterator> input_;
      size_t buffer_size_;
      std::mt19937_64 generator_;
      std::vector<Element> buffer_;
    };
    const uint64_t pass = reshuffle_ ? passes_.fetch_add(1) : 0;
    return std::make_unique<ShuffleIterator>(input_.make_iterator(), buffer_size_, pass_generator(seed_, pass));
  }

  int64_t cardinality() const override { return input_.cardinality(); }
  std::string describe() const override { return "shuffle(" + std::to_string(buffer_size_) + ")"; }

 private:
  Dataset input_;
  int64_t buffer_size_;
  bool reshuffle_;
  uint64_t seed_;
  mutable std::atomic<uint64_t> passes_{0};  // make_iterator() is const and may run on several threads
};

}  // namespace

Dataset Dataset::shuffle(int64_t buffer_size, ShuffleOptions options) const {
  return Dataset(std::make_shared<ShuffleNode>(*this, buffer_size, options));
}

}  // namespace strata::data
