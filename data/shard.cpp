// shard(): every num_shards-th element starting at index, so num_shards workers together see each element once.
#include <strata/core/error.h>
#include <strata/data/dataset.h>

namespace strata::data {
namespace {

class ShardNode : public DatasetNode {
 public:
  ShardNode(Dataset input, int64_t num_shards, int64_t index)
      : input_(std::move(input)), num_shards_(num_shards), index_(index) {
    if (num_shards_ < 1)
      throw ValueError("Dataset.shard: num_shards must be >= 1, got " + std::to_string(num_shards_));
    if (index_ < 0 || index_ >= num_shards_)
      throw ValueError("Dataset.shard: index must be in [0, " + std::to_string(num_shards_ - 1) + "] for " +
                       std::to_string(num_shards_) + " shards, got " + std::to_string(index_));
  }

  std::unique_ptr<Iterator> make_iterator() const override {
    class ShardIterator : public Iterator {
     public:
      ShardIterator(std::unique_ptr<Iterator> input, int64_t num_shards, int64_t index)
          : input_(std::move(input)), num_shards_(num_shards), index_(index) {}

      std::optional<Element> next() override {
        while (input_) {
          std::optional<Element> element = input_->next();
          if (!element) {
            input_.reset();
            break;
          }
          const int64_t position = position_;
          position_ = (position_ + 1) % num_shards_;
          if (position == index_) return element;
        }
        return std::nullopt;
      }

     private:
      std::unique_ptr<Iterator> input_;
      int64_t num_shards_, index_;
      int64_t position_ = 0;  // input position modulo num_shards
    };
    return std::make_unique<ShardIterator>(input_.make_iterator(), num_shards_, index_);
  }

  int64_t cardinality() const override {
    const int64_t n = input_.cardinality();
    if (n < 0) return n;
    return n / num_shards_ + (index_ < n % num_shards_ ? 1 : 0);
  }
  std::string describe() const override {
    return "shard(" + std::to_string(num_shards_) + ", " + std::to_string(index_) + ")";
  }

 private:
  Dataset input_;
  int64_t num_shards_, index_;
};

}  // namespace

Dataset Dataset::shard(int64_t num_shards, int64_t index) const {
  return Dataset(std::make_shared<ShardNode>(*this, num_shards, index));
}

}  // namespace strata::data
