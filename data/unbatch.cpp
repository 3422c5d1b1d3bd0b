// unbatch(): splits every element along its first dimension into that many elements.
#include <strata/core/error.h>
#include <strata/core/shape.h>
#include <strata/data/dataset.h>

#include <ATen/ATen.h>

namespace strata::data {
namespace {

class UnbatchNode : public DatasetNode {
 public:
  explicit UnbatchNode(Dataset input) : input_(std::move(input)) {}

  std::unique_ptr<Iterator> make_iterator() const override {
    class UnbatchIterator : public Iterator {
     public:
      UnbatchIterator(std::unique_ptr<Iterator> input, std::string who) : input_(std::move(input)), who_(std::move(who)) {}

      std::optional<Element> next() override {
        while (row_ >= rows_) {
          if (!input_) return std::nullopt;
          std::optional<Element> element = input_->next();
          if (!element) {
            input_.reset();
            batch_.clear();
            return std::nullopt;
          }
          rows_ = check_rows(*element);
          batch_ = std::move(*element);
          row_ = 0;
          ++batch_index_;
        }
        Element row;
        row.reserve(batch_.size());
        for (const at::Tensor& t : batch_) row.push_back(t[row_]);
        ++row_;
        return row;
      }

     private:
      // Every component is split the same number of times, so they must agree on the first dimension.
      int64_t check_rows(const Element& element) const {
        const std::string where = who_ + ": element " + std::to_string(batch_index_) + " of the input";
        if (element.empty()) throw ShapeError(where + " has no components to split");
        for (size_t c = 0; c < element.size(); ++c) {
          if (element[c].dim() == 0)
            throw ShapeError(where + " has a scalar in component " + std::to_string(c) +
                             "; every component needs a first dimension to split along");
          if (element[c].size(0) != element[0].size(0))
            throw ShapeError(where + " has component 0 of shape " + format_dims(element[0].sizes()) +
                             " but component " + std::to_string(c) + " of shape " + format_dims(element[c].sizes()) +
                             "; every component must have the same first dimension");
        }
        return element[0].size(0);
      }

      std::unique_ptr<Iterator> input_;
      std::string who_;
      Element batch_;
      int64_t rows_ = 0, row_ = 0;
      int64_t batch_index_ = 0;  // the input element being split
    };
    return std::make_unique<UnbatchIterator>(input_.make_iterator(), describe());
  }

  // tf.data multiplies by the batch dimension only when the element spec fixes it statically; Strata's
  // datasets carry no element spec, so a finite input gives an unknown count, as tf's does after batch(n).
  int64_t cardinality() const override {
    const int64_t n = input_.cardinality();
    return n == kInfiniteCardinality ? kInfiniteCardinality : kUnknownCardinality;
  }
  std::string describe() const override { return "unbatch()"; }

 private:
  Dataset input_;
};

}  // namespace

Dataset Dataset::unbatch() const { return Dataset(std::make_shared<UnbatchNode>(*this)); }

}  // namespace strata::data
