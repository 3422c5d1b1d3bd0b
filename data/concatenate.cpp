// concatenate(): every element of this dataset, then every element of the other one.
#include <strata/core/error.h>
#include <strata/data/dataset.h>

#include <ATen/ATen.h>

namespace strata::data {
namespace {

class ConcatenateNode : public DatasetNode {
 public:
  ConcatenateNode(Dataset first, Dataset second) : first_(std::move(first)), second_(std::move(second)) {}

  std::unique_ptr<Iterator> make_iterator() const override {
    class ConcatenateIterator : public Iterator {
     public:
      ConcatenateIterator(std::unique_ptr<Iterator> first, Dataset second, std::string first_name, std::string second_name)
          : first_(std::move(first)), second_(std::move(second)), first_name_(std::move(first_name)),
            second_name_(std::move(second_name)) {}

      std::optional<Element> next() override {
        if (first_) {
          std::optional<Element> element = first_->next();
          if (element) {
            if (!reference_) remember(*element);
            return element;
          }
          first_.reset();
          second_pass_ = second_.make_iterator();  // started only now, as tf.data does
        }
        if (!second_pass_) return std::nullopt;
        std::optional<Element> element = second_pass_->next();
        if (!element) {
          second_pass_.reset();
          return std::nullopt;
        }
        if (!reference_) remember(*element);
        else check(*element);
        ++second_index_;
        return element;
      }

     private:
      void remember(const Element& element) {
        reference_.emplace();
        for (const at::Tensor& t : element) reference_->push_back(t.scalar_type());
      }

      // The two datasets must produce the same tuple: same number of components, same dtypes.
      void check(const Element& element) const {
        const std::string where = "concatenate: element " + std::to_string(second_index_) + " of the second dataset (" +
                                  second_name_ + ")";
        const std::vector<at::ScalarType>& expected = *reference_;
        if (element.size() != expected.size())
          throw ShapeError(where + " has " + std::to_string(element.size()) + " components but the first dataset (" +
                           first_name_ + ") has " + std::to_string(expected.size()) +
                           "; both must produce the same components");
        for (size_t c = 0; c < element.size(); ++c)
          if (element[c].scalar_type() != expected[c])
            throw ShapeError(where + " has dtype " + std::string(at::toString(element[c].scalar_type())) +
                             " in component " + std::to_string(c) + " but the first dataset (" + first_name_ +
                             ") has " + at::toString(expected[c]));
      }

      std::unique_ptr<Iterator> first_;
      Dataset second_;
      std::unique_ptr<Iterator> second_pass_;
      std::string first_name_, second_name_;
      std::optional<std::vector<at::ScalarType>> reference_;  // the dtypes of the first element seen
      int64_t second_index_ = 0;
    };
    return std::make_unique<ConcatenateIterator>(first_.make_iterator(), second_, first_.node()->describe(),
                                                 second_.node()->describe());
  }

  int64_t cardinality() const override {
    const int64_t a = first_.cardinality(), b = second_.cardinality();
    if (a == kInfiniteCardinality || b == kInfiniteCardinality) return kInfiniteCardinality;
    if (a == kUnknownCardinality || b == kUnknownCardinality) return kUnknownCardinality;
    return a + b;
  }
  std::string describe() const override { return "concatenate(" + second_.node()->describe() + ")"; }

 private:
  Dataset first_, second_;
};

}  // namespace

Dataset Dataset::concatenate(const Dataset& other) const {
  return Dataset(std::make_shared<ConcatenateNode>(*this, other));
}

}  // namespace strata::data
