// take() and skip(): the first `count` elements, or all but them. A negative count means all of them, as
// in tf.data (-1 is the documented spelling).
#include <strata/data/dataset.h>

#include <algorithm>

namespace strata::data {
namespace {

class TakeNode : public DatasetNode {
 public:
  TakeNode(Dataset input, int64_t count) : input_(std::move(input)), count_(std::max<int64_t>(count, -1)) {}

  std::unique_ptr<Iterator> make_iterator() const override {
    class TakeIterator : public Iterator {
     public:
      TakeIterator(std::unique_ptr<Iterator> input, int64_t count) : input_(std::move(input)), remaining_(count) {}

      std::optional<Element> next() override {
        // Stops pulling once the count is reached, so take() ends an infinite input.
        std::optional<Element> element;
        if (input_ && remaining_ != 0) element = input_->next();
        if (!element) {
          input_.reset();
          return std::nullopt;
        }
        if (remaining_ > 0) --remaining_;
        return element;
      }

     private:
      std::unique_ptr<Iterator> input_;
      int64_t remaining_;  // -1: no limit
    };
    return std::make_unique<TakeIterator>(input_.make_iterator(), count_);
  }

  // tf.data's rule: an unknown input stays unknown even for take(0).
  int64_t cardinality() const override {
    const int64_t n = input_.cardinality();
    if (n == kUnknownCardinality) return kUnknownCardinality;
    if (n == kInfiniteCardinality) return count_;
    if (count_ < 0) return n;
    return std::min(n, count_);
  }
  std::string describe() const override { return "take(" + std::to_string(count_) + ")"; }

 private:
  Dataset input_;
  int64_t count_;
};

class SkipNode : public DatasetNode {
 public:
  SkipNode(Dataset input, int64_t count) : input_(std::move(input)), count_(std::max<int64_t>(count, -1)) {}

  std::unique_ptr<Iterator> make_iterator() const override {
    class SkipIterator : public Iterator {
     public:
      SkipIterator(std::unique_ptr<Iterator> input, int64_t count) : input_(std::move(input)), to_skip_(count) {}

      std::optional<Element> next() override {
        std::optional<Element> element;
        while (input_ && !element) {
          element = input_->next();
          if (!element) input_.reset();
          else if (to_skip_ != 0) {
            if (to_skip_ > 0) --to_skip_;
            element.reset();
          }
        }
        return element;
      }

     private:
      std::unique_ptr<Iterator> input_;
      int64_t to_skip_;  // -1: skip everything
    };
    return std::make_unique<SkipIterator>(input_.make_iterator(), count_);
  }

  int64_t cardinality() const override {
    const int64_t n = input_.cardinality();
    if (n < 0) return n;
    if (count_ < 0) return 0;
    return std::max<int64_t>(0, n - count_);
  }
  std::string describe() const override { return "skip(" + std::to_string(count_) + ")"; }

 private:
  Dataset input_;
  int64_t count_;
};

}  // namespace

Dataset Dataset::take(int64_t count) const { return Dataset(std::make_shared<TakeNode>(*this, count)); }

Dataset Dataset::skip(int64_t count) const { return Dataset(std::make_shared<SkipNode>(*this, count)); }

}  // namespace strata::data
