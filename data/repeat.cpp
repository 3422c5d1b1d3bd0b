// repeat(): passes over the input `count` times, or forever for a negative count.
#include <strata/data/dataset.h>

#include <algorithm>

namespace strata::data {
namespace {

class RepeatNode : public DatasetNode {
 public:
  RepeatNode(Dataset input, int64_t count) : input_(std::move(input)), count_(std::max<int64_t>(count, -1)) {}

  std::unique_ptr<Iterator> make_iterator() const override {
    class RepeatIterator : public Iterator {
     public:
      RepeatIterator(Dataset input, int64_t count) : input_(std::move(input)), passes_left_(count) {}

      std::optional<Element> next() override {
        while (true) {
          if (!pass_) {
            if (passes_left_ == 0) return std::nullopt;
            if (passes_left_ > 0) --passes_left_;
            pass_ = input_.make_iterator();
            pass_yielded_ = false;
          }
          std::optional<Element> element = pass_->next();
          if (element) {
            pass_yielded_ = true;
            return element;
          }
          pass_.reset();
          // As tf.data: repeating forever an input whose pass yields nothing ends instead of spinning.
          if (!pass_yielded_ && passes_left_ < 0) passes_left_ = 0;
        }
      }

     private:
      Dataset input_;  // a copy: every pass makes a fresh input iterator, even after the user dropped the handle
      int64_t passes_left_;  // -1: forever
      std::unique_ptr<Iterator> pass_;
      bool pass_yielded_ = false;
    };
    return std::make_unique<RepeatIterator>(input_, count_);
  }

  int64_t cardinality() const override {
    const int64_t n = input_.cardinality();
    if (count_ < 0) return n == 0 ? 0 : kInfiniteCardinality;
    if (count_ == 0) return 0;
    if (n < 0) return n;
    return count_ * n;
  }
  std::string describe() const override { return "repeat(" + std::to_string(count_) + ")"; }

 private:
  Dataset input_;
  int64_t count_;
};

}  // namespace

Dataset Dataset::repeat(int64_t count) const { return Dataset(std::make_shared<RepeatNode>(*this, count)); }

}  // namespace strata::data
