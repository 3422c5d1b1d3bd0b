// enumerate(): prepends an int64 scalar counter to every element.
#include <strata/data/dataset.h>

#include <ATen/ATen.h>

namespace strata::data {
namespace {

class EnumerateNode : public DatasetNode {
 public:
  EnumerateNode(Dataset input, int64_t start) : input_(std::move(input)), start_(start) {}

  std::unique_ptr<Iterator> make_iterator() const override {
    class EnumerateIterator : public Iterator {
     public:
      EnumerateIterator(std::unique_ptr<Iterator> input, int64_t start) : input_(std::move(input)), counter_(start) {}

      std::optional<Element> next() override {
        if (!input_) return std::nullopt;
        std::optional<Element> element = input_->next();
        if (!element) {
          input_.reset();
          return std::nullopt;
        }
        element->insert(element->begin(), at::scalar_tensor(counter_++, at::kLong));
        return element;
      }

     private:
      std::unique_ptr<Iterator> input_;
      int64_t counter_;
    };
    return std::make_unique<EnumerateIterator>(input_.make_iterator(), start_);
  }

  // tf.data zips with range(start, INT64_MAX) and so reports INT64_MAX - start for an infinite input;
  // infinite is what that number stands for (fit() needs steps_per_epoch either way).
  int64_t cardinality() const override { return input_.cardinality(); }
  std::string describe() const override { return "enumerate(" + std::to_string(start_) + ")"; }

 private:
  Dataset input_;
  int64_t start_;
};

}  // namespace

Dataset Dataset::enumerate(int64_t start) const { return Dataset(std::make_shared<EnumerateNode>(*this, start)); }

}  // namespace strata::data
